"""``pssim sweep`` when its store is tampered with or its machine fails: one line each.

Files the sweep did not write are moved aside and reported once (status 0); a full disk, a
lost scheduler and a cluster that cannot start end in one line (status 1) and the rerun
completes the sweep exactly; too many workers are refused before anything starts.
"""

from __future__ import annotations

import errno
import json
import os
import signal
import subprocess
import sys
import time

import pandas as pd
import pyarrow.parquet as pq
import pytest
from cli_process import DEFAULT_SIGNALS, PSSIM, messages, one_line, pssim, tmpfs

from simulator.cli import main
from simulator.studies.sweeps import _exec as _sweep_exec

#: Twelve quick configurations (one seed each).
QUICK_SWEEP = """
[timing]
learners = 4
iterations = 40
seeds = 1
[grid]
seed = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]
"""
#: About half a second per configuration (the service time sends it to the SimPy engine).
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
SERIAL = ["--scheduler", "serial"]


def write(tmp_path, text: str):
    path = tmp_path / "sweep.toml"
    path.write_text(text)
    return path


def stored(results) -> pd.DataFrame:
    frame = pd.read_parquet(results)
    assert not frame.duplicated(["config", "seed"]).any()
    return frame


def test_foreign_and_damaged_files_are_reported_in_one_line(tmp_path):
    config = write(tmp_path, QUICK_SWEEP)
    code, _, err = pssim(["sweep", str(config), "--out", "run", *SERIAL], cwd=tmp_path)
    assert code == 0, err
    results = tmp_path / "run" / "results.parquet"
    part = sorted(results.glob("part-*.parquet"))[0]
    (results / "copy.parquet").write_bytes(part.read_bytes())
    part.write_bytes(part.read_bytes()[:100])
    code, out, err = pssim(["sweep", str(config), "--out", "run", *SERIAL, "--json"], cwd=tmp_path)
    assert code == 0, err
    line = one_line(err)
    assert line.startswith(
        "pssim sweep: ignored 2 files in run/results.parquet, moved to run/ignored"
    )
    assert "copy.parquet (not written by this sweep)" in line and f"{part.name} (damaged" in line
    summary = json.loads(out)
    assert summary["rows"] == 12 and summary["complete"] and summary["ran"] >= 1
    assert {i["reason"] for i in summary["ignored"]} == {"foreign", "damaged"}
    assert len(stored(results)) == 12
    assert sorted(p.name for p in (tmp_path / "run" / "ignored").iterdir()) == sorted(
        ["copy.parquet", part.name]
    )


def test_too_many_workers_are_refused_before_anything_starts(tmp_path):
    config = write(tmp_path, QUICK_SWEEP)
    code, _, err = pssim(
        ["sweep", str(config), "--out", "run", "--workers", "1000000"], cwd=tmp_path
    )
    limit = _sweep_exec.MAX_WORKERS_PER_CORE * _sweep_exec.default_workers()
    assert code == 2 and one_line(err).startswith(f"pssim: error: --workers must be <= {limit} ")
    assert one_line(err).endswith("; got 1000000")
    assert not (tmp_path / "run").exists()


def test_a_full_disk_is_one_line_and_the_rerun_completes(tmp_path):
    config = write(tmp_path, QUICK_SWEEP)
    with tmpfs(tmp_path / "tiny", "size=96k") as tiny:
        args = ["sweep", str(config), "--out", "tiny/run", *SERIAL]
        code, out, err = pssim(args, cwd=tmp_path)
        assert code == 1 and out == ""
        line = one_line(err)
        assert line.startswith(
            "pssim: error: cannot write the sweep's results in tiny/run/results.parquet: "
            "No space left on device; "
        )
        assert line.endswith(
            "seeds) are stored: free space there and rerun the same sweep to resume"
        )
        done = int(line.split("; ")[1].split(" of ")[0])
        assert 0 < done < 12
        assert not [p for p in (tiny / "run" / "results.parquet").iterdir() if p.name[0] == "."]
        assert stored(tiny / "run" / "results.parquet")["config"].nunique() == done
        subprocess.run(["mount", "-o", "remount,size=8m", str(tiny)], check=True)
        code, out, err = pssim(args, cwd=tmp_path)
        assert code == 0, err
        assert f"ran {12 - done} seeds of {12 - done} configurations, already stored {done}," in out
        assert sorted(stored(tiny / "run" / "results.parquet")["base_seed"]) == list(range(12))


