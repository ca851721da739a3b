"""Convergence bounds of K-step averaging SGD (K-AVG) of Zhou and Cong (seed 002).

K-AVG (Algorithm 1): P learners each run K local SGD steps (mini-batch B, step gamma) from
the averaged model, then the models are averaged; N averaging rounds. The bounds are on the
average squared gradient norm ``(1/N) E sum_j ||grad F(w~_j)||^2`` of a non-convex F under
the paper's Assumptions 1-4. Symbols, as in the paper:

- ``gap`` = F(w~_1) - F*, ``lipschitz`` = L (gradient Lipschitz constant),
- ``variance`` = M, the bound on E||grad F(w; xi)||^2 - ||E grad F(w; xi)||^2 of one
  sample's gradient (Assumption 4; M is *not* a mini-batch size here),
- ``batch_size`` = B (per learner and local step), ``step`` = gamma, ``learners`` = P,
- ``k`` = K, ``updates`` = N (averaging rounds), ``total_steps`` = S = N K (Theorem 3.4),
- ``delta``: the constant 0 < delta < 1 of condition (3.1), 1 - delta >= L^2 gamma^2. The
  bound decreases as delta grows, so when omitted the largest allowed one is used,
  ``delta = 1 - L^2 gamma^2``.

Every evaluator reports conditions (3.1) (and the others it rests on) instead of refusing a
setting that breaks them.
"""

from __future__ import annotations

import math

import numpy as np

from simulator.errors import PssimError
from simulator.theory._bound import (
    Bound,
    Condition,
    check_count,
    check_nonnegative,
    check_positive,
    condition,
    evaluator,
)

__all__ = [
    "k_opt_condition",
    "kavg_bound",
    "kavg_k_objective",
    "kavg_rate",
    "kavg_vs_asgd",
    "optimal_k",
]

CITE = "Zhou & Cong, K-step averaging SGD"
QUANTITY = "(1/N) E sum_j ||grad F(w~_j)||^2"


def _delta(delta: float | None, lipschitz: float, step: float) -> float:
    if delta is None:
        value = 1.0 - (lipschitz * step) ** 2
        if not 0 < value < 1:
            raise PssimError(
                f"`delta` must be given when L*gamma >= 1 (no delta in (0, 1) has "
                f"1 - delta >= L^2 gamma^2); L*gamma = {lipschitz * step:g}",
                param="delta",
            )
        return value
    value = check_positive("delta", delta)
    if value >= 1:
        raise PssimError(f"`delta` must be < 1; got {value:g}", param="delta")
    return value


def _conditions(k: int, lipschitz: float, step: float, delta: float) -> tuple[Condition, ...]:
    """Conditions (3.1) (= (3.32), (3.41)) for one step size."""
    lg = lipschitz * step
    return (
        condition(
            "L^2 gamma^2 (K+1)(K-2)/2 + L gamma K <= 1  (3.1)",
            lg**2 * (k + 1) * (k - 2) / 2 + lg * k,
            "<=",
            1.0,
        ),
        # (1 - delta) up to rounding: delta's default is 1 - L^2 gamma^2 itself
        condition("L^2 gamma^2 <= 1 - delta  (3.1)", lg**2, "<=", (1.0 - delta) * (1 + 1e-12)),
    )


def _common(gap, lipschitz, variance, batch_size, step, learners, k):
    return (
        check_nonnegative("gap", gap),
        check_positive("lipschitz", lipschitz),
        check_nonnegative("variance", variance),
        check_count("batch_size", batch_size),
        check_positive("step", step),
        check_count("learners", learners),
        check_count("k", k),
    )


@evaluator
def kavg_bound(
    *,
    updates: int,
    k: int,
    learners: int,
    batch_size: int,
    step: float,
    lipschitz: float,
    variance: float,
    gap: float,
    delta: float | None = None,
) -> Bound:
    """Theorem 3.1, bound (3.2): fixed step and batch size, non-convex F.

    ``2 gap / (N (K-1+delta) gamma) + L K gamma M / (B (K-1+delta)) (K/P + L (2K-1)(K-1)
    gamma / 6)``. The first term (``extra["transient"]``) vanishes as N grows; the second
    (``extra["floor"]``) does not.

    Example:
        >>> b = kavg_bound(updates=100, k=1, learners=4, batch_size=1, step=0.1,
        ...                lipschitz=1.0, variance=1.0, gap=1.0, delta=0.5)
        >>> round(b.value, 6), b.valid
        (0.45, True)
    """
    gap, lip, var, bsz, step, p, k = _common(
        gap, lipschitz, variance, batch_size, step, learners, k
    )
    n = check_count("updates", updates)
    delta = _delta(delta, lip, step)
    denom = k - 1 + delta
    transient = 2 * gap / (n * denom * step)
    floor = lip * k * step * var / (bsz * denom) * (k / p + lip * (2 * k - 1) * (k - 1) * step / 6)
    return Bound(
        QUANTITY,
        transient + floor,
        f"{CITE}, Theorem 3.1, eq. (3.2)",
        _conditions(k, lip, step, delta),
        "upper-bound",
        {"transient": transient, "floor": floor, "delta": delta},
    )


