"""Runtime theory for independent, non-identical learners (per-learner laws and speeds).

Learner l computes each mini-batch in ``X_l = Y_l / s_l`` (its law ``Y_l``, its speed
``s_l``), independently of the others and of its own past draws. Dutta et al. 2018 assume
i.i.d. learners; their arguments extend as follows (each result says its relation):

- K-batch-async and async (K-async with K = 1) never leave a learner idle, so the pushes
  are the superposition of P independent renewal processes of rates ``1 / E[X_l]``; the
  J-th update is the (J K)-th push. ``E[T_J] ~ J K / sum_l 1/E[X_l]`` (the elementary
  renewal theorem, as in Lemma 4): ``asymptotic``, and ``exact`` when every law is
  exponential (the superposition is then a Poisson process of the total rate).
- K-sync restarts every learner at each update, so the rounds are i.i.d. copies of the
  K-th order statistic: ``E[T_J] = J E[X_{K:P}]`` (Lemma 3), ``exact``, with
  ``E[X_{K:P}]`` integrated from the learners' cdfs (:func:`independent_order_statistic_mean`).
- K-batch-sync: each round is the time of the K-th completion of P renewal processes
  started afresh. ``exact`` for exponential laws (Erlang(K, sum of the rates)) and for
  deterministic times tau_l (the smallest t with ``sum_l floor(t / tau_l) >= K``).
- K-async: after an update the K learners that pushed restart afresh and the others are
  part-way through a computation. A new-longer-than-used law has residual times
  stochastically smaller than fresh ones (Definition 3), so every round is at most a fresh
  ``X_{K:P}`` in the stochastic order: ``J E[X_{K:P}]`` bounds ``E[T_J]`` from above when
  every learner is NLTU, from below when every one is NSTU (Lemma 5's argument, learner by
  learner), and is exact when every one is exponential.
- K-AVG: each round is the largest of the P learners' sums of K draws, exact where each
  sum has a closed-form law, otherwise at most ``J K E[X_{P:P}]`` (a maximum of sums is at
  most the sum of maxima).

Example:
    >>> p = heterogeneous_runtime("async", learners_from(["exp:1", "exp:3"]), None, 100)
    >>> p.mean, p.relation
    (25.0, 'exact')
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Sequence

import numpy as np

from distributions import LawError, LawTypeError, law_from
from simulator._checks import check_count, check_positive, resolve_variant
from simulator.errors import PssimError, PssimTypeError, shown
from simulator.theory._learners import (
    IntegralTooLarge,
    Learner,
    kth_order_mean,
    learners_from,
)
from simulator.theory._prediction import Prediction

__all__ = [
    "check_law",
    "check_learners",
    "heterogeneous_batch_speedup",
    "heterogeneous_runtime",
    "heterogeneous_speedup",
    "heterogeneous_staleness",
    "independent_order_statistic_mean",
]


def _prediction(mean, relation, source) -> Prediction:
    return Prediction(mean, relation, source)


def check_learners(
    num_learners: int, law=None, laws: Sequence | None = None, speeds: Sequence | None = None
) -> list[Learner]:
    """The P learners from one ``law`` or per-learner ``laws``, and optional ``speeds``.

    Raises:
        PssimError: ``law`` and ``laws`` both or neither given; ``laws`` or ``speeds`` not
            a list of P entries; a bad law (named ``laws`` with its index); a speed that is
            not a finite number > 0.
    """
    p = check_count("num_learners", num_learners)
    if laws is not None and law is not None:
        raise PssimError("`law` and `laws` must not both be given; got both", param="laws")
    if laws is None and law is None:
        raise PssimError("`law` or `laws` must be given; got neither", param="law")
    if laws is None:
        laws = [check_law("law", law)] * p
    else:
        laws = [check_law(f"laws[{i}]", x, i) for i, x in enumerate(_entries("laws", laws, p))]
    if speeds is not None:
        speeds = [check_positive("speeds", s) for s in _entries("speeds", speeds, p)]
    return learners_from(laws, speeds)


def _entries(name: str, value, p: int) -> list:
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence | np.ndarray):
        raise PssimTypeError(
            f"`{name}` must be a list of P ({p}) entries; got {shown(value)}", param=name
        )
    if len(value) != p:
        raise PssimError(
            f"`{name}` must have P ({p}) entries, one per learner; got {len(value)}", param=name
        )
    return list(value)


def check_law(name: str, value, index: int | None = None):
    """``law_from(value)``, its refusal naming ``name`` (``laws`` entry ``index``)."""
    try:
        return law_from(value, name=name)
    except (LawError, LawTypeError) as err:
        kind = PssimTypeError if isinstance(err, TypeError) else PssimError
        param = name if index is None else "laws"
        shown_as = f"`{name}`" if index is None else f"`laws` entry {index}"
        text = str(err)
        if text.startswith(f"`{name}` "):
            text = shown_as + text.removeprefix(f"`{name}`")
        else:
            text = f"{shown_as}: {text}"
        raise kind(text, param=param) from None


def independent_order_statistic_mean(laws: Sequence, k: int, *, speeds=None) -> float:
    """``E[X_{K:P}]``, the mean K-th smallest of independent, non-identical compute times.

    ``E[X_{K:P}] = ∫_0^∞ P(fewer than K of the P are done by t) dt``, the integrand a
    Poisson-binomial probability in the learners' cdfs ``F_l(t)`` (David & Nagaraja,
    *Order Statistics*, section 5.2), integrated by ``scipy.integrate.tanhsinh`` (exactly,
    as a finite sum, when every law is discrete). The K-sync runtime of Lemma 3 is
    ``J E[X_{K:P}]`` for independent learners too.

    Args:
        laws: P laws (laws, spec strings or frozen scipy.stats laws), learner l's.
        k: the rank K, ``1 <= K <= P``.
        speeds: optional P factors > 0; learner l's times are divided by ``speeds[l]``.

    Returns:
        The mean in simulated time units; ``math.inf`` where it diverges.

    Example:
        >>> round(independent_order_statistic_mean(["exp:1", "exp:2"], 2), 12)  # 1 + 1/2 - 1/3
        1.166666666667
    """
    if isinstance(laws, (str, bytes)) or not isinstance(laws, Sequence | np.ndarray):
        raise PssimTypeError(f"`laws` must be a list of laws; got {shown(laws)}", param="laws")
    if not len(laws):
        raise PssimError("`laws` must have at least 1 entry; got 0", param="laws")
    k = check_count("k", k, maximum=len(laws))
    return kth_order_mean(check_learners(len(laws), laws=laws, speeds=speeds), k)


# ------------------------------------------------------------------------ classification
def _rates(learners: Sequence[Learner]) -> list[float] | None:
    """The learners' exponential rates, None unless every one is exponential."""
    rates = [x.exponential_rate for x in learners]
    return None if any(r is None for r in rates) else rates


