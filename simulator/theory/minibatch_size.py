"""Training-time model and optimal mini-batch size of Perrone et al. (seed 003).

The time to converge splits into an algorithmic part and a system part (eq. 1),
``T_C = N_update(M) * T_update(M, P)``:

- the empirical inverse law ``N_update(M) = N_inf + alpha / M`` (eqs. 2 and 13), with
  ``N_inf`` the updates needed even with exact gradients and ``alpha`` the "noise
  sensitivity"; :func:`fit_inverse_law` fits it by least squares in ``1/M``;
- the update time ``T_update(M, P) = gamma max(M/P, M_T) + Delta(P)`` (eqs. 3-5), with
  ``gamma`` the compute time per sample, ``M_T`` the knee below which a smaller share of the
  mini-batch no longer saves time, and ``Delta(P)`` the communication time that does not
  overlap computation: ``delta`` for an all-reduce, ``delta P`` for a synchronous parameter
  server, and 0 for a single learner (the text: "For P = 1, the communication time is zero").

Times are in whatever unit ``gamma`` and ``delta`` are given (simulated time units in pssim).
The paper ignores that M need not be a multiple of P, and so do these formulas (M is real).

The cost-constrained system design of eqs. 11-12 has no closed form in the text (only the
balance condition dT_C/dC_compute = dT_C/dC_bandwidth), so it is not implemented here; the
closed form T_C(P) below is what that design would evaluate.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
from scipy import stats

from simulator.errors import PssimError, shown
from simulator.theory._bound import Bound, check_count, check_nonnegative, check_positive, evaluator

__all__ = [
    "InverseLawFit",
    "batch_size_bound",
    "diversity_from_gradients",
    "fit_inverse_law",
    "optimal_batch_size",
    "optimal_time_to_converge",
    "scaling_curve",
    "time_to_converge",
    "update_time",
]

CITE = "Perrone et al., Optimal mini-batch size selection"
COMMS = ("all-reduce", "parameter-server")
MODES = ("strong", "weak", "optimal")


def _numbers(name: str, values: object) -> np.ndarray:
    """``values`` as a non-empty float array of real numbers (not yet checked finite)."""
    try:
        arr = np.asarray(values)
    except (ValueError, TypeError):  # ragged nesting
        arr = np.asarray(None)
    if arr.dtype == bool or arr.dtype.kind not in "iuf" or arr.size == 0:
        shown = repr(values)[:40] if isinstance(values, (str, int, float)) else "a value"
        if isinstance(values, int) and abs(values) > 10**20:
            shown = "an integer beyond the float range"
        raise PssimError(
            f"`{name}` must be a number or an array of numbers; got {shown}", param=name
        )
    return arr.astype(float)


def _positive_values(name: str, values: object, *, integer: bool = False) -> np.ndarray:
    """``values`` as a float array after checking every entry is finite and > 0 (>= 1 ints)."""
    arr = _numbers(name, values)
    if not np.all(np.isfinite(arr)) or np.any(arr <= 0):
        bad = arr[~(np.isfinite(arr) & (arr > 0))].flat[0]
        raise PssimError(f"`{name}` must be finite and > 0; got {bad:g}", param=name)
    if integer and np.any(arr != np.round(arr)):
        bad = arr[arr != np.round(arr)].flat[0]
        raise PssimError(f"`{name}` must be an integer >= 1; got {bad:g}", param=name)
    return arr


def _out(arr: np.ndarray) -> float | np.ndarray:
    return float(arr) if arr.ndim == 0 else arr


def _comm_time(learners: np.ndarray, delta: float, comm: str) -> np.ndarray:
    """Delta(P) of eq. 3: delta (all-reduce) or delta P (parameter server); 0 when P = 1."""
    if not isinstance(comm, str) or comm not in COMMS:
        raise PssimError(
            f"`comm` must be one of {', '.join(COMMS)}; got {shown(comm)}", param="comm"
        )
    per = delta if comm == "all-reduce" else delta * learners
    return np.where(learners == 1, 0.0, per)


def _system(gamma: float, m_t: float, delta: float) -> tuple[float, float, float]:
    return (
        check_positive("gamma", gamma),
        check_positive("m_t", m_t),
        check_nonnegative("delta", delta),
    )


@dataclasses.dataclass(frozen=True, eq=False)
class InverseLawFit:
    """Least-squares fit of ``N_update(M) = N_inf + alpha / M`` (eq. 2), linear in ``1/M``.

    Attributes:
        n_inf: fitted intercept N_inf (updates).
        alpha: fitted slope alpha (updates x samples), the noise sensitivity.
        n_inf_stderr, alpha_stderr: their standard errors (``inf`` with only two sizes).
        r_squared: coefficient of determination of the fit in ``1/M``.
        residuals: observed minus fitted updates, shape ``(n,)``.
        dof: residual degrees of freedom, ``n - 2``.
    """

    n_inf: float
    alpha: float
    n_inf_stderr: float
    alpha_stderr: float
    r_squared: float
    residuals: np.ndarray
    dof: int

    def predict(self, batch_size: object) -> float | np.ndarray:
        """N_update at ``batch_size`` (a number or an array of sizes, samples)."""
        m = _positive_values("batch_size", batch_size)
        return _out(self.n_inf + self.alpha / m)

    def confidence_interval(self, level: float = 0.95) -> dict[str, tuple[float, float]]:
        """Two-sided Student-t intervals for ``n_inf`` and ``alpha`` at ``level``.

        They assume independent, equal-variance Gaussian noise on the measured update counts.
        """
        level = check_positive("level", level)
        if level >= 1:
            raise PssimError(f"`level` must be < 1; got {level:g}", param="level")
        q = float(stats.t.ppf(0.5 + level / 2, self.dof)) if self.dof > 0 else math.inf
        return {
            "n_inf": (self.n_inf - q * self.n_inf_stderr, self.n_inf + q * self.n_inf_stderr),
            "alpha": (self.alpha - q * self.alpha_stderr, self.alpha + q * self.alpha_stderr),
        }


@evaluator
def fit_inverse_law(batch_sizes: object, updates_to_target: object) -> InverseLawFit:
    """Fits the inverse law ``N_update(M) = N_inf + alpha / M`` (eqs. 2 and 13).

    Ordinary least squares of the measured update counts on ``x = 1/M`` (step 3 of the
    paper's methodology); at least two distinct sizes are needed, three for standard errors.

    Args:
        batch_sizes: mini-batch sizes M (samples), shape ``(n,)``, each > 0.
        updates_to_target: updates needed to reach the target error at each size, ``(n,)``,
            each finite and >= 0 (a count).

    Returns:
        The fit, with ``predict(M)``, R^2, residuals and standard errors.

    Example:
        >>> fit = fit_inverse_law([1, 2, 4], [1100, 600, 350])
        >>> round(fit.n_inf, 6), round(fit.alpha, 6)
        (100.0, 1000.0)
    """
    m = _positive_values("batch_sizes", batch_sizes)
    name = "updates_to_target"
    y = _numbers(name, updates_to_target)
    if m.ndim != 1 or y.shape != m.shape:
        raise PssimError(
            f"`{name}` must have the shape of `batch_sizes` {m.shape}; got {y.shape}", param=name
        )
    for rule, bad in (("be finite", ~np.isfinite(y)), ("be >= 0", y < 0)):
        if np.any(bad):
            i = int(np.flatnonzero(bad)[0])
            raise PssimError(f"`{name}` must {rule}; got {y[i]:g} at index {i}", param=name)
    if np.unique(m).size < 2:
        raise PssimError(
            f"`batch_sizes` must hold at least two distinct sizes; got {m.tolist()}",
            param="batch_sizes",
        )
    x = 1.0 / m
    design = np.column_stack([np.ones_like(x), x])
    coef, *_ = np.linalg.lstsq(design, y, rcond=None)
    residuals = y - design @ coef
    dof = m.size - 2
    ssr = float(residuals @ residuals)
    sst = float(((y - y.mean()) ** 2).sum())
    r_squared = 1.0 - ssr / sst if sst > 0 else 1.0
    if dof > 0:
        cov = ssr / dof * np.linalg.inv(design.T @ design)
        se = np.sqrt(np.diag(cov))
    else:
        se = np.array([math.inf, math.inf])
    return InverseLawFit(
        float(coef[0]), float(coef[1]), float(se[0]), float(se[1]), r_squared, residuals, dof
    )


@evaluator
def update_time(
    batch_size: object,
    learners: object,
    *,
    gamma: float,
    m_t: float,
    delta: float,
    comm: str = "all-reduce",
) -> Bound:
    """Time of one update, ``T_update(M, P) = gamma max(M/P, M_T) + Delta(P)`` (eqs. 3-5).

    Args:
        batch_size: mini-batch size M (samples, shared by the P learners); number or array.
        learners: number of learners P (integer >= 1); broadcasts with ``batch_size``.
        gamma: compute time per sample (time units).
        m_t: knee M_T of the compute curve (samples per learner), eq. 4.
        delta: communication constant (time units); Delta(P) = delta or delta P, 0 at P = 1.
        comm: ``"all-reduce"`` (Delta = delta) or ``"parameter-server"`` (Delta = delta P).

    Example:
        >>> update_time(64, 4, gamma=0.01, m_t=8, delta=0.5).value
        0.66
    """
    gamma, m_t, delta = _system(gamma, m_t, delta)
    m, p = np.broadcast_arrays(
        _positive_values("batch_size", batch_size),
        _positive_values("learners", learners, integer=True),
    )
    value = gamma * np.maximum(m / p, m_t) + _comm_time(p, delta, comm)
    return Bound("T_update(M, P)", _out(value), f"{CITE}, eqs. 3-5 ({comm})", (), "exact")


@evaluator
def time_to_converge(
    batch_size: object,
    learners: object,
    *,
    n_inf: float,
    alpha: float,
    gamma: float,
    m_t: float,
    delta: float,
    comm: str = "all-reduce",
) -> Bound:
    """``T_C(M, P) = (N_inf + alpha/M) (gamma max(M/P, M_T) + Delta(P))`` (eqs. 1, 5).

    Args:
        batch_size, learners, gamma, m_t, delta, comm: as in :func:`update_time`.
        n_inf: N_inf of the inverse law (updates, >= 0).
        alpha: noise sensitivity alpha (updates x samples, >= 0).

    Example:
        >>> time_to_converge(64, 4, n_inf=100, alpha=6400, gamma=0.01, m_t=8, delta=0.5).value
        132.0
    """
    n_inf, alpha = check_nonnegative("n_inf", n_inf), check_nonnegative("alpha", alpha)
    t_update = update_time(batch_size, learners, gamma=gamma, m_t=m_t, delta=delta, comm=comm)
    m = _positive_values("batch_size", batch_size)
    value = (n_inf + alpha / m) * np.asarray(t_update.value)
    return Bound("T_C(M, P)", _out(value), f"{CITE}, eq. 5 ({comm})", (), "exact")


@evaluator
def optimal_batch_size(
    learners: object,
    *,
    n_inf: float,
    alpha: float,
    gamma: float,
    m_t: float,
    delta: float,
    comm: str = "all-reduce",
) -> Bound:
    """``M_opt(P) = max(sqrt(alpha Delta(P) P / (N_inf gamma)), M_T P)`` (eqs. 8-9).

    On ``M >= M_T P`` the time is ``N_inf gamma M/P + alpha Delta/M + const``, convex with its
    minimum at ``sqrt(alpha Delta P/(N_inf gamma))``; below ``M_T P`` it only falls as M grows.
    With Delta = delta this is eq. 9; with a parameter server (Delta = delta P) it is
    ``P max(sqrt(alpha delta/(N_inf gamma)), M_T)``, linear in P; at P = 1 (no
    communication) it is eq. 8's ``M_T``.

    Args:
        learners: P, an integer or an array of integers >= 1.
        n_inf: N_inf (> 0: with N_inf = 0 the time falls forever as M grows).
        alpha, gamma, m_t, delta, comm: as in :func:`time_to_converge`.

    Example:
        >>> optimal_batch_size(4, n_inf=100, alpha=6400, gamma=0.01, m_t=8, delta=0.25).value
        80.0
    """
    n_inf, alpha = check_positive("n_inf", n_inf), check_nonnegative("alpha", alpha)
    gamma, m_t, delta = _system(gamma, m_t, delta)
    p = _positive_values("learners", learners, integer=True)
    comm_time = _comm_time(p, delta, comm)
    value = np.maximum(np.sqrt(alpha * comm_time * p / (n_inf * gamma)), m_t * p)
    return Bound("M_opt(P)", _out(value), f"{CITE}, eqs. 8-9 ({comm})", (), "exact")


@evaluator
def optimal_time_to_converge(
    learners: object,
    *,
    n_inf: float,
    alpha: float,
    gamma: float,
    m_t: float,
    delta: float,
    comm: str = "all-reduce",
) -> Bound:
    """Minimum time to converge over M, ``T_C(M_opt(P), P)`` in closed form (eq. 10).

    ``(sqrt(Delta N_inf) + sqrt(alpha gamma / P))^2`` when
    ``P < alpha Delta / (gamma M_T^2 N_inf)`` (then M_opt > M_T P), else
    ``(N_inf + alpha/(M_T P)) (Delta + gamma M_T)``, where optimal scaling equals weak
    scaling with M_T samples per learner. Eq. 10 is written for Delta = delta; the same
    algebra with Delta = Delta(P) covers the parameter server and P = 1.

    Example:
        >>> optimal_time_to_converge(4, n_inf=100, alpha=6400, gamma=0.01, m_t=8,
        ...                          delta=0.25).value
        81.0
    """
    m_opt = optimal_batch_size(
        learners, n_inf=n_inf, alpha=alpha, gamma=gamma, m_t=m_t, delta=delta, comm=comm
    )
    p = _positive_values("learners", learners, integer=True)
    comm_time = _comm_time(p, delta, comm)
    sqrt_branch = alpha * comm_time / (gamma * m_t**2 * n_inf) > p
    value = np.where(
        sqrt_branch,
        (np.sqrt(comm_time * n_inf) + np.sqrt(alpha * gamma / p)) ** 2,
        (n_inf + alpha / (m_t * p)) * (comm_time + gamma * m_t),
    )
    extra = {}
    if np.ndim(value) == 0:
        extra = {"m_opt": float(m_opt.value), "sqrt_branch": float(sqrt_branch)}
    return Bound(
        "min over M of T_C(M, P)", _out(value), f"{CITE}, eq. 10 ({comm})", (), "exact", extra
    )


@evaluator
def scaling_curve(
    learners: object,
    mode: str,
    *,
    n_inf: float,
    alpha: float,
    gamma: float,
    m_t: float,
    delta: float,
    comm: str = "all-reduce",
    batch_size: float | None = None,
    per_learner: float | None = None,
) -> Bound:
    """Time to converge T_C as a function of P under strong, weak or optimal scaling.

    - ``strong``: M fixed (``batch_size`` = M_strong). N_update stays put and only
      T_update falls, until ``P > M_strong / M_T`` where every learner is at its knee and,
      with an all-reduce, the curve is flat at its minimum (``extra["saturation_learners"]``).
    - ``weak``: ``M = m P`` (``per_learner`` = m); T_update is constant (all-reduce) and
      N_update falls.
    - ``optimal``: ``M = M_opt(P)`` (eq. 9), the lower envelope of both (eq. 10).

    Args:
        learners: the P values, shape ``(n,)`` of integers >= 1.
        mode: ``"strong"``, ``"weak"`` or ``"optimal"``.
        batch_size: M_strong (samples), required for ``strong``.
        per_learner: m (samples per learner), required for ``weak``.
        n_inf, alpha, gamma, m_t, delta, comm: as in :func:`time_to_converge`.

    Returns:
        A Bound whose value is T_C at each P, shape ``(n,)``; ``extra["best_learners"]`` is the
        P of the given ones with the smallest time.

    Example:
        >>> scaling_curve([1, 2, 4], "weak", per_learner=8, n_inf=100, alpha=6400,
        ...               gamma=0.01, m_t=8, delta=0.5).value.round(2).tolist()
        [72.0, 290.0, 174.0]
    """
    if not isinstance(mode, str) or mode not in MODES:
        raise PssimError(
            f"`mode` must be one of {', '.join(MODES)}; got {shown(mode)}", param="mode"
        )
    p = np.atleast_1d(_positive_values("learners", learners, integer=True))
    kwargs = dict(n_inf=n_inf, alpha=alpha, gamma=gamma, m_t=m_t, delta=delta, comm=comm)
    extra: dict[str, float] = {}
    if mode == "strong":
        if batch_size is None:
            raise PssimError("`batch_size` must be given for strong scaling", param="batch_size")
        m = np.full_like(p, check_positive("batch_size", batch_size))
        extra["saturation_learners"] = float(m[0]) / check_positive("m_t", m_t)
    elif mode == "weak":
        if per_learner is None:
            raise PssimError("`per_learner` must be given for weak scaling", param="per_learner")
        m = check_positive("per_learner", per_learner) * p
    else:
        m = np.atleast_1d(optimal_batch_size(p, **kwargs).value)
    value = np.atleast_1d(time_to_converge(m, p, **kwargs).value)
    extra["best_learners"] = float(p[int(np.argmin(value))])
    return Bound(f"T_C(P), {mode} scaling", value, f"{CITE}, eqs. 5, 9-10", (), "exact", extra)


@evaluator
def diversity_from_gradients(gradients: object) -> float:
    """Gradient diversity ``Delta(w) = sum_i ||g_i||^2 / ||sum_i g_i||^2`` (seed 001).

    Args:
        gradients: per-sample gradients ``g_i = grad f_i(w)``, shape ``(n, d)``.

    Returns:
        Delta(w) >= 1/n (1/n for identical gradients, 1 for orthogonal ones); ``inf`` when
        the gradients sum to zero (a stationary point of the average).

    Example:
        >>> diversity_from_gradients([[1.0, 0.0], [0.0, 1.0]])
        1.0
    """
    g = np.asarray(gradients, dtype=float)
    if g.ndim != 2 or g.shape[0] < 1 or not np.all(np.isfinite(g)):
        raise PssimError(
            f"`gradients` must be a finite (n, d) array; got shape {g.shape}", param="gradients"
        )
    total = float(np.sum(g.sum(axis=0) ** 2))
    return math.inf if total == 0 else float(np.sum(g**2)) / total


@evaluator
def batch_size_bound(diversity: float, n: int, delta: float) -> Bound:
    """Largest batch size with serial-SGD-like progress per sample, ``B <= delta n Delta(w) + 1``.

    Gradient-diversity slides (seed 001, "Main result"): with ``B = delta n Delta(w) + 1``
    one mini-batch step makes, in expectation, the progress of B serial steps up to a factor
    (1 + delta) in the noise term, so the iteration counts of the corollary's table are the
    serial ones divided by B, times (1 + delta).

    Args:
        diversity: gradient diversity Delta(w) (>= 1/n), e.g. from
            :func:`diversity_from_gradients` or a replay's diagnostics.
        n: number of training samples (integer >= 1).
        delta: the slack constant delta (>= 0).

    Example:
        >>> batch_size_bound(0.01, 10_000, 0.5).value
        51.0
    """
    n = check_count("n", n)
    diversity = check_positive("diversity", diversity)
    delta = check_nonnegative("delta", delta)
    if diversity < 1.0 / n * (1 - 1e-12):
        raise PssimError(
            f"`diversity` must be >= 1/n = {1 / n:g}; got {diversity:g}", param="diversity"
        )
    value = delta * n * diversity + 1.0
    return Bound(
        "largest batch size B",
        value,
        "Gradient diversity slides, main result",
        (),
        "upper-bound",
        {"batch_floor": float(math.floor(value))},
    )
