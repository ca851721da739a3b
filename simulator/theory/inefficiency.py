"""Larger mini-batches and more learners cost samples: bounds of Bhardwaj and Cong (seed 000).

Non-convex f with an L-Lipschitz gradient, per-sample gradient variance at most sigma^2
(A.2), ``gap`` = D_f = f(x_1) - f(x*). The bounds are on the average squared gradient norm
``(1/K) sum_k E||grad f(x_k)||^2`` after K updates, written here per *samples processed*
S = M K (all learners together), so curves for several M or N share one axis.

Convention of the paper (eq. 1): an update subtracts ``gamma`` times the **sum** of the M
per-sample gradients, ``x_{k+1} = x_k - gamma sum_i G(x_k, z_ki)``, so ``gamma M`` is the
learning rate of the usual mean-gradient form. ASGD (eq. 6) applies one such mini-batch
gradient per update, computed at a model up to N updates old (N learners).

The extraction of this paper is badly garbled; every formula below was rebuilt from the
proof steps that survive and checked against the appendix's substitutions (eqs. 12, 17-21):

- Lemma 1 / eq. 2 (from eqs. 10-11): ``(D_f/S + L sigma^2 gamma^2 / 2) / (gamma - L M
  gamma^2 / 2)``, for ``L M gamma / 2 < 1``.
- Theorem 2: alpha = sqrt(S sigma^2 / (L D_f)) and gamma = c sqrt(D_f / (S L sigma^2))
  turn eq. 2 into ``(1/c + c/2) / (1 - c M / (2 alpha)) sqrt(D_f L sigma^2 / S)`` (eq. 12),
  minimised at ``c = (M/alpha)(sqrt(1 + 2 alpha^2/M^2) - 1)`` (eq. 13, lost in the text;
  re-derived, it gives the appendix's limits sqrt(2) - M/alpha and alpha/M).
- Eqs. 7-8 (Lian et al., Theorem 1): ``2 D_f/(M K gamma) + sigma^2 L gamma + 2 sigma^2 L^2 M
  N gamma^2`` subject to ``L M gamma + 2 L^2 M^2 N^2 gamma^2 <= 1``. Theorem 4: alpha =
  sqrt(K sigma^2 / (M L D_f)), gamma = c / (alpha M L); the optimum solves
  ``4 N c^3 + alpha c^2 - 2 alpha = 0`` (eq. 21) capped by eq. 20. The theorem's statement
  says the guarantees of 1 and N learners differ by "approximately N"; its proof (eqs. 22-23)
  and the discussion give N / alpha, which is what is reported.
"""

from __future__ import annotations

import math

import numpy as np

from simulator.errors import PssimError
from simulator.theory._bound import (
    Bound,
    as_array,
    check_count,
    check_positive,
    condition,
    evaluator,
)

__all__ = [
    "asgd_bound",
    "asgd_optimal_step",
    "batch_size_penalty",
    "learner_penalty",
    "sgd_bound",
    "sgd_optimal_step",
]

CITE = "Bhardwaj & Cong, Inefficiency of SGD with larger mini-batches"
QUANTITY = "(1/K) sum_k E||grad f(x_k)||^2 after S samples"


def _samples(samples: object) -> np.ndarray:
    arr = as_array("samples", samples)
    shown = repr(samples)[:60] if np.ndim(samples) == 0 else f"an array of {arr.dtype}"
    if arr.dtype == bool or not np.issubdtype(arr.dtype, np.number) or arr.size == 0:
        raise PssimError(
            f"`samples` must be a number or an array of numbers; got {shown}", param="samples"
        )
    arr = arr.astype(float)
    if not np.all(np.isfinite(arr)) or np.any(arr <= 0):
        raise PssimError(f"`samples` must be finite and > 0; got {shown}", param="samples")
    return arr


def _out(arr: np.ndarray) -> float | np.ndarray:
    return float(arr) if arr.ndim == 0 else arr


def _problem(lipschitz, variance, gap) -> tuple[float, float, float]:
    return (
        check_positive("lipschitz", lipschitz),
        check_positive("variance", variance),
        check_positive("gap", gap),
    )