@evaluator
def kavg_rate(
    *,
    updates: int,
    k: int,
    learners: int,
    batch_size: int,
    lipschitz: float,
    variance: float,
    gap: float,
    delta: float | None = None,
) -> Bound:
    """Corollary 3.1: step size (3.23) and the O(1/sqrt(N)) rate (3.25).

    ``gamma = sqrt(gap B P / (L M K^2 N))`` (3.23) gives
    ``(4K/(K-1+delta)) sqrt(gap L M / (B P)) / sqrt(N)`` (3.25). The proof bounds
    ``K/P + L(2K-1)(K-1) gamma/6`` by ``2K/P``, so it needs ``K/P >= L(2K-1)(K-1) gamma/6``
    (reported) besides (3.1) at that gamma. The N thresholds (3.24), (3.30), (3.31) are
    garbled or inconsistent in the text ((3.30) drops a square), so those two conditions are
    checked directly instead. ``extra["step"]`` is gamma of (3.23), ``extra["bound_32"]``
    the bound (3.2) at it (never above the rate when the proof's assumption holds).

    Example:
        >>> b = kavg_rate(updates=10_000, k=4, learners=8, batch_size=16, lipschitz=1.0,
        ...               variance=1.0, gap=1.0, delta=0.5)
        >>> round(b.extra["step"], 6), round(b.value, 6)
        (0.028284, 0.004041)
    """
    gap, lip, var, bsz, _, p, k = _common(gap, lipschitz, variance, batch_size, 1.0, learners, k)
    n = check_count("updates", updates)
    check_positive("gap", gap)
    check_positive("variance", var)
    step = math.sqrt(gap * bsz * p / (lip * var * k**2 * n))
    delta = _delta(delta, lip, step)
    rate = 4 * k / (k - 1 + delta) * math.sqrt(gap * lip * var / (bsz * p)) / math.sqrt(n)
    full = kavg_bound(
        updates=n,
        k=k,
        learners=p,
        batch_size=bsz,
        step=step,
        lipschitz=lip,
        variance=var,
        gap=gap,
        delta=delta,
    )
    proof = condition(
        "K/P >= L (2K-1)(K-1) gamma / 6  (proof of Cor. 3.1)",
        k / p,
        ">=",
        lip * (2 * k - 1) * (k - 1) * step / 6,
    )
    return Bound(
        QUANTITY,
        rate,
        f"{CITE}, Corollary 3.1, eqs. (3.23), (3.25)",
        (*full.conditions, proof),
        "upper-bound",
        {"step": step, "bound_32": float(full.value), "delta": delta},
    )


def _k_coefficients(total_steps, learners, batch_size, step, lipschitz, variance, gap):
    gap = check_nonnegative("gap", gap)
    lip = check_positive("lipschitz", lipschitz)
    var = check_nonnegative("variance", variance)
    bsz = check_count("batch_size", batch_size)
    step = check_positive("step", step)
    p = check_count("learners", learners)
    s = check_count("total_steps", total_steps)
    alpha = 2 * gap / (s * step)
    beta = lip * step * var / (p * bsz)
    eta = lip**2 * step**2 * var / (6 * bsz)
    return alpha, beta, eta, lip, step


def _b_of_k(k: np.ndarray, alpha: float, beta: float, eta: float, delta: float) -> np.ndarray:
    return (alpha + beta * k + eta * (2 * k - 1) * (k - 1)) * k / (k - 1 + delta)


