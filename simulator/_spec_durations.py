"""Measured durations in the experiment spec: the file, its mode and its learners' laws.

A spec's ``durations`` names a measured-durations table (see :mod:`simulator.measured`) or
a shipped cluster (``llm-se``). It is kept as the user typed it (the spec's dict, JSON and
TOML write it back so), while the spec's identity (:meth:`ExperimentSpec.digest`, equality)
is the SHA-256 of the file's bytes: a spec, a sweep or a results folder stays valid when
the file moves. A relative path is read from the folder of the configuration or sweep file
that holds it, else from the working directory (the CLI's ``--durations``, Python).

The value is a :class:`DurationsFile`, a ``str`` that also carries that folder and, once
read, the table itself: ``spec.replace(...)`` and a spec sent to another process (a Dask
worker of a sweep) use the table already read instead of reading the file again.

Modes (``durations_mode``):

- ``replay`` (default): learner l runs the durations of worker l (workers in sorted order
  of their ids) in step order, its n-th task taking the worker's n-th measured row; past
  the worker's last row it goes on from its first. A censored row (a computation that was
  cut off) is replayed at its recorded value, a lower bound of its true duration.
- ``resample``: learner l draws its durations i.i.d. from worker l's measured ones (a
  :class:`distributions.Empirical` law per learner, which ``spec.laws`` holds). Censored
  rows are refused: a cut-off value is not a draw of the law, and dropping the cut-off
  (slow) ones would make the cluster look faster (``pssim fit`` models them instead).

P learners need P workers unless ``reuse_workers`` is set; then learner l takes worker
``l mod W``. Without ``num_learners`` a spec with durations has one learner per worker.
"""

from __future__ import annotations

import os
from pathlib import Path

from distributions import Empirical
from simulator.errors import PssimError, SpecError, shown
from simulator.measured import SHIPPED, MeasuredDurations, durations_path, read_durations

__all__ = ["DURATIONS_MODES", "DurationsFile", "learner_workers", "load_durations", "worker_laws"]

#: How a spec uses measured durations (see the module docstring).
DURATIONS_MODES = ("replay", "resample")
#: Most learners that may reuse the workers of a file (``spec.laws`` holds one reference per
#: learner, allocated when the spec is built, before any run's memory is checked).
MAX_REUSED_LEARNERS = 10**7


class DurationsFile(str):
    """A ``durations`` value as typed, with the folder a relative path is read from.

    Attributes:
        base: the folder of the configuration or sweep file that gave the path (None: the
            working directory).
        measured: the table once read (None before).
    """

    base: Path | None
    measured: MeasuredDurations | None

    def __new__(cls, value: str, base: str | os.PathLike | None = None) -> DurationsFile:
        self = super().__new__(cls, value)
        self.base = None if base is None else Path(base)
        self.measured = None
        self._laws = None
        return self

    @property
    def shipped(self) -> bool:
        """Whether the value names a cluster shipped with pssim (``llm-se``)."""
        return self.strip().lower() in SHIPPED

    @property
    def path(self) -> Path:
        """The file read: a shipped cluster's, or the path resolved against :attr:`base`."""
        if self.shipped:
            return durations_path(str(self))
        path = Path(str(self)).expanduser()
        return path if self.base is None or path.is_absolute() else self.base / path

    def __reduce__(self):  # str's own pickling would drop the attributes
        return (_rebuild, (str(self), self.base, self.measured))


def _rebuild(value: str, base: Path | None, measured: MeasuredDurations | None) -> DurationsFile:
    out = DurationsFile(value, base)
    out.measured = measured
    return out


def load_durations(value: object, base: str | os.PathLike | None = None) -> DurationsFile:
    """The :class:`DurationsFile` of a ``durations`` value, its table read (once: a value
    already read is returned as it is).

    Args:
        value: a path (str or os.PathLike), ``llm-se``, or a DurationsFile.
        base: the folder a relative path is read from (a config file's); None: the working
            directory. Ignored for a DurationsFile, which keeps its own.

    Raises:
        SpecError: not a path, an empty one, or a file that
            :func:`simulator.measured.read_durations` refuses (``param`` is ``durations``).
    """
    if isinstance(value, DurationsFile):
        out = value
    elif isinstance(value, os.PathLike) or (isinstance(value, str) and value.strip()):
        out = DurationsFile(os.fspath(value), base)
    else:
        raise SpecError(
            "`durations` must be a durations file (CSV or Parquet with columns worker, step, "
            f"duration) or {', '.join(SHIPPED)}; got {shown(value)}",
            param="durations",
        )
    if out.measured is None:
        try:
            out.measured = read_durations(out.path, param="durations")
        except PssimError as err:
            raise SpecError(str(err), param="durations") from None
    return out


def learner_workers(measured: MeasuredDurations, num_learners: int) -> list[int]:
    """The worker (index in sorted order) of each learner: learner l takes worker l mod W."""
    w = measured.num_workers
    return [lrn % w for lrn in range(num_learners)]


def worker_laws(value: DurationsFile) -> tuple[Empirical, ...]:
    """One :class:`distributions.Empirical` law per worker of a read file (W laws, built
    once per file): the law of a duration drawn uniformly from the worker's rows."""
    if value._laws is None:
        value._laws = tuple(Empirical(d) for d in value.measured.durations)
    return value._laws


def check_durations(
    value: DurationsFile, mode: str, num_learners: int, reuse_workers: bool
) -> tuple[Empirical, ...]:
    """Check a read file against the spec's mode and P; return the P learners' laws.

    Raises:
        SpecError: P larger than the number of workers without ``reuse_workers`` (or
            than :data:`MAX_REUSED_LEARNERS` with it), or censored rows under ``resample``.
    """
    measured = value.measured
    w = measured.num_workers
    if num_learners > max(w, MAX_REUSED_LEARNERS):
        raise SpecError(
            f"`num_learners` must be <= {MAX_REUSED_LEARNERS} with durations; got {num_learners}",
            param="num_learners",
        )
    if num_learners > w and not reuse_workers:
        raise SpecError(
            f"`num_learners` must be <= the {w} workers of durations file "
            f"{measured.source!r} unless `reuse_workers` is set (learner l then takes "
            f"worker l mod {w}); got {num_learners}",
            param="num_learners",
        )
    if mode == "resample" and measured.any_censored:
        count = sum(int(c.sum()) for c in measured.censored)
        raise SpecError(
            f"`durations_mode` resample draws from complete durations only; durations file "
            f"{measured.source!r} has {count} censored rows (use replay, which replays them "
            "as lower bounds, or fit a law with pssim fit, which accounts for them)",
            param="durations_mode",
        )
    laws = worker_laws(value)
    return laws * (num_learners // w) + laws[: num_learners % w]  # learner l: worker l mod W
