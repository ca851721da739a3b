"""Vectorised K-batch-async (and fully asynchronous K-async, K = 1): one merge of pushes.

No learner ever waits, so learner l's push times are the running sums of its durations.
All pushes up to the time T_end of the (J*K)-th are merged in the order SimPy processes
them: by time, and at equal times by when the push's timeout was created, which is when
the learner's previous push was processed (first tasks: at time 0, in learner order). A
contribution reads the version current when its learner's previous push was processed,
``floor((rank + 1) / K)`` for a previous push of rank ``rank`` in the merge. Pushes tied
with T_end are processed too: their learners start again (K-batch-async) or, past the J-th
push under K-async, wait for an update that never comes.
"""

from __future__ import annotations

import numpy as np

from simulator.timing._fast_common import NeedsReference, make_trace, positive
from simulator.timing._streams import FIRST_BLOCK
from simulator.trace import Trace

#: Re-sorts allowed to settle the order of simultaneous pushes before giving up.
MAX_TIE_PASSES = 64


def _push_times(streams, needed: int) -> tuple[list[tuple[np.ndarray, np.ndarray]], float]:
    """Every learner's push times (running sums) up to past T_end, and T_end itself.

    Draws block level after block level until the ``needed``-th smallest push time T_end
    is below every learner's last drawn push, so no push at or before T_end is missing.
    Returns, per level b, the learners that drew block b and their (n, block_size(b))
    push times; every learner of level b drew blocks 0..b.
    """
    p = len(streams)
    # a first block only: its Generators are not kept (those that go on rebuild theirs)
    keep = needed > p * FIRST_BLOCK
    levels: list[tuple[np.ndarray, np.ndarray]] = []
    last = np.zeros(p)
    total, grow = 0, np.arange(p)
    while True:
        x = positive(streams.take(grow, keep=keep))
        x[:, 0] += last[grow]  # the running sum goes on from the learner's last push
        t = np.cumsum(x, axis=1, out=x)
        levels.append((grow, t))
        last[grow] = t[:, -1]
        total += t.size
        if total < needed:
            continue
        drawn = np.concatenate([t.ravel() for _, t in levels])
        drawn.partition(needed - 1)
        t_end = float(drawn[needed - 1])
        del drawn
        grow = np.flatnonzero(last <= t_end)
        if not grow.size:
            return levels, t_end


def _kept(
    levels: list[tuple[np.ndarray, np.ndarray]], t_end: float, p: int
) -> tuple[np.ndarray, np.ndarray]:
    """The push times at or before ``t_end``, learner by learner (each learner's in
    order), and how many each learner has."""
    counts = np.zeros(p, dtype=np.int64)
    masks = []
    for ids, t in levels:
        m = t <= t_end
        masks.append(m)
        counts[ids] += m.sum(axis=1)
    if len(levels) == 1:  # every learner drew one block: the rows in order
        return levels[0][1][masks[0]], counts
    offsets = np.cumsum(counts) - counts
    time, base = np.empty(int(counts.sum())), 0
    for (ids, t), m in zip(levels, masks, strict=True):
        c = m.sum(axis=1)
        values = t[m]  # row by row: the level's learners in order
        # a learner's values of level b follow its values of the blocks before
        first = offsets[ids] + base - (np.cumsum(c) - c)
        time[np.repeat(first, c) + np.arange(values.shape[0])] = values
        base += t.shape[1]
    return time, counts


def _merge_order(
    time: np.ndarray, learner: np.ndarray, first: np.ndarray, p: int
) -> tuple[np.ndarray, np.ndarray]:
    """Processing order of pushes: by time, ties by the rank of the learner's previous push.

    ``first`` marks each learner's first push (its previous "push" is its start at time 0,
    ranked by learner index before every real push); otherwise the previous push is the
    entry just before in the per-learner layout. Returns the order and the sorted times.
    """
    # positive float64 times order like their bits as int64, which sort faster;
    # stable: equal times stay in the layout's learner order
    order = np.argsort(time.view(np.int64), kind="stable")
    ordered = time[order]
    if not np.any(ordered[1:] == ordered[:-1]):
        return order, ordered
    rank = np.empty(order.shape[0], dtype=np.int64)
    for _ in range(MAX_TIE_PASSES):
        rank[order] = np.arange(order.shape[0])
        prev = np.where(first, learner - p, np.roll(rank, 1))
        again = np.lexsort((prev, time))
        if np.array_equal(again, order):
            return order, ordered
        order = again
    raise NeedsReference("simultaneous pushes whose order did not settle")


def batch_async(blocks, variant: str, k: int, updates: int, seed: int) -> Trace:
    """K-batch-async with any K, or K-async with K = 1 (the same schedule)."""
    p = len(blocks)
    needed = updates * k
    levels, t_end = _push_times(blocks, needed)
    time, counts = _kept(levels, t_end, p)
    del levels
    learner = np.repeat(np.arange(p), counts)
    offsets = np.cumsum(counts) - counts
    first = np.zeros(time.shape[0], dtype=bool)
    first[offsets[counts > 0]] = True
    order, ordered = _merge_order(time, learner, first, p)
    rank = np.empty_like(order)
    rank[order] = np.arange(order.shape[0])
    pushes = order[:needed]
    fresh = first[pushes]  # the learner's first push: it started at 0 on version 0
    prev = np.maximum(pushes - 1, 0)  # otherwise its previous push, just before in the layout
    last_push = np.maximum(offsets + counts - 1, 0)
    computing = np.ones(p, dtype=bool)
    if variant == "k-async":  # a push beyond the J-th waits for an update that never comes
        computing = (counts == 0) | (rank[last_push] < needed)
    return make_trace(
        variant,
        p,
        k,
        seed,
        update_time=ordered[k - 1 : needed : k],
        learner=learner[pushes],
        version=np.where(fresh, 0, (rank[prev] + 1) // k),
        start=np.where(fresh, 0.0, time[prev]),
        finish=ordered[:needed],
        inflight=(
            np.flatnonzero(computing),
            np.where(counts > 0, time[last_push], 0.0)[computing],
        ),
    )
