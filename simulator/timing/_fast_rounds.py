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
from simulator.timing._fast_common import CHUNK_VALUES, PositiveBlocks, make_trace
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


def k_sync(blocks: list, k: int, updates: int, seed: int) -> Trace:
    """K-sync: the first K pushes of each round count; the rest are cancelled at T_j.

    Cancelled work is recorded as the engine does: first the pushes that tie with the
    K-th (processed before the server's update, in learner order), then the interrupted
    learners in learner order.
    """
    p = len(blocks)
    draws = LockstepDraws([PositiveBlocks(b) for b in blocks])
    parts: dict[str, list[np.ndarray]] = {}
    t_prev = 0.0
    for j0, r in _chunks(updates, p):
        x = draws.take(r).T  # (r, P): row j holds every learner's round-j draw
        d = np.partition(x, k - 1, axis=1)[:, k - 1]
        t = _round_times(t_prev, d)
        s = np.concatenate([[t_prev], t[:-1]])[:, None]
        t_prev = float(t[-1])
        finish = s + x
        event = s + (finish - s)
        order = _learner_order(event)
        first, rest = order[:, :k], order[:, k:]
        rows = np.arange(j0, j0 + r)
        add = parts.setdefault
        add("update_time", []).append(t)
        add("learner", []).append(first)
        add("version", []).append(np.repeat(rows, k))
        add("start", []).append(np.repeat(s[:, 0], k))
        add("finish", []).append(np.take_along_axis(finish, first, axis=1))
        # ties at T_j first (already in learner order), then the rest by learner
        tie = np.take_along_axis(event, rest, axis=1) == t[:, None]
        key = np.where(tie, np.arange(p - k) - p, rest)
        cancelled = np.take_along_axis(rest, np.argsort(key, axis=1, kind="stable"), axis=1)
        add("c_learner", []).append(cancelled)
        add("c_start", []).append(np.repeat(s[:, 0], p - k))
        add("c_stop", []).append(np.repeat(t, p - k))
    return _trace("k-sync", p, k, seed, parts)


def k_avg(blocks: list, steps: int, updates: int, seed: int) -> Trace:
    """K-AVG: each learner's K local steps end at ``s + sum(x)``; the last push is T_j."""
    p = len(blocks)
    draws = LockstepDraws([PositiveBlocks(b) for b in blocks])
    parts: dict[str, list[np.ndarray]] = {}
    t_prev = 0.0
    for j0, r in _chunks(updates, p * steps):
        x = draws.take(r * steps).reshape(p, r, steps)
        total = np.cumsum(x, axis=2)[:, :, -1].T  # (r, P) sums in the engine's order
        t = np.cumsum(np.concatenate([[t_prev], total.max(axis=1)]))[1:]
        s = np.concatenate([[t_prev], t[:-1]])[:, None]
        t_prev = float(t[-1])
        event = s + total
        order = _learner_order(event)
        add = parts.setdefault
        add("update_time", []).append(t)
        add("learner", []).append(order)
        add("version", []).append(np.repeat(np.arange(j0, j0 + r), p))
        add("start", []).append(np.repeat(s[:, 0], p))
        add("finish", []).append(np.take_along_axis(event, order, axis=1))
    return _trace("k-avg", p, steps, seed, parts, local_steps=steps)


def _trace(variant: str, p: int, k: int, seed: int, parts: dict, local_steps: int = 1) -> Trace:
    """The Trace of the per-chunk arrays in ``parts`` (contributions, cancelled work)."""
    cat = {name: np.concatenate([a.ravel() for a in arrs]) for name, arrs in parts.items()}
    cancelled = (cat["c_learner"], cat["c_start"], cat["c_stop"]) if "c_stop" in cat else None
    return make_trace(
        variant,
        p,
        k,
        seed,
        update_time=cat["update_time"],
        learner=cat["learner"],
        version=cat["version"],
        start=cat["start"],
        finish=cat["finish"],
        cancelled=cancelled,
        local_steps=local_steps,
    )