@evaluator
def sgd_bound(
    samples: object,
    *,
    batch_size: int,
    step: float,
    lipschitz: float,
    variance: float,
    gap: float,
) -> Bound:
    """Lemma 1 (eq. 2): mini-batch SGD with a constant step, after S = M K samples.

    ``(D_f / S + L sigma^2 gamma^2 / 2) / (gamma - L M gamma^2 / 2)``; it needs
    ``gamma - L M gamma^2/2 > 0`` (reported), and is ``inf`` (vacuous) otherwise.

    Args:
        samples: S, samples processed (a number or an array, e.g. epochs x dataset size).
        batch_size: M; step: gamma (it multiplies the *sum* of M gradients, eq. 1).
        lipschitz: L; variance: sigma^2 (per sample, A.2); gap: D_f.

    Example:
        >>> sgd_bound(1000, batch_size=10, step=0.01, lipschitz=1.0, variance=1.0,
        ...           gap=1.0).value
        0.11052631578947368
    """
    s = _samples(samples)
    m = check_count("batch_size", batch_size)
    step = check_positive("step", step)
    lip, var, gap = _problem(lipschitz, variance, gap)
    denom = step - lip * m * step**2 / 2
    value = np.where(denom > 0, (gap / s + lip * var * step**2 / 2) / max(denom, 1e-300), np.inf)
    cond = condition(
        "L M gamma / 2 < 1  (gamma - L M gamma^2/2 > 0, Lemma 1)", lip * m * step / 2, "<", 1.0
    )
    return Bound(QUANTITY, _out(value), f"{CITE}, Lemma 1, eq. (2)", (cond,), "upper-bound")


def _sgd_optimum(s: np.ndarray, m: int, lip: float, var: float, gap: float):
    a, b, c = gap / s, lip * var / 2, lip * m / 2
    step = (np.sqrt((a * c) ** 2 + a * b) - a * c) / b
    value = (a + b * step**2) / (step - c * step**2)
    return step, value


@evaluator
def sgd_optimal_step(
    samples: object, *, batch_size: int, lipschitz: float, variance: float, gap: float
) -> Bound:
    """Theorem 2, eqs. 12-13: the step minimising Lemma 1's bound for S samples, and the bound.

    Setting d/dgamma of eq. 2 to 0 gives ``(L sigma^2/2) gamma^2 + (L M D_f / S) gamma -
    D_f / S = 0``, i.e. ``gamma* = c* sqrt(D_f/(S L sigma^2))`` with
    ``c* = (M/alpha)(sqrt(1 + 2 alpha^2/M^2) - 1)``, ``alpha = sqrt(S sigma^2/(L D_f))``.
    gamma* always satisfies Lemma 1's condition. The value is the optimal bound (one per S);
    for a single S, extra holds ``step``, ``c`` and ``alpha``.

    Example:
        >>> b = sgd_optimal_step(1000, batch_size=1, lipschitz=1.0, variance=1.0, gap=1.0)
        >>> round(b.value, 6), round(b.extra["step"], 6)
        (0.045733, 0.043733)
    """
    s = _samples(samples)
    m = check_count("batch_size", batch_size)
    lip, var, gap = _problem(lipschitz, variance, gap)
    step, value = _sgd_optimum(s, m, lip, var, gap)
    extra = {}
    if s.ndim == 0:
        alpha = math.sqrt(float(s) * var / (lip * gap))
        extra = {"step": float(step), "c": float(step) * alpha * lip, "alpha": alpha}
    cond = condition("L M gamma / 2 < 1  (Lemma 1)", float(np.max(lip * m * step / 2)), "<", 1.0)
    return Bound(
        QUANTITY + ", best constant gamma",
        _out(value),
        f"{CITE}, Theorem 2, eqs. (12)-(13)",
        (cond,),
        "upper-bound",
        extra,
    )


