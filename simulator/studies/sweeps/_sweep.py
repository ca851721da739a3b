"""Running a sweep: :func:`sweep`, :class:`SweepResult` and :func:`load_sweep` (see the
package docstring)."""

from __future__ import annotations

import dataclasses
import os
import warnings
from pathlib import Path

import pandas as pd
from tqdm.auto import tqdm

from simulator._files import shown_path
from simulator.errors import PssimError, PssimTypeError
from simulator.studies._common import bar_disabled
from simulator.studies.sweeps._balance import group_tasks, program_leaders
from simulator.studies.sweeps._exec import SERIAL, TaskFailure, check_scheduler, executor
from simulator.studies.sweeps._faults import SweepFault
from simulator.studies.sweeps._rows import narrow
from simulator.studies.sweeps._spec import SweepSpec, read_sweep_file
from simulator.studies.sweeps._store import SweepStore
from simulator.studies.sweeps._units import Plan, config_key, plan

__all__ = [
    "SERIAL",
    "SweepFault",
    "SweepResult",
    "SweepSpec",
    "load_sweep",
    "sweep",
]

#: The failure of a task whose rows do not have this pssim's columns.
_OTHER_COLUMNS = (
    "the worker returned rows with other columns than this pssim's: install the same "
    "pssim version on every worker"
)
#: Timing tasks per worker, each of about equal estimated cost (costlier configurations
#: split by replicates): enough for the costliest-first order to even out the estimate's
#: errors, few enough that scheduling and one stored file per task stay a small share.
TASKS_PER_WORKER = 4


@dataclasses.dataclass(frozen=True)
class SweepResult:
    """What a call of :func:`sweep` did.

    A unit is one seed of one configuration: what the store holds and a sweep runs.

    Attributes:
        spec: the sweep.
        out: the sweep folder; its results are ``out / "results.parquet"``.
        configurations: number of configurations of the sweep.
        ran: configurations some of whose seeds this call ran and stored.
        skipped: configurations whose every seed was already in the store.
        failures: ``(config keys, error line)`` of each task that failed on every
            attempt; rerunning the sweep retries them.
        units: the sweep's (configuration, seed) units.
        units_ran: units run and stored by this call.
        units_skipped: units already in the store when the call began.
        units_failed: units of the failed tasks.
        ignored: ``(file name, reason)`` of each entry of the results folder that the
            store did not write (``foreign``, ``duplicate``) or that changed since
            (``damaged``, ``outdated``: its units were rerun), moved to
            ``out / "ignored"``.
        notes: one-line reports on the store (what was ignored and where it went).
    """

    spec: SweepSpec
    out: Path
    configurations: int
    ran: int
    skipped: int
    failures: tuple[tuple[tuple[str, ...], str], ...]
    units: int
    units_ran: int
    units_skipped: int
    units_failed: int = 0
    ignored: tuple[tuple[str, str], ...] = ()
    notes: tuple[str, ...] = ()

    @property
    def results_path(self) -> Path:
        """The Parquet dataset (``pandas.read_parquet`` reads it as one table: every stored
        row, of this sweep or of the others run in the folder)."""
        return SweepStore(self.out).results

    @property
    def complete(self) -> bool:
        """True when every seed of every configuration is in the store."""
        return self.units_skipped + self.units_ran == self.units

    def frame(self) -> pd.DataFrame:
        """The stored rows of this sweep's units, sorted by configuration, seed (and
        update)."""
        return SweepStore(self.out).frame(self.spec)

    def to_json(self) -> dict:
        return {
            "out": str(self.out),
            "results": str(self.results_path),
            "kind": self.spec.kind,
            "sweep_digest": self.spec.digest(),
            "configurations": self.configurations,
            "seeds": _seeds(self.spec),
            "ran": self.ran,
            "skipped": self.skipped,
            "units": self.units,
            "units_ran": self.units_ran,
            "units_skipped": self.units_skipped,
            "units_failed": self.units_failed,
            "complete": self.complete,
            "failures": [{"configs": list(c), "error": e} for c, e in self.failures],
            "ignored": [{"file": name, "reason": reason} for name, reason in self.ignored],
        }