@evaluator
def kavg_k_objective(
    k: object,
    *,
    total_steps: int,
    learners: int,
    batch_size: int,
    step: float,
    lipschitz: float,
    variance: float,
    gap: float,
    delta: float | None = None,
) -> Bound:
    """Theorem 3.4: ``B(K) = (alpha + beta K + eta (2K-1)(K-1)) K / (K-1+delta)`` (3.44).

    With ``alpha = 2 gap / (S gamma)``, ``beta = L gamma M / (P B)``,
    ``eta = L^2 gamma^2 M / (6B)`` (3.45) and ``S = N K`` fixed, B(K) equals bound (3.43),
    i.e. bound (3.2) with N = S/K. ``k`` may be an integer or an array of integers >= 1.
    Conditions (3.41) are reported for the largest K given.

    Example:
        >>> b = kavg_k_objective([1, 2], total_steps=100, learners=4, batch_size=1,
        ...                      step=0.1, lipschitz=1.0, variance=1.0, gap=1.0, delta=0.5)
        >>> b.value.round(6).tolist()
        [0.45, 0.34]
    """
    ks = np.asarray(k)
    if not np.issubdtype(ks.dtype, np.integer) or ks.size == 0 or np.any(ks < 1):
        raise PssimError(f"`k` must be an integer or integers >= 1; got {k!r}", param="k")
    alpha, beta, eta, lip, step = _k_coefficients(
        total_steps, learners, batch_size, step, lipschitz, variance, gap
    )
    delta = _delta(delta, lip, step)
    value = _b_of_k(ks.astype(float), alpha, beta, eta, delta)
    value = float(value) if value.ndim == 0 else value
    return Bound(
        "B(K), bound (3.43) at N = S/K",
        value,
        f"{CITE}, Theorem 3.4, eq. (3.44)",
        _conditions(int(ks.max()), lip, step, delta),
        "upper-bound",
        {"alpha": alpha, "beta": beta, "eta": eta, "delta": delta},
    )


@evaluator
def k_opt_condition(
    *,
    total_steps: int,
    learners: int,
    batch_size: int,
    step: float,
    lipschitz: float,
    variance: float,
    gap: float,
    delta: float | None = None,
) -> Condition:
    """Condition (3.47): ``(1-delta)/(2 delta) alpha > (3 delta - 1)/(2 delta) beta + 3 eta``.

    It is B(2) < B(1) rearranged. It is also necessary: B(K) < B(1) iff
    ``-(1-delta) alpha + (delta K + delta - 1) beta + delta eta K (2K-1) < 0``, whose left side
    grows with K, so K_opt > 1 exactly when (3.47) holds. The theorem's restatement (3.42)
    has ``L^2 gamma^2 M / (3B)`` = 2 eta where the derivation gives 3 eta; this uses (3.47).

    Example:
        >>> k_opt_condition(total_steps=100, learners=4, batch_size=1, step=0.1,
        ...                 lipschitz=1.0, variance=1.0, gap=1.0, delta=0.5).holds
        True
    """
    alpha, beta, eta, lip, step = _k_coefficients(
        total_steps, learners, batch_size, step, lipschitz, variance, gap
    )
    delta = _delta(delta, lip, step)
    return condition(
        "(1-delta)/(2 delta) alpha > (3 delta-1)/(2 delta) beta + 3 eta  (3.47)",
        (1 - delta) / (2 * delta) * alpha,
        ">",
        (3 * delta - 1) / (2 * delta) * beta + 3 * eta,
    )


