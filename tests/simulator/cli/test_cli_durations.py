"""``--durations FILE`` on the command line, in config and sweep files: the pssim program
run as a user runs it."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from cli_process import one_line, pssim

from simulator import load_sweep
from simulator.measured import durations_path, read_durations

#: Three workers, three sampled steps (see tests/simulator/timing/test_measured_replay.py):
#: sync replays max(1, 1.5, 3), max(2.5, .5, 1.25), max(.625, 2, .375) and so on.
TINY = """worker,step,duration
w1,10,1.0
w2,10,1.5
w3,10,3.0
w1,20,2.5
w2,20,0.5
w3,20,1.25
w1,40,0.625
w2,40,2.0
w3,40,0.375
"""


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    data = tmp_path / "data"
    data.mkdir()
    (data / "tiny.csv").write_text(TINY)
    return tmp_path


def test_runtime_replays_the_shipped_cluster_and_says_that_learners_wrapped(tmp_path):
    code, out, err = pssim(
        ["runtime", "--durations", "llm-se", "--variant", "sync", "-J", "50", "--seeds", "2"],
        cwd=tmp_path,
    )
    assert code == 0, err
    assert "X ~ durations llm-se (replay)" in out.splitlines()[0] and "P=64" in out
    assert (
        "durations llm-SE-compute.csv (64 learners on 64 of 64 workers, 43 steps each): "
        "replayed in step order, the same for every seed"
    ) in out
    assert (
        "64 of 64 learners ran past their worker's last measured step (after 43 steps) and "
        "went on from its first (up to 2 passes)"
    ) in out
    code, out, err = pssim(
        ["runtime", "--durations", "llm-se", "--variant", "sync", "-J", "50", "--json"],
        cwd=tmp_path,
    )
    assert code == 0, err
    result = json.loads(out)
    table = pd.read_csv(durations_path("llm-se"))
    maxima = table.groupby("step")["duration"].max().sort_index().to_numpy()
    assert result["simulated"]["per_seed"][0] == float(np.cumsum(np.resize(maxima, 50))[-1])
    d = result["durations"]
    assert d["sha256"] == read_durations("llm-se").sha256 and d["durations"] == "llm-se"
    assert (d["wrapped_learners"], d["wrapped_after_steps"], d["max_passes"]) == (64, [43, 43], 2)
    assert result["spec"]["durations"] == "llm-se" and result["spec"]["law"] is None


def test_a_config_reads_its_file_from_its_own_folder_and_the_cli_from_the_cwd(folder):
    config = folder / "data" / "run.toml"
    config.write_text('[timing]\nvariant = "sync"\ndurations = "tiny.csv"\niterations = 2\n')
    elsewhere = folder / "work"
    elsewhere.mkdir()
    code, out, err = pssim(["runtime", "--config", str(config), "--json"], cwd=elsewhere)
    assert code == 0, err
    result = json.loads(out)
    assert result["simulated"]["per_seed"][0] == 5.5 and result["durations"]["file"] == "tiny.csv"
    assert result["durations"]["wrapped_learners"] == 0
    # --durations typed: from the working directory; it replaces the file's laws
    config.write_text('[timing]\nvariant = "sync"\nlaws = ["exp:1", "exp:2"]\niterations = 2\n')
    code, out, err = pssim(
        ["runtime", "--config", str(config), "--durations", "data/tiny.csv", "--json"], cwd=folder
    )
    assert code == 0, err
    assert json.loads(out)["learners"] == 3
    # resample: drawn from each worker's own durations
    code, out, err = pssim(
        ["runtime", "--durations", "data/tiny.csv", "--durations-mode", "resample", "-J", "3"],
        cwd=folder,
    )
    assert code == 0, err
    assert "drawn i.i.d. from each worker's durations" in out


def test_reuse_workers_and_censored_rows_are_said(folder):
    cut = folder / "data" / "cut.csv"
    cut.write_text(TINY.replace("duration", "duration,censored").replace("3.0", "3.0,true"))
    code, out, err = pssim(
        ["runtime", "--durations", str(cut), "-P", "5", "--reuse-workers", "--variant", "sync"],
        cwd=folder,
    )
    assert code == 0, err
    assert "5 learners on 3 workers (learner l takes worker l mod 3)" in out
    assert "1 censored rows replayed at their recorded value (a lower bound)" in out


@pytest.mark.parametrize(
    "args, message",
    [
        (
            ["--durations", "data/tiny.csv", "-P", "4"],
            "pssim: error: --learners must be <= the 3 workers of durations file 'tiny.csv' "
            "unless --reuse-workers is set (learner l then takes worker l mod 3); got 4",
        ),
        (
            ["--durations", "data/tiny.csv", "--dist", "exp:1"],
            "pssim: error: --durations and --dist must not both be given",
        ),
        (
            ["--durations", "data/bad.csv"],
            "pssim: error: --durations file 'bad.csv' column `duration` must be finite numbers "
            "> 0; line 2 has '-1'",
        ),
        (
            ["--durations", "data/missing.csv"],
            "pssim: error: --durations must be a readable durations file (CSV or Parquet); got "
            "'data/missing.csv' (No such file or directory)",
        ),
        (
            ["--durations-mode", "resample"],
            "pssim: error: --durations-mode applies only with --durations",
        ),
        (
            ["--durations", "data/tiny.csv", "--durations-mode", "replays"],
            "pssim: error: --durations-mode must be one of replay, resample; got 'replays'",
        ),
    ],
    ids=["p-over-w", "with-dist", "bad-row", "missing", "mode-alone", "bad-mode"],
)
def test_bad_input_is_one_line_and_status_2(folder, args, message):
    (folder / "data" / "bad.csv").write_text(TINY.replace("1.0\n", "-1\n", 1))
    code, out, err = pssim(["runtime", *HUGE_REFUSED, *args], cwd=folder)
    assert code == 2 and not out
    assert one_line(err).startswith(message), err


#: Work that would take minutes: every refusal above comes before it.
HUGE_REFUSED = ["--iterations", "2000000", "--seeds", "50"]


def test_a_config_with_two_sources_of_durations_is_refused_naming_it(folder):
    config = folder / "both.toml"
    config.write_text('durations = "data/tiny.csv"\ndist = "exp:1"\n')
    code, _, err = pssim(["runtime", "--config", str(config)], cwd=folder)
    assert code == 2
    assert (
        one_line(err) == "pssim: error: give `dist` or `durations` in both.toml, not both; got both"
    )


def test_train_takes_durations(folder):
    out_dir = folder / "results"
    code, out, err = pssim(
        [
            "train",
            "--durations",
            "data/tiny.csv",
            "--variant",
            "async",
            "-J",
            "12",
            "--seeds",
            "1",
            "--out",
            str(out_dir),
        ],
        cwd=folder,
        timeout=300,
    )
    assert code == 0, err
    written = (out_dir / "spec.toml").read_text()  # reruns from any folder: the absolute path
    assert f'durations = "{(folder / "data" / "tiny.csv").absolute()}"' in written
    # the run says how it used the file, as runtime does, in its text and its summary
    assert "durations tiny.csv (" in out and "replayed in step order" in out
    assert "async: " in out and "ran past their worker's last measured step" in out
    summary = json.loads((out_dir / "summary.json").read_text())
    assert summary["runs"][0]["durations"]["mode"] == "replay"


def test_a_sweep_resumes_after_its_durations_file_moved(folder):
    sweep = folder / "sweep.toml"
    sweep.write_text(
        '[timing]\ndurations = "data/tiny.csv"\niterations = 5\nseeds = 2\n'
        '[grid]\nvariant = ["sync", "async"]\n'
    )
    run = ["sweep", str(sweep), "--out", str(folder / "runs"), "--scheduler", "serial"]
    code, out, err = pssim(run, cwd=folder, timeout=300)
    assert code == 0, err
    assert "ran 4 seeds of 2 configurations, already stored 0" in out
    shutil.move(folder / "data", folder / "moved")
    sweep.write_text(sweep.read_text().replace("data/tiny.csv", "moved/tiny.csv"))
    code, out, err = pssim(run, cwd=folder, timeout=300)
    assert code == 0, err
    assert "ran 0 seeds, already stored 4" in out  # the same sweep: nothing recomputed
    assert str(folder / "moved" / "tiny.csv") in (folder / "runs" / "sweep.toml").read_text()
    frame = pd.read_parquet(folder / "runs" / "results.parquet")
    assert set(frame["durations"]) == {"data/tiny.csv"} and set(frame["durations_mode"]) == {
        "replay"
    }
    assert sorted(frame.loc[frame["variant"] == "sync", "time"]) == [13.0, 13.0]
    # other content under the same name makes other configurations: they run, and the
    # sweep reads only theirs (the earlier rows stay stored)
    (folder / "moved" / "tiny.csv").write_text(TINY.replace("3.0", "3.5"))
    code, out, err = pssim(run, cwd=folder, timeout=300)
    assert code == 0 and "ran 4 seeds of 2 configurations, already stored 0" in out
    frame = load_sweep(folder / "runs")
    assert sorted(frame.loc[frame["variant"] == "sync", "time"]) == [
        14.0,
        14.0,
    ]  # 3.5 + 2.5 + 2 + 3.5 + 2.5
    stored = pd.read_parquet(folder / "runs" / "results.parquet")
    assert sorted(stored.loc[stored["variant"] == "sync", "time"]) == [13.0, 13.0, 14.0, 14.0]


def test_outputs_name_the_durations_file_never_its_folder(tmp_path):
    import shutil

    from simulator import ExperimentSpec
    from simulator.cli.timing_commands import law_text
    from simulator.measured import durations_path

    copy = tmp_path / "cluster.csv"
    shutil.copy(durations_path("llm-se"), copy)
    spec = ExperimentSpec(variant="sync", durations=str(copy.absolute()), updates=5)
    assert law_text(spec) == "durations cluster.csv (replay)"
    assert str(tmp_path) not in law_text(spec)


def test_a_fitted_configs_title_is_short_and_names_its_speeds():
    import types

    from simulator import ExperimentSpec
    from simulator.cli.training_commands import _title

    law = "lognormal:-0.8180086910515205,0.21400930988449812"
    spec = ExperimentSpec(variant="sync", num_learners=2, law=law, speeds=[1.25, 0.8])
    result = types.SimpleNamespace(model_name="softmax", data_name="digits", runs=[])
    title = _title(spec, result)
    assert "X ~ lognormal:-0.818,0.214 / per-learner speeds" in title, title
    assert "0.8180086910515205" not in title
