"""``pssim train`` and ``pssim compare``: outputs, paired seeds, and refusals before training."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from simulator.cli import main

SMALL = ["--iterations", "120", "--seeds", "2", "--eval-every", "40", "-P", "4"]


def status(argv) -> int:
    try:
        return main(list(argv))
    except SystemExit as exit_:
        return exit_.code


def test_compare_writes_figures_results_and_json(capsys, tmp_path):
    out = tmp_path / "res"
    code = status(
        [
            "compare",
            "--variants",
            "sync,async,k-batch-async",
            "-K",
            "2",
            *SMALL,
            "--out",
            str(out),
            "--json",
        ]
    )
    stdout, _ = capsys.readouterr()
    assert code == 0
    obj = json.loads(stdout)
    assert [r["variant"] for r in obj["runs"]] == ["sync", "async", "k-batch-async"]
    run = obj["runs"][0]
    assert set(run) == {
        "variant",
        "k",
        "spec",
        "spec_digest",
        "updates",
        "time_budget",
        "seeds",
        "runtime",
        "final_loss",
        "time_to_target",
        "time_to_target_ci95",
        "reached_seeds",
        "never_seeds",
        "diverged_seeds",
        "diverged_at",
        "curve",
    }
    assert {"pssim_version", "experiment", "f_star", "target", "results_folder"} <= set(obj)
    assert obj["results_folder"] == str(out) and obj["target"]["on"] == "error"
    assert obj["experiment"]["num_learners"] == 4 and obj["experiment"]["k"] == 2
    assert obj["experiment"]["variants"] == ["sync", "async", "k-batch-async"]
    assert run["spec"]["variant"] == "sync" and run["spec"]["law"] == "exp:1.0"
    assert run["updates"] == 120 and run["time_budget"] is None
    assert set(run["runtime"]) == {"simulated", "theory", "relation"}
    assert run["curve"]["update"] == [0, 40, 80, 120]
    assert len(run["curve"]["time"]) == len(run["curve"]["loss"]) == 4
    assert run["curve"]["time"][0] == 0.0 and run["curve"]["loss"][-1] < run["curve"]["loss"][0]
    names = sorted(p.name for p in out.iterdir())
    figures = [f"{n}.{x}" for n in ("error_vs_time", "staleness") for x in ("pdf", "png", "svg")]
    assert names == sorted([*figures, "results.csv", "spec.toml", "summary.json"])
    frame = pd.read_csv(out / "results.csv")
    assert {
        "variant",
        "k",
        "seed",
        "update",
        "time",
        "loss",
        "error",
        "accuracy",
        "diverged",
    } <= set(frame.columns)
    assert set(frame["seed"]) == {0, 1}
    assert {"law", "lr", "data", "l2", "f_star", "target", "pssim_version"} <= set(frame.columns)
    assert set(frame["variant"]) == {"sync", "async", "k-batch-async"}
    assert not list(tmp_path.glob(".res*"))  # no temporary folder left behind


def test_compare_pairs_seeds_so_sync_and_k_sync_with_k_equal_p_coincide(capsys, tmp_path):
    code = status(
        [
            "compare",
            "--variants",
            "sync,k-sync",
            "-K",
            "4",
            *SMALL,
            "--json",
            "--out",
            str(tmp_path / "o"),
        ]
    )
    runs = json.loads(capsys.readouterr().out)["runs"]
    assert code == 0
    assert runs[0]["curve"] == runs[1]["curve"]
    assert runs[0]["runtime"]["simulated"] == runs[1]["runtime"]["simulated"]


def test_train_one_variant_table(capsys, tmp_path):
    code = status(
        [
            "train",
            "--variant",
            "k-async",
            "-K",
            "2",
            *SMALL,
            "--lr-rule",
            "compensated",
            "--out",
            str(tmp_path / "t"),
        ]
    )
    out = capsys.readouterr().out
    assert code == 0
    assert "k-async" in out and "Lemma 5" not in out and "exact" in out


@pytest.mark.parametrize(
    "extra,needle",
    [
        (["--batch", "5000"], "--batch must be <="),
        (["--lr", "-0.1"], "--lr must be a finite number > 0; got -0.1"),
        (["--lr", "nan"], "--lr must be"),
        (["--model", "resnet"], "--model must be one of"),
        (["--lr-rule", "adam"], "--lr-rule must be one of"),
        (["--data", "mnist:no/such/dir"], "--data"),
        (["--data", "imagenet"], "--data must be one of"),
        (["--data", "synthetic:blobs"], "--data must be one of"),
        (["--model", "least-squares"], "--model"),
        (["-K", "9"], "-K must be <= the number of learners P (4)"),
        (["--variant", "sync", "-K", "3"], "-K must be 4 (or not given) for variant 'sync'"),
        (["--divergence-factor", "1"], "--divergence-factor must be a finite number > 1"),
        (["--eval-every", "0"], "--eval-every must be >= 1; got 0"),
    ],
)
def test_bad_training_input_is_refused_before_anything_runs(capsys, tmp_path, extra, needle):
    out = tmp_path / "never"
    code = status(["train", "--variant", "k-sync", "-K", "2", *SMALL, "--out", str(out), *extra])
    err = capsys.readouterr().err
    assert code == 2
    assert needle in err and len(err.strip().splitlines()) == 1
    assert not out.exists() and not list(tmp_path.iterdir())


def test_k_avg_trains_and_refuses_other_rules(capsys, tmp_path):
    code = status(
        ["train", "--variant", "k-avg", "-K", "3", *SMALL, "--json", "--out", str(tmp_path / "a")]
    )
    run = json.loads(capsys.readouterr().out)["runs"][0]
    assert code == 0 and run["k"] == 3 and run["runtime"]["relation"] == "exact"
    code = status(
        [
            "train",
            "--variant",
            "k-avg",
            "-K",
            "3",
            *SMALL,
            "--lr-rule",
            "damped",
            "--out",
            str(tmp_path / "b"),
        ]
    )
    assert code == 2 and "--lr-rule must be fixed for k-avg" in capsys.readouterr().err


def test_out_folder_must_be_new_or_empty(capsys, tmp_path):
    (tmp_path / "keep.txt").write_text("x")
    code = status(["compare", *SMALL, "--out", str(tmp_path)])
    assert code == 2 and "--out must be a new or empty folder" in capsys.readouterr().err
