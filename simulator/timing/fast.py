"""Fast timing paths: the SimPy engine's traces, reproduced bit for bit without SimPy.

They apply to every variant and law when there is no push or pull latency and no service
time (the closed-form setting of Dutta et al. 2018): vectorised numpy where the schedule
allows it (K-batch-async and fully asynchronous K-async: one merge of running sums; K-sync
and K-AVG: order statistics and sums of rows of draws) and a heap-based event loop where an
update depends on the one before (K-async with K > 1, K-batch-sync). Durations come from
the same per-learner blocks as the engine's, so ``X[l, n]`` is the same number in both.
"""

from __future__ import annotations

from simulator._checks import SIMPY_ONLY_VARIANTS
from simulator._spec_policy import policy_applies
from simulator.spec import ExperimentSpec
from simulator.timing._draws import compute_blocks
from simulator.timing._fast_async import batch_async
from simulator.timing._fast_common import NeedsReference
from simulator.timing._fast_loops import k_async, k_batch_sync
from simulator.timing._fast_rounds import k_avg, k_sync
from simulator.trace import Trace

__all__ = ["NeedsReference", "fast_applies", "simulate_fast"]


def fast_applies(spec: ExperimentSpec) -> bool:
    """Whether a fast path can run ``spec``: no latencies, no service time and no cluster
    feature (failures, deadlines, slowdowns, bandwidth) and not all-reduce, Rennala or
    Ringmaster, and K fixed (no ``k_policy``)."""
    return (
        not spec.communication
        and spec.canonical[0] not in SIMPY_ONLY_VARIANTS
        and not policy_applies(spec)
    )


def simulate_fast(spec: ExperimentSpec, seed: int) -> Trace:
    """The trace of one seed of ``spec`` by the fast path (``fast_applies(spec)`` must hold).

    Raises:
        NeedsReference: a duration of 0 (or simultaneous pushes whose order could not be
            settled) makes the exact order of events the SimPy engine's business.
    """
    variant, k = spec.canonical
    updates = spec.updates
    blocks = compute_blocks(spec, seed)
    if variant == "k-batch-async" or (variant == "k-async" and k == 1):
        return batch_async(blocks, variant, k, updates, seed)
    if variant == "k-async":
        return k_async(blocks, k, updates, seed)
    if variant == "k-sync":
        return k_sync(blocks, k, updates, seed)
    if variant == "k-batch-sync":
        return k_batch_sync(blocks, k, updates, seed)
    return k_avg(blocks, k, updates, seed)
