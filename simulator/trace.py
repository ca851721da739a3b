"""Trace: the schedule of one simulated run, the contract between timing and replay.

One row per server update ``j = 0..U-1``. Update ``j`` is applied at ``update_time[j]`` and
turns model version ``j`` into version ``j + 1`` (version 0 is the initial model). Each update
aggregates up to ``Kmax`` contributions (slots); unused slots are masked out. A contribution
records the learner that computed it, the model version it read, and the simulated times at
which its computation started and finished. Staleness of a contribution is ``j - version``
(Dutta et al. 2018, eq. 3). Work that the server cancelled (sync variants) is kept in
``cancelled`` so timelines show it.

All times are in simulated time units (the unit of the compute-time law).
"""

from __future__ import annotations

import dataclasses
import os
import zipfile
from pathlib import Path

import numpy as np

from simulator._checks import MEMORY_BUDGET, check_count, check_nonnegative
from simulator._tempfiles import remove_stale, temp_path
from simulator.errors import PssimError, PssimTypeError, shown

__all__ = ["Trace", "load_trace", "summarize_staleness"]

_ARRAY_FIELDS = (
    "update_time",
    "learner",
    "version",
    "start",
    "finish",
    "mask",
    "cancelled_learner",
    "cancelled_start",
    "cancelled_stop",
    "inflight_learner",
    "inflight_start",
)


def summarize_staleness(staleness: np.ndarray) -> dict[str, float]:
    """Mean, max and p0 (the fraction of fresh, staleness-0 contributions) of a 1-D array."""
    s = np.asarray(staleness)
    if s.size == 0:
        return {"mean": 0.0, "max": 0, "p0": 1.0}
    return {"mean": float(s.mean()), "max": int(s.max()), "p0": float(np.mean(s == 0))}