def _total_rate(learners: Sequence[Learner]) -> float:
    """``sum_l 1 / E[X_l]``, the long-run number of computations per unit time."""
    return math.fsum(1.0 / x.mean() for x in learners)


def _batch_sync_deterministic(taus: Sequence[float], k: int) -> float:
    """The smallest t with ``sum_l floor(t / tau_l) >= K``: the K-th smallest completion
    time ``n tau_l`` (n >= 1) over the learners, merged with a heap (O(K log P))."""
    heap = [(tau, i, 1) for i, tau in enumerate(taus)]
    heapq.heapify(heap)
    for _ in range(k - 1):
        _, i, n = heapq.heappop(heap)
        heapq.heappush(heap, ((n + 1) * taus[i], i, n + 1))
    return heap[0][0]


# ------------------------------------------------------------------------------ runtimes
def heterogeneous_runtime(variant: str, learners: Sequence[Learner], k: int, updates: int):
    """Expected time of the J-th update for independent non-identical learners.

    Args:
        variant: ``sync``, ``async`` or a K-variant (see :func:`simulator.resolve_variant`).
        learners: the P learners (:func:`check_learners`).
        k: K (None for ``sync``/``async``).
        updates: J >= 1.

    Returns:
        A :class:`~simulator.theory.runtime.Prediction` (simulated time units); see the
        module docstring for each variant's relation.
    """
    variant, k = resolve_variant(variant, len(learners), k)
    try:
        return _runtime(variant, learners, k, check_count("updates", updates))
    except IntegralTooLarge as err:
        return _prediction(None, "none", _too_large(err))


def _too_large(err: IntegralTooLarge) -> str:
    return "E[X_{K:P}] not integrated: " + str(err).split(": ", 1)[-1]


def _runtime(variant: str, learners: Sequence[Learner], k: int, updates: int):
    j, p = updates, len(learners)
    rates = _rates(learners)
    if variant == "k-sync":
        value = j * kth_order_mean(learners, k)
        return _prediction(value, "exact", "Lemma 3, independent learners: J E[X_{K:P}]")
    if variant == "k-batch-async" or (variant == "k-async" and k == 1):
        total = _total_rate(learners)
        if total <= 0.0:
            return _prediction(None, "none", "renewal: every learner's mean is infinite")
        if rates is not None:
            return _prediction(j * k / total, "exact", "Poisson pushes: J K / sum_l rate_l")
        return _prediction(j * k / total, "asymptotic", "renewal: J K / sum_l 1/E[X_l]")
    if variant == "k-batch-sync":
        if rates is not None:
            return _prediction(j * k / math.fsum(rates), "exact", "Erlang(K, sum_l rate_l)")
        taus = [x.constant for x in learners]
        if all(t is not None for t in taus):
            value = j * _batch_sync_deterministic(taus, k)
            return _prediction(value, "exact", "J min{t : sum_l floor(t / tau_l) >= K}")
        return _prediction(
            None, "none", "K-batch-sync: exact only for all-exponential or all-deterministic"
        )
    if variant == "k-async":
        return _k_async(learners, k, j, rates is not None)
    return _k_avg(learners, k, j, p)


