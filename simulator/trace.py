"""Trace: the schedule of one simulated run, the contract between timing and replay.

One row per server update ``j = 0..U-1``. Update ``j`` is applied at ``update_time[j]`` and
turns model version ``j`` into version ``j + 1`` (version 0 is the initial model). Each update
aggregates up to ``Kmax`` contributions (slots); unused slots are masked out. A contribution
records the learner that computed it, the model version it read, and the simulated times at
which its computation started and finished. Staleness of a contribution is ``j - version``
(Dutta et al. 2018, eq. 3). Work that was lost (cancelled by the server, cut by a failure
or a deadline, discarded) is kept in ``cancelled`` with its reason so timelines show it, as
are the learners' down periods and their transfers, when the run had them.

All times are in simulated time units (the unit of the compute-time law).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np

from simulator._checks import check_count, check_nonnegative
from simulator._trace_io import META_FIELDS, read_npz, write_npz
from simulator.errors import PssimError, shown

__all__ = ["LOSS_REASONS", "TRANSFER_KINDS", "Trace", "load_trace", "summarize_staleness"]

#: Why a computation was lost: index = ``Trace.cancelled_reason`` code.
LOSS_REASONS = ("cancelled", "failure", "deadline", "discarded")
#: What a transfer carried: index = ``Trace.transfer_kind`` code.
TRANSFER_KINDS = ("push", "pull", "all-reduce")
#: Variants whose server updates once per round (a deadline may cut a round short).
_ROUND_VARIANTS = ("k-sync", "k-batch-sync", "k-avg")

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
#: Arrays added later: a file without them loads with their defaults.
_OPTIONAL_FIELDS = tuple(
    "cancelled_reason down_learner down_start down_stop "
    "transfer_learner transfer_start transfer_stop transfer_kind update_k".split()
)
#: The arrays' dtypes (codes are checked as int64, then stored as int8).
_FLOAT_FIELDS = tuple(
    "update_time start finish cancelled_start cancelled_stop inflight_start "
    "down_start down_stop transfer_start transfer_stop".split()
)
_INT_FIELDS = tuple(
    "learner version cancelled_learner inflight_learner down_learner transfer_learner "
    "cancelled_reason transfer_kind update_k".split()
)


def _empty() -> np.ndarray:
    return np.zeros(0)


def _code(name: str, value: object, names: tuple[str, ...]) -> int:
    """The index of ``value`` in ``names``; refuses anything else in one line."""
    if not isinstance(value, str) or value not in names:
        raise PssimError(
            f"`{name}` must be one of {', '.join(names)} or None; got {shown(value)}", param=name
        )
    return names.index(value)


def _sorted(start: np.ndarray, stop: np.ndarray) -> np.ndarray:
    """(n, 2) [start, stop) pairs sorted by start."""
    iv = np.stack([start, stop], axis=1)
    return iv[np.argsort(iv[:, 0], kind="stable")]


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
        variant: one of ``k-sync, k-batch-sync, k-async, k-batch-async, k-avg, all-reduce``.
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
        cancelled_learner: (C,) int, learner of each lost computation (or transfer).
        cancelled_start: (C,) float, start of each lost computation.
        cancelled_stop: (C,) float, time it was lost (cancelled, cut, discarded).
        local_steps: SGD steps per contribution (K for ``k-avg``, else 1).
        inflight_learner: (F,) int, learners still computing when the run stopped.
        inflight_start: (F,) float, start of those computations (busy until the end).
        cancelled_reason: (C,) int8, why each was lost: index into :data:`LOSS_REASONS`
            (None: all ``"cancelled"``).
        down_learner, down_start, down_stop: (D,) int, float, float: the learners' down
            periods [start, stop), clipped to the run; a learner's periods never overlap.
        transfer_learner, transfer_start, transfer_stop: (N,) int, float, float: transfers
            [start, stop) between a learner and the server (or the ring).
        transfer_kind: (N,) int8, index into :data:`TRANSFER_KINDS`.
        update_k: (U,) int, the K each update waited for when a K policy changed it during
            the run (rows are then ``k`` = the largest K wide, the rest masked); empty when
            K never changed (every update's is ``k``). See :meth:`k_per_update`.

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
    inflight_learner: np.ndarray = dataclasses.field(default_factory=_empty)
    inflight_start: np.ndarray = dataclasses.field(default_factory=_empty)
    cancelled_reason: np.ndarray | None = None
    down_learner: np.ndarray = dataclasses.field(default_factory=_empty)
    down_start: np.ndarray = dataclasses.field(default_factory=_empty)
    down_stop: np.ndarray = dataclasses.field(default_factory=_empty)
    transfer_learner: np.ndarray = dataclasses.field(default_factory=_empty)
    transfer_start: np.ndarray = dataclasses.field(default_factory=_empty)
    transfer_stop: np.ndarray = dataclasses.field(default_factory=_empty)
    transfer_kind: np.ndarray = dataclasses.field(default_factory=_empty)
    update_k: np.ndarray = dataclasses.field(default_factory=_empty)

    def __post_init__(self) -> None:
        def fix(name: str, dtype: type) -> None:
            object.__setattr__(self, name, np.ascontiguousarray(getattr(self, name), dtype=dtype))

        if self.cancelled_reason is None:
            object.__setattr__(self, "cancelled_reason", np.zeros(np.shape(self.cancelled_learner)))
        for name in _FLOAT_FIELDS:
            fix(name, np.float64)
        for name in _INT_FIELDS:
            fix(name, np.int64)
        fix("mask", np.bool_)
        self._check()
        fix("cancelled_reason", np.int8)
        fix("transfer_kind", np.int8)

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
        self._check_periods("down", "transfer")
        for name, names, n in (
            ("cancelled_reason", LOSS_REASONS, c),
            ("transfer_kind", TRANSFER_KINDS, self.transfer_learner.shape),
        ):
            codes = getattr(self, name)
            if codes.shape != n:
                raise PssimError(f"`Trace.{name}` must have shape {n}; got {codes.shape}")
            bad = codes[(codes < 0) | (codes >= len(names))]
            if bad.size:
                raise PssimError(
                    f"`Trace.{name}` must hold codes 0-{len(names) - 1} "
                    f"({', '.join(names)}); got {bad[0]}"
                )
        ks = self.update_k
        if ks.size and (ks.shape != (u,) or ks.min() < 1 or ks.max() > self.k):
            raise PssimError(
                f"`Trace.update_k` must be empty or (U,) = ({u},) with values in [1, k = "
                f"{self.k}]; got shape {ks.shape}"
            )
        lrn, a, b = self.down_learner, self.down_start, self.down_stop
        order = np.lexsort((a, lrn))
        lrn, a, b = lrn[order], a[order], b[order]
        if np.any((lrn[1:] == lrn[:-1]) & (a[1:] < b[:-1])):
            raise PssimError("`Trace.down_*` periods of one learner must not overlap")

    def _check_periods(self, *groups: str) -> None:
        """Each group's ``_learner``, ``_start``, ``_stop``: 1-D, one length, valid learners,
        finite starts and stops not before them."""
        for g in groups:
            lrn, a, b = (getattr(self, f"{g}_{s}") for s in ("learner", "start", "stop"))
            if lrn.ndim != 1 or a.shape != lrn.shape or b.shape != lrn.shape:
                raise PssimError(
                    f"`Trace.{g}_*` arrays must be 1-D of the same length; got shapes "
                    f"{lrn.shape}, {a.shape}, {b.shape}"
                )
            if lrn.size and (lrn.min() < 0 or lrn.max() >= self.num_learners):
                raise PssimError(
                    f"`Trace.{g}_learner` must lie in [0, {self.num_learners}); "
                    f"got range [{lrn.min()}, {lrn.max()}]"
                )
            if not (np.all(np.isfinite(a)) and np.all(b >= a)):
                raise PssimError(f"`Trace.{g}_stop` must be >= `Trace.{g}_start` (finite)")

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

    def k_per_update(self) -> np.ndarray:
        """(U,) int: the K the server waited for at each update (``k`` when it never
        changed; a deadline may cut an update below it: see :meth:`cut_updates`)."""
        if self.update_k.size:
            return self.update_k.copy()
        return np.full(self.num_updates, self.k, dtype=np.int64)

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
        """(n, 2) [start, stop) of the learner's lost computations, whatever the reason,
        sorted by start (the same as ``lost_intervals(learner)``)."""
        return self.lost_intervals(learner)

    def lost_intervals(self, learner: int, reason: str | None = None) -> np.ndarray:
        """(n, 2) [start, stop) of the learner's lost computations, sorted by start: those of
        one ``reason`` (a name in :data:`LOSS_REASONS`), or all (None)."""
        sel = self.cancelled_learner == self._learner(learner)
        if reason is not None:
            sel &= self.cancelled_reason == _code("reason", reason, LOSS_REASONS)
        return _sorted(self.cancelled_start[sel], self.cancelled_stop[sel])

    def down_intervals(self, learner: int) -> np.ndarray:
        """(n, 2) [start, stop) of the learner's down periods, sorted by start."""
        sel = self.down_learner == self._learner(learner)
        return _sorted(self.down_start[sel], self.down_stop[sel])

    def transfer_intervals(self, learner: int, kind: str | None = None) -> np.ndarray:
        """(n, 2) [start, stop) of the learner's transfers, sorted by start: those of one
        ``kind`` (a name in :data:`TRANSFER_KINDS`), or all (None)."""
        sel = self.transfer_learner == self._learner(learner)
        if kind is not None:
            sel &= self.transfer_kind == _code("kind", kind, TRANSFER_KINDS)
        return _sorted(self.transfer_start[sel], self.transfer_stop[sel])

    def lost_work(self) -> dict[str, float]:
        """Total time of lost computations per reason (every name of :data:`LOSS_REASONS`,
        0.0 where none), in simulated time units, summed over learners."""
        spans = self.cancelled_stop - self.cancelled_start
        totals = np.bincount(self.cancelled_reason, weights=spans, minlength=len(LOSS_REASONS))
        return {reason: float(t) for reason, t in zip(LOSS_REASONS, totals, strict=True)}

    def availability(self) -> np.ndarray:
        """(P,) fraction of [0, end_time] each learner is up (NaN for an empty trace)."""
        end = self.end_time
        if end <= 0:
            return np.full(self.num_learners, np.nan)
        down = np.clip(self.down_stop, 0.0, end) - np.clip(self.down_start, 0.0, end)
        per_learner = np.bincount(self.down_learner, weights=down, minlength=self.num_learners)
        return 1.0 - per_learner / end

    def cut_updates(self) -> np.ndarray:
        """(n,) indices of the updates of a round-based variant (k-sync, k-batch-sync, k-avg)
        that aggregate fewer contributions than a full round (K; P for k-avg): the rounds a
        deadline cut short. Empty for the other variants."""
        if self.variant not in _ROUND_VARIANTS:
            return np.zeros(0, dtype=np.int64)
        full = self.num_learners if self.variant == "k-avg" else self.k_per_update()
        return np.flatnonzero(self.contributions_per_update() < full)

    def idle_intervals(self, learner: int, until: float | None = None) -> np.ndarray:
        """(n, 2) gaps in [0, until) where the learner neither computes (busy or lost work),
        transfers, nor is down.

        ``until`` defaults to the time of the last update.
        """
        learner = self._learner(learner)
        end = self.end_time if until is None else check_nonnegative("until", until)
        inflight = self.inflight_start[self.inflight_learner == learner]
        work = np.concatenate(
            [
                self.busy_intervals(learner),
                self.lost_intervals(learner),
                self.down_intervals(learner),
                self.transfer_intervals(learner),
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
        arrays = {f: getattr(self, f) for f in _ARRAY_FIELDS + _OPTIONAL_FIELDS}
        return write_npz(path, arrays, {name: getattr(self, name) for name in META_FIELDS})


def load_trace(path: str | Path) -> Trace:
    """Read a trace written by :meth:`Trace.save`; the invariants are checked again.

    Only a regular file is read (a FIFO or a device is refused before it is opened), and
    only if its arrays, inflated, fit in half the physical memory (checked from the zip
    directory before any array is read). A file written before the loss reasons, down
    periods and transfers existed loads with their defaults (none).
    """
    meta, arrays = read_npz(path, _ARRAY_FIELDS, _OPTIONAL_FIELDS)
    return Trace(**meta, **arrays)
