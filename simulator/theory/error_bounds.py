"""Error bounds of Dutta et al. 2018 (section 3.2-3.3 and supplement 8), evaluated.

Notation (Table 1 and section 2.4 of the paper): F is L-smooth (eq. 5) and c-strongly
convex in the Polyak-Lojasiewicz form 2c(F(w) - F*) <= ||grad F(w)||^2 (eq. 6); a
mini-batch gradient of m samples has variance at most sigma^2/m + (M_G/m) ||grad F||^2
(eq. 8); the staleness assumption of Theorem 3 is
E||grad F(w_j) - grad F(w_tau(l,j))||^2 <= gamma E||grad F(w_j)||^2; p0 is a lower bound on
the conditional probability that a gradient is fresh (Lemma 1, Lemma 8), and
gamma' = 1 - gamma + p0/2. Errors are in the units of F; iterations are server updates.

Together eqs. 5 and 6 imply c <= L, so every strongly convex bound reports that condition.

Note on Theorem 3's step-size condition. The theorem states
eta <= 1/(2L(M_G/(Km) + 1/K)), but its proof (step (c) of eq. 39) drops the factor K of
||sum_l a_l||^2 <= K sum_l ||a_l||^2 that Lemma 9 (eq. 36) uses: with that factor, step (d)
needs eta <= 1/(2L(M_G/(Km) + 1)), Lemma 2's condition. (The stated form would give
E||v||^2 < ||grad F||^2 for M_G = 0 and fresh gradients, which is impossible.) Both
conditions are reported; they coincide for K = 1 (Corollary 2). Section 3.2 gives the
largest learning rate as max{1/(c gamma'), 1/(2L(M_G/m + 1))}; unrolling the recursion needs
both (a contraction factor 1 - eta c gamma' >= 0), so it is read as a min and reported.
"""

from __future__ import annotations

import numpy as np

from simulator.errors import PssimError
from simulator.theory._bound import (
    MAX_COUNT,
    Bound,
    as_array,
    check_count,
    check_nonnegative,
    check_positive,
    condition,
    evaluator,
)

__all__ = [
    "compensated_rate_bound",
    "kasync_error_bound",
    "ksync_error_bound",
    "nonconvex_bound",
    "step_size_limit",
]

_PAPER = "Dutta et al. 2018"
_SMOOTH_CONVEX = "c <= L (eqs. 5 and 6 together)"


#: Longest learning-rate sequence Theorem 4 builds from ``eta_max`` (8 bytes per update).
MAX_RATES = 10**8


def _iterations(name: str, value: object) -> tuple[np.ndarray, bool]:
    """Iteration counts as an int64 array (and whether a scalar was given)."""
    arr = as_array(name, value)
    if arr.dtype.kind not in "iu" or arr.size == 0 or np.any(arr < 0) or np.any(arr > MAX_COUNT):
        shown = repr(value)[:60] if np.ndim(value) == 0 else f"an array of {arr.dtype}"
        raise PssimError(f"`{name}` must be integers in [0, 2**53]; got {shown}", param=name)
    return arr.astype(np.int64), arr.ndim == 0


def _out(values: np.ndarray, scalar: bool) -> float | np.ndarray:
    return float(values.reshape(())) if scalar else values


def _probability(name: str, value: object) -> float:
    out = check_nonnegative(name, value)
    if out > 1:
        raise PssimError(f"`{name}` must be in [0, 1]; got {out:g}", param=name)
    return out


def _limits(L: float, M_G: float, K: int, m: int) -> dict[str, float]:
    return {
        "theorem3": 1.0 / (2 * L * (M_G / (K * m) + 1.0 / K)),
        "lemma2": 1.0 / (2 * L * (M_G / (K * m) + 1.0)),
    }


