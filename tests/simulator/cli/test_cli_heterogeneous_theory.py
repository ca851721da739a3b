"""``pssim theory`` and ``pssim runtime`` for non-identical learners, run as a user does:
per-learner ``--laws``, ``--speeds`` with ``--dist``, a fitted-style config, and measured
durations (resampled per worker: theory; replayed in order: none, with the reason)."""

from __future__ import annotations

import json
import math

from cli_process import one_line, pssim
from scipy import stats

from distributions import Empirical
from simulator import ExperimentSpec, independent_order_statistic_mean
from simulator.measured import durations_path, read_durations

RATES = (0.25, 0.5, 1, 1, 2, 4, 4, 8)
LAWS = ["--laws", *(f"exp:{r}" for r in RATES), "-P", "8"]


def test_theory_of_exponential_learners_of_eight_rates_is_exact(tmp_path):
    code, out, err = pssim(
        ["theory", *LAWS, "-K", "3", "--iterations", "5000", "--json"], cwd=tmp_path
    )
    assert code == 0, err
    data = json.loads(out)
    assert data["distribution"] is None and data["laws"][0] == "exp:0.25"
    runtime = data["runtime"]
    bounded = ("rennala", "ringmaster")  # discarded gradients: bounds by construction
    assert {v["relation"] for name, v in runtime.items() if name not in bounded} == {"exact"}
    assert math.isclose(runtime["async"]["mean"], 5000 / sum(RATES), rel_tol=1e-12)
    assert math.isclose(runtime["k-batch-sync"]["mean"], 5000 * 3 / sum(RATES), rel_tol=1e-12)
    p0 = data["async_staleness"]["p0"]
    assert p0["relation"] == "exact"
    assert math.isclose(p0["mean"], sum(r * r for r in RATES) / sum(RATES) ** 2)
    code, out, err = pssim(["theory", *LAWS, "-K", "3", "--iterations", "5000"], cwd=tmp_path)
    assert code == 0, err
    assert "sum_l 1/E[X_l] = 20.75" in out and "(independent learners)" in out
    assert "Poisson pushes" in out and "Erlang(K, sum_l rate_l)" in out


def test_runtime_puts_the_heterogeneous_theory_beside_simulation(tmp_path):
    args = ["runtime", *LAWS, "--variant", "async", "--iterations", "2000", "--seeds", "40"]
    code, out, err = pssim([*args, "--json"], cwd=tmp_path)
    assert code == 0, err
    data = json.loads(out)
    theory, simulated = data["theory"], data["simulated"]
    assert theory["relation"] == "exact"
    assert math.isclose(theory["mean"], 2000 / sum(RATES), rel_tol=1e-12)
    se = simulated["std"] / math.sqrt(40)
    assert abs(simulated["mean"] - theory["mean"]) <= stats.norm.ppf(0.995) * se
    code, out, err = pssim(args, cwd=tmp_path)
    assert code == 0 and "exact (Poisson pushes: J K / sum_l rate_l)" in out


def test_speeds_with_one_law_and_a_fitted_config(tmp_path):
    speeds = ["--speeds", "1", "2", "0.5", "1.5"]
    args = ["theory", "--dist", "lognormal:0,0.5", "-P", "4", *speeds, "-K", "2", "--json"]
    code, out, err = pssim(args, cwd=tmp_path)
    assert code == 0, err
    runtime = json.loads(out)["runtime"]
    relations = {name: value["relation"] for name, value in runtime.items()}
    assert relations["sync"] == relations["k-sync"] == "exact"
    assert relations["async"] == relations["k-batch-async"] == "asymptotic"
    assert relations["k-async"] == relations["k-batch-sync"] == "none"
    # the same learners from a config file (what pssim fit writes: learners, speeds, dist)
    spec = ExperimentSpec(num_learners=4, law="lognormal:0,0.5", speeds=[1, 2, 0.5, 1.5])
    (tmp_path / "fitted.toml").write_text(spec.to_toml())
    code, out, err = pssim(["theory", "--config", "fitted.toml", "-K", "2", "--json"], cwd=tmp_path)
    assert code == 0, err
    assert json.loads(out)["runtime"] == runtime


def test_measured_durations_resampled_have_order_statistics_replayed_none(tmp_path):
    args = ["theory", "--durations", "llm-se", "--durations-mode", "resample", "-K", "48"]
    code, out, err = pssim([*args, "--iterations", "43", "--json"], cwd=tmp_path)
    assert code == 0, err
    data = json.loads(out)
    assert data["learners"] == 64 and data["durations"] == "llm-se"
    laws = [Empirical(d) for d in read_durations(durations_path("llm-se")).durations]
    expected = 43 * independent_order_statistic_mean(laws, 48)
    assert data["runtime"]["k-sync"]["relation"] == "exact"
    assert math.isclose(data["runtime"]["k-sync"]["mean"], expected, rel_tol=1e-12)
    code, out, err = pssim(
        ["runtime", "--durations", "llm-se", "--variant", "sync", "--iterations", "43", "--json"],
        cwd=tmp_path,
    )
    assert code == 0, err
    theory = json.loads(out)["theory"]
    assert theory["relation"] == "none" and "replayed in order" in theory["source"]


def test_bad_per_learner_laws_are_one_line_refusals(tmp_path):
    code, _, err = pssim(["theory", "--laws", "exp:1", "exp:-1", "-P", "2"], cwd=tmp_path)
    assert code == 2
    assert one_line(err) == "pssim: error: --laws: `Exponential.rate` must be > 0; got -1.0"
    code, _, err = pssim(
        ["theory", "--dist", "exp:1", "-P", "2", "--speeds", "1", "0"], cwd=tmp_path
    )
    assert code == 2 and "--speeds must be a finite number > 0; got 0" in one_line(err)
