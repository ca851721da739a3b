"""Vectorised K-sync and K-AVG: rounds whose times are order statistics of a row of draws.

Round j starts at ``s = T_{j-1}`` (0 for the first). Every learner draws its next duration
(K of them for K-AVG) and the SimPy engine schedules its push at ``s + (f - s)`` with
``f = s + x`` (K-sync) or at ``s + sum(x)`` (K-AVG), all in learner order, so simultaneous
pushes are processed in learner order. Floating-point rounding is monotone, so the K-th
smallest event time is the event time of the K-th smallest draw: round times come from a
partition of each row and one running sum, and every array below is computed with the
same float64 operations as the engine's, hence bit-identical.
"""

from __future__ import annotations

import numpy as np

from simulator.timing._draws import LockstepDraws
from simulator.timing._fast_common import CHUNK_VALUES, make_trace, positive
from simulator.trace import Trace


def _event_time(s: np.ndarray, x: np.ndarray) -> np.ndarray:
    """When SimPy fires a K-sync push: ``s + ((s + x) - s)`` (it waits ``finish - start``)."""
    return s + ((s + x) - s)


def _round_times(t0: float, d: np.ndarray) -> np.ndarray:
    """(r,) ends of r rounds from ``t0``: ``T_j = e(T_{j-1}, d_j)`` with the event time e.

    A running sum gives ``T_j = T_{j-1} + d_j``, which equals e almost always; where the
    rounding differs the recursion is taken one round at a time.
    """
    t = np.cumsum(np.concatenate([[t0], d]))[1:]
    s = np.concatenate([[t0], t[:-1]])
    if np.array_equal(_event_time(s, d), t):
        return t
    out, now = np.empty_like(d), t0
    for i, di in enumerate(d.tolist()):
        now = now + ((now + di) - now)
        out[i] = now
    return out


def _learner_order(event: np.ndarray) -> np.ndarray:
    """(r, P) argsort of each row of event times, ties in learner order.

    A plain (unstable, faster) sort, redone stably on the rows that hold ties.
    """
    order = np.argsort(event, axis=1)
    tied = np.diff(np.take_along_axis(event, order, axis=1), axis=1) == 0
    rows = np.flatnonzero(tied.any(axis=1))
    if rows.size:
        order[rows] = np.argsort(event[rows], axis=1, kind="stable")
    return order