def _seeds(spec: SweepSpec) -> int:
    configs = spec.configurations()
    return configs[0].seeds if configs else 0


def _as_sweep(config) -> SweepSpec:
    if isinstance(config, SweepSpec):
        return config
    if isinstance(config, (str, os.PathLike)):
        return read_sweep_file(config)
    raise PssimTypeError(
        f"`config` must be a SweepSpec or the path of a sweep TOML file; got "
        f"{type(config).__name__}",
        param="config",
    )


def sweep(
    config: SweepSpec | str | os.PathLike,
    out: str | os.PathLike,
    *,
    scheduler: str | None = None,
    workers: int | None = None,
    progress: bool = False,
) -> SweepResult:
    """Run every (configuration, seed) unit of a sweep not yet in ``out``, on Dask.

    Args:
        config: a SweepSpec or the path of its TOML file.
        out: the sweep folder (created if missing); rows go to
            ``out/results.parquet``, the sweep's spec to ``out/sweep.toml``. A folder of
            another sweep of the same kind is accepted when the two share a configuration
            (the sweep grows or shrinks there).
        scheduler: None: a LocalCluster of ``workers`` single-threaded processes, started
            and closed here (only when there is something to run); ``"serial"``: this
            process, one task after another; else the address of a running Dask
            scheduler (``tcp://host:8786``), whose workers must have pssim installed.
        workers: LocalCluster workers (default: one per core).
        progress: a progress bar on stderr counting finished configurations.

    Returns:
        A :class:`SweepResult`; its ``failures`` list tasks that failed three times.

    Raises:
        SpecError: a bad sweep file or configuration (before anything runs), or an ``out``
            folder that holds a sweep with no configuration in common with this one or is
            being written by one.
        SweepFault: the disk under ``out`` is full (or stopped taking files), the Dask
            scheduler was lost, or a LocalCluster could not start: one line; what was
            stored is kept, and calling again resumes.

    Tasks are sized by their estimated CPU cost and started costliest first; on a
    LocalCluster, a training configuration whose replay program another one compiles
    first waits for it and loads the program from the shared compilation cache. Neither
    changes a stored row.

    On a LocalCluster, a script that calls this must guard its top level with
    ``if __name__ == "__main__":`` (worker processes import the main module).
    """
    spec = _as_sweep(config)
    scheduler, workers = check_scheduler(scheduler, workers)
    configs = spec.configurations()
    store = SweepStore(out)
    store.check(spec)  # refuse another sweep's folder before starting any worker
    f_stars = _problems(configs) if spec.kind == "training" else None
    with store.open(spec):
        note, ignored = store.note(), tuple(store.ignored)
        work = plan(configs, store.finished())
        narrowed = _narrowing(store, work) if spec.kind == "training" else None
        tasks = group_tasks(spec.kind, work.runs, TASKS_PER_WORKER * workers, f_stars, narrowed)
        with tqdm(
            total=len(configs),
            initial=work.skipped,
            disable=bar_disabled(progress),
            desc="sweep",
            unit="config",
        ) as bar:
            tally = _Tally(store, work, bar)
            local = spec.kind == "training" and scheduler is None  # one machine's workers
            after = program_leaders(tasks) if local and _shared_cache() else None
            if tasks:  # no cluster is started for a sweep that is all stored
                with executor(scheduler, workers) as run_tasks:
                    run_tasks(tasks, tally.done, tally.failed, after)
    return SweepResult(
        spec=spec,
        out=Path(out),
        configurations=len(configs),
        ran=len(tally.touched),
        skipped=work.skipped,
        failures=tuple(tally.failures),
        units=work.units,
        units_ran=tally.units_ran,
        units_skipped=work.stored,
        units_failed=tally.units_failed,
        ignored=ignored,
        notes=(note,) if note else (),
    )


