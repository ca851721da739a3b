"""Every script in benchmarks/ runs at its ``--smoke`` size and prints its figures as JSON.

Each ``benchmarks/*.py`` is run with ``--smoke --json`` (and once more per extra mode it
lists in a module-level ``SMOKE_MODES`` literal, e.g. ``((), ("--memory",))``) in a fresh
interpreter from the repository root. The run must exit 0 (or 77 when its data are absent,
which skips) and print one JSON object whose numbers are all finite and whose ratios (keys
``ratio``, ``*_vs_*``) are positive, with at least one top-level ``*_vs_*`` headline.
Nothing is timed here: the scripts time the project against their baseline themselves.
"""

from __future__ import annotations

import ast
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
#: The benchmark scripts (``_name.py`` files are modules they import, not scripts).
SCRIPTS = sorted(p for p in (ROOT / "benchmarks").glob("*.py") if not p.name.startswith("_"))
#: Exit status of a benchmark whose input data are absent.
EXIT_NO_DATA = 77
#: Guard against a hung run only; no assertion on speed.
HANG_LIMIT_S = 900

#: Keys the known benchmarks must print, by (script, extra arguments): paths of ratios.
EXPECTED_RATIOS = {
    ("engine.py", ()): [
        "engine_vs_bare",
        "per_learners.8.ratio",
        "per_learners.100.ratio",
        "per_learners.1000.ratio",
        "fast_vs_simpy_async",
        "fast_vs_simpy_ksync",
        "fast_vs_simpy_kasync",
        *(
            f"features.{workload}.rows.{row}.ratio"
            for workload, rows in (
                ("ksync", ("plain", "failures", "deadline", "slowdown", "slowdown_shared")),
                ("ksync", ("bandwidth", "server_link", "servers_4")),
                ("async", ("plain", "failures", "slowdown", "slowdown_shared", "bandwidth")),
                ("async", ("server_link", "servers_4")),
                ("sync", ("plain", "bandwidth", "all_reduce", "all_reduce_bandwidth")),
                ("sync_p100", ("plain", "all_reduce", "all_reduce_bandwidth")),
            )
            for row in rows
        ),
    ],
    ("replay.py", ()): [
        "replay_vs_naive",
        "replay_m1_vs_bare_scan",
        "m1_p8.ratio",
        "m64_p8.ratio",
        "m1_p100.ratio",
        "m1_p8_bare.ratio",
        "m1_p8_bare.cpu_ratio",
        "diagnostics_on_vs_off",
        "m1_p8_diagnostics.ratio",
    ],
    ("compare.py", ()): ["warm_vs_cold"],
    ("advise.py", ()): [
        "pick_vs_best",
        "wall_vs_brute",
        "fitted.pick_vs_best",
        "fitted.wall_vs_brute",
        "heterogeneous.pick_vs_best",
        "heterogeneous.wall_vs_brute",
    ],
    ("replay.py", ("--memory",)): ["peak_rss_long_vs_short"],
    # the GPU mode, the CPU standing in for the GPU
    ("replay.py", ("--gpu", "--accelerator", "cpu")): [
        "replica_updates_gpu_vs_cpu",
        "compare_gpu_vs_cpu",
        "m1_p8.ratio",
        "m64_p8.ratio",
        "compare.cold_ratio",
        "compare.warm_ratio",
    ],
    ("sweep.py", ()): [
        "sweep_speedup_timing",
        "sweep_speedup_training",
        "cluster_vs_serial",
        "timing.ratio",
        "training.ratio",
        "parallel_capacity_before",
        "parallel_capacity_after",
    ],
}
#: Other keys the known benchmarks must print.
EXPECTED_KEYS = {
    ("engine.py", ()): [
        "updates",
        "per_learners.100.bare_pushes_per_s",
        "fast_workloads.kasync.equal",
        "features.ksync.rows.server_link.us_per_update",
        "features.ksync.deadline",
        "features.ksync.deadline_cut_share",
        "features.ksync.server_link_busy",
        "features.async.server_link_busy",
        "features.async.shards_same_times",
        "load_1min",
    ],
    ("replay.py", ()): [
        "device",
        "updates",
        "trace_source",
        "m1_p8.replay_updates_per_s",
        "m1_p8.naive_updates_per_s",
        "m1_p8.max_abs_loss_diff",
        "m1_p8.final_loss",
        "m1_p8_bare.bare_updates_per_s",
        "m1_p8_bare.replay_updates_per_s",
        "m1_p8_bare.max_abs_loss_diff",
        "load_1min",
    ],
    ("replay.py", ("--gpu", "--accelerator", "cpu")): [
        "seeds",
        "gpu_replica_updates_per_s",
        "m1_p8.gpu_replica_updates_per_s",
        "m1_p8.cpu_replica_updates_per_s",
        "m1_p8.max_abs_loss_diff",
        "compare.gpu.total_s_cold",
        "compare.cpu.total_s_warm",
        "compare.gpu.cpu_s_cold",
        "load_1min",
    ],
    ("replay.py", ("--memory",)): [],
    ("advise.py", ()): ["fitted.advisor_s", "fitted.brute_s", "heterogeneous.pick"],
    ("compare.py", ()): [
        "compile_share",
        "compile_s_cold",
        "compile_s_warm",
        "total_s_cold",
        "total_s_warm",
        "cold.timing_s",
        "cold.execution_s",
        "cold.output_s",
        "warm.cache_hits",
        "compile_wait_share",
        "first_replay_s_warm",
        "first_replay_in_run_s_warm",
        "cold.compile_wait_s",
        "cold.cpu_s",
        "load",
    ],
    ("sweep.py", ()): [
        "workers",
        "serial_s_timing",
        "cluster_s_timing",
        "serial_s_training",
        "cluster_s_training",
        "per_task_overhead_s",
        "cluster_startup_s",
        "cluster_shutdown_s",
        "compile_cache",
        "timing.tables_equal",
        "training.tables_equal",
        "training.cache_entries_serial",
        "training.cache_entries_cluster",
        "timing.speedup_cpu_bound",
        "training.speedup_cpu_bound",
        "training.serial_cpu_share",
        "environ_changed_by_cluster",
        "overhead.per_task_s",
        "overhead.worker_warmup_s",
    ],
}