@evaluator
def step_size_limit(L: float, M_G: float, K: int, m: int, *, result: str = "theorem3") -> Bound:
    """Largest learning rate the strongly convex results allow (units of 1/L).

    - ``"theorem3"`` (K-async, K-batch-async; Corollary 2 for K = 1):
      eta <= 1/(2 L (M_G/(K m) + 1/K)), as stated in Theorem 3.
    - ``"lemma2"`` (K-sync): eta <= 1/(2 L (M_G/(K m) + 1)); this is also what Theorem 3's
      proof needs (see the module note) and, for K = 1, Theorem 4's eta_j bound.

    Args:
        L: Lipschitz constant of grad F (> 0).
        M_G: gradient-proportional variance constant of eq. 8 (>= 0).
        K: gradients per update (integer >= 1).
        m: mini-batch size (integer >= 1).
        result: which statement gives ``value``; ``extra`` holds both.

    Returns:
        Bound with ``value`` the limit, ``extra = {"theorem3", "lemma2"}``.

    Example:
        >>> step_size_limit(1.0, 0.0, 4, 1).value
        2.0
    """
    L, M_G = check_positive("L", L), check_nonnegative("M_G", M_G)
    K, m = check_count("K", K), check_count("m", m)
    limits = _limits(L, M_G, K, m)
    if not isinstance(result, str) or result not in limits:
        raise PssimError(
            f"`result` must be 'theorem3' or 'lemma2'; got {repr(result)[:40]}", param="result"
        )
    cite = {"theorem3": "Theorem 3 (Corollary 2 for K = 1)", "lemma2": "Lemma 2"}[result]
    return Bound(
        "largest learning rate eta",
        limits[result],
        f"{_PAPER}, {cite}",
        relation="exact",
        extra=limits,
    )


def _curve(iterations, floor: float, rate: float, initial_error: float):
    j, scalar = _iterations("iterations", iterations)
    if not np.isfinite(floor):
        return _out(np.full(j.shape, np.inf), scalar)
    return _out(floor + rate ** j.astype(np.float64) * (initial_error - floor), scalar)


@evaluator
def ksync_error_bound(
    iterations,
    *,
    lr: float,
    L: float,
    c: float,
    sigma2: float,
    K: int,
    m: int,
    initial_error: float,
    M_G: float = 0.0,
) -> Bound:
    """Lemma 2: error of K-sync SGD after J iterations (serial SGD with mini-batch K m).

    E[F(w_J)] - F* <= floor + (1 - eta c)^J (F(w_0) - F* - floor),
    floor = eta L sigma^2 / (2 c K m), valid for eta <= 1/(2 L (M_G/(K m) + 1)).

    Args:
        iterations: J, an integer >= 0 or an integer array (any shape).
        lr: learning rate eta (> 0). L, c: smoothness and strong convexity (> 0).
        sigma2: sigma^2 of eq. 8 (>= 0). K, m: gradients per update, mini-batch size.
        initial_error: F(w_0) - F* (>= 0). M_G: eq. 8's constant (>= 0).

    Returns:
        Bound over ``iterations`` (same shape; a float for a scalar), ``extra`` =
        {floor, rate}; conditions: the step bound, 1 - eta c >= 0 and c <= L.

    Example:
        >>> b = ksync_error_bound([0, 10], lr=0.1, L=1, c=0.5, sigma2=1, K=2, m=1,
        ...                       initial_error=1.0)
        >>> round(b.extra["floor"], 6), b.valid
        (0.05, True)
    """
    lr, L, c = check_positive("lr", lr), check_positive("L", L), check_positive("c", c)
    sigma2, M_G = check_nonnegative("sigma2", sigma2), check_nonnegative("M_G", M_G)
    K, m = check_count("K", K), check_count("m", m)
    e0 = check_nonnegative("initial_error", initial_error)
    floor, rate = lr * L * sigma2 / (2 * c * K * m), 1 - lr * c
    conds = (
        condition("eta <= 1/(2 L (M_G/(K m) + 1))", lr, "<=", _limits(L, M_G, K, m)["lemma2"]),
        condition("eta c <= 1 (contraction 1 - eta c >= 0)", lr * c, "<=", 1.0),
        condition(_SMOOTH_CONVEX, c, "<=", L),
    )
    return Bound(
        "E[F(w_J)] - F*",
        _curve(iterations, floor, rate, e0),
        f"{_PAPER}, Lemma 2",
        conds,
        extra={"floor": floor, "rate": rate},
    )


