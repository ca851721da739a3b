"""Tight event loops for the variants with a sequential dependency: K-async (K > 1) and
K-batch-sync.

Each loop replays the SimPy engine's event queue with one ``heapq`` of
``(time, sequence, code)``: the sequence number plays SimPy's event id, so simultaneous
events are processed in the engine's order (timeouts by creation, then the update events
created when a batch closes). With every duration > 0 no event is ever created for the
instant being processed except those update events, which is what keeps this exact.
"""

from __future__ import annotations

import heapq
from array import array

import numpy as np

from simulator.timing._draws import duration_stream
from simulator.timing._fast_common import PositiveBlocks, make_trace
from simulator.trace import Trace

_DONE = -(1 << 62)  # code of the event that ends the run


class _Record:
    """Contributions in push order, update times and cancelled work, as typed arrays."""

    def __init__(self) -> None:
        self.learner, self.version = array("q"), array("q")
        self.start, self.finish, self.update_time = array("d"), array("d"), array("d")
        self.c_learner, self.c_start, self.c_stop = array("q"), array("d"), array("d")

    def arrays(self, name: str, dtype) -> np.ndarray:
        return np.frombuffer(getattr(self, name), dtype=dtype)

    def trace(self, variant: str, p: int, k: int, seed: int) -> Trace:
        n = len(self.update_time) * k
        i8, f8 = np.int64, np.float64
        return make_trace(
            variant,
            p,
            k,
            seed,
            update_time=self.arrays("update_time", f8),
            learner=self.arrays("learner", i8)[:n],
            version=self.arrays("version", i8)[:n],
            start=self.arrays("start", f8)[:n],
            finish=self.arrays("finish", f8)[:n],
            cancelled=(
                self.arrays("c_learner", i8),
                self.arrays("c_start", f8),
                self.arrays("c_stop", f8),
            ),
        )


def k_async(blocks: list, k: int, updates: int, seed: int) -> Trace:
    """K-async: a learner that pushed waits for the update holding its push, then reads.

    The pusher that completes a batch starts again at once; the update event then wakes
    the batch's waiting learners in push order. Unless another push ties with that
    instant (then the update event goes through the queue, behind it), the wake-up is
    done in place. Every task but the first starts at the time of the last update it
    read, so only the learner, the version read and the finish are recorded per push.
    """
    p = len(blocks)
    draw = [duration_stream(PositiveBlocks(b)) for b in blocks]
    pop, push = heapq.heappop, heapq.heappush
    heap = [(draw[lrn](), lrn, lrn) for lrn in range(p)]
    heapq.heapify(heap)
    seq = p
    read = [0] * p  # version read by each learner's current task
    batch: list[int] = []  # learners whose pushes wait in the open batch
    parked: dict[int, list[int]] = {}  # update index -> learners woken when it lands
    version = 0
    learners, versions, finish, update_time = array("q"), array("q"), array("d"), array("d")
    add_l, add_v, add_f = learners.append, versions.append, finish.append
    while True:
        now, _, lrn = pop(heap)
        if lrn >= 0:  # learner ``lrn`` pushes
            add_l(lrn)
            add_v(read[lrn])
            add_f(now)
            if len(batch) < k - 1 or version == updates:  # wait (past J: for ever)
                batch.append(lrn)
                continue
            update_time.append(now)
            version += 1
            woken, batch = batch, []
            if version == updates or (heap and heap[0][0] == now):
                if woken:
                    parked[version - 1] = woken
                    push(heap, (now, seq, -version))
                    seq += 1
                    woken = []
                if version == updates:
                    push(heap, (now, seq, _DONE))
                    seq += 1
            read[lrn] = version
            push(heap, (now + draw[lrn](), seq, lrn))
            seq += 1
        elif lrn == _DONE:
            break
        else:  # the update -lrn - 1 lands now: its waiting learners read the new model
            woken = parked.pop(-lrn - 1)
        for w in woken:
            read[w] = version
            push(heap, (now + draw[w](), seq, w))
            seq += 1
    times = np.frombuffer(update_time, dtype=np.float64)
    n = times.shape[0] * k
    version_read = np.frombuffer(versions, dtype=np.int64)[:n]
    began = np.concatenate([[0.0], times])  # a task reading version v began at T_{v-1}
    computing = np.array(sorted(lrn for _, _, lrn in heap if lrn >= 0), dtype=np.int64)
    return make_trace(
        "k-async",
        p,
        k,
        seed,
        update_time=times,
        learner=np.frombuffer(learners, dtype=np.int64)[:n],
        version=version_read,
        start=began[version_read],
        finish=np.frombuffer(finish, dtype=np.float64)[:n],
        inflight=(computing, began[np.array(read, dtype=np.int64)[computing]]),
    )


def k_batch_sync(blocks: list, k: int, updates: int, seed: int) -> Trace:
    """K-batch-sync: learners compute at w_j until K mini-batches arrive; the rest is cancelled.

    A push fires at ``s + (f - s)`` with ``f = s + x`` (the engine waits ``finish - start``).
    After the K-th push, the pushes tied with it are cancelled in event order, then the
    learners still computing in learner order, all at the update time.
    """
    p = len(blocks)
    draw = [duration_stream(PositiveBlocks(b)) for b in blocks]
    rec = _Record()
    now = 0.0
    for j in range(updates):
        begin, finish = [now] * p, [0.0] * p
        heap = []
        for lrn in range(p):
            f = now + draw[lrn]()
            finish[lrn] = f
            heap.append((now + (f - now), lrn, lrn))
        heapq.heapify(heap)
        seq, count = p, 0
        while True:
            t, _, lrn = heapq.heappop(heap)
            rec.learner.append(lrn)
            rec.version.append(j)
            rec.start.append(begin[lrn])
            rec.finish.append(finish[lrn])
            count += 1
            if count == k:
                break
            f = t + draw[lrn]()
            begin[lrn], finish[lrn] = t, f
            heapq.heappush(heap, (t + (f - t), seq, lrn))
            seq += 1
        rec.update_time.append(t)
        done = {lrn}
        while heap and heap[0][0] == t:  # pushes tied with the K-th: cancelled in order
            lrn = heapq.heappop(heap)[2]
            done.add(lrn)
            rec.c_learner.append(lrn)
            rec.c_start.append(begin[lrn])
            rec.c_stop.append(t)
        for lrn in range(p):
            if lrn not in done:
                rec.c_learner.append(lrn)
                rec.c_start.append(begin[lrn])
                rec.c_stop.append(t)
        now = t
    return rec.trace("k-batch-sync", p, k, seed)
