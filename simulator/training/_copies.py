"""Where the replay keeps the stale models: per-learner copies and when they are taken.

The plan is :meth:`Trace.copy_schedule`: sparse (version, copy) snapshot pairs, version 0
left out because every copy starts as w_0, so it stays O(U * Kmax) like the trace itself.

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
        A :class:`CopyPlan` holding ``trace.copy_schedule()``.
    """
    return CopyPlan(*trace.copy_schedule())


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