def _chunks(updates: int, per_round: int):
    """(first round, rounds) of chunks holding about CHUNK_VALUES durations each."""
    step = max(1, CHUNK_VALUES // per_round)
    for j0 in range(0, updates, step):
        yield j0, min(step, updates - j0)


def _first_k(event: np.ndarray, t: np.ndarray, k: int):
    """Each row's K counted pushes (learners in event order, ties in learner order) and
    the rest (cancelled: ties with T_j first, then by learner): (r, K) and (r, P - K).

    One unstable sort per row; rows whose first K + 1 events hold ties are sorted again
    stably, and only rows where a cancelled push ties with T_j need the tie rule.
    """
    p = event.shape[1]
    order = np.argsort(event, axis=1)
    head = np.take_along_axis(event, order[:, : k + 1], axis=1)
    rows = np.flatnonzero((np.diff(head, axis=1) == 0).any(axis=1))
    if rows.size:
        order[rows] = np.argsort(event[rows], axis=1, kind="stable")
    first, rest = order[:, :k], np.sort(order[:, k:], axis=1)
    if k < p and rows.size:  # cancelled pushes tied with T_j come first, in learner order
        tie = np.take_along_axis(event[rows], rest[rows], axis=1) == t[rows, None]
        key = np.where(tie, rest[rows] - p, rest[rows])
        rest[rows] = np.take_along_axis(rest[rows], np.argsort(key, axis=1), axis=1)
    return first, rest


class _Out:
    """The trace's arrays, allocated once and filled round by round (no per-chunk copies)."""

    def __init__(self, updates: int, slots: int, cancelled: int) -> None:
        self.update_time = np.empty(updates)
        self.learner = np.empty((updates, slots), dtype=np.int64)
        self.version = np.empty((updates, slots), dtype=np.int64)
        self.start = np.empty((updates, slots))
        self.finish = np.empty((updates, slots))
        self.c_learner = np.empty((updates, cancelled), dtype=np.int64)
        self.c_start = np.empty((updates, cancelled))
        self.c_stop = np.empty((updates, cancelled))

    def rows(self, j0: int, r: int, t: np.ndarray, s: np.ndarray) -> slice:
        """Rounds j0 .. j0 + r - 1: their times, versions and starts; returns their slice."""
        rows = slice(j0, j0 + r)
        self.update_time[rows] = t
        self.version[rows] = np.arange(j0, j0 + r)[:, None]
        self.start[rows] = s
        self.c_start[rows] = s
        self.c_stop[rows] = t[:, None]
        return rows

    def trace(self, variant: str, p: int, k: int, seed: int, **extra) -> Trace:
        """The filled arrays as a Trace (``extra``: make_trace's other fields)."""
        return make_trace(
            variant,
            p,
            k,
            seed,
            update_time=self.update_time,
            learner=self.learner.ravel(),
            version=self.version.ravel(),
            start=self.start.ravel(),
            finish=self.finish.ravel(),
            **extra,
        )


def k_sync(blocks, k: int, updates: int, seed: int) -> Trace:
    """K-sync: the first K pushes of each round count; the rest are cancelled at T_j.

    Cancelled work is recorded as the engine does: first the pushes that tie with the
    K-th (processed before the server's update, in learner order), then the interrupted
    learners in learner order.
    """
    p = len(blocks)
    draws = LockstepDraws(blocks, check=positive)
    out = _Out(updates, k, p - k)
    t_prev = 0.0
    for j0, r in _chunks(updates, p):
        # (r, P): row j holds every learner's round-j draw
        x = np.ascontiguousarray(draws.take(r).T)
        d = np.partition(x, k - 1, axis=1)[:, k - 1]
        t = _round_times(t_prev, d)
        s = np.concatenate([[t_prev], t[:-1]])[:, None]
        t_prev = float(t[-1])
        finish = np.add(s, x, out=x)
        event = finish - s
        event += s  # s + (finish - s), the engine's event time
        rows = out.rows(j0, r, t, s)
        first, out.c_learner[rows] = _first_k(event, t, k)
        out.learner[rows] = first
        out.finish[rows] = np.take_along_axis(finish, first, axis=1)
    cancelled = (out.c_learner.ravel(), out.c_start.ravel(), out.c_stop.ravel())
    return out.trace("k-sync", p, k, seed, cancelled=cancelled)


def k_avg(blocks, steps: int, updates: int, seed: int) -> Trace:
    """K-AVG: each learner's K local steps end at ``s + sum(x)``; the last push is T_j."""
    p = len(blocks)
    draws = LockstepDraws(blocks, check=positive)
    out = _Out(updates, p, 0)
    t_prev = 0.0
    for j0, r in _chunks(updates, p * steps):
        x = draws.take(r * steps).reshape(p, r, steps)
        total = np.cumsum(x, axis=2)[:, :, -1].T  # (r, P) sums in the engine's order
        t = np.cumsum(np.concatenate([[t_prev], total.max(axis=1)]))[1:]
        s = np.concatenate([[t_prev], t[:-1]])[:, None]
        t_prev = float(t[-1])
        event = s + total
        order = _learner_order(event)
        rows = out.rows(j0, r, t, s)
        out.learner[rows] = order
        out.finish[rows] = np.take_along_axis(event, order, axis=1)
    return out.trace("k-avg", p, steps, seed, local_steps=steps)


def k_sync_times(blocks, k: int, updates: int) -> np.ndarray:
    """(J,) the update times of a K-sync run, without its contributions: the same round
    times as :func:`k_sync` (the K-th smallest draw of each round, summed in the
    engine's order) for a caller that needs only those (every contribution is fresh)."""
    p = len(blocks)
    draws = LockstepDraws(blocks, check=positive)
    out, t_prev = np.empty(updates), 0.0
    for j0, r in _chunks(updates, p):
        d = np.partition(draws.take(r), k - 1, axis=0)[k - 1]
        out[j0 : j0 + r] = t = _round_times(t_prev, d)
        t_prev = float(t[-1])
    return out