def _staleness_conditions(lr, L, M_G, K, m, gamma, p0):
    gp = 1 - gamma + p0 / 2
    limits = _limits(L, M_G, K, m)
    return gp, (
        condition("eta <= 1/(2 L (M_G/(K m) + 1/K)) (as stated)", lr, "<=", limits["theorem3"]),
        condition("eta <= 1/(2 L (M_G/(K m) + 1)) (proof, step d)", lr, "<=", limits["lemma2"]),
        condition("gamma <= 1", gamma, "<=", 1.0),
        condition("gamma' = 1 - gamma + p0/2 > 0", gp, ">", 0.0),
    )


@evaluator
def kasync_error_bound(
    iterations,
    *,
    lr: float,
    L: float,
    c: float,
    sigma2: float,
    K: int,
    m: int,
    initial_error: float,
    gamma: float,
    p0: float,
    M_G: float = 0.0,
) -> Bound:
    """Theorem 3 (eq. 9): error of K-async / K-batch-async SGD after J iterations.

    E[F(w_J)] - F* <= floor + (1 - eta c gamma')^J (E[F(w_0)] - F* - floor), with
    gamma' = 1 - gamma + p0/2 and floor = eta L sigma^2 / (2 c gamma' K m). K = 1 is
    Corollary 2 (fully asynchronous SGD). If gamma' <= 0 the proof gives nothing and the
    value is +inf.

    Args:
        iterations: J, an integer >= 0 or an integer array (any shape).
        lr, L, c, sigma2, K, m, initial_error, M_G: as in :func:`ksync_error_bound`.
        gamma: staleness constant (>= 0); the theorem assumes gamma <= 1.
        p0: lower bound on P(tau(l, j) = j | past) in [0, 1] (Lemma 8: 1/P for exp).

    Returns:
        Bound over ``iterations``, ``extra`` = {floor, rate, gamma_prime}; conditions: the
        step bound as stated and as the proof needs it, gamma <= 1, gamma' > 0,
        eta c gamma' <= 1 (the contraction factor is >= 0) and c <= L.

    Example:
        >>> b = kasync_error_bound(10, lr=0.1, L=1, c=0.5, sigma2=1, K=1, m=1,
        ...                        initial_error=1.0, gamma=0.0, p0=0.5)
        >>> round(b.extra["gamma_prime"], 3)
        1.25
    """
    lr, L, c = check_positive("lr", lr), check_positive("L", L), check_positive("c", c)
    sigma2, M_G = check_nonnegative("sigma2", sigma2), check_nonnegative("M_G", M_G)
    K, m = check_count("K", K), check_count("m", m)
    e0 = check_nonnegative("initial_error", initial_error)
    gamma, p0 = check_nonnegative("gamma", gamma), _probability("p0", p0)
    gp, conds = _staleness_conditions(lr, L, M_G, K, m, gamma, p0)
    floor = lr * L * sigma2 / (2 * c * gp * K * m) if gp > 0 else np.inf
    rate = 1 - lr * c * gp
    conds += (
        condition("eta c gamma' <= 1 (contraction >= 0)", lr * c * gp, "<=", 1.0),
        condition(_SMOOTH_CONVEX, c, "<=", L),
    )
    extra = {"floor": floor, "rate": rate, "gamma_prime": gp}
    return Bound(
        "E[F(w_J)] - F*",
        _curve(iterations, floor, rate, e0),
        f"{_PAPER}, Theorem 3 (eq. 9)",
        conds,
        extra=extra,
    )


def _rates(lrs, eta_max, iterations) -> tuple[np.ndarray, np.ndarray, bool]:
    if lrs is None and eta_max is None:
        raise PssimError("`lrs` or `eta_max` must be given; got neither", param="lrs")
    if lrs is not None:
        eta = np.asarray(lrs, dtype=np.float64)
        if eta.ndim != 1 or not np.all(np.isfinite(eta)) or np.any(eta < 0):
            raise PssimError("`lrs` must be a 1-D array of finite values >= 0", param="lrs")
        j, scalar = _iterations(
            "iterations", np.arange(eta.size + 1) if iterations is None else iterations
        )
        if j.max() > eta.size:
            raise PssimError(
                f"`iterations` must be <= len(lrs) ({eta.size}); got {j.max()}", param="iterations"
            )
        return eta, j, scalar
    if iterations is None:
        raise PssimError("`iterations` must be given with `eta_max`; got None", param="iterations")
    j, scalar = _iterations("iterations", iterations)
    if j.max() > MAX_RATES:
        raise PssimError(
            f"`iterations` must be <= {MAX_RATES} with `eta_max` (one rate per update is "
            f"kept); got {int(j.max())}",
            param="iterations",
        )
    return np.full(int(j.max()), eta_max), j, scalar


