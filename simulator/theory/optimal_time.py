"""The optimal time complexity of parallel SGD: what no method can beat by more than a constant.

Tyurin & Richtárik 2023 ("Optimal time complexities of parallel stochastic optimization
methods under a fixed computation model", NeurIPS 2023) bound below the time every method
needs when learner i takes ``tau_i`` time units per stochastic gradient (sorted,
``tau_1 <= ... <= tau_n``) and communication is free. Their Theorem 6.4 (non-convex,
restated as eq. (2) of Tyurin 2025, "Bridging the gap between homogeneous and heterogeneous
asynchronous optimization"): no method finds a point with ``E||grad F||^2 <= eps`` before

    T(eps) = C * min_{m=1..n} H_m (L Delta / eps + sigma^2 L Delta / (m eps^2)),
    H_m = (1/m sum_{i<=m} 1/tau_i)^{-1}   (the harmonic mean of the m fastest times),

on some L-smooth F with ``F(w0) - F* <= Delta`` and gradient noise of variance at most
sigma^2, for ``eps < c' L Delta``; C and c' are universal constants the statement leaves
free. Rennala SGD attains it up to a constant. Every value here is computed with C = 1 and
says so: only its shape (in eps, the times, L, Delta, sigma^2) is a theorem.

For a mu-strongly convex F and ``E[F] - F* <= e`` the same times give, up to constant and
logarithmic factors (eq. (6) of Tyurin 2025, by the reduction of Woodworth & Srebro 2016),

    T_sc(e) = C * min_m H_m (sqrt(L / mu) + sigma^2 / (m e mu)).

Relation to pssim's runs (the callers' side):

- ``tau_i`` is learner i's mean mini-batch time E[X_i] (the fixed model's times; for random
  durations, their long-run rates).
- One stochastic gradient is one mini-batch of m rows, so its variance is sigma^2/m with
  sigma^2 the one-sample variance; V(w*) is the smallest admissible value.
- An error level e of ``F - F*`` becomes the gradient level ``eps = 2 L e``: L-smoothness
  gives ``||grad F(w)||^2 <= 2 L (F(w) - F*)``, so a method at ``E[F] - F* <= e`` is at
  ``E||grad F||^2 <= 2 L e``, which takes at least ``T(2 L e)``
  (:func:`optimal_time_to_error`). That needs L to be the global smoothness constant (exact
  for quadratic losses).

These are minimax statements over every problem with the same constants: a given (easy)
problem, such as a well-conditioned least squares at levels far below ``Delta mu / L``,
may be solved faster.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from simulator.errors import PssimError, PssimTypeError
from simulator.theory._bound import (
    Bound,
    as_array,
    check_nonnegative,
    check_positive,
    condition,
    evaluator,
)

__all__ = [
    "OptimalTimeCurve",
    "harmonic_means",
    "optimal_time",
    "optimal_time_curve",
    "optimal_time_strongly_convex",
    "optimal_time_to_error",
]

_PAPER = "Tyurin & Richtárik 2023"
#: The citation of the non-convex lower bound (its free constant named).
NONCONVEX_SOURCE = f"{_PAPER}, Thm 6.4 (x C)"
#: The citation of the strongly convex form (Tyurin 2025 restates it with that reduction).
STRONGLY_CONVEX_SOURCE = "Tyurin 2025, eq. (6) (x C, up to logs)"
#: The free universal constant's value in every result.
C_VALUE = 1.0


def harmonic_means(mean_durations: object) -> np.ndarray:
    """``H_m`` for m = 1..n: the harmonic mean of the m smallest mean durations.

    Args:
        mean_durations: (n,) mean time per stochastic gradient of each learner (simulated
            time units), any order; ``inf`` for a learner that never finishes.

    Returns:
        (n,) float array, ``H_m = m / sum_{i<=m} 1/tau_(i)`` over the sorted times (``inf``
        where all m are infinite).

    Raises:
        PssimError: not a non-empty 1-D array of numbers > 0, or all infinite.

    Example:
        >>> harmonic_means([3.0, 1.0]).tolist()
        [1.0, 1.5]
    """
    tau = as_array("mean_durations", mean_durations)
    ok = tau.ndim == 1 and tau.size >= 1 and np.issubdtype(tau.dtype, np.number)
    if not ok or tau.dtype == bool:
        raise PssimTypeError(
            f"`mean_durations` must be a 1-D array of numbers, one per learner; got shape "
            f"{tau.shape} of {tau.dtype}",
            param="mean_durations",
        )
    tau = np.sort(tau.astype(np.float64))
    if np.isnan(tau).any() or tau[0] <= 0 or not math.isfinite(tau[0]):
        raise PssimError(
            f"`mean_durations` must be > 0 with at least one finite; got {tau[0]:g} first "
            "when sorted",
            param="mean_durations",
        )
    m = np.arange(1, tau.size + 1)
    return m / np.cumsum(1.0 / tau)


def _levels(name: str, value: object) -> np.ndarray:
    levels = as_array(name, value).astype(np.float64, copy=False)
    if levels.size == 0 or not np.all(np.isfinite(levels)) or np.any(levels <= 0):
        raise PssimError(
            f"`{name}` must be finite numbers > 0; got {np.ravel(levels)[:3].tolist()}",
            param=name,
        )
    return levels


def _min_over_m(h: np.ndarray, first: np.ndarray, second: np.ndarray) -> tuple:
    """``min_m h_m (first + second / m)`` per level (any shape), and the arg-min m (1-based)."""
    m = np.arange(1, h.size + 1, dtype=np.float64)
    total = h * (first[..., None] + second[..., None] / m)  # (..., n)
    best = np.argmin(total, axis=-1)
    return np.take_along_axis(total, best[..., None], axis=-1)[..., 0], best + 1


def _value(levels: np.ndarray, times: np.ndarray, scalar: bool):
    return float(times.reshape(())) if scalar else times.reshape(levels.shape)


@evaluator
def optimal_time(
    eps: object, *, mean_durations: object, L: float, delta: float, sigma2: float
) -> Bound:
    """Theorem 6.4: the least time to ``E||grad F||^2 <= eps``, up to the factor C.

    ``C * min_m H_m (L Delta / eps + sigma^2 L Delta / (m eps^2))`` with C = 1 (see the
    module docstring).

    Args:
        eps: the gradient level(s), > 0: a number or an array (any shape).
        mean_durations: (n,) mean time per stochastic gradient of each learner.
        L: smoothness constant (> 0).
        delta: ``F(w0) - F*`` (> 0).
        sigma2: variance of one stochastic gradient (>= 0).

    Returns:
        Bound of relation ``lower-bound``: ``value`` the time (simulated time units) at
        each level; ``extra`` at the smallest level: ``C`` (1, the free constant),
        ``m_star`` (the learners the min keeps), ``H_m_star``, ``iterations`` (L Delta /
        eps) and ``gradients`` (sigma^2 L Delta / eps^2); the condition ``eps < L Delta``
        (the theorem's ``eps < c' L Delta`` with c' = 1) at the largest level.

    Example:
        >>> b = optimal_time(0.5, mean_durations=[1.0, 1.0], L=1.0, delta=1.0, sigma2=1.0)
        >>> b.value, b.extra["m_star"]
        (4.0, 2.0)
    """
    scalar = np.ndim(eps) == 0
    levels = _levels("eps", eps)
    h = harmonic_means(mean_durations)
    L, delta = check_positive("L", L), check_positive("delta", delta)
    sigma2 = check_nonnegative("sigma2", sigma2)
    first = L * delta / levels
    second = sigma2 * L * delta / levels**2
    times, best = _min_over_m(h, np.ravel(first), np.ravel(second))
    i = int(np.argmin(np.ravel(levels)))
    return Bound(
        "least time to E||grad F||^2 <= eps (x C)",
        _value(levels, times, scalar),
        NONCONVEX_SOURCE,
        (
            condition(
                "eps < L Delta (Thm 6.4: eps < c' L Delta, c' = 1)",
                float(np.max(levels)),
                "<",
                L * delta,
            ),
        ),
        relation="lower-bound",
        extra={
            "C": C_VALUE,
            "m_star": float(best[i]),
            "H_m_star": float(h[best[i] - 1]),
            "iterations": float(np.ravel(first)[i]),
            "gradients": float(np.ravel(second)[i]),
        },
    )


@evaluator
def optimal_time_to_error(
    e: object, *, mean_durations: object, L: float, delta: float, sigma2: float
) -> Bound:
    """The least time to ``E[F] - F* <= e``, by Theorem 6.4 at ``eps = 2 L e``.

    L-smoothness gives ``||grad F||^2 <= 2 L (F - F*)``, so reaching the error level e
    reaches the gradient level ``2 L e`` (L must be the global constant). The value is
    ``min_m H_m (Delta / (2 e) + sigma^2 Delta / (4 L m e^2))``, C = 1.

    Args:
        e: the error level(s) of ``F - F*``, > 0 (a number or an array).
        mean_durations, L, delta, sigma2: as in :func:`optimal_time`.

    Returns:
        Bound as :func:`optimal_time`'s, with the condition ``e < Delta / 2``.

    Example:
        >>> b = optimal_time_to_error(0.25, mean_durations=[1.0], L=2.0, delta=1.0, sigma2=0.0)
        >>> b.value
        2.0
    """
    levels = _levels("e", e)
    L = check_positive("L", L)
    out = optimal_time(
        2 * L * levels if np.ndim(e) else float(2 * L * levels),
        mean_durations=mean_durations,
        L=L,
        delta=delta,
        sigma2=sigma2,
    )
    cond = condition(
        "e < Delta / 2 (eps = 2 L e < c' L Delta, c' = 1)",
        float(np.max(levels)),
        "<",
        check_positive("delta", delta) / 2,
    )
    return dataclasses.replace(
        out,
        quantity="least time to E[F(w)] - F* <= e (x C; eps = 2 L e)",
        conditions=(cond,),
    )


@evaluator
def optimal_time_strongly_convex(
    e: object, *, mean_durations: object, L: float, mu: float, sigma2: float
) -> Bound:
    """Eq. (6) of Tyurin 2025: the least time to ``E[F] - F* <= e`` for mu-strongly convex F.

    ``C * min_m H_m (sqrt(L / mu) + sigma^2 / (m e mu))`` up to logarithmic factors, with
    C = 1 and no logarithm (Woodworth & Srebro's reduction of the convex bound).

    Args:
        e: the error level(s), > 0.
        mean_durations, L, sigma2: as in :func:`optimal_time`.
        mu: strong convexity constant (> 0, at most L).

    Returns:
        Bound of relation ``lower-bound``; ``extra``: ``C``, ``m_star``, ``H_m_star`` at
        the smallest level; the condition ``mu <= L``.

    Example:
        >>> b = optimal_time_strongly_convex(
        ...     0.5, mean_durations=[1.0], L=4.0, mu=1.0, sigma2=1.0)
        >>> b.value
        4.0
    """
    scalar = np.ndim(e) == 0
    levels = _levels("e", e)
    h = harmonic_means(mean_durations)
    L, mu = check_positive("L", L), check_positive("mu", mu)
    sigma2 = check_nonnegative("sigma2", sigma2)
    flat = np.ravel(levels)
    times, best = _min_over_m(h, np.full(flat.shape, math.sqrt(L / mu)), sigma2 / (flat * mu))
    i = int(np.argmin(flat))
    return Bound(
        "least time to E[F(w)] - F* <= e, strongly convex (x C, up to logs)",
        _value(levels, times, scalar),
        STRONGLY_CONVEX_SOURCE,
        (condition("mu <= L", mu, "<=", L),),
        relation="lower-bound",
        extra={"C": C_VALUE, "m_star": float(best[i]), "H_m_star": float(h[best[i] - 1])},
    )


#: What an :class:`OptimalTimeCurve`'s levels are, and the statement each uses.
CURVE_KINDS = {
    "strongly-convex": "E[F]-F*, strongly convex (Tyurin 2025 eq. 6)",
    "error": "E[F]-F* at eps = 2 L e (Thm 6.4)",
    "gradient": "E||grad F||^2 (Thm 6.4)",
}


@dataclasses.dataclass(frozen=True)
class OptimalTimeCurve:
    """The optimal time to each level, for a figure: ``(times[i], levels[i])`` points.

    Attributes:
        levels: (n,) decreasing levels (errors ``F - F*``, or ``||grad F||^2``).
        times: (n,) the least time to each, C = 1 (simulated time units).
        bound: the :class:`Bound` evaluated at ``levels``.
        on: a key of :data:`CURVE_KINDS`: what the levels are and which statement gives
            the times.
    """

    levels: np.ndarray
    times: np.ndarray
    bound: Bound
    on: str

    def label(self) -> str:
        """A legend text: what it is and where it comes from."""
        return f"optimal time x C, C free: {CURVE_KINDS[self.on]}"


def optimal_time_curve(
    top: float,
    bottom: float,
    *,
    mean_durations: object,
    L: float,
    delta: float,
    sigma2: float,
    mu: float | None = None,
    on: str = "strongly-convex",
    points: int = 60,
) -> OptimalTimeCurve:
    """The least time (C = 1) to ``points`` log-spaced levels from ``top`` down to ``bottom``.

    Args:
        top, bottom: the largest and smallest level, ``top > bottom > 0``; ``top`` is
            lowered to just under the statement's limit: ``Delta`` for a strongly convex
            error (w0 is there already), ``Delta / 2`` for an error at ``eps = 2 L e``, ``L
            Delta`` for a gradient level.
        mean_durations, L, delta, sigma2: as in :func:`optimal_time`.
        mu: the strong convexity (> 0), with ``on="strongly-convex"``.
        on: a key of :data:`CURVE_KINDS`: ``"strongly-convex"``
            (:func:`optimal_time_strongly_convex`), ``"error"``
            (:func:`optimal_time_to_error`) or ``"gradient"`` (:func:`optimal_time`).
        points: number of levels, >= 2.

    Returns:
        An :class:`OptimalTimeCurve`.

    Raises:
        PssimError: bad levels, ``on``, ``mu`` or ``points``.
    """
    if on not in CURVE_KINDS:
        raise PssimError(f"`on` must be one of {', '.join(CURVE_KINDS)}; got {on!r}", param="on")
    if isinstance(points, bool) or not isinstance(points, int) or points < 2:
        raise PssimError(f"`points` must be an integer >= 2; got {points!r}", param="points")
    top, bottom = check_positive("top", top), check_positive("bottom", bottom)
    delta, L = check_positive("delta", delta), check_positive("L", L)
    limit = {"strongly-convex": delta, "error": delta / 2, "gradient": L * delta}[on]
    top = min(top, limit * (1 - 1e-9))
    if not bottom < top:
        raise PssimError(
            f"`bottom` must be < `top` (and `top` < the statement's limit {limit:.4g}); got "
            f"{bottom:.4g} and {top:.4g}",
            param="bottom",
        )
    levels = np.geomspace(top, bottom, points)
    common = dict(mean_durations=mean_durations, L=L, sigma2=sigma2)
    if on == "strongly-convex":
        if mu is None:
            raise PssimError("`mu` must be given with on='strongly-convex'; got None", param="mu")
        bound = optimal_time_strongly_convex(levels, mu=mu, **common)
    elif on == "error":
        bound = optimal_time_to_error(levels, delta=delta, **common)
    else:
        bound = optimal_time(levels, delta=delta, **common)
    return OptimalTimeCurve(levels, np.asarray(bound.value, dtype=np.float64), bound, on)