@evaluator
def optimal_k(
    *,
    total_steps: int,
    learners: int,
    batch_size: int,
    step: float,
    lipschitz: float,
    variance: float,
    gap: float,
    delta: float | None = None,
    k_max: int | None = None,
) -> Bound:
    """Theorem 3.4: ``K_opt = argmin over integers K >= 1 of B(K)`` (3.46).

    Solved exactly: B'(x) = 0 on real x >= 1 is the cubic
    ``4 eta x^3 + (beta - 3 eta - 6 eta c) x^2 - 2 (beta - 3 eta) c x - c (alpha + eta) = 0``
    with ``c = 1 - delta``, so the integer minimiser is 1, ``k_max`` or a floor/ceiling of
    one of its real roots. The value is K_opt (an integer, as a float); extra holds B(K_opt),
    B(1) and the largest K allowed by (3.41) at this gamma. The conditions are (3.41) at
    K_opt; whether K_opt > 1 is :func:`k_opt_condition`.

    Args:
        k_max: search only K <= k_max (default: no limit). ``variance`` must be > 0
            unless ``k_max`` is given: with M = 0, B(K) falls forever.

    Example:
        >>> optimal_k(total_steps=100, learners=4, batch_size=1, step=0.1, lipschitz=1.0,
        ...           variance=1.0, gap=1.0, delta=0.5).value
        2.0
    """
    alpha, beta, eta, lip, step = _k_coefficients(
        total_steps, learners, batch_size, step, lipschitz, variance, gap
    )
    if k_max is None:
        check_positive("variance", variance)
    else:
        k_max = check_count("k_max", k_max)
    delta = _delta(delta, lip, step)
    c = 1.0 - delta
    cubic = [4 * eta, beta - 3 * eta - 6 * eta * c, -2 * (beta - 3 * eta) * c, -c * (alpha + eta)]
    roots = np.roots(np.trim_zeros(np.asarray(cubic), "f")) if any(cubic[:3]) else np.array([])
    real = roots[np.abs(roots.imag) <= 1e-9 * (1 + np.abs(roots.real))].real
    candidates = {1.0}
    for r in real[real >= 1]:
        candidates |= {math.floor(r), math.ceil(r)}
    if k_max is not None:
        candidates = {min(x, k_max) for x in candidates} | {float(k_max)}
    ks = np.array(sorted(candidates), dtype=float)
    values = _b_of_k(ks, alpha, beta, eta, delta)
    best = float(ks[int(np.argmin(values))])
    a2 = lip**2 * step**2 / 2
    lg = lip * step
    k_step = (-(lg - a2) + math.sqrt((lg - a2) ** 2 + 4 * a2 * (2 * a2 + 1))) / (2 * a2)
    return Bound(
        "K_opt = argmin_K B(K)",
        best,
        f"{CITE}, Theorem 3.4, eq. (3.46)",
        _conditions(int(best), lip, step, delta),
        "exact",
        {
            "b_opt": float(values.min()),
            "b_1": float(_b_of_k(np.array(1.0), alpha, beta, eta, delta)),
            "k_max_step_condition": float(math.floor(k_step + 1e-9)),
            "delta": delta,
        },
    )


@evaluator
def kavg_vs_asgd(
    learners: object,
    *,
    updates: int,
    k: int,
    batch_size: int,
    step: float,
    lipschitz: float,
    variance: float,
    gap: float,
    delta: float | None = None,
    c0: float = 2.0,
    c1: float = 1.0,
) -> dict[str, Bound]:
    """Theorem 3.3: the K-AVG bound (3.2) and the ASGD bound (3.39) as P grows.

    ASGD (staleness bounded by P, after Lian et al.): ``C0 gap / (N gamma) + C1 L^2 gamma^2
    M^2 P / (2B)`` (3.39), linear in P; ``C0`` and ``C1`` are constants independent of P that
    the text leaves unspecified (defaults 2 and 1 are placeholders: compare shapes in P, not
    levels). K-AVG's P sits in a denominator, so its bound does not grow with P.

    Args:
        learners: the P values, shape ``(n,)`` of integers >= 1.

    Returns:
        ``{"k-avg": Bound, "asgd": Bound}``, each with a value of shape ``(n,)``.

    Example:
        >>> out = kavg_vs_asgd([1, 64], updates=100, k=4, batch_size=16, step=0.05,
        ...                    lipschitz=1.0, variance=1.0, gap=1.0)
        >>> bool(out["asgd"].value[1] > out["asgd"].value[0])
        True
    """
    ps = np.atleast_1d(np.asarray(learners))
    if not np.issubdtype(ps.dtype, np.integer) or ps.ndim != 1 or np.any(ps < 1):
        raise PssimError(f"`learners` must be integers >= 1; got {learners!r}", param="learners")
    c0, c1 = check_nonnegative("c0", c0), check_nonnegative("c1", c1)
    kavg = [
        kavg_bound(
            updates=updates,
            k=k,
            learners=int(p),
            batch_size=batch_size,
            step=step,
            lipschitz=lipschitz,
            variance=variance,
            gap=gap,
            delta=delta,
        )
        for p in ps
    ]
    n, bsz = check_count("updates", updates), check_count("batch_size", batch_size)
    asgd = c0 * gap / (n * step) + c1 * lipschitz**2 * step**2 * variance**2 * ps / (2 * bsz)
    return {
        "k-avg": Bound(
            QUANTITY,
            np.array([float(b.value) for b in kavg]),
            f"{CITE}, Theorem 3.3, eq. (3.40)",
            kavg[0].conditions,
            "upper-bound",
        ),
        "asgd": Bound(
            QUANTITY,
            asgd.astype(float),
            f"{CITE}, Theorem 3.3, eq. (3.39)",
            (),
            "upper-bound",
            {"c0": c0, "c1": c1},
        ),
    }