class _Tally:
    """What a sweep's tasks did: each finished task's rows stored, each failure kept."""

    def __init__(self, store: SweepStore, work: Plan, bar) -> None:
        self.store, self.bar = store, bar
        self.missing = work.missing
        self.touched: set[str] = set()
        self.failures: list[tuple[tuple[str, ...], str]] = []
        self.units_ran = self.units_failed = 0

    def done(self, task, table) -> None:
        if not self.store.accepts(table):
            self._fail(task, _OTHER_COLUMNS)
            return
        self.store.write_part(task.configs, task.replicates, table)
        self.units_ran += len(task.replicates) * len(task.configs)
        for key in task.configs:
            self.touched.add(key)
            self.missing[key] -= len(task.replicates)
            self.bar.update(0 if self.missing[key] else 1)

    def failed(self, failure: TaskFailure) -> None:
        self._fail(failure.task, str(failure))

    def _fail(self, task, error: str) -> None:
        self.failures.append((tuple(task.configs), error))
        self.units_failed += len(task.replicates) * len(task.configs)


def _shared_cache() -> bool:
    """Whether the workers of a LocalCluster share a persistent compilation cache folder
    (pssim's, or one set for JAX in the environment they inherit): then a training task
    whose program another task compiles first waits for it and loads it from there."""
    if os.environ.get("JAX_COMPILATION_CACHE_DIR", "").strip():
        return True
    from simulator.training._cache import cache_folder

    try:
        return cache_folder() is not None
    except RuntimeError:  # no home folder
        return False


def _narrowing(store: SweepStore, work: Plan):
    """How a training configuration runs some of its replicates: ``seed`` and ``seeds``
    narrowed to them; under a time budget, a configuration that has stored seeds also
    keeps their evaluation spacing (its default follows each run's own J), so that its
    seeds share their evaluation points and settings."""
    keys = {
        config_key(c)
        for run in work.runs
        for c in run.configs
        if c.time_budget is not None and c.eval_every is None
    }
    stored = store.finished()
    keys = {key for key in keys if stored.get(key)}
    if not keys:
        return None
    frame = store.read()
    rows = frame[frame["config"].isin(keys)] if "config" in frame else frame
    every = rows.groupby("config")["eval_every"].first().to_dict() if len(rows) else {}

    def narrowed(spec, replicates):
        spacing = every.get(config_key(spec))
        spec = spec if spacing is None else spec.replace(eval_every=int(spacing))
        return narrow(spec, replicates)

    return narrowed


def _problems(configs) -> dict[tuple[str, str, float], float | None]:
    """F* of each (data, model, l2) of a training sweep, computed here once: the tasks'
    ``error`` column then does not depend on the machine they ran on, and a missing data
    folder, a mini-batch larger than its data or a model that does not fit its data is one
    error before any task runs."""
    from models import build_model, check_batch_size, load_dataset
    from simulator.training.optimum import optimal_loss

    datasets, f_stars = {}, {}
    for data, model, l2 in sorted({(c.data, c.model, c.l2) for c in configs}, key=repr):
        if data not in datasets:
            datasets[data] = load_dataset(data)
            check_batch_size(datasets[data], max(c.batch_size for c in configs if c.data == data))
        f_stars[(data, model, l2)] = optimal_loss(
            build_model(model, datasets[data], l2), datasets[data]
        )
    return f_stars


def load_sweep(out: str | os.PathLike) -> pd.DataFrame:
    """The results of the sweep in folder ``out`` (its ``sweep.toml``: the last sweep run
    there) as one DataFrame (sorted): the rows of the seeds it asks for, ``seeds`` set to
    its count; rows stored by other sweeps of the folder are not read.

    Only the parts the store wrote and that are still whole are read, each unit once;
    anything else in ``out/results.parquet`` is left in place, with one warning (the next
    run of a sweep moves it to ``out/ignored``).
    """
    store = SweepStore(out)
    try:
        is_sweep = store.spec_path.is_file()
    except OSError:  # a name too long for the file system...
        is_sweep = False
    if not is_sweep:
        raise PssimError(
            f"`out` must be a sweep folder (with {store.spec_path.name}); got {shown_path(out)}",
            param="out",
        )
    frame = store.read()
    note = store.note()
    if note:
        warnings.warn(f"load_sweep {note}", UserWarning, stacklevel=2)
    return frame
