"""The SimPy engine against hand-checkable schedules and an independent heap-based engine.

Both engines read the same durations X[l, n] (learner l's n-th task) from the same
per-learner streams, so they must agree exactly, event by event.
"""

from __future__ import annotations

import heapq

import numpy as np
import pytest

from distributions import Exponential, ShiftedExponential
from simulator import simulate
from simulator.timing._draws import learner_streams

P, UPDATES = 5, 60


def durations(p: int, n: int, seed: int, law=None) -> np.ndarray:
    """(p, n) array of X[l, n] from the engine's streams."""
    streams = learner_streams([law or Exponential(1.0)] * p, [1.0] * p, seed)
    return np.array([[draw() for _ in range(n)] for draw in streams])


def reference_async(x: np.ndarray, k: int, updates: int, wait: bool):
    """Event-driven K-async (wait=True) / K-batch-async (wait=False) with a heap.

    Returns per update: time, and the (learner, version, start, finish) of its K pushes.
    """
    p = x.shape[0]
    n_task = [0] * p
    heap = []  # (finish, learner, start, version)
    for lrn in range(p):
        heapq.heappush(heap, (x[lrn, 0], lrn, 0.0, 0))
        n_task[lrn] = 1
    version, batch, waiting, rows, times = 0, [], [], [], []
    while len(rows) < updates:
        finish, lrn, start, ver = heapq.heappop(heap)
        batch.append((lrn, ver, start, finish))
        restart = [lrn] if not wait else []
        if wait:
            waiting.append(lrn)
        if len(batch) == k:
            rows.append(batch)
            times.append(finish)
            batch = []
            version += 1
            restart += waiting if wait else []
            waiting = [] if wait else waiting
        for r in restart:
            heapq.heappush(heap, (finish + x[r, n_task[r]], r, finish, version))
            n_task[r] += 1
    return np.array(times), rows


@pytest.mark.parametrize("variant,k", [("k-async", 1), ("k-async", 3), ("k-batch-async", 2)])
def test_async_variants_match_a_heap_engine_exactly(variant, k):
    seed = 7
    x = durations(P, 400, seed)
    times, rows = reference_async(x, k, UPDATES, wait=variant == "k-async")
    trace = simulate(variant, num_learners=P, k=k, law=Exponential(1.0), updates=UPDATES, seed=seed)
    np.testing.assert_allclose(trace.update_time, times, rtol=0, atol=1e-12)
    for j, row in enumerate(rows):
        got = sorted(
            zip(trace.learner[j], trace.version[j], trace.start[j], trace.finish[j], strict=True)
        )
        want = sorted(row)
        assert [(a, b) for a, b, *_ in got] == [(a, b) for a, b, *_ in want]
        np.testing.assert_allclose([g[2:] for g in got], [w[2:] for w in want], atol=1e-12)


@pytest.mark.parametrize("k", [1, 3, P])
def test_k_sync_rounds_are_kth_order_statistics(k):
    seed = 3
    x = durations(P, UPDATES, seed)
    trace = simulate(
        "k-sync", num_learners=P, k=k, law=Exponential(1.0), updates=UPDATES, seed=seed
    )
    round_time = np.sort(x, axis=0)[k - 1]  # every learner starts one task per round
    np.testing.assert_allclose(trace.update_time, np.cumsum(round_time), atol=1e-9)
    assert np.all(trace.staleness()[trace.mask] == 0)
    # the P - K stragglers of each round are cancelled, visible in the trace
    assert trace.cancelled_learner.size == (P - k) * UPDATES
    if k < P:
        winners = trace.learner[0]
        assert set(trace.cancelled_learner[: P - k]) == set(range(P)) - set(winners)
        np.testing.assert_allclose(trace.cancelled_stop[: P - k], trace.update_time[0])


def test_k_batch_sync_restarts_at_the_same_model_and_cancels():
    seed, k = 11, 4
    x = durations(P, 200, seed)
    trace = simulate(
        "k-batch-sync", num_learners=P, k=k, law=Exponential(1.0), updates=3, seed=seed
    )
    # round 0 by hand: each learner runs tasks back to back from 0; the first K finishes win
    ends = sorted((np.cumsum(x[lrn])[i], lrn) for lrn in range(P) for i in range(k))[:k]
    assert trace.update_time[0] == pytest.approx(ends[-1][0])
    assert sorted(trace.learner[0]) == sorted(lrn for _, lrn in ends)
    assert np.all(trace.version == np.arange(3)[:, None])


def test_k_avg_barrier_is_the_slowest_sum_of_local_steps():
    seed, steps = 2, 3
    law = ShiftedExponential(1.0, 1.0)
    x = durations(P, steps * 4, seed, law)
    trace = simulate("k-avg", num_learners=P, k=steps, law=law, updates=4, seed=seed)
    sums = x.reshape(P, 4, steps).sum(axis=2)  # (P, rounds)
    np.testing.assert_allclose(trace.update_time, np.cumsum(sums.max(axis=0)), atol=1e-9)
    assert trace.local_steps == steps and trace.max_k == P


def test_async_waits_idle_only_in_k_async():
    kw = dict(num_learners=4, k=2, law=Exponential(1.0), updates=50, seed=5)
    idle = {
        v: sum(np.diff(simulate(v, **kw).idle_intervals(lrn), axis=1).sum() for lrn in range(4))
        for v in ("k-async", "k-batch-async")
    }
    assert idle["k-batch-async"] == pytest.approx(0.0, abs=1e-9)
    assert idle["k-async"] > 1.0


def test_service_time_queues_updates_and_needs_deeper_copies():
    trace = simulate(
        "k-batch-async",
        num_learners=8,
        k=1,
        law=Exponential(1.0),
        updates=300,
        seed=1,
        service_time="exp:4",
    )
    gaps = np.diff(trace.update_time)
    assert np.all(gaps >= 0)
    # a busy server lets learners read versions older than their pending update
    *_, depth = trace.copy_schedule()
    assert depth >= 2


def test_latencies_shift_time_but_keep_common_durations():
    kw = dict(num_learners=3, k=1, law=Exponential(1.0), updates=40, seed=4)
    base = simulate("k-async", **kw)
    slow = simulate(
        "k-async", **kw, push_latency="shifted-exp:0.5,10", pull_latency="shifted-exp:0.5,10"
    )
    assert slow.end_time > base.end_time
    x = durations(3, 100, 4)
    for lrn in range(3):
        iv = slow.busy_intervals(lrn)
        np.testing.assert_allclose(iv[:, 1] - iv[:, 0], x[lrn, : len(iv)], atol=1e-12)


def test_speeds_divide_durations():
    kw = dict(num_learners=2, k=1, law=Exponential(1.0), updates=30, seed=9)
    slow = simulate("async", **kw, speeds=[1.0, 0.5])
    x = durations(2, 100, 9)
    iv = slow.busy_intervals(1)
    np.testing.assert_allclose(iv[:, 1] - iv[:, 0], x[1, : len(iv)] / 0.5, atol=1e-12)
