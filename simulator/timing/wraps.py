"""How far each learner ran through its worker's measured durations (``durations_mode``
``replay``), and what a run's output says about it.

Under replay, learner l's n-th computation takes its worker's n-th measured row; a learner
that needs more computations than its worker has rows goes on from the worker's first
row: it *wrapped*. Whether it did is read off the traces, which record every computation
whose duration shaped the schedule (contributions, times the local steps of K-AVG;
cancelled work; work in flight when the run stopped). A push that ties with the last
update and comes after it, which no recorded update depends on, is not counted.

Example:
    >>> spec = ExperimentSpec(variant="sync", durations="llm-se", updates=50)  # doctest: +SKIP
    >>> replay_wraps(spec, simulate(spec)).num_wrapped  # doctest: +SKIP
    64
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable

import numpy as np

from simulator._spec_durations import learner_workers
from simulator.errors import PssimError
from simulator.spec import ExperimentSpec
from simulator.trace import Trace

__all__ = ["ReplayWraps", "replay_wraps", "tasks_per_learner"]


def tasks_per_learner(trace: Trace) -> np.ndarray:
    """(P,) int64: the computations of each learner that ``trace`` records (its
    contributions times the local steps per contribution, its cancelled work and its work
    in flight at the end): how many durations each learner consumed.

    Example:
        >>> trace = simulate("sync", num_learners=2, updates=3)  # doctest: +SKIP
        >>> tasks_per_learner(trace)  # doctest: +SKIP
        array([3, 3])
    """
    p = trace.num_learners
    counts = np.bincount(trace.learner[trace.mask], minlength=p) * trace.local_steps
    counts += np.bincount(trace.cancelled_learner, minlength=p)
    counts += np.bincount(trace.inflight_learner, minlength=p)
    return counts.astype(np.int64)


def _span(values: np.ndarray) -> str:
    lo, hi = int(values.min()), int(values.max())
    return f"{lo}" if lo == hi else f"{lo}-{hi}"


@dataclasses.dataclass(frozen=True, eq=False)
class ReplayWraps:
    """A run's use of measured durations: the file, its mode, and per learner the rows of
    its worker and the computations it ran.

    Attributes:
        durations: the spec's ``durations`` as typed (a path or ``llm-se``).
        file: the file's name.
        sha256: the SHA-256 of the file's bytes.
        mode: ``replay`` or ``resample``.
        workers: W, the workers in the file.
        worker: (P,) int, the worker (index in sorted id order) each learner takes.
        rows: (P,) int, the measured rows of each learner's worker.
        tasks: (P,) int, each learner's computations (the most over the runs given).
        censored: censored rows among the workers the learners take (replayed at their
            recorded value, a lower bound of the true duration).
    """

    durations: str
    file: str
    sha256: str
    mode: str
    workers: int
    worker: np.ndarray
    rows: np.ndarray
    tasks: np.ndarray
    censored: int

    @classmethod
    def from_tasks(cls, spec: ExperimentSpec, tasks: np.ndarray) -> ReplayWraps:
        """The wraps of ``spec`` (which has durations) for (P,) computations per learner."""
        measured = spec.measured
        worker = np.array(learner_workers(measured, spec.num_learners), dtype=np.int64)
        used = np.unique(worker)
        return cls(
            durations=str(spec.durations),
            file=measured.source,
            sha256=measured.sha256,
            mode=spec.durations_mode,
            workers=measured.num_workers,
            worker=worker,
            rows=np.array([len(measured.durations[w]) for w in worker], dtype=np.int64),
            tasks=np.asarray(tasks, dtype=np.int64),
            censored=int(sum(measured.censored[w].sum() for w in used)),
        )

    @property
    def wrapped(self) -> np.ndarray:
        """(P,) bool: learners that ran past their worker's last row (replay only)."""
        if self.mode != "replay":
            return np.zeros(self.tasks.shape, dtype=bool)
        return self.tasks > self.rows

    @property
    def num_wrapped(self) -> int:
        """How many learners went on from their worker's first row."""
        return int(self.wrapped.sum())

    @property
    def passes(self) -> np.ndarray:
        """(P,) int: passes through the worker's rows (1: no wrap; replay only)."""
        return np.maximum(1, -(-self.tasks // self.rows))

    def notes(self) -> list[str]:
        """What a run's text output says: the file and mode, the wraps, the censored rows."""
        p = self.tasks.shape[0]
        who = (
            f"{p} learners on {p} of {self.workers} workers"
            if p <= self.workers
            else f"{p} learners on {self.workers} workers (learner l takes worker l mod "
            f"{self.workers})"
        )
        head = f"durations {self.file} ({who}, {_span(self.rows)} steps each)"
        if self.mode == "resample":
            return [f"{head}: drawn i.i.d. from each worker's durations"]
        lines = [f"{head}: replayed in step order, the same for every seed"]
        wrapped = self.wrapped
        if wrapped.any():
            lines.append(
                f"{self.num_wrapped} of {p} learners ran past their worker's last measured "
                f"step (after {_span(self.rows[wrapped])} steps) and went on from its first "
                f"(up to {int(self.passes.max())} passes)"
            )
        else:
            lines.append("no learner ran past its worker's last measured step")
        if self.censored:
            lines.append(
                f"{self.censored} censored rows replayed at their recorded value (a lower bound)"
            )
        return lines

    def to_json(self) -> dict:
        """The ``durations`` object of ``pssim runtime --json``."""
        wrapped = self.wrapped
        return {
            "durations": self.durations,
            "file": self.file,
            "sha256": self.sha256,
            "mode": self.mode,
            "workers": self.workers,
            "learners": int(self.tasks.shape[0]),
            "steps_per_worker": [int(self.rows.min()), int(self.rows.max())],
            "censored_rows": self.censored,
            "wrapped_learners": self.num_wrapped,
            "wrapped_after_steps": (
                [int(self.rows[wrapped].min()), int(self.rows[wrapped].max())]
                if wrapped.any()
                else None
            ),
            "max_passes": int(self.passes.max()) if self.mode == "replay" else None,
        }


def replay_wraps(spec: ExperimentSpec, traces: Trace | Iterable[Trace]) -> ReplayWraps | None:
    """How the runs of ``spec`` used its measured durations (None without ``durations``).

    Args:
        spec: the spec the traces were simulated from.
        traces: one trace or several (seeds); per learner the most computations count.

    Returns:
        The file, mode and per-learner wraps; :meth:`ReplayWraps.notes` says it in words.

    Raises:
        PssimError: a trace of another number of learners than the spec's.
    """
    if spec.durations is None:
        return None
    traces = [traces] if isinstance(traces, Trace) else list(traces)
    tasks = np.zeros(spec.num_learners, dtype=np.int64)
    for trace in traces:
        if trace.num_learners != spec.num_learners:
            raise PssimError(
                f"`traces` must have the spec's P={spec.num_learners} learners; got a trace "
                f"of {trace.num_learners}",
                param="traces",
            )
        tasks = np.maximum(tasks, tasks_per_learner(trace))
    return ReplayWraps.from_tasks(spec, tasks)
