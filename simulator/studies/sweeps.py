"""Sweeps: every configuration of a grid, on Dask, into a resumable Parquet store.

:func:`sweep` expands a :class:`~simulator.studies._sweep_spec.SweepSpec` (a TOML file with
``[grid]`` and ``[[zip]]`` tables) into configurations, runs those not yet in the store
(on a LocalCluster it starts and closes, on an existing Dask scheduler, or in this process)
and writes each task's rows to ``DIR/results.parquet`` as its own file. Rerunning the same
sweep on the same folder resumes it: finished configurations are skipped, none is lost or
duplicated, whatever killed the previous run. A different sweep on the same folder is
refused. The store reads only the files it wrote (files it did not write are moved to
``DIR/ignored/`` and reported in :attr:`SweepResult.notes`). A full disk, a lost Dask
scheduler or a LocalCluster that cannot start raise :class:`SweepFault` (an ``OSError``)
in one line; rerunning the sweep resumes it.

Example:
    >>> result = sweep("examples/figure6_runtime_vs_k.toml", "out/fig6")  # doctest: +SKIP
    >>> table = pandas.read_parquet("out/fig6/results.parquet")  # doctest: +SKIP
"""

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
from simulator.studies._sweep_exec import SERIAL, TaskFailure, check_scheduler, executor
from simulator.studies._sweep_faults import SweepFault
from simulator.studies._sweep_rows import group_tasks
from simulator.studies._sweep_spec import SweepSpec, read_sweep_file
from simulator.studies._sweep_store import SweepStore

__all__ = ["SERIAL", "SweepFault", "SweepResult", "SweepSpec", "load_sweep", "sweep"]

#: The failure of a task whose rows do not have this pssim's columns.
_OTHER_COLUMNS = (
    "the worker returned rows with other columns than this pssim's: install the same "
    "pssim version on every worker"
)
#: Timing tasks per worker: enough to balance uneven configurations, few enough that
#: scheduling stays a small share of a task.
TASKS_PER_WORKER = 4


@dataclasses.dataclass(frozen=True)
class SweepResult:
    """What a call of :func:`sweep` did.

    Attributes:
        spec: the sweep.
        out: the sweep folder; its results are ``out / "results.parquet"``.
        configurations: number of configurations of the sweep.
        ran: configurations run and stored by this call.
        skipped: configurations already in the store (a resumed sweep).
        failures: ``(config digests, error line)`` of each task that failed on every
            attempt; rerunning the sweep retries them.
        ignored: ``(file name, reason)`` of each entry of the results folder that the
            sweep did not write (``foreign``, ``duplicate``) or that changed since
            (``damaged``, ``outdated``: its configurations were rerun), moved to
            ``out / "ignored"``.
        notes: one-line reports on the store (what was ignored and where it went).
    """

    spec: SweepSpec
    out: Path
    configurations: int
    ran: int
    skipped: int
    failures: tuple[tuple[tuple[str, ...], str], ...]
    ignored: tuple[tuple[str, str], ...] = ()
    notes: tuple[str, ...] = ()

    @property
    def results_path(self) -> Path:
        """The Parquet dataset (``pandas.read_parquet`` reads it as one table)."""
        return SweepStore(self.out).results

    @property
    def complete(self) -> bool:
        """True when every configuration is in the store."""
        return self.ran + self.skipped == self.configurations

    def frame(self) -> pd.DataFrame:
        """The stored rows, sorted by configuration, seed (and update)."""
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
    """Run every configuration of a sweep not yet in ``out``, on Dask.

    Args:
        config: a SweepSpec or the path of its TOML file.
        out: the sweep folder (created if missing); rows go to
            ``out/results.parquet``, the sweep's spec to ``out/sweep.toml``.
        scheduler: None: a LocalCluster of ``workers`` single-threaded processes, started
            and closed here; ``"serial"``: this process, one task after another; else the
            address of a running Dask scheduler (``tcp://host:8786``), whose workers
            must have pssim installed.
        workers: LocalCluster workers (default: one per core).
        progress: a progress bar on stderr counting finished configurations.

    Returns:
        A :class:`SweepResult`; its ``failures`` list tasks that failed three times.

    Raises:
        SpecError: a bad sweep file or configuration (before anything runs), or an ``out``
            folder that holds another sweep or is being written by one.
        SweepFault: the disk under ``out`` is full (or stopped taking files), the Dask
            scheduler was lost, or a LocalCluster could not start: one line; what was
            stored is kept, and calling again resumes.

    On a LocalCluster, a script that calls this must guard its top level with
    ``if __name__ == "__main__":`` (worker processes import the main module).
    """
    spec = _as_sweep(config)
    scheduler, workers = check_scheduler(scheduler, workers)
    configs = spec.configurations()
    store = SweepStore(out)
    failures: list[tuple[tuple[str, ...], str]] = []
    store.check(spec)  # refuse another sweep's folder before starting any worker
    f_stars = _problems(configs) if spec.kind == "training" else None
    with executor(scheduler, workers) as run_tasks, store.open(spec):
        done = store.finished_configs()
        note = store.note()
        todo = [c for c in configs if c.digest() not in done]
        skipped = len(configs) - len(todo)
        tasks = group_tasks(spec.kind, todo, TASKS_PER_WORKER * workers, f_stars)
        ran = 0
        with tqdm(
            total=len(configs),
            initial=skipped,
            disable=bar_disabled(progress),
            desc="sweep",
            unit="config",
        ) as bar:

            def done_task(task, table) -> None:
                nonlocal ran
                if not store.accepts(table):
                    failures.append((tuple(task.configs), _OTHER_COLUMNS))
                    return
                store.write_part(task.configs, table)
                ran += len(task.specs)
                bar.update(len(task.specs))

            def failed_task(failure: TaskFailure) -> None:
                failures.append((tuple(failure.task.configs), str(failure)))

            run_tasks(tasks, done_task, failed_task)
    return SweepResult(
        spec=spec,
        out=Path(out),
        configurations=len(configs),
        ran=ran,
        skipped=skipped,
        failures=tuple(failures),
        ignored=tuple(store.ignored),
        notes=(note,) if note else (),
    )


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
    """The results of the sweep in folder ``out`` as one DataFrame (sorted).

    Only the parts the sweep wrote and that are still whole are read, each configuration
    once; anything else in ``out/results.parquet`` is left in place, with one warning (the
    next run of the sweep moves it to ``out/ignored``).
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
