"""``pssim bounds`` as a user runs it: text, JSON, refusals."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from cli_process import one_line, pssim

LS = ["--model", "least-squares", "--data", "synthetic:least-squares", "--lr", "0.05"]


def test_bounds_prints_constants_and_each_bound(tmp_path):
    args = ["bounds", "--variant", "k-sync", "-P", "4", "-K", "2", *LS]
    code, out, err = pssim(args, cwd=tmp_path)
    assert code == 0, err
    assert "constants at optimum: L=" in out
    assert "lemma2" in out and "step_limit" in out and "largest learning rate" in out
    assert "figure 7: error bound" in out and "Lemma 3" in out


def test_bounds_json_has_the_curve_and_assumptions(tmp_path):
    args = ["bounds", "--variant", "async", "-P", "8", "--iterations", "500", "--json", *LS]
    code, out, err = pssim(args, cwd=tmp_path)
    assert code == 0, err
    data = json.loads(out)
    assert set(data["bounds"]) >= {"theorem3", "stale_can_win", "step_limit"}
    assert data["curve"]["iterations"][-1] == 500
    assert len(data["curve"]["times"]) == len(data["curve"]["errors"])
    assert data["assumptions"]["p0"].startswith("1/P = 0.125")
    assert "best case" in data["assumptions"]["gamma"]
    assert data["constants"]["L"] > data["constants"]["c"] > 0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--p0", "1.5"], "argument --p0: must be in [0, 1]; got 1.5"),
        (["--gamma", "-1"], "argument --gamma: must be a finite number >= 0; got -1"),
        (["--lr", "0"], "--lr must be a finite number > 0; got 0.0"),
        (["--iterations", "0"], "--iterations must be >= 1; got 0"),
    ],
)
def test_bounds_refuses_bad_options(tmp_path, args, message):
    code, out, err = pssim(["bounds", *LS, *args], cwd=tmp_path)
    assert code == 2 and out == ""
    assert message in one_line(err)


def test_compare_draws_bounds_beside_the_curves(tmp_path):
    args = ["compare", "--variants", "sync,async", "-P", "4", "--iterations", "300"]
    code, _, err = pssim([*args, "--seeds", "2", "--bounds", "--out", "res", *LS], cwd=tmp_path)
    assert code == 0, err
    assert (tmp_path / "res" / "error_vs_time.png").stat().st_size > 10_000
    bounds = pd.read_csv(tmp_path / "res" / "bounds.csv")
    assert set(bounds["variant"]) == {"sync", "async"} and bounds["error_bound"].gt(0).all()
    # softmax with a bias is not strongly convex: no curve, the figure is still drawn
    code, out, err = pssim(
        [*args, "--seeds", "1", "--bounds", "--out", "soft", "--lr", "0.05"], cwd=tmp_path
    )
    assert code == 0, err
    assert (tmp_path / "soft" / "error_vs_time.png").is_file()
    assert not (tmp_path / "soft" / "bounds.csv").exists()
    assert "no error bound for sync" in out


def test_bounds_for_compensated_rule_and_laws_without_a_p0(tmp_path):
    args = ["bounds", "--variant", "async", "-P", "4", "--iterations", "400", *LS]
    code, out, err = pssim([*args, "--lr-rule", "compensated", "--json"], cwd=tmp_path)
    assert code == 0, err
    data = json.loads(out)
    assert "Theorem 4" in data["curve"]["label"]  # C defaults to 0.005 eta_max
    code, out, err = pssim([*args, "--dist", "shifted-exp:1,1", "--json"], cwd=tmp_path)
    assert code == 0, err
    assert json.loads(out)["assumptions"]["p0"].startswith("0 (Lemma 8 gives no lower bound")
