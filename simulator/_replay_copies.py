"""Where the replay keeps the stale models: per-learner copies and when they are taken.

This is :meth:`Trace.copy_schedule` (same copy indices, same depth) with the snapshots kept
sparse, as (version, copy) pairs, and version 0 left out because every copy starts as w_0.
``copy_schedule`` returns a dense (U, S) snapshot table whose width S is the largest number
of stale reads of one version; version 0 is read by all P learners, so that table costs
O(U * P) memory, whereas this plan stays O(U * Kmax) like the trace itself.

A stale contribution (version v < update j) reads copy ``learner * depth + r`` (r the rank
of the learner's stale reads, modulo depth), set to w_v at scan step v after that step's
gradients are computed; ``depth`` copies per learner suffice when a lagging server leaves a
learner with several stale reads pending.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from simulator.trace import Trace


@dataclasses.dataclass(frozen=True)
class CopyPlan:
    """Stale-read plan of one trace.

    Attributes:
        copy_index: (U, Kmax) int64, flat copy index each stale slot reads, -1 otherwise.
        snap_version: (n,) int64, scan step (= version >= 1) at which a copy is taken.
        snap_copy: (n,) int64, the flat copy index set at that step; pairs are unique.
        depth: copies per learner (1 when nothing is stale).
    """

    copy_index: np.ndarray
    snap_version: np.ndarray
    snap_copy: np.ndarray
    depth: int

    @property
    def any_stale(self) -> bool:
        """True when some contribution reads an older model."""
        return bool(np.any(self.copy_index >= 0))

    @property
    def width(self) -> int:
        """Most copies taken at one scan step (at least 1)."""
        if self.snap_version.size == 0:
            return 1
        return int(np.bincount(self.snap_version).max())


def copy_plan(trace: Trace) -> CopyPlan:
    """The stale-read plan of ``trace`` (see the module docstring).

    Returns:
        A :class:`CopyPlan`; its ``copy_index`` and ``depth`` equal those of
        ``trace.copy_schedule()``.
    """
    u, kmax = trace.mask.shape
    rows, cols = np.nonzero(trace.mask & (trace.version < np.arange(u)[:, None]))
    lrn, ver, upd = trace.learner[rows, cols], trace.version[rows, cols], rows
    order = np.lexsort((upd, ver, lrn))
    lrn, ver, upd, rows, cols = (a[order] for a in (lrn, ver, upd, rows, cols))
    # For each stale read, the same learner's earlier reads still pending (applied strictly
    # after this read's version) need their own copies.
    depth, rank = 1, np.zeros(lrn.shape[0], dtype=np.int64)
    bounds = np.flatnonzero(np.diff(lrn)) + 1
    for a, b in zip(np.r_[0, bounds], np.r_[bounds, lrn.shape[0]], strict=True):
        i = np.arange(b - a)
        applied_before = np.minimum(np.searchsorted(upd[a:b], ver[a:b], side="right"), i)
        if i.size:
            depth = max(depth, int((i - applied_before).max()) + 1)
        rank[a:b] = i
    flat = lrn * depth + rank % depth
    copy_index = np.full((u, kmax), -1, dtype=np.int64)
    copy_index[rows, cols] = flat
    later = ver >= 1
    pairs = np.unique(np.stack([ver[later], flat[later]], axis=1), axis=0).reshape(-1, 2)
    return CopyPlan(copy_index, pairs[:, 0].copy(), pairs[:, 1].copy(), depth)


def rebase(flat: np.ndarray, depth: int, common: int) -> np.ndarray:
    """Flat indices ``learner * depth + r`` re-based on ``common >= depth`` copies per learner."""
    return np.where(flat >= 0, (flat // depth) * common + flat % depth, flat)


def snapshot_table(plan: CopyPlan, u: int, common: int, width: int, scratch: int) -> np.ndarray:
    """(U, width) copy indices to set at each scan step, ``scratch`` where unused."""
    table = np.full((u, width), scratch, dtype=np.int64)
    if plan.snap_version.size:
        ver = plan.snap_version  # sorted by version (np.unique sorts the pairs)
        first = np.searchsorted(ver, ver, side="left")
        table[ver, np.arange(ver.size) - first] = rebase(plan.snap_copy, plan.depth, common)
    return table