@evaluator
def batch_size_penalty(
    samples: float, *, small: int, large: int, lipschitz: float, variance: float, gap: float
) -> Bound:
    """Theorem 2: how much worse the best guarantee of mini-batch M_h is than that of M_l.

    The value is the exact ratio of the optimal bounds (:func:`sgd_optimal_step`) after the
    same S samples; ``extra["approximation"]`` is the theorem's ``2 M_h / (sqrt(2) alpha +
    M_l)``, claimed for ``4 M_l <= alpha <= M_h / 4`` (reported as conditions), with
    ``alpha = sqrt(S sigma^2 / (L D_f))``.

    Example:
        >>> b = batch_size_penalty(1e4, small=1, large=1000, lipschitz=1.0, variance=1.0,
        ...                        gap=1.0)
        >>> round(b.value, 2), round(b.extra["approximation"], 2), b.valid
        (14.11, 14.04, True)
    """
    s = float(_samples(samples))
    m_l, m_h = check_count("small", small), check_count("large", large)
    lip, var, gap = _problem(lipschitz, variance, gap)
    _, low = _sgd_optimum(np.asarray(s), m_l, lip, var, gap)
    _, high = _sgd_optimum(np.asarray(s), m_h, lip, var, gap)
    alpha = math.sqrt(s * var / (lip * gap))
    conds = (
        condition("4 M_l <= alpha  (Theorem 2)", 4 * m_l, "<=", alpha),
        condition("alpha <= M_h / 4  (Theorem 2)", alpha, "<=", m_h / 4),
    )
    return Bound(
        "ratio of best SGD guarantees, M_h vs M_l",
        float(high / low),
        f"{CITE}, Theorem 2",
        conds,
        "exact",
        {"approximation": 2 * m_h / (math.sqrt(2) * alpha + m_l), "alpha": alpha},
    )


def _asgd_checks(samples, batch_size, learners, lipschitz, variance, gap):
    return (
        _samples(samples),
        check_count("batch_size", batch_size),
        check_count("learners", learners),
        *_problem(lipschitz, variance, gap),
    )


def _asgd_value(s, m, n, step, lip, var, gap):
    return 2 * gap / (s * step) + var * lip * step + 2 * var * lip**2 * m * n * step**2


def _step_condition(m: int, n: int, step: float, lip: float):
    return condition(
        "L M gamma + 2 L^2 M^2 N^2 gamma^2 <= 1  (eq. 8)",
        lip * m * step + 2 * (lip * m * n * step) ** 2,
        "<=",
        1.0,
    )


@evaluator
def asgd_bound(
    samples: object,
    *,
    batch_size: int,
    learners: int,
    step: float,
    lipschitz: float,
    variance: float,
    gap: float,
) -> Bound:
    """Eqs. 7-8: ASGD with N learners (staleness <= N), after S = M K samples in all.

    ``2 D_f / (S gamma) + sigma^2 L gamma + 2 sigma^2 L^2 M N gamma^2`` (eq. 7, with
    M K = S), valid under ``L M gamma + 2 L^2 M^2 N^2 gamma^2 <= 1`` (eq. 8, reported).

    Example:
        >>> asgd_bound(1000, batch_size=1, learners=4, step=0.05, lipschitz=1.0,
        ...            variance=1.0, gap=1.0).value
        0.11
    """
    s, m, n, lip, var, gap = _asgd_checks(samples, batch_size, learners, lipschitz, variance, gap)
    step = check_positive("step", step)
    value = _asgd_value(s, m, n, step, lip, var, gap)
    return Bound(
        QUANTITY,
        _out(value),
        f"{CITE}, eqs. (7)-(8)",
        (_step_condition(m, n, step, lip),),
        "upper-bound",
    )


def _asgd_optimum(s: float, m: int, n: int, lip: float, var: float, gap: float):
    # phi(gamma) of eq. 7 is convex: the unconstrained minimiser solves
    # 4 sigma^2 L^2 M N gamma^3 + sigma^2 L gamma^2 - 2 D_f / S = 0 (eq. 21 in gamma).
    roots = np.roots([4 * var * lip**2 * m * n, var * lip, 0.0, -2 * gap / s])
    free = float(max(r.real for r in roots if abs(r.imag) <= 1e-9 * (1 + abs(r.real))))
    cap = (math.sqrt(1 + 8 * n**2) - 1) / (4 * lip * m * n**2)
    step = min(free, cap)
    return step, cap, float(_asgd_value(s, m, n, step, lip, var, gap))


