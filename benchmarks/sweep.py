"""Sweeps in one run: every task in this process against a LocalCluster of 2 workers.

Each sweep runs twice through :func:`simulator.studies.sweeps.sweep`, into a fresh temporary
folder each time: ``scheduler="serial"`` (every task in this process, one after another)
and ``scheduler=None, workers=2`` (a LocalCluster of two single-threaded worker processes,
started and closed inside the call). The two result tables must be equal, row for row once
both are sorted by configuration, seed (and update); the run stops with a non-zero status
otherwise, or when a task failed. Sweeps:

1. ``timing``: 48 configurations, variants k-sync, k-batch-sync, k-async, k-batch-async x
   K in {1, 2, 4, 8} x compute-time laws exp:1, shifted-exp:0.5,1, pareto:3,1; P = 64,
   J = 30,000 updates, 2 seeds each.
2. ``training``: 12 configurations, k-sync (P = 8) x K in {1, 2, 4, 8} x batch size in
   {1, 4, 16}, softmax regression on the embedded ``digits`` data, J = 10,000 updates,
   3 seeds each (one task per configuration).

``sweep_speedup_timing`` and ``sweep_speedup_training`` are the serial wall time over the
cluster's, the cluster's wall time being the whole call, start-up and shut-down of the
LocalCluster included (what a user waits for); ``serial_s_*`` and ``cluster_s_*`` are those
times. ``cluster_vs_serial`` is the same ratio over both sweeps together. Each run is timed
once: a second serial training run in this process would find its programs compiled in
memory. Per sweep, ``serial_cpu_s`` and ``cluster_cpu_s`` are the CPU seconds of each run
(this process and, for the cluster, its ended worker processes); ``cluster_cpu_over_serial``
is the work the cluster adds (process start-up, imports and set-up in every worker) and
``serial_cpu_share`` the cores the serial run kept busy on average (above 1 when the run
itself uses several threads, as XLA's compiler does). ``speedup_cpu_bound`` is
``min(workers, cores) x serial_s / cluster_cpu_s``: the cluster's wall time cannot be less
than its CPU time spread over the cores, so its speed-up cannot exceed this.

The machine is shared, so each ratio comes with what was free and with CPU-time figures
that load moves less. Per run, ``free_cores_serial`` and ``free_cores_cluster`` are the
cores this process may use (``os.sched_getaffinity``) minus the CPU seconds the rest of
the machine used during that run (every core's busy and stolen time, less this process's
and its children's) over the run's wall time, beside ``others_cpu_s_*`` and the 1-minute
load averages at the run's start and end (``load_start_*``, ``load_end_*``); the
top-level ``free_cores_timing`` and ``free_cores_training`` are the lower of a sweep's two.
``serial_cpu_vs_cluster_cpu`` is the serial run's CPU seconds over the cluster run's
(children included: the workers are processes), the work the cluster adds;
``worker_cpu_s`` are the CPU seconds of each worker process (read every 0.1 s while it
runs), and ``serial_cpu_vs_busiest_worker`` is the serial run's CPU seconds over the
busiest worker's: the speed-up the sweep's split into tasks allows when every worker has a
core of its own, the cluster's start-up and shut-down aside (the top-level
``serial_cpu_vs_busiest_worker_*`` and ``serial_cpu_vs_cluster_cpu_*`` repeat both).

Compilation (training replays compile JAX programs): every run gets its own fresh, empty
persistent compilation cache folder (``PSSIM_COMPILE_CACHE``, set in ``os.environ`` before
the run; the LocalCluster's worker processes inherit it), so the serial and the cluster
runs both start cold and compile everything they run; ``JAX_COMPILATION_CACHE_DIR`` is
removed from the environment so that no user cache is used instead. This process runs no
replay before the serial training run, so that run compiles from scratch too (the cluster
run comes second and finds JAX imported in this process, about half a second of the set-up
it does here before starting its workers). After each training run its folder must hold
compiled programs (the run stops otherwise): this checks that the workers did use the
folder given to them. Before each run this process's environment is put back as it was at
the start: starting a LocalCluster leaves variables of Dask's in it (listed under
``environ_changed_by_cluster``), which later runs would inherit.

``per_task_overhead_s`` is the wall time each task adds on the Dask path. It is measured on
``overhead_tasks`` trivially small timing tasks (one configuration each: async, P = 4,
J = 20, one seed), run through the sweep's executor in this process and on one
LocalCluster of 2 workers, whose start-up, a warm-up round (4 tasks) and shut-down are
timed apart: ``(cluster time of the tasks - serial time of the tasks) / tasks``.
``cluster_startup_s`` and ``cluster_shutdown_s`` come from that cluster (the start-up
includes the workers' imports); ``worker_warmup_s`` is its warm-up round.

``parallel_capacity_before`` and ``_after`` tell how much of the machine was free: 2 x the
wall time of one CPU-bound Python loop alone over that of 2 such loops at once, taken
before and after the sweeps (about 2 on two idle cores, about 1 when other work leaves one
core's worth). With the load averages they tell a busy machine's low ratios from the
project's.

``--smoke`` runs the same sweeps at a tiny size (timing: the 48 configurations at P = 8,
J = 200, one seed; training: K = 2, batch size 4, base seeds 1 and 2, J = 200, 2 seeds
each; 40 overhead tasks) on a real LocalCluster of 2 workers and prints the same keys, in
about 20 s on two idle cores.

Usage::

    python benchmarks/sweep.py [--timing-updates 30000] [--training-updates 10000]
                               [--workers 2] [--smoke] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd
from _load import Monitor, cpu_s  # beside this script

from simulator.studies.sweeps import SERIAL, SweepSpec, sweep
from simulator.studies.sweeps._exec import default_workers, executor
from simulator.studies.sweeps._rows import Task

#: Environment variable of pssim's persistent compilation cache folder.
CACHE_ENV = "PSSIM_COMPILE_CACHE"
#: JAX's own cache folder variable, which would take precedence over pssim's.
JAX_CACHE_ENV = "JAX_COMPILATION_CACHE_DIR"
TIMING_VARIANTS = ("k-sync", "k-batch-sync", "k-async", "k-batch-async")
KS = (1, 2, 4, 8)
LAWS = ("exp:1", "shifted-exp:0.5,1", "pareto:3,1")
BATCHES = (1, 4, 16)
#: Sizes, full and ``--smoke``: timing P, J and seeds; training J, seeds and grid (the
#: smoke grid's two configurations differ in base seed only, so that this process
#: compiles one program where each worker compiles its own); overhead tasks.
FULL = dict(
    p=64,
    timing_j=30_000,
    timing_seeds=2,
    training_j=10_000,
    training_seeds=3,
    training_grid={"K": KS, "batch": BATCHES},
    overhead_tasks=200,
)
SMOKE = dict(
    p=8,
    timing_j=200,
    timing_seeds=1,
    training_j=200,
    training_seeds=2,
    training_grid={"K": (2,), "batch": (4,), "seed": (1, 2)},
    overhead_tasks=40,
)
#: A CPU-bound loop for the parallel capacity, and its length (full and ``--smoke``).
SPIN = "x = 0\nfor i in range({n}): x += i"
SPIN_LOOPS, SMOKE_SPIN_LOOPS = 20_000_000, 3_000_000
#: This process's environment as the run started (see :func:`reset_environ`).
_ENVIRON: dict[str, str] = {}
#: Warm-up tasks per worker before the overhead is timed.
WARMUP_PER_WORKER = 2
PER_TASK_DEFINITION = (
    "(cluster wall time of the tasks - serial wall time of the same tasks) / tasks, on "
    "trivially small single-configuration timing tasks; the cluster's start-up, worker "
    "warm-up and shut-down are excluded (timed apart)"
)
CACHE_CHOICE = (
    "each run gets its own fresh empty PSSIM_COMPILE_CACHE folder (inherited by the "
    "LocalCluster workers): serial and cluster runs both compile cold"
)


def _toml_list(values) -> str:
    return "[" + ", ".join(json.dumps(v) for v in values) + "]"


def timing_spec(p: int, updates: int, seeds: int) -> SweepSpec:
    """The 48-configuration timing sweep."""
    return SweepSpec.from_toml(f"""
