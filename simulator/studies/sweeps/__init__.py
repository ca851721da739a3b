"""Sweeps: every configuration of a grid, on Dask, into a resumable Parquet store.

:func:`sweep` expands a :class:`~simulator.studies.sweeps._spec.SweepSpec` (a TOML file with
``[grid]`` and ``[[zip]]`` tables) into configurations, runs the (configuration, seed)
units not yet in the store (on a LocalCluster it starts and closes, on an existing Dask
scheduler, or in this process) and writes each task's rows to ``DIR/results.parquet`` as
its own file. Rerunning the same sweep on the same folder resumes it: stored units are
skipped, none is lost or duplicated, whatever killed the previous run.

A sweep's identity is its configurations, not its seed count: a configuration is keyed by
its spec without ``seeds``, and replicate ``i`` runs seed ``seed + i`` whatever the count.
So a sweep grows in its own folder: with more seeds it runs only the new seeds of each
configuration, with more grid values only the new configurations, and every stored row is
kept. Any sweep of the same kind that shares a configuration with the folder's may run
there (``DIR/sweep.toml`` becomes its spec); rows it does not ask for stay stored and
listed, and :meth:`SweepResult.frame` and :func:`load_sweep` read the units of the sweep
(``seeds`` set to its count) while ``pandas.read_parquet`` reads every stored row. A sweep
with no configuration in common with the folder's is refused. Under a ``time_budget`` a
training run's J is the least that its seeds reach within the budget; seeds added later
run with a J of their own (and the stored seeds' evaluation spacing), so ``updates`` may
differ between the seeds of a configuration, as it does seed by seed in a timing sweep.

The store reads only the files it wrote (files it did not write are moved to
``DIR/ignored/`` and reported in :attr:`SweepResult.notes`). A full disk, a lost Dask
scheduler or a LocalCluster that cannot start raise :class:`SweepFault` (an ``OSError``)
in one line; rerunning the sweep resumes it.

Example:
    >>> result = sweep("examples/figure6_runtime_vs_k.toml", "out/fig6")  # doctest: +SKIP
    >>> table = pandas.read_parquet("out/fig6/results.parquet")  # doctest: +SKIP
"""

from simulator.studies.sweeps._sweep import (
    SERIAL,
    SweepFault,
    SweepResult,
    SweepSpec,
    load_sweep,
    sweep,
)

__all__ = [
    "SERIAL",
    "SweepFault",
    "SweepResult",
    "SweepSpec",
    "load_sweep",
    "sweep",
]