@dataclasses.dataclass(frozen=True, eq=False)
class Trace:
    """Schedule of one run; checked on construction.

    Attributes:
        variant: one of ``k-sync, k-batch-sync, k-async, k-batch-async, k-avg``.
        num_learners: P.
        k: the variant's K (for ``k-avg``: local steps per learner between averages).
        seed: the seed the durations were drawn from.
        update_time: (U,) time of each server update, non-decreasing.
        learner: (U, Kmax) int, learner of each contribution, -1 where masked.
        version: (U, Kmax) int, model version each contribution read, -1 where masked.
        start: (U, Kmax) float, start of the computation (for ``k-avg``: of the first
            local step), NaN where masked.
        finish: (U, Kmax) float, end of the computation (push time), NaN where masked.
        mask: (U, Kmax) bool, True for real contributions.
        cancelled_learner: (C,) int, learner of each cancelled computation.
        cancelled_start: (C,) float, start of each cancelled computation.
        cancelled_stop: (C,) float, time the server cancelled it.
        local_steps: SGD steps per contribution (K for ``k-avg``, else 1).
        inflight_learner: (F,) int, learners still computing when the run stopped.
        inflight_start: (F,) float, start of those computations (busy until the end).

    Example:
        >>> trace = simulate("k-async", num_learners=4, k=2, law=Exponential(1.0), updates=10,
        ...                  seed=0)  # doctest: +SKIP
        >>> trace.staleness()[trace.mask].max()  # doctest: +SKIP
    """

    variant: str
    num_learners: int
    k: int
    seed: int
    update_time: np.ndarray
    learner: np.ndarray
    version: np.ndarray
    start: np.ndarray
    finish: np.ndarray
    mask: np.ndarray
    cancelled_learner: np.ndarray
    cancelled_start: np.ndarray
    cancelled_stop: np.ndarray
    local_steps: int = 1
    inflight_learner: np.ndarray = dataclasses.field(default_factory=lambda: np.zeros(0))
    inflight_start: np.ndarray = dataclasses.field(default_factory=lambda: np.zeros(0))

    def __post_init__(self) -> None:
        def fix(name: str, dtype: type) -> None:
            object.__setattr__(self, name, np.ascontiguousarray(getattr(self, name), dtype=dtype))

        for name in (
            "update_time",
            "start",
            "finish",
            "cancelled_start",
            "cancelled_stop",
            "inflight_start",
        ):
            fix(name, np.float64)
        for name in ("learner", "version", "cancelled_learner", "inflight_learner"):
            fix(name, np.int64)
        fix("mask", np.bool_)
        self._check()

    # ------------------------------------------------------------------ invariants
    def _check(self) -> None:
        u = self.update_time.shape[0]
        if self.update_time.ndim != 1:
            raise PssimError(f"`Trace.update_time` must be 1-D; got shape {self.update_time.shape}")
        shape = self.mask.shape
        if len(shape) != 2 or shape[0] != u:
            raise PssimError(f"`Trace.mask` must have shape (U, Kmax) with U={u}; got {shape}")
        for name in ("learner", "version", "start", "finish"):
            if getattr(self, name).shape != shape:
                raise PssimError(
                    f"`Trace.{name}` must have shape {shape}; got {getattr(self, name).shape}"
                )
        if u and not np.all(self.mask.any(axis=1)):
            raise PssimError("`Trace.mask` must have at least one contribution per update")
        if np.any(np.diff(self.update_time) < 0):
            raise PssimError("`Trace.update_time` must never decrease")
        full = bool(self.mask.all())  # engines' traces: no padding, no boolean copies

        def real(a: np.ndarray) -> np.ndarray:
            return a.ravel() if full else a[self.mask]

        learners = real(self.learner)
        if learners.size and (learners.min() < 0 or learners.max() >= self.num_learners):
            raise PssimError(
                f"`Trace.learner` must lie in [0, {self.num_learners}); "
                f"got range [{learners.min()}, {learners.max()}]"
            )
        version = real(self.version)
        if version.size and version.min() < 0:
            raise PssimError("`Trace.version` must be >= 0 for real contributions")
        if version.size and np.any(real(self.version > np.arange(u)[:, None])):
            stale = real(self.staleness())
            raise PssimError(f"`Trace.version` must give staleness >= 0; got {stale.min()}")
        start, finish = real(self.start), real(self.finish)
        if not (np.all(np.isfinite(start)) and np.all(finish >= start)):
            raise PssimError("`Trace.finish` must be >= `Trace.start` for every contribution")
        row_time = self.update_time[:, None]
        late = self.finish > row_time + 1e-9 * np.maximum(1.0, np.abs(row_time))
        if np.any(real(late)):
            raise PssimError("`Trace.finish` must not be after the update it contributes to")
        c = self.cancelled_learner.shape
        if self.cancelled_start.shape != c or self.cancelled_stop.shape != c:
            raise PssimError("`Trace.cancelled_*` arrays must have the same length")
        if np.any(self.cancelled_stop < self.cancelled_start):
            raise PssimError("`Trace.cancelled_stop` must be >= `Trace.cancelled_start`")

    # ------------------------------------------------------------------ basic views
    @property
    def num_updates(self) -> int:
        """U, the number of server updates."""
        return int(self.update_time.shape[0])

    @property
    def max_k(self) -> int:
        """Kmax, the number of contribution slots per update."""
        return int(self.mask.shape[1])

    @property
    def end_time(self) -> float:
        """Time of the last update (0.0 for an empty trace)."""
        return float(self.update_time[-1]) if self.num_updates else 0.0

    def staleness(self) -> np.ndarray:
        """(U, Kmax) int array: update index minus version read; -1 where masked."""
        j = np.arange(self.num_updates)[:, None]
        return np.where(self.mask, j - self.version, -1)

    def contributions_per_update(self) -> np.ndarray:
        """(U,) int: number of real contributions of each update."""
        return self.mask.sum(axis=1)

    def throughput(self) -> dict[str, float]:
        """Updates and pushes per unit of simulated time over the whole trace."""
        t = self.end_time
        pushes = float(self.mask.sum())
        if t <= 0:
            return {"updates_per_time": float("nan"), "pushes_per_time": float("nan")}
        return {"updates_per_time": self.num_updates / t, "pushes_per_time": pushes / t}

    def staleness_summary(self) -> dict[str, float]:
        """Mean and max staleness and p0, the fraction of fresh (staleness 0) contributions."""
        return summarize_staleness(self.staleness()[self.mask])

    # ------------------------------------------------------------------ intervals
    def _learner(self, learner: object) -> int:
        """``learner`` checked: an integer in [0, P)."""
        return check_count("learner", learner, minimum=0, maximum=self.num_learners - 1)

    def busy_intervals(self, learner: int) -> np.ndarray:
        """(n, 2) [start, stop) of the learner's counted computations, sorted by start."""
        learner = self._learner(learner)
        sel = self.mask & (self.learner == learner)
        iv = np.stack([self.start[sel], self.finish[sel]], axis=1)
        return iv[np.argsort(iv[:, 0], kind="stable")]

    def cancelled_intervals(self, learner: int) -> np.ndarray:
        """(n, 2) [start, stop) of the learner's cancelled computations, sorted by start."""
        learner = self._learner(learner)
        sel = self.cancelled_learner == learner
        iv = np.stack([self.cancelled_start[sel], self.cancelled_stop[sel]], axis=1)
        return iv[np.argsort(iv[:, 0], kind="stable")]

    def idle_intervals(self, learner: int, until: float | None = None) -> np.ndarray:
        """(n, 2) gaps in [0, until) where the learner computes nothing (busy or cancelled).

        ``until`` defaults to the time of the last update.
        """
        learner = self._learner(learner)
        end = self.end_time if until is None else check_nonnegative("until", until)
        inflight = self.inflight_start[self.inflight_learner == learner]
        work = np.concatenate(
            [
                self.busy_intervals(learner),
                self.cancelled_intervals(learner),
                np.stack([inflight, np.full_like(inflight, np.inf)], axis=1),
            ]
        )
        work = work[np.argsort(work[:, 0], kind="stable")] if work.size else work.reshape(0, 2)
        gaps, t = [], 0.0
        for a, b in work:
            if a > t + 1e-12 and t < end:
                gaps.append((t, min(a, end)))
            t = max(t, b)
        if t < end - 1e-12:
            gaps.append((t, end))
        return np.asarray(gaps, dtype=np.float64).reshape(-1, 2)

    # ------------------------------------------------------------------ replay support
    def copy_schedule(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
        """Where the replay keeps the stale model each contribution reads.

        A contribution with staleness 0 reads the current model. A stale one (version
        ``v < j``) reads a per-learner copy of model ``v``, taken at scan step ``v`` after
        that step's gradients are computed and before its update is applied. Every copy
        starts as w_0, so version 0 needs no snapshot. Normally a learner has at most one
        stale read pending, so one copy per learner suffices (memory O(P·|w|)); a lagging
        server (service time) can need ``depth`` > 1 copies per learner. The snapshots are
        kept sparse, so the schedule costs O(U·Kmax) like the trace itself.

        Returns:
            copy_index: (U, Kmax) int, flat copy index ``learner * depth + r`` each stale
                contribution reads (r: rank of the learner's stale reads, modulo depth),
                -1 for fresh or masked slots.
            snap_version: (n,) int, sorted scan steps (versions >= 1) at which copies are
                taken.
            snap_copy: (n,) int, the flat copy index set to that step's model; the
                (version, copy) pairs are unique.
            depth: copies per learner.
        """
        u, kmax = self.mask.shape
        rows, cols = np.nonzero(self.mask & (self.version < np.arange(u)[:, None]))
        lrn, ver, upd = self.learner[rows, cols], self.version[rows, cols], rows
        order = np.lexsort((upd, ver, lrn))
        lrn, ver, upd, rows, cols = (a[order] for a in (lrn, ver, upd, rows, cols))
        # depth: for each stale read, the same learner's earlier reads still pending
        # (applied strictly after this read's version) need their own copies.
        depth, rank = 1, np.zeros(lrn.shape[0], dtype=np.int64)
        bounds = np.flatnonzero(np.diff(lrn)) + 1
        for a, b in zip(np.r_[0, bounds], np.r_[bounds, lrn.shape[0]], strict=True):
            i = np.arange(b - a)  # versions and updates are non-decreasing per learner
            applied_before = np.minimum(np.searchsorted(upd[a:b], ver[a:b], side="right"), i)
            if i.size:
                depth = max(depth, int((i - applied_before).max()) + 1)
            rank[a:b] = i
        flat = lrn * depth + rank % depth
        copy_index = np.full((u, kmax), -1, dtype=np.int64)
        copy_index[rows, cols] = flat
        later = ver >= 1
        pairs = np.unique(np.stack([ver[later], flat[later]], axis=1), axis=0).reshape(-1, 2)
        return copy_index, pairs[:, 0].copy(), pairs[:, 1].copy(), depth

    # ------------------------------------------------------------------ persistence
    def save(self, path: str | Path) -> Path:
        """Write the trace to a ``.npz`` file (suffix added if missing); returns the path."""
        if isinstance(path, bytes) or not isinstance(path, (str, os.PathLike)) or not str(path):
            raise PssimTypeError(
                f"`path` must be a path (str or os.PathLike); got {shown(path)}", param="path"
            )
        path = Path(path)
        if path.suffix != ".npz":
            path = path.with_suffix(".npz")
        if not path.parent.is_dir():
            raise PssimError(
                f"`path` must be in an existing folder; got {shown(str(path))}", param="path"
            )
        meta = {
            "variant": self.variant,
            "num_learners": self.num_learners,
            "k": self.k,
            "seed": self.seed,
            "local_steps": self.local_steps,
        }
        remove_stale(path.parent)
        tmp = temp_path(path, keep_suffix=True)  # savez would append .npz to another suffix
        try:
            np.savez_compressed(
                tmp,
                **{f: getattr(self, f) for f in _ARRAY_FIELDS},
                **{k: np.asarray(v) for k, v in meta.items()},
            )
            tmp.replace(path)
        finally:
            tmp.unlink(missing_ok=True)
        return path


def load_trace(path: str | Path) -> Trace:
    """Read a trace written by :meth:`Trace.save`; the invariants are checked again.

    Only a regular file is read (a FIFO or a device is refused before it is opened), and
    only if its arrays, inflated, fit in half the physical memory (checked from the zip
    directory before any array is read).
    """
    if not isinstance(path, (str, os.PathLike)) or not os.fspath(path):
        raise PssimTypeError(
            f"`path` must be a path (str or os.PathLike); got {shown(path)}", param="path"
        )
    path = Path(path)
    if not path.is_file():
        raise PssimError(f"`trace path` must be an existing .npz file; got {str(path)!r}")
    try:
        with np.load(path, allow_pickle=False) as data:
            size = sum(info.file_size for info in data.zip.infolist())
            if size > MEMORY_BUDGET:
                raise PssimError(
                    f"`trace path` arrays must fit in half the physical memory; {path} "
                    f"holds {size} bytes",
                    param="path",
                )
            arrays = {f: data[f] for f in _ARRAY_FIELDS}
            meta = dict(
                variant=str(data["variant"]),
                num_learners=int(data["num_learners"]),
                k=int(data["k"]),
                seed=int(data["seed"]),
                local_steps=int(data["local_steps"]),
            )
    except (KeyError, OSError, ValueError, AttributeError, zipfile.BadZipFile) as err:
        if isinstance(err, PssimError):
            raise
        raise PssimError(f"`trace path` must be a trace saved by pssim; {path}: {err}") from None
    return Trace(**meta, **arrays)
