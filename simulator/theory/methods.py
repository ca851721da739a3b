"""Runtime theory of Rennala SGD and Ringmaster ASGD on independent learners.

Rennala SGD (Tyurin & Richtarik 2023, Method 4) applies a batch of K gradients all computed
at the current model; a learner whose gradient arrives stale throws it away and starts
again. A batch therefore needs K gradients *started* after the last update. A learner
whose tasks take tau_l can finish at most floor(t / tau_l) of them within t of the update,
and at least max(0, floor(t / tau_l) - 1) (its stale task ends within tau_l). So with
fixed durations one batch takes between

    t_low(K)  = min { t : sum_l floor(t / tau_l) >= K }             (exact when every
    t_high(K) = min { t : sum_l max(0, floor(t / tau_l) - 1) >= K }  learner starts afresh)

t_low is the exact batch time of K-batch-sync with fixed durations (every learner restarts
at the update, which is Rennala's first batch). Tyurin & Richtarik bound a batch by
2 min_m H_m (1 + K / m), H_m the harmonic mean of the m fastest tau (Theorem 7.2's proof;
Ringmaster's Lemma 4.1 states the same form). With random durations K-batch-sync, whose
learners all restart at the update, is stochastically faster batch by batch, so its
expected runtime is a lower bound for Rennala's.

Ringmaster ASGD (Maranjyan, Tyurin & Richtarik 2025) is asynchronous SGD that discards a
gradient whose staleness is >= R: it never updates faster than asynchronous SGD on the same
learners (a lower bound); with fixed durations any R consecutive updates take at most
2 min_m H_m (1 + R / m) (Lemma 4.1), an upper bound of ceil(J / R) times that.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Sequence

import numpy as np

from simulator.theory._learners import Learner
from simulator.theory.optimal_time import harmonic_means

__all__ = [
    "kth_completion",
    "rennala_batch_bounds",
    "ringmaster_upper_bound",
]


def _paper_bound(taus: Sequence[float], k: int) -> float:
    """2 min_m H_m (1 + K / m): the time of K fresh gradients, Lemma 4.1's form."""
    h = harmonic_means(taus)
    m = np.arange(1, h.size + 1)
    return float(2.0 * np.min(h * (1.0 + k / m)))


def kth_completion(taus: Sequence[float], k: int, skip: int) -> float:
    """The K-th smallest of the completion times n tau_l (n > ``skip``) counted from
    ``(n - skip) tau_l``: the smallest t with sum_l max(0, floor(t / tau_l) - skip) >= K."""
    heap = [((skip + 1) * tau, i, skip + 1) for i, tau in enumerate(taus)]
    heapq.heapify(heap)
    for _ in range(k - 1):
        _, i, n = heapq.heappop(heap)
        heapq.heappush(heap, ((n + 1) * taus[i], i, n + 1))
    return heap[0][0]


def rennala_batch_bounds(taus: Sequence[float], k: int) -> dict[str, float]:
    """Bounds on the time of one Rennala batch of K with fixed durations ``taus``.

    Returns:
        ``low``: min{t : sum_l floor(t / tau_l) >= K} (exact for a batch whose learners all
        start afresh: the first one); ``high``: min{t : sum_l max(0, floor(t/tau_l) - 1)
        >= K}; ``paper``: 2 min_m H_m (1 + K / m).

    Example:
        >>> rennala_batch_bounds([1.0, 2.0], 3)
        {'low': 2.0, 'high': 4.0, 'paper': 6.666666666666666}
    """
    taus = [float(t) for t in taus]
    return {
        "low": kth_completion(taus, k, 0),
        "high": kth_completion(taus, k, 1),
        "paper": _paper_bound(taus, k),
    }


def ringmaster_upper_bound(taus: Sequence[float], r: int, updates: int) -> float:
    """ceil(J / R) 2 min_m H_m (1 + R / m): Ringmaster's time of J updates with fixed
    durations is at most this (Lemma 4.1: any R consecutive updates take at most
    2 min_m H_m (1 + R / m))."""
    return math.ceil(updates / r) * _paper_bound(taus, r)


def constants(learners: Sequence[Learner]) -> list[float] | None:
    """The learners' fixed durations, or None if any is random."""
    taus = [x.constant for x in learners]
    return None if any(t is None for t in taus) else taus
