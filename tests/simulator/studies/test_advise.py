"""The advisor end to end on small problems: its pick against brute force, reruns that
train nothing, refusals, the command line and the figure."""

from __future__ import annotations

import json
import re
import signal
import time

import pandas as pd
import pytest
from cli_process import one_line, pssim, start

from simulator import Advice, advice_figure, advise, save_figure
from simulator.errors import PssimError, SpecError
from simulator.results.targets import time_to_target_table
from simulator.studies._advise_spec import candidates_of, read_advise_config
from simulator.studies.advise import _round_spec, _run_lengths
from simulator.studies.sweeps import sweep
from simulator.studies.sweeps._units import config_key

ADVISE = """
[timing]
learners = 4
dist = "exp:1"
iterations = 200

[training]
model = "softmax"
data = "digits"
batch = 8
eval-every = 10

[grid]
variant = ["sync", "k-sync", "async"]
K = [2]
lr = [0.15, 0.2]

[advise]
target = 0.3
max-seeds = 6
"""


@pytest.fixture(scope="module")
def advised(tmp_path_factory):
    folder = tmp_path_factory.mktemp("advise")
    (folder / "advise.toml").write_text(ADVISE)
    advice = advise(folder / "advise.toml", folder / "out", scheduler="serial")
    return folder, advice


def _manifest_lines(out) -> int:
    return len((out / "manifest.jsonl").read_text().splitlines())


def test_the_pick_is_the_brute_force_best_or_tied_with_it(advised):
    folder, advice = advised
    assert isinstance(advice, Advice)
    spec, settings = read_advise_config(folder / "advise.toml")
    candidates = candidates_of(spec)
    full = _round_spec(
        spec, candidates, settings.max_seeds, _run_lengths(candidates, advice.horizon)
    )
    frame = sweep(full, folder / "out", scheduler="serial").frame()  # grows the store
    index = {config_key(c): i for i, c in enumerate(full.configurations())}
    frame["candidate"] = frame["config"].map(index)
    table = time_to_target_table(frame, "candidate", target=0.3)
    every = table[table["reached_seeds"] == table["seeds"]]
    assert (table["seeds"] == settings.max_seeds).all()
    best = candidates[int(every.loc[every["time_to_target"].idxmin(), "candidate"])].label
    pick = advice.recommendation.candidate.label
    assert pick == best or best in advice.tied_with, (pick, best, advice.table())
    assert advice.certainty in ("separated", "tied")
    assert (advice.certainty == "tied") == bool(advice.tied_with)


def test_a_rerun_trains_nothing_and_gives_the_same_advice(advised):
    folder, advice = advised
    lines = _manifest_lines(folder / "out")
    again = advise(folder / "advise.toml", folder / "out", scheduler="serial")
    assert _manifest_lines(folder / "out") == lines
    assert again.recommendation.candidate.label == advice.recommendation.candidate.label


def test_the_advice_json_names_the_choice_and_every_candidate(advised):
    _, advice = advised
    data = advice.to_json()
    best = data["recommendation"]
    assert best["label"] == advice.recommendation.candidate.label
    assert best["certainty"] in ("separated", "tied")
    low, high = best["time_to_target"]["ci95"]
    assert low <= best["time_to_target"]["mean"] <= high
    assert len(data["candidates"]) == 6
    assert {"variant", "lr"} <= set(data["candidates"][0]["settings"])
    json.dumps(data, allow_nan=False)  # plain JSON, no NaN
    text = advice.table()
    assert "recommendation: " + advice.recommendation.candidate.label in text


def test_the_figure_draws_every_simulated_candidate(advised, tmp_path):
    _, advice = advised
    fig = advice_figure(advice)
    labels = [t.get_text() for t in fig.axes[0].get_yticklabels()]
    simulated = [c for c in advice.candidates if c.status != "not simulated"]
    assert len(labels) == len(simulated)
    assert save_figure(fig, tmp_path / "advice.png").stat().st_size > 0


def test_a_target_no_candidate_reaches_is_refused_and_the_runs_are_kept(advised):
    folder, _ = advised
    text = ADVISE.replace("target = 0.3", "target = 1e-4")
    (folder / "low.toml").write_text(text)
    lines = _manifest_lines(folder / "out")
    with pytest.raises(
        PssimError, match=re.escape("no candidate reaches and stays at error <= 0.0001")
    ):
        advise(folder / "low.toml", folder / "out", scheduler="serial")
    assert _manifest_lines(folder / "out") == lines  # what it needed was stored already


