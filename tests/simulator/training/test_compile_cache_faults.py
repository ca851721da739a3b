"""Faults of the persistent compilation cache are one line each, and heal.

An unusable folder is reported in one line (no Python source line under it); corrupt
entries are reported once per process, in one line, and replaced, so the next process
loads them again instead of warning forever. Each case runs a tiny replay in fresh
interpreters, since the cache is decided once per process.
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

#: A tiny replay, warnings shown as Python shows them (on stderr); prints the cache events.
SCRIPT = """
import collections, json, sys
import jax.monitoring
sys.path.insert(0, "tests/simulator")
from replay_cases import ASYNC_ROWS, least_squares, make_trace, regression_data
from simulator.training import FixedRate, replay

events = collections.Counter()
jax.monitoring.register_event_listener(lambda name, **kw: events.update([name]))
trace = make_trace("k-async", ASYNC_ROWS, num_learners=3, k=1, seed=4)
res = replay(trace, least_squares(3), regression_data(), batch_size=2, rule=FixedRate(0.05),
             eval_every=2, f_star=None)
print(json.dumps({
    "hits": events["/jax/compilation_cache/cache_hits"],
    "misses": events["/jax/compilation_cache/cache_misses"],
    "loss": res.loss.tolist(),
}))
"""


#: Makes every write of a cache entry fail as a full disk does.
FULL_DISK = """
import errno
from jax._src import lru_cache

def put(self, key, value):
    raise OSError(errno.ENOSPC, "No space left on device")

lru_cache.LRUCache.put = put
"""


def run_replay(cache: Path, folder: Path, preamble: str = "") -> tuple[dict, list[str]]:
    """Runs :data:`SCRIPT` from a file (so that Python can show a warning's source line, as
    it does for a user's script, written in ``folder``) with the cache in ``cache``;
    returns its report and the lines of its stderr."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("JAX_COMPILATION_CACHE")}
    env["PSSIM_COMPILE_CACHE"] = str(cache)
    env["PYTHONWARNINGS"] = "default"  # as a user's interpreter shows them
    script = folder / "replay_script.py"
    script.write_text(preamble + SCRIPT)
    proc = subprocess.run(
        [sys.executable, str(script)], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1]), proc.stderr.strip().splitlines()


def entries(cache: Path) -> list[Path]:
    return sorted(p for p in cache.glob("*-cache") if p.is_file())


def test_an_unusable_folder_is_one_line(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    out, lines = run_replay(blocker / "cache", tmp_path)
    assert len(lines) == 1, lines
    assert "compilation cache folder" in lines[0] and str(blocker / "cache") in lines[0]
    assert out["misses"] == 0 and out["loss"]


def test_corrupt_entries_are_one_line_and_replaced(tmp_path):
    cache = tmp_path / "cache"
    first, lines = run_replay(cache, tmp_path)
    assert lines == [] and first["misses"] > 0
    sizes = {p.name: p.stat().st_size for p in entries(cache)}
    assert sizes
    for path in entries(cache):  # truncated entries, as a full disk or a killed write leaves
        path.write_bytes(path.read_bytes()[:100])
    second, lines = run_replay(cache, tmp_path)
    assert len(lines) == 1, lines
    assert "corrupt" in lines[0] and str(cache) in lines[0]
    assert second["loss"] == first["loss"]
    assert {p.name for p in entries(cache)} == set(sizes)
    assert all(p.stat().st_size > 100 for p in entries(cache))  # rewritten whole
    third, lines = run_replay(cache, tmp_path)
    assert lines == [] and third["misses"] == 0 and third["hits"] >= 1
    assert third["loss"] == first["loss"]


def test_garbage_entries_are_replaced_too(tmp_path):
    cache = tmp_path / "cache"
    run_replay(cache, tmp_path)
    for path in entries(cache):
        path.write_bytes(os.urandom(64))
    _, lines = run_replay(cache, tmp_path)
    assert len(lines) == 1 and "corrupt" in lines[0], lines
    third, lines = run_replay(cache, tmp_path)
    assert lines == [] and third["misses"] == 0


def test_entries_that_cannot_be_written_are_one_line(tmp_path):
    cache = tmp_path / "cache"
    out, lines = run_replay(cache, tmp_path, preamble=FULL_DISK)
    assert len(lines) == 1, lines
    assert "cannot write to the compilation cache" in lines[0] and "No space left" in lines[0]
    assert out["loss"] and not entries(cache)