def _k_async(learners: Sequence[Learner], k: int, j: int, exponential: bool):
    agings = {x.aging for x in learners}
    if exponential:
        value = j * kth_order_mean(learners, k)
        return _prediction(value, "exact", "Lemma 5 (equality, exponential): J E[X_{K:P}]")
    if agings <= {"nltu", "both"}:
        value = j * kth_order_mean(learners, k)
        return _prediction(value, "upper-bound", "Lemma 5, every learner NLTU: J E[X_{K:P}]")
    if agings <= {"nstu", "both"}:
        value = j * kth_order_mean(learners, k)
        return _prediction(value, "lower-bound", "Lemma 5 reversed, every learner NSTU")
    reason = "an aging class is unknown" if None in agings else "learners mix NLTU and NSTU laws"
    return _prediction(None, "none", f"K-async: no bound ({reason})")


def _k_avg(learners: Sequence[Learner], k: int, j: int, p: int):
    if k == 1:
        return _prediction(j * kth_order_mean(learners, p), "exact", "K=1: J E[X_{P:P}]")
    sums = [x.scaled_sum(k) for x in learners]
    if all(s is not None for s in sums):
        value = j * kth_order_mean(sums, p)
        return _prediction(value, "exact", "J E[max of the learners' sums of K draws]")
    value = j * k * kth_order_mean(learners, p)
    return _prediction(value, "upper-bound", "J K E[X_{P:P}] (max of sums)")


def heterogeneous_speedup(learners: Sequence[Learner]):
    """Theorem 1 for independent learners: ``E[T_sync] / E[T_async] ->
    E[X_{P:P}] sum_l 1/E[X_l]`` (ratio of times); exact when every law is exponential,
    asymptotic (renewal) otherwise."""
    total = _total_rate(learners)
    if total <= 0.0:
        return _prediction(None, "none", "Theorem 1: every learner's mean is infinite")
    try:
        value = kth_order_mean(learners, len(learners)) * total
    except IntegralTooLarge as err:
        return _prediction(None, "none", _too_large(err))
    relation = "exact" if _rates(learners) is not None else "asymptotic"
    return _prediction(value, relation, "Theorem 1, independent: E[X_{P:P}] sum_l 1/E[X_l]")


def heterogeneous_batch_speedup(learners: Sequence[Learner], k: int):
    """Theorem 2 for independent exponential learners: ``E[T_K-async] /
    E[T_K-batch-async] = E[X_{K:P}] sum_l rate_l / K``; ``none`` for other laws."""
    rates = _rates(learners)
    if rates is None:
        return _prediction(None, "none", "Theorem 2 holds for exponential laws only")
    try:
        value = kth_order_mean(learners, k) * math.fsum(rates) / k
    except IntegralTooLarge as err:
        return _prediction(None, "none", _too_large(err))
    return _prediction(value, "exact", "Theorem 2, independent: E[X_{K:P}] sum_l rate_l / K")


def heterogeneous_staleness(learners: Sequence[Learner]) -> dict:
    """Fresh-read share ``p0`` and mean staleness of fully asynchronous SGD (K = 1).

    With exponential rates ``r_l`` (total ``R``) the pushes of the other learners during
    learner l's computation are a Poisson process of rate ``R - r_l`` (memoryless property,
    as in Lemma 8), so the staleness of l's contribution is geometric,
    ``P(s) = (r_l / R) (1 - r_l / R)^s``, and a fraction ``r_l / R`` of the contributions
    are l's. Pooled over contributions (stationary: after the start-up):

        p0 = sum_l r_l^2 / R^2,   mean staleness = sum_l (r_l / R) (R - r_l) / r_l = P - 1.

    For any laws, each update is counted in the staleness of every other learner's next
    contribution, so over J updates the mean staleness is ``P - 1`` less the updates that
    the learners in flight at the end have not yet pushed against, divided by J: at most
    ``P - 1`` (an ``upper-bound`` for every run), and equal as J grows.

    Returns:
        ``{"p0": Prediction, "mean": Prediction}``.
    """
    p = len(learners)
    rates = _rates(learners)
    mean_bound = _prediction(
        p - 1.0, "upper-bound", "every update counts for the P - 1 others: <= P - 1"
    )
    if rates is None:
        return {
            "p0": _prediction(None, "none", "Lemma 8 needs identical or exponential learners"),
            "mean": mean_bound,
        }
    total = math.fsum(rates)
    p0 = math.fsum((r / total) ** 2 for r in rates)
    return {
        "p0": _prediction(p0, "exact", "Poisson pushes: p0 = sum_l rate_l^2 / (sum rate)^2"),
        "mean": _prediction(p - 1.0, "exact", "geometric per learner: P - 1"),
    }