@evaluator
def asgd_optimal_step(
    samples: object,
    *,
    batch_size: int,
    learners: int,
    lipschitz: float,
    variance: float,
    gap: float,
) -> Bound:
    """Theorem 4, eqs. 19-21: the best constant step for eqs. 7-8, and the bound there.

    Eq. 7 is convex in gamma, so the optimum is the smaller of the root of
    ``4 sigma^2 L^2 M N gamma^3 + sigma^2 L gamma^2 = 2 D_f / S`` (eq. 21 with
    gamma = c/(alpha M L)) and eq. 8's largest step ``(sqrt(1 + 8 N^2) - 1) / (4 L M N^2)``
    (eq. 20). For a single S, extra holds ``step``, ``step_max``, ``alpha`` =
    sqrt(K sigma^2 / (M L D_f)) with K = S/M, and ``c`` = gamma alpha M L.

    Example:
        >>> b = asgd_optimal_step(1e4, batch_size=1, learners=1, lipschitz=1.0,
        ...                       variance=1.0, gap=1.0)
        >>> round(b.value, 6), round(b.extra["c"], 4)
        (0.028674, 1.3768)
    """
    s, m, n, lip, var, gap = _asgd_checks(samples, batch_size, learners, lipschitz, variance, gap)
    flat = [_asgd_optimum(float(x), m, n, lip, var, gap) for x in s.ravel()]
    value = np.array([v for *_, v in flat]).reshape(s.shape)
    steps = [st for st, *_ in flat]
    extra = {}
    if s.ndim == 0:
        step, cap, _ = flat[0]
        alpha = math.sqrt(float(s) / m * var / (m * lip * gap))
        extra = {"step": step, "step_max": cap, "alpha": alpha, "c": step * alpha * m * lip}
    cond = _step_condition(m, n, max(steps), lip)
    return Bound(
        QUANTITY + ", best constant gamma",
        _out(value),
        f"{CITE}, Theorem 4, eqs. (19)-(21)",
        (cond,),
        "upper-bound",
        extra,
    )


@evaluator
def learner_penalty(
    samples: float,
    *,
    learners: int,
    batch_size: int,
    lipschitz: float,
    variance: float,
    gap: float,
) -> Bound:
    """Theorem 4: best ASGD guarantee with N learners over that with one, same S samples.

    The value is the exact ratio of :func:`asgd_optimal_step` bounds; ``extra
    ["approximation"]`` is the proof's ``N / alpha`` (eqs. 22-23), claimed for
    ``16 <= alpha <= N`` (reported), alpha = sqrt(K sigma^2 / (M L D_f)), K = S / M.

    Example:
        >>> b = learner_penalty(1e4, learners=1000, batch_size=1, lipschitz=1.0,
        ...                     variance=1.0, gap=1.0)
        >>> round(b.value, 2), round(b.extra["approximation"], 2), b.valid
        (9.93, 10.0, True)
    """
    s = float(_samples(samples))
    n = check_count("learners", learners)
    one = asgd_optimal_step(
        s, batch_size=batch_size, learners=1, lipschitz=lipschitz, variance=variance, gap=gap
    )
    many = asgd_optimal_step(
        s, batch_size=batch_size, learners=n, lipschitz=lipschitz, variance=variance, gap=gap
    )
    alpha = one.extra["alpha"]
    conds = (
        condition("16 <= alpha  (Theorem 4)", 16.0, "<=", alpha),
        condition("alpha <= N  (Theorem 4)", alpha, "<=", n),
    )
    return Bound(
        "ratio of best ASGD guarantees, N learners vs 1",
        float(many.value) / float(one.value),
        f"{CITE}, Theorem 4",
        conds,
        "exact",
        {"approximation": n / alpha, "alpha": alpha},
    )