def test_a_learner_hours_cap_no_candidate_meets_is_refused(advised):
    folder, _ = advised
    (folder / "cap.toml").write_text(ADVISE + "learner-hours = 1e-6\n")
    with pytest.raises(PssimError, match="within learner-hours 1e-06"):
        advise(folder / "cap.toml", folder / "out", scheduler="serial")


def test_a_budget_shorter_than_any_first_update_is_refused_before_running(tmp_path):
    (tmp_path / "a.toml").write_text(ADVISE + "time-budget = 1e-6\n")
    with pytest.raises(PssimError, match="`time-budget` 1e-06 is shorter than the first update"):
        advise(tmp_path / "a.toml", tmp_path / "out", scheduler="serial")
    assert not (tmp_path / "out").exists()


def test_the_command_prints_json_and_writes_the_advice(advised, tmp_path):
    folder, advice = advised
    code, out, err = pssim(
        ["advise", "advise.toml", "--out", "out", "--scheduler", "serial", "--json"],
        cwd=folder,
        timeout=300,
    )
    assert code == 0, err
    data = json.loads(out)
    assert data["recommendation"]["label"] == advice.recommendation.candidate.label
    assert (folder / "out" / "advice.png").is_file()
    assert json.loads((folder / "out" / "advice.json").read_text())["recommendation"]
    code, out, err = pssim(
        ["advise", "advise.toml", "--out", "out", "--scheduler", "serial"], cwd=folder, timeout=300
    )
    assert code == 0 and "recommendation: " in out, err


@pytest.mark.parametrize(
    ("change", "words"),
    [
        (("target = 0.3", "target = -1"), "[advise] `target` must be > 0; got -1"),
        (("target = 0.3", ""), "must give one of target, target-accuracy, target-fraction"),
        (
            ("lr = [0.15, 0.2]", "lr = [0.15, 0.2]\niterations = [100, 200]"),
            "`iterations` is swept in a.toml: the advisor sets",
        ),
    ],
)
def test_the_command_refuses_a_bad_file_in_one_line(tmp_path, change, words):
    text = ADVISE.replace("iterations = 200\n", "") if "iterations" in change[1] else ADVISE
    (tmp_path / "a.toml").write_text(text.replace(*change))
    code, _, err = pssim(["advise", "a.toml", "--out", "out"], cwd=tmp_path)
    assert code == 2
    assert words in one_line(err)
    assert not (tmp_path / "out").exists()


def test_a_missing_cluster_file_is_named_by_its_option(tmp_path):
    (tmp_path / "a.toml").write_text(ADVISE)
    code, _, err = pssim(["advise", "a.toml", "--out", "o", "--cluster", "no.toml"], cwd=tmp_path)
    assert code == 2 and "--cluster" in one_line(err)


def test_the_python_api_refuses_a_config_that_is_not_a_file_or_dict():
    with pytest.raises(TypeError, match="`config` must be the path of an advise TOML file"):
        advise(3, "out")
    with pytest.raises(SpecError, match="must have an \\[advise\\] table"):
        advise({"grid": {"lr": [0.1]}}, "out")


def test_an_interrupted_advice_says_what_is_stored_and_resumes(tmp_path):
    (tmp_path / "a.toml").write_text(ADVISE)
    results = tmp_path / "out" / "results.parquet"
    with open(tmp_path / "stdout.txt", "wb") as stdout:  # a file: block-buffered
        proc = start(
            ["advise", "a.toml", "--out", "out", "--scheduler", "serial"],
            cwd=tmp_path,
            stdout=stdout,
        )
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not list(results.glob("part-*.parquet")):
            assert proc.poll() is None, "the advice ended before the signal"
            time.sleep(0.02)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err.decode()
    stored = len(pd.read_parquet(results)[["config", "seed"]].drop_duplicates())
    assert 0 < stored < 18, "the signal must land mid-way"
    assert (tmp_path / "stdout.txt").read_text() == (
        f"interrupted: {stored} training runs are stored in out; rerun the same command to "
        "resume (stored runs are not trained again)\n"
    )
    code, out, err = pssim(
        ["advise", "a.toml", "--out", "out", "--scheduler", "serial"], cwd=tmp_path, timeout=300
    )
    assert code == 0, err
    assert f"trained now into out, {stored} read from it" in out  # none trained twice