@evaluator
def compensated_rate_bound(
    iterations=None,
    *,
    C: float,
    L: float,
    c: float,
    sigma2: float,
    m: int,
    p0: float,
    initial_error: float,
    lrs=None,
    eta_max: float | None = None,
    M_G: float = 0.0,
    distances=None,
) -> Bound:
    """Theorem 4: error of async SGD under the staleness-compensated rate of eq. 13.

    Recursion (eq. 45): e_{j+1} <= (1 - rho_j) e_j + Delta_j with
    rho_j = eta_j (1 + p0/2) c and Delta_j = eta_j^2 L sigma^2 / (2 m) + C L^2 / 2, so after J
    updates e_J <= prod_{j<J} (1 - rho_j) e_0 + sum_{i<J} Delta_i prod_{i<k<J} (1 - rho_k).
    The statement indexes the product from j = 1 to J and the floor from Delta_0 to Delta_J
    (J + 1 terms for J updates); this follows the proof's recursion instead, with the rates
    eta_0 .. eta_{J-1} of the J updates applied. For a fixed eta the closed form is
    e_J <= Delta/rho + (1 - rho)^J (e_0 - Delta/rho).

    Args:
        iterations: J, an integer or integer array; default 0..len(lrs).
        C: the constant of eq. 11 (> 0). L, c, sigma2, m, M_G: as in Lemma 2.
        p0: lower bound on the probability that a gradient is fresh, in [0, 1].
        initial_error: E[F(w_0)] - F* (>= 0).
        lrs: the applied rates eta_0, eta_1, ... (1-D, >= 0), e.g. recorded by the replay.
        eta_max: a fixed eta_j = eta_max, used when ``lrs`` is None.
        distances: optional ||w_j - w_tau(j)||^2 per update (same length as ``lrs``), to
            check eq. 11 on the realised updates.

    Returns:
        Bound over ``iterations``; ``extra`` = {floor (Delta at the largest J), contraction
        (the product at the largest J), rho_max, limit (Delta/rho, fixed eta only)};
        conditions: max eta_j <= 1/(2 L (M_G/m + 1)), max rho_j <= 1, c <= L, and with
        ``distances`` max eta_j ||w_j - w_tau(j)||^2 <= C, with both ``lrs`` and ``eta_max``
        max eta_j <= eta_max.

    Example:
        >>> b = compensated_rate_bound([0, 1], C=0.01, L=1, c=0.5, sigma2=1, m=1, p0=0.5,
        ...                            initial_error=1.0, lrs=[0.1])
        >>> b.value.round(6).tolist()
        [1.0, 0.9475]
    """
    C, L, c = check_positive("C", C), check_positive("L", L), check_positive("c", c)
    sigma2, M_G = check_nonnegative("sigma2", sigma2), check_nonnegative("M_G", M_G)
    m, p0 = check_count("m", m), _probability("p0", p0)
    e0 = check_nonnegative("initial_error", initial_error)
    cap = None if eta_max is None else check_positive("eta_max", eta_max)
    eta, j, scalar = _rates(lrs, cap, iterations)
    rho = eta * (1 + p0 / 2) * c
    delta = eta**2 * L * sigma2 / (2 * m) + C * L**2 / 2
    # After n updates: contraction[n] = prod_{i<n} (1 - rho_i) and floor[n] = the Delta sum.
    contraction, floor = np.ones(eta.size + 1), np.zeros(eta.size + 1)
    for n in range(eta.size):
        contraction[n + 1] = (1 - rho[n]) * contraction[n]
        floor[n + 1] = (1 - rho[n]) * floor[n] + delta[n]
    errors = contraction * e0 + floor
    top = int(j.max())
    limit_eta = 1.0 / (2 * L * (M_G / m + 1))
    eta_top = float(eta.max()) if eta.size else 0.0
    conds = [
        condition("max_j eta_j <= 1/(2 L (M_G/m + 1))", eta_top, "<=", limit_eta),
        condition("max_j rho_j <= 1 (contraction >= 0)", float(rho.max(initial=0.0)), "<=", 1.0),
        condition(_SMOOTH_CONVEX, c, "<=", L),
    ]
    if distances is not None:
        d = np.asarray(distances, dtype=np.float64)
        if d.shape != eta.shape or not np.all(np.isfinite(d)) or np.any(d < 0):
            raise PssimError(
                f"`distances` must be {eta.size} finite values >= 0", param="distances"
            )
        lhs = float((eta * d).max(initial=0.0))
        conds.append(condition("max_j eta_j ||w_j - w_tau(j)||^2 <= C (eq. 11)", lhs, "<=", C))
    if lrs is not None and cap is not None:
        conds.append(condition("max_j eta_j <= eta_max (eq. 13)", eta_top, "<=", cap))
    extra = {"floor": float(floor[top]), "contraction": float(contraction[top])}
    extra["rho_max"] = float(rho.max(initial=0.0))
    if lrs is None:
        extra["limit"] = (cap**2 * L * sigma2 / (2 * m) + C * L**2 / 2) / (cap * (1 + p0 / 2) * c)
    return Bound(
        "E[F(w_J)] - F*",
        _out(errors[j], scalar),
        f"{_PAPER}, Theorem 4 (eq. 13)",
        tuple(conds),
        extra=extra,
    )