[sweep]
kind = "timing"
[timing]
learners = {p}
iterations = {updates}
seeds = {seeds}
[grid]
variant = {_toml_list(TIMING_VARIANTS)}
K = {_toml_list(KS)}
dist = {_toml_list(LAWS)}
""")


def training_spec(updates: int, seeds: int, grid: dict[str, tuple]) -> SweepSpec:
    """The training sweep: k-sync (P = 8), softmax regression on digits, over ``grid``."""
    lines = "\n".join(f"{key} = {_toml_list(values)}" for key, values in grid.items())
    return SweepSpec.from_toml(f"""
[sweep]
kind = "training"
[timing]
variant = "k-sync"
learners = 8
iterations = {updates}
seeds = {seeds}
[training]
model = "softmax"
data = "digits"
[grid]
{lines}
""")


def overhead_spec(tasks: int) -> SweepSpec:
    """``tasks`` trivially small timing configurations (base seeds 0, 1, ...)."""
    return SweepSpec.from_toml(f"""
[sweep]
kind = "timing"
[timing]
variant = "async"
learners = 4
iterations = 20
seeds = 1
[grid]
seed = {_toml_list(range(tasks))}
""")


def reset_environ(cache: Path | None = None) -> None:
    """This process's environment as the run started (a LocalCluster leaves variables of
    its own in it), with ``PSSIM_COMPILE_CACHE`` set to ``cache`` if given."""
    for key in set(os.environ) - set(_ENVIRON):
        del os.environ[key]
    os.environ.update(_ENVIRON)
    if cache is not None:
        os.environ[CACHE_ENV] = str(cache)


def _environ_changes() -> list[str]:
    """Variables of this process's environment that differ from the run's start."""
    return sorted(k for k, v in os.environ.items() if k != CACHE_ENV and _ENVIRON.get(k) != v)


def _cache_entries(folder: Path) -> int:
    return sum(1 for p in folder.rglob("*") if p.is_file()) if folder.exists() else 0


def _sorted(frame: pd.DataFrame) -> pd.DataFrame:
    keys = [k for k in ("config", "seed", "update") if k in frame.columns]
    return frame.sort_values(keys, kind="stable").reset_index(drop=True)


def _check_equal(name: str, a: pd.DataFrame, b: pd.DataFrame) -> None:
    try:
        pd.testing.assert_frame_equal(_sorted(a), _sorted(b), check_exact=True)
    except AssertionError as err:
        raise SystemExit(f"{name}: the serial and the cluster tables differ\n{err}") from None


def run_once(spec: SweepSpec, folder: Path, scheduler: str | None, workers: int) -> dict:
    """One sweep into ``folder/out`` with a fresh compilation cache ``folder/cache``
    (``workers`` only for a LocalCluster)."""
    cache = folder / "cache"
    reset_environ(cache)
    cpu0, t0 = cpu_s(), time.perf_counter()
    on_cluster = scheduler != SERIAL
    with Monitor() as monitor:
        result = sweep(
            spec, folder / "out", scheduler=scheduler, workers=workers if on_cluster else None
        )
    seconds, cpu = time.perf_counter() - t0, cpu_s() - cpu0
    if result.failures or not result.complete:
        raise SystemExit(f"{folder.name}: failed tasks {result.failures}")
    return {
        "seconds": seconds,
        "cpu_s": cpu,
        "monitor": monitor,
        "frame": result.frame(),
        "cache_entries": _cache_entries(cache),
        "environ_changes": _environ_changes(),
    }


def compare_runs(name: str, spec: SweepSpec, root: Path, workers: int) -> dict:
    """The sweep serial, then on a LocalCluster; equal tables required."""
    serial = run_once(spec, root / f"{name}-serial", SERIAL, workers)
    cluster = run_once(spec, root / f"{name}-cluster", None, workers)
    _check_equal(name, serial["frame"], cluster["frame"])
    busiest = max(cluster["monitor"].worker_cpu_s, default=cluster["cpu_s"])
    out = {
        "configurations": len(spec.configurations()),
        "rows": len(serial["frame"]),
        "serial_s": serial["seconds"],
        "cluster_s": cluster["seconds"],
        "ratio": serial["seconds"] / cluster["seconds"],
        "serial_cpu_s": serial["cpu_s"],
        "cluster_cpu_s": cluster["cpu_s"],
        "cluster_cpu_over_serial": cluster["cpu_s"] / serial["cpu_s"],
        "serial_cpu_share": serial["cpu_s"] / serial["seconds"],
        "speedup_cpu_bound": min(workers, default_workers()) * serial["seconds"] / cluster["cpu_s"],
        "serial_cpu_vs_cluster_cpu": serial["cpu_s"] / cluster["cpu_s"],
        "worker_cpu_s": cluster["monitor"].worker_cpu_s,
        "serial_cpu_vs_busiest_worker": serial["cpu_s"] / busiest,
        **serial["monitor"].figures("serial"),
        **cluster["monitor"].figures("cluster"),
        "tables_equal": True,
        "environ_changed_by_cluster": cluster["environ_changes"],
    }
    if spec.kind == "training":
        for run, r in (("serial", serial), ("cluster", cluster)):
            out[f"cache_entries_{run}"] = r["cache_entries"]
            if not r["cache_entries"]:
                raise SystemExit(
                    f"{name}: the {run} run stored nothing in its compilation cache folder "
                    f"({CACHE_ENV} was not used)"
                )
    return out


def _run_tasks(run, tasks: list[Task]) -> list:
    tables: list = []
    failed: list = []
    run(tasks, lambda task, table: tables.append(table), failed.append)
    if failed:
        raise SystemExit(f"overhead tasks failed: {failed[0]}")
    return tables


def _frame(tables: list) -> pd.DataFrame:
    return pd.concat([t.to_pandas() for t in tables], ignore_index=True)


def task_overhead(tasks: int, workers: int) -> dict:
    """Per-task wall time of the Dask path on trivially small tasks (see the docstring)."""
    reset_environ()
    specs = overhead_spec(tasks + WARMUP_PER_WORKER * workers).configurations()
    warmup = [Task("timing", (s,)) for s in specs[:-tasks]]
    measured = [Task("timing", (s,)) for s in specs[-tasks:]]
    with executor(SERIAL, workers) as run:
        _run_tasks(run, warmup)  # same imports and caches as the workers will have
        t0 = time.perf_counter()
        serial = _run_tasks(run, measured)
        serial_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    with executor(None, workers) as run:
        t1 = time.perf_counter()
        _run_tasks(run, warmup)
        t2 = time.perf_counter()
        cluster = _run_tasks(run, measured)
        t3 = time.perf_counter()
    t4 = time.perf_counter()
    _check_equal("overhead", _frame(serial), _frame(cluster))
    return {
        "tasks": tasks,
        "serial_s": serial_s,
        "cluster_s": t3 - t2,
        "startup_s": t1 - t0,
        "worker_warmup_s": t2 - t1,
        "shutdown_s": t4 - t3,
        "per_task_s": (t3 - t2 - serial_s) / tasks,
        "definition": PER_TASK_DEFINITION,
    }


def parallel_capacity(workers: int, loops: int) -> float:
    """``workers`` x the wall time of one CPU-bound process alone over that of ``workers``
    such processes at once: the cores' worth free to the cluster (2 on two idle cores)."""

    def wall(n: int) -> float:
        cmd = [sys.executable, "-c", SPIN.format(n=loops)]
        t0 = time.perf_counter()
        procs = [subprocess.Popen(cmd) for _ in range(n)]
        if any(p.wait() for p in procs):
            raise SystemExit("the parallel-capacity loop failed")
        return time.perf_counter() - t0

    return workers * wall(1) / wall(workers)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--timing-updates", type=int, default=FULL["timing_j"])
    parser.add_argument("--training-updates", type=int, default=FULL["training_j"])
    parser.add_argument("--workers", type=int, default=2, help="LocalCluster workers")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument(
        "--smoke", action="store_true", help="tiny size, same sweeps and keys (overrides sizes)"
    )
    args = parser.parse_args()
    size = dict(SMOKE if args.smoke else FULL)
    if not args.smoke:
        size["timing_j"], size["training_j"] = args.timing_updates, args.training_updates
    os.environ.pop(JAX_CACHE_ENV, None)
    _ENVIRON.update(os.environ)
    loops = SMOKE_SPIN_LOOPS if args.smoke else SPIN_LOOPS
    load_before = os.getloadavg()
    capacity_before = parallel_capacity(args.workers, loops)
    t_start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="pssim-sweep-bench-") as tmp:
        root = Path(tmp)
        timing = compare_runs(
            "timing",
            timing_spec(size["p"], size["timing_j"], size["timing_seeds"]),
            root,
            args.workers,
        )
        training = compare_runs(
            "training",
            training_spec(size["training_j"], size["training_seeds"], size["training_grid"]),
            root,
            args.workers,
        )
    overhead = task_overhead(size["overhead_tasks"], args.workers)
    total_s, load_after = time.perf_counter() - t_start, os.getloadavg()
    reset_environ()
    capacity_after = parallel_capacity(args.workers, loops)
    timing.update(p=size["p"], updates=size["timing_j"], seeds=size["timing_seeds"])
    training.update(p=8, updates=size["training_j"], seeds=size["training_seeds"])
    serial = timing["serial_s"] + training["serial_s"]
    cluster = timing["cluster_s"] + training["cluster_s"]
    result = {
        "workers": args.workers,
        "cores": default_workers(),
        "smoke": args.smoke,
        "sweep_speedup_timing": timing["ratio"],
        "sweep_speedup_training": training["ratio"],
        "cluster_vs_serial": serial / cluster,
        "free_cores_timing": min(timing["free_cores_serial"], timing["free_cores_cluster"]),
        "free_cores_training": min(training["free_cores_serial"], training["free_cores_cluster"]),
        "serial_cpu_vs_busiest_worker_timing": timing["serial_cpu_vs_busiest_worker"],
        "serial_cpu_vs_busiest_worker_training": training["serial_cpu_vs_busiest_worker"],
        "serial_cpu_vs_cluster_cpu_timing": timing["serial_cpu_vs_cluster_cpu"],
        "serial_cpu_vs_cluster_cpu_training": training["serial_cpu_vs_cluster_cpu"],
        "serial_s_timing": timing["serial_s"],
        "cluster_s_timing": timing["cluster_s"],
        "serial_s_training": training["serial_s"],
        "cluster_s_training": training["cluster_s"],
        "per_task_overhead_s": overhead["per_task_s"],
        "cluster_startup_s": overhead["startup_s"],
        "cluster_shutdown_s": overhead["shutdown_s"],
        "compile_cache": CACHE_CHOICE,
        "load_average_before": load_before[0],
        "load_average_after": load_after[0],
        "parallel_capacity_before": capacity_before,
        "parallel_capacity_after": capacity_after,
        "environ_changed_by_cluster": sorted(
            set(timing.pop("environ_changed_by_cluster"))
            | set(training.pop("environ_changed_by_cluster"))
        ),
        "total_s": total_s,
        "timing": timing,
        "training": training,
        "overhead": overhead,
    }
    if args.json:
        print(json.dumps(result))
        return
    for key, value in result.items():
        if isinstance(value, dict):
            print(key + ": " + ", ".join(f"{k}={_fmt(v)}" for k, v in value.items()))
        else:
            print(f"{key}: {_fmt(value)}")


def _fmt(v: object) -> str:
    return f"{v:.4g}" if isinstance(v, float) else str(v)


if __name__ == "__main__":
    main()
