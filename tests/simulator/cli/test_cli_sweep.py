"""``pssim sweep`` as a user runs it: JSON, figures, resume after kill -9, refusals."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time

import pandas as pd
import pytest
from cli_process import DEFAULT_SIGNALS, PSSIM, entries, one_line, pssim

#: About half a second per configuration (the service time sends it to the SimPy engine),
#: so a kill lands while tasks are still running.
SLOW_SWEEP = """
[timing]
variant = "k-async"
K = 2
learners = 8
iterations = 20000
seeds = 1
service-time = "exp:1000"
[grid]
seed = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]
"""

SPEEDUP_SWEEP = """
[timing]
iterations = 40
seeds = 3
[grid]
variant = ["sync", "async"]
learners = [1, 2, 4]
dist = ["exp:1", "pareto:2,1"]
[[figure]]
kind = "speedup"
name = "figure5"
[[figure]]
kind = "runtime-vs-k"
name = "one_law"
where = { dist = "exp:1", learners = 4 }
"""


def write(tmp_path, text: str, name: str = "sweep.toml"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_json_summary_store_and_figures(tmp_path):
    config = write(tmp_path, SPEEDUP_SWEEP)
    code, out, err = pssim(["sweep", str(config), "--out", "run", "--json"], cwd=tmp_path)
    assert code == 0, err
    summary = json.loads(out)
    assert summary["configurations"] == 12 and summary["ran"] == 12 and summary["complete"]
    assert summary["rows"] == 36 and summary["seeds"] == 3 and summary["failures"] == []
    assert "sweep: 100%" in err and "12/12" in err  # the bar counts configurations
    assert [os.path.basename(p) for p in summary["figures"]] == ["figure5.png", "one_law.png"]
    names = [
        ".lock",
        "figure5.png",
        "manifest.jsonl",
        "one_law.png",
        "results.parquet",
        "store.json",
        "sweep.toml",
    ]
    assert entries(tmp_path / "run") == names
    frame = pd.read_parquet(tmp_path / "run" / "results.parquet")
    assert len(frame) == 36 and set(frame["variant"]) == {"sync", "async"}
    again = pssim(["sweep", str(config), "--out", "run", "--scheduler", "serial"], cwd=tmp_path)
    assert again[0] == 0, again[2]
    assert "ran 0 seeds, already stored 36, failed 0" in again[1]


def test_kill_9_of_pssim_and_its_workers_then_rerun_completes_exactly(tmp_path):
    config = write(tmp_path, SLOW_SWEEP)
    results = tmp_path / "run" / "results.parquet"
    argv = [*DEFAULT_SIGNALS, *PSSIM, "sweep", str(config), "--out", "run", "--workers", "2"]
    proc = subprocess.Popen(
        argv,
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # its own process group: pssim, the scheduler, the workers
    )
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not list(results.glob("part-*.parquet")):
            assert proc.poll() is None, "the sweep ended before the kill"
            time.sleep(0.05)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    stored = pd.read_parquet(results)
    assert 0 < stored["config"].nunique() < 12, "the kill must land mid-way"
    code, out, err = pssim(["sweep", str(config), "--out", "run", "--workers", "2"], cwd=tmp_path)
    assert code == 0, err
    assert f"already stored {stored['config'].nunique()}" in out
    frame = pd.read_parquet(results)
    assert len(frame) == 12 and not frame.duplicated(["config", "seed"]).any()
    assert sorted(frame["base_seed"]) == list(range(12))


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("[timing]\nlearners = 4\n[grid]\nKK = [1, 2]\n", "[grid] key 'KK'"),
        ("[timing]\nlearners = 4\n[grid]\nK = []\n", "`K` in sweep.toml must be a non-empty"),
        (
            '[timing]\nvariant = "k-sync"\nlearners = 4\n[grid]\nK = [1, 8]\n',
            "configuration (K=8): `K` must be <= the number of learners P (4); got 8",
        ),
        ("[timing]\nlearners = 4\n[grid]\nK = [1\n", "is not valid TOML"),
    ],
)
def test_bad_sweep_files_exit_2_with_one_line_and_leave_nothing(tmp_path, text, needle):
    config = write(tmp_path, text)
    code, _, err = pssim(["sweep", str(config), "--out", "run"], cwd=tmp_path)
    assert code == 2 and needle in one_line(err)
    assert not (tmp_path / "run").exists()


def test_a_changed_sweep_on_the_same_folder_is_refused(tmp_path):
    config = write(tmp_path, SPEEDUP_SWEEP)
    first = pssim(["sweep", str(config), "--out", "run", "--scheduler", "serial"], cwd=tmp_path)
    assert first[0] == 0, first[2]
    write(tmp_path, SPEEDUP_SWEEP.replace("iterations = 40", "iterations = 41"))
    code, _, err = pssim(["sweep", str(config), "--out", "run"], cwd=tmp_path)
    assert code == 2 and "--out 'run' holds another sweep" in one_line(err)
    assert len(pd.read_parquet(tmp_path / "run" / "results.parquet")) == 36


def test_bad_options_exit_2(tmp_path):
    config = write(tmp_path, SPEEDUP_SWEEP)
    code, _, err = pssim(["sweep", str(config), "--out", "run", "--workers", "0"], cwd=tmp_path)
    assert code == 2 and "--workers must be an integer >= 1; got 0" in one_line(err)
    code, _, err = pssim(["sweep", "missing.toml", "--out", "run"], cwd=tmp_path)
    assert code == 2 and "CONFIG.toml must be a readable TOML file" in one_line(err)
    code, _, err = pssim(["sweep", str(config)], cwd=tmp_path)
    assert code == 2 and "--out" in err
    assert not (tmp_path / "run").exists()