@evaluator
def nonconvex_bound(
    J,
    *,
    lr: float,
    L: float,
    sigma2: float,
    K: int,
    m: int,
    gamma: float,
    p0: float,
    initial_gap: float,
    M_G: float = 0.0,
) -> Bound:
    """Theorem 5 (eq. 41): ergodic gradient norm of K-async SGD on a non-convex F.

    (1/(J+1)) sum_{j=0}^{J} E||grad F(w_j)||^2
        <= 2 (F(w_0) - F*) / ((J + 1) eta gamma') + L eta sigma^2 / (K m gamma'),
    gamma' = 1 - gamma + p0/2 (the proof rearranges eq. 39, so it keeps Theorem 3's step
    bound and staleness assumption; strong convexity is not used). +inf if gamma' <= 0.

    Args:
        J: last iteration index (integer >= 0, or an integer array).
        lr, L, sigma2, K, m, gamma, p0, M_G: as in :func:`kasync_error_bound`.
        initial_gap: F(w_0) - F* (>= 0).

    Returns:
        Bound (units of ||grad F||^2) over ``J``; ``extra`` = {floor (the J-free term),
        gamma_prime}; conditions as Theorem 3's, without strong convexity.

    Example:
        >>> nonconvex_bound(9, lr=0.1, L=1, sigma2=1, K=1, m=1, gamma=0, p0=0,
        ...                 initial_gap=1.0).value
        2.1
    """
    lr, L = check_positive("lr", lr), check_positive("L", L)
    sigma2, M_G = check_nonnegative("sigma2", sigma2), check_nonnegative("M_G", M_G)
    K, m = check_count("K", K), check_count("m", m)
    gap = check_nonnegative("initial_gap", initial_gap)
    gamma, p0 = check_nonnegative("gamma", gamma), _probability("p0", p0)
    j, scalar = _iterations("J", J)
    gp, conds = _staleness_conditions(lr, L, M_G, K, m, gamma, p0)
    if gp > 0:
        floor = L * lr * sigma2 / (K * m * gp)
        value = 2 * gap / ((j + 1.0) * lr * gp) + floor
    else:
        floor, value = np.inf, np.full(j.shape, np.inf)
    return Bound(
        "(1/(J+1)) sum_j E||grad F(w_j)||^2",
        _out(value, scalar),
        f"{_PAPER}, Theorem 5 (eq. 41)",
        conds,
        extra={"floor": floor, "gamma_prime": gp},
    )