def smoke_modes(script: Path) -> list[tuple[str, ...]]:
    """The script's ``SMOKE_MODES`` (extra arguments per mode), default one plain mode."""
    for node in ast.parse(script.read_text()).body:
        if isinstance(node, ast.Assign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            if any(isinstance(t, ast.Name) and t.id == "SMOKE_MODES" for t in targets):
                return [tuple(mode) for mode in ast.literal_eval(node.value)]
    return [()]


CASES = [(script, mode) for script in SCRIPTS for mode in smoke_modes(script)]


def _get(obj: dict, path: str):
    for part in path.split("."):
        assert isinstance(obj, dict) and part in obj, f"missing key {path!r}"
        obj = obj[part]
    return obj


def _numbers(obj, path: str = ""):
    """(path, value) of every number in a JSON value."""
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield from _numbers(v, f"{path}.{k}" if path else str(k))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            yield from _numbers(v, f"{path}.{i}")
    elif isinstance(obj, int | float) and not isinstance(obj, bool):
        yield path, obj


def _is_ratio(path: str) -> bool:
    last = path.rsplit(".", 1)[-1]
    return last == "ratio" or "_vs_" in last


def test_replay_gpu_mode_without_a_gpu_says_so_in_one_line():
    """``replay.py --gpu`` where JAX sees no GPU: one line saying so, exit status 0."""
    cmd = [sys.executable, "benchmarks/replay.py", "--gpu", "--smoke", "--json"]
    env = {**os.environ, "JAX_PLATFORMS": "cpu"}
    proc = subprocess.run(
        cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=HANG_LIMIT_S, check=False
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    lines = proc.stdout.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("no GPU"), proc.stdout


def test_benchmarks_are_found():
    assert {"compare.py", "engine.py", "replay.py"} <= {s.name for s in SCRIPTS}


@pytest.mark.parametrize(
    ("script", "mode"),
    CASES,
    ids=[" ".join((s.stem, *m)) for s, m in CASES],
)
def test_smoke_run_prints_finite_ratios(script: Path, mode: tuple[str, ...]):
    cmd = [sys.executable, str(script.relative_to(ROOT)), "--smoke", "--json", *mode]
    proc = subprocess.run(
        cmd, cwd=ROOT, capture_output=True, text=True, timeout=HANG_LIMIT_S, check=False
    )
    if proc.returncode == EXIT_NO_DATA:
        pytest.skip(proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else "no data")
    assert proc.returncode == 0, f"{' '.join(cmd)} failed:\n{proc.stderr[-4000:]}"
    out = json.loads(proc.stdout)
    assert isinstance(out, dict)

    numbers = dict(_numbers(out))
    bad = {p: v for p, v in numbers.items() if not math.isfinite(v)}
    assert not bad, f"non-finite figures: {bad}"
    ratios = {p: v for p, v in numbers.items() if _is_ratio(p)}
    assert not {p: v for p, v in ratios.items() if v <= 0}, f"non-positive ratios: {ratios}"
    assert any("_vs_" in key for key in out), f"no top-level *_vs_* ratio in {sorted(out)}"

    case = (script.name, mode)
    for path in EXPECTED_RATIOS.get(case, []):
        value = _get(out, path)
        assert isinstance(value, int | float) and math.isfinite(value) and value > 0, path
    for path in EXPECTED_KEYS.get(case, []):
        _get(out, path)
