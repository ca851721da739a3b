"""The persistent compilation cache: a second process loads the replay instead of compiling.

Each case runs a tiny replay in fresh interpreters (the cache is decided once per process)
and counts JAX's own monitoring events: ``cache_misses`` (a compilation that found nothing
stored) and ``cache_hits`` (an executable loaded from the folder).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[3]

#: A tiny replay; prints the cache events, the cache folder JAX uses and the losses.
SCRIPT = """
import collections, json, sys, warnings
import jax.monitoring
import numpy as np
sys.path.insert(0, "tests/simulator")
from replay_cases import ASYNC_ROWS, least_squares, make_trace, regression_data
from simulator.training import FixedRate, replay

events = collections.Counter()
jax.monitoring.register_event_listener(lambda name, **kw: events.update([name]))
trace = make_trace("k-async", ASYNC_ROWS, num_learners=3, k=1, seed=4)
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    res = replay(trace, least_squares(3), regression_data(), batch_size=2, rule=FixedRate(0.05),
                 eval_every=2, f_star=None)
print(json.dumps({
    "hits": events["/jax/compilation_cache/cache_hits"],
    "misses": events["/jax/compilation_cache/cache_misses"],
    "folder": jax.config.jax_compilation_cache_dir,
    "min_time": jax.config.jax_persistent_cache_min_compile_time_secs,
    "warnings": [str(w.message) for w in caught],
    "loss": res.loss.tolist(),
}))
"""


def run_replay(**env: str | None) -> dict:
    """Runs :data:`SCRIPT` in a fresh interpreter with ``env`` (None removes a variable)."""
    full = {k: v for k, v in os.environ.items() if not k.startswith("JAX_COMPILATION_CACHE")}
    for name, value in env.items():
        full.pop(name, None)
        if value is not None:
            full[name] = value
    proc = subprocess.run(
        [sys.executable, "-c", SCRIPT], cwd=ROOT, env=full, capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def files_in(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.is_file()] if folder.exists() else []


def test_second_process_compiles_nothing(tmp_path):
    cache = tmp_path / "cache"
    first = run_replay(PSSIM_COMPILE_CACHE=str(cache))
    assert first["folder"] == str(cache) and first["min_time"] == 0
    assert first["misses"] > 0 and files_in(cache)
    second = run_replay(PSSIM_COMPILE_CACHE=str(cache))
    assert second["misses"] == 0 and second["hits"] >= 1  # every program came from the folder
    assert second["loss"] == first["loss"]  # a cached program gives the same bits


def test_default_folder_is_under_the_user_cache_home(tmp_path):
    out = run_replay(PSSIM_COMPILE_CACHE=None, XDG_CACHE_HOME=str(tmp_path))
    assert out["folder"] == str(tmp_path / "pssim" / "jax")
    assert files_in(tmp_path / "pssim" / "jax")


@pytest.mark.parametrize("off", ["0", "off"])
def test_turned_off_leaves_the_folder_empty(tmp_path, off):
    out = run_replay(PSSIM_COMPILE_CACHE=off, XDG_CACHE_HOME=str(tmp_path))
    assert out["folder"] is None and out["hits"] == 0
    assert not files_in(tmp_path)


def test_folder_configured_for_jax_is_left_alone(tmp_path):
    mine, jax_dir = tmp_path / "pssim", tmp_path / "jax"
    out = run_replay(PSSIM_COMPILE_CACHE=str(mine), JAX_COMPILATION_CACHE_DIR=str(jax_dir))
    assert out["folder"] == str(jax_dir) and out["min_time"] == 1.0  # JAX's own default
    assert not files_in(mine)


def test_unusable_folder_warns_once_and_the_run_goes_on(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    out = run_replay(PSSIM_COMPILE_CACHE=str(blocker / "cache"))
    assert out["folder"] is None and out["misses"] == 0
    assert len(out["warnings"]) == 1 and "compilation cache folder" in out["warnings"][0]
    assert out["loss"] and all(v == v for v in out["loss"][0])


def test_cli_flag_turns_the_cache_off(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "PSSIM_COMPILE_CACHE"}
    env["XDG_CACHE_HOME"] = str(tmp_path / "home-cache")
    cmd = [sys.executable, "-m", "simulator.cli", "train", "-J", "20", "--seeds", "1"]
    cmd += ["--no-compile-cache", "--out", str(tmp_path / "out")]
    proc = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert not files_in(tmp_path / "home-cache" / "pssim")  # (matplotlib caches fonts there)