def test_a_full_disk_in_process_is_one_line(tmp_path, monkeypatch, capsys):
    """Without a tmpfs: the third part file fails half-way."""
    real, calls = pq.write_table, []

    def write_table(table, path):
        calls.append(path)
        if len(calls) == 3:
            path.write_bytes(b"half")
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        real(table, path)

    monkeypatch.setattr(pq, "write_table", write_table)
    config = write(tmp_path, QUICK_SWEEP)
    out = tmp_path / "run"
    assert main(["sweep", str(config), "--out", str(out), *SERIAL]) == 1
    line = one_line(capsys.readouterr().err)
    assert line.startswith(
        f"pssim: error: cannot write the sweep's results in {out}/results.parquet"
    )
    assert "No space left on device" in line and "rerun" in line


def test_a_cluster_that_cannot_start_is_one_line(tmp_path, monkeypatch, capsys):
    import dask.distributed

    def cluster(**kw):
        raise RuntimeError("Nanny failed to start.")

    monkeypatch.setattr(dask.distributed, "LocalCluster", cluster)
    monkeypatch.setattr(_sweep_exec, "START_PAUSE_S", 0.0, raising=False)
    config = write(tmp_path, QUICK_SWEEP)
    assert main(["sweep", str(config), "--out", str(tmp_path / "run"), "--workers", "2"]) == 1
    line = one_line(capsys.readouterr().err)
    assert line.startswith("pssim: error: a LocalCluster of 2 workers did not start in 3 tries")
    assert "Nanny failed to start" in line and "fewer --workers" in line
    assert "--scheduler 'serial'" in line
    assert not (tmp_path / "run").exists()


def _start(module: str, *args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", f"distributed.cli.{module}", *args],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


@pytest.mark.slow
def test_a_lost_scheduler_is_one_line_and_the_rerun_resumes(tmp_path):
    config = write(tmp_path, SLOW_SWEEP)
    address = tmp_path / "scheduler.json"
    scheduler = _start(
        "dask_scheduler", "--port", "0", "--no-dashboard", "--scheduler-file", str(address)
    )
    worker = None
    try:
        deadline = time.monotonic() + 60
        while not address.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        worker = _start(
            "dask_worker", "--scheduler-file", str(address), "--nthreads", "1", "--no-dashboard"
        )
        url = json.loads(address.read_text())["address"]
        results = tmp_path / "run" / "results.parquet"
        proc = subprocess.Popen(
            [*DEFAULT_SIGNALS, *PSSIM, "sweep", str(config), "--out", "run", "--scheduler", url],
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        while time.monotonic() < deadline + 120 and not list(results.glob("part-*.parquet")):
            assert proc.poll() is None, proc.communicate()
            time.sleep(0.05)
        os.killpg(scheduler.pid, signal.SIGKILL)
        out, err = proc.communicate(timeout=120)
    finally:
        for process in (scheduler, worker):
            if process is not None and process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=30)
    lines = messages(err.decode())
    assert proc.returncode == 1 and len(lines) == 1, err.decode()
    assert lines[0].startswith(f"pssim: error: the Dask scheduler at {url} was lost with ")
    assert lines[0].endswith(
        "rerun the same sweep to resume it (the finished configurations are stored)"
    )
    assert "Traceback" not in err.decode() and out == b""
    done = stored(results)["config"].nunique()
    assert 0 < done < 12
    code, out, err = pssim(["sweep", str(config), "--out", "run", *SERIAL], cwd=tmp_path)
    assert code == 0, err
    assert f"ran {12 - done} seeds of {12 - done} configurations, already stored {done}," in out
    assert sorted(stored(results)["base_seed"]) == list(range(12))
