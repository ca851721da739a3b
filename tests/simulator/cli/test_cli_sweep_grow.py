"""``pssim sweep`` growing in its folder, and an interrupted sweep's summary on stdout."""

from __future__ import annotations

import json
import signal
import time

import pandas as pd
import pytest
from cli_process import messages, pssim, start

#: Three configurations of quick timing runs.
GROWING = """
[timing]
learners = 4
iterations = 30
seeds = {seeds}
[grid]
variant = ["k-sync", "async"]
K = [1, 2]
"""
#: About half a second per configuration (the service time sends it to the SimPy engine),
#: so a signal lands while tasks are still running.
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


def test_the_summary_says_what_growing_ran(tmp_path):
    config = write(tmp_path, GROWING.format(seeds=2))
    code, out, err = pssim(["sweep", str(config), "--out", "run", *SERIAL], cwd=tmp_path)
    assert code == 0, err
    assert "ran 6 seeds of 3 configurations, already stored 0, failed 0" in out
    write(tmp_path, GROWING.format(seeds=4))
    code, out, err = pssim(["sweep", str(config), "--out", "run", *SERIAL], cwd=tmp_path)
    assert code == 0, err
    assert "3 configurations x 4 seeds" in out
    assert "ran 6 seeds of 3 configurations, already stored 6, failed 0" in out
    assert "(12 rows)" in out
    code, out, err = pssim(["sweep", str(config), "--out", "run", *SERIAL, "--json"], cwd=tmp_path)
    summary = json.loads(out)
    assert code == 0 and summary["complete"] and summary["rows"] == 12
    assert (summary["units"], summary["units_skipped"], summary["units_ran"]) == (12, 12, 0)
    assert (summary["ran"], summary["skipped"], summary["seeds"]) == (0, 3, 4)


def test_a_sweep_sharing_nothing_with_the_folder_is_refused_in_one_line(tmp_path):
    config = write(tmp_path, GROWING.format(seeds=1))
    assert pssim(["sweep", str(config), "--out", "run", *SERIAL], cwd=tmp_path)[0] == 0
    write(tmp_path, GROWING.format(seeds=1).replace("iterations = 30", "iterations = 31"))
    code, _, err = pssim(["sweep", str(config), "--out", "run", *SERIAL], cwd=tmp_path)
    (line,) = messages(err)
    assert code == 2 and "--out 'run' holds another sweep" in line
    assert "no configuration in common" in line and "choose another folder" in line


@pytest.mark.parametrize(
    ("signum", "code", "last"),
    [
        (signal.SIGINT, 130, "pssim: interrupted"),
        (signal.SIGTERM, 143, "pssim: terminated by SIGTERM"),
    ],
    ids=["SIGINT", "SIGTERM"],
)
@pytest.mark.parametrize("as_json", [False, True], ids=["text", "json"])
def test_an_interrupted_sweep_prints_its_summary_to_a_redirected_stdout(
    tmp_path, signum, code, last, as_json
):
    config = write(tmp_path, SLOW_SWEEP)
    results = tmp_path / "run" / "results.parquet"
    argv = ["sweep", str(config), "--out", "run", *SERIAL] + (["--json"] if as_json else [])
    with open(tmp_path / "stdout.txt", "wb") as stdout:  # a file: block-buffered
        proc = start(argv, cwd=tmp_path, stdout=stdout)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not list(results.glob("part-*.parquet")):
            assert proc.poll() is None, "the sweep ended before the signal"
            time.sleep(0.02)
        proc.send_signal(signum)
        _, err = proc.communicate(timeout=60)
    assert proc.returncode == code, err.decode()
    assert messages(err.decode())[-1] == last
    stored = pd.read_parquet(results)["config"].nunique()
    assert 0 < stored < 12, "the signal must land mid-way"
    text = (tmp_path / "stdout.txt").read_text()
    if as_json:
        summary = json.loads(text)
        assert summary["interrupted"] and not summary["complete"]
        assert summary["configurations_stored"] == summary["units_stored"] == stored
        assert summary["units"] == 12 and "rerun" in summary["resume"]
    else:
        assert text == (
            f"interrupted: {stored} of 12 configurations ({stored} of 12 seeds) are stored "
            "in run/results.parquet; rerun the same command to resume\n"
        )
    code, out, err = pssim(["sweep", str(config), "--out", "run", *SERIAL], cwd=tmp_path)
    assert code == 0 and f"already stored {stored}," in out, err
