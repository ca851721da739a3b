"""``pssim compare`` time-to-target options: refusals as the installed program gives them
(one line, status 2, nothing written), a config file's targets, and a run whose results and
spec.toml carry the target it was asked for."""

from __future__ import annotations

import json

import pytest
from cli_process import pssim

from simulator.cli import main

SMALL = ["--variants", "sync,async", "-P", "2", "--iterations", "40", "--seeds", "2"]


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (
            ["--target-fraction", "1.5"],
            "argument --target-fraction: must be a number in (0, 1); got",
        ),
        (["--target-fraction", "abc"], "argument --target-fraction: invalid number value: 'abc'"),
        (["--target-accuracy", "0"], "argument --target-accuracy: must be a number in (0, 1];"),
        (
            ["--target", "0.1", "--target-accuracy", "0.5"],
            "argument --target-accuracy: not allowed with argument --target",
        ),
        (["--target-window", "0"], "argument --target-window: must be a finite number > 0; got 0"),
        (["--target-window", "nan"], "argument --target-window: must be a finite number > 0;"),
    ],
)
def test_bad_target_options_are_one_line_and_status_2(tmp_path, argv, needle):
    code, out, err = pssim(["compare", *SMALL, *argv, "--out", "o"], cwd=tmp_path)
    assert code == 2 and needle in err and len(err.strip().splitlines()) == 1, err
    assert out == "" and not (tmp_path / "o").exists()


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        (
            "target = 0.1\ntarget-fraction = 0.5\n",
            "give one of target, target-accuracy or target-fraction in c.toml, not several; "
            "got target and target-fraction",
        ),
        ("target-fraction = 2\n", "`target-fraction` in c.toml must be in (0, 1); got 2"),
        ("target-window = -1\n", "`target-window` in c.toml must be > 0; got -1"),
        ('target = "low"\n', "`target` in c.toml must be a finite number; got 'low'"),
    ],
)
def test_bad_targets_in_a_config_file_name_the_key_and_file(tmp_path, text, needle):
    (tmp_path / "c.toml").write_text(text)
    code, _, err = pssim(["compare", *SMALL, "--config", "c.toml", "--out", "o"], cwd=tmp_path)
    assert code == 2 and needle in err and len(err.strip().splitlines()) == 1, err
    assert not (tmp_path / "o").exists()


def test_a_typed_target_replaces_the_files_target_of_another_kind(tmp_path):
    (tmp_path / "c.toml").write_text('target = "low"\n')
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x").write_text("x")  # refused after the targets are checked
    code, _, err = pssim(
        ["compare", *SMALL, "--config", "c.toml", "--target-fraction", "0.5", "--out", "full"],
        cwd=tmp_path,
    )
    assert code == 2 and "--out must be a new or empty folder" in err, err


def test_an_accuracy_target_needs_a_model_with_an_accuracy(tmp_path):
    argv = ["--model", "least-squares", "--data", "synthetic:least-squares"]
    code, _, err = pssim(
        ["compare", *SMALL, *argv, "--target-accuracy", "0.9", "--out", "o"], cwd=tmp_path
    )
    assert code == 2 and len(err.strip().splitlines()) == 1, err
    assert "--target-accuracy needs a model with an accuracy; least-squares has none" in err
    assert not (tmp_path / "o").exists()


def test_a_fraction_target_with_a_window_is_reported_and_rerun_from_spec_toml(capsys, tmp_path):
    first = tmp_path / "a"
    argv = [*SMALL, "--target-fraction", "0.9", "--target-window", "5", "--json"]
    assert main(["compare", *argv, "--out", str(first)]) == 0
    obj = json.loads(capsys.readouterr().out)
    target = obj["target"]
    assert target["from"] == "target_fraction" and target["fraction"] == 0.9
    assert target["window"] == 5.0 and target["rule"].startswith("stays at or below for 5 ")
    for run in obj["runs"]:
        assert {"time_to_target", "time_to_target_ci95", "reached_seeds", "never_seeds"} <= set(run)
        assert run["reached_seeds"] + run["never_seeds"] + run["diverged_seeds"] == 2
    spec_toml = (first / "spec.toml").read_text()
    assert "target-fraction = 0.9" in spec_toml and "target-window = 5.0" in spec_toml
    again = tmp_path / "b"
    code = main(["compare", "--config", str(first / "spec.toml"), "--out", str(again), "--json"])
    assert code == 0
    assert json.loads(capsys.readouterr().out)["target"] == target
