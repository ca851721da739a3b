"""Adaptive synchrony by co-simulation: a constant policy is one run, the loss a policy
reads is the loss the run reports, AdaSync's and the theory rule's K by hand, and the
policies from compare and the command line."""

from __future__ import annotations

import json
import math
import types

import numpy as np
import pytest

from simulator import ExperimentSpec, compare, cosimulate
from simulator.errors import PssimError, SpecError
from simulator.studies.adaptive import TheoryPolicy, adasync_k, iteration_times
from simulator.timing.engine import simulate_spec
from tests.simulator.cli_process import one_line, pssim

_SMALL = {"num_learners": 4, "updates": 60, "eval_every": 10, "lr": 0.05, "seeds": 2}


@pytest.fixture(scope="module")
def problem():
    from models import build_model, load_dataset
    from simulator.training import make_rule
    from simulator.training.optimum import optimal_loss

    dataset = load_dataset("digits")
    model = build_model("softmax", dataset, 0.01)
    return model, dataset, make_rule("fixed", 0.05), optimal_loss(model, dataset)


def test_a_policy_that_keeps_k_is_one_run_trace_and_curves(problem):
    # AdaSync on K-sync with K_0 = P can only keep K = P: co-simulated in chunks of 15
    # updates, trace and curves must be those of one run of sync
    model, dataset, rule, f_star = problem
    adaptive = ExperimentSpec(variant="k-sync", k=4, k_policy="loss", k_every=15, **_SMALL)
    fixed = ExperimentSpec(variant="k-sync", k=4, **_SMALL)
    trace, decisions = cosimulate(
        adaptive, 3, model=model, dataset=dataset, rule=rule, f_star=f_star
    )
    one = simulate_spec(fixed, 3)
    assert [d.update for d in decisions] == [15, 30, 45]
    assert all(d.k == 4 for d in decisions)
    for name in ("update_time", "learner", "version", "start", "finish", "mask"):
        np.testing.assert_array_equal(getattr(trace, name), getattr(one, name))
    assert trace.update_k.size == 0  # K never changed
    runs = [
        compare(spec, variants=["k-sync"], model=model, dataset=dataset).runs[0]
        for spec in (adaptive, fixed)
    ]
    np.testing.assert_array_equal(runs[0].result.loss, runs[1].result.loss)
    assert runs[0].k_curve is None


@pytest.mark.parametrize("schedule", [None, "warmup:20+cosine"])
def test_the_error_a_policy_reads_is_the_error_the_run_reports(problem, schedule):
    # with a learning-rate schedule too: each decision's replay spans the run's J updates
    model, dataset, _, f_star = problem
    from simulator.training import make_rule

    spec = ExperimentSpec(
        variant="k-sync", k=1, k_policy="loss", k_every=10, **{**_SMALL, "lr": 0.5}
    ).replace(batch_size=16, lr_schedule=schedule)
    rule = make_rule("fixed", 0.5)
    run = compare(spec, variants=["k-sync"], model=model, dataset=dataset, f_star=f_star)
    r = run.runs[0].result
    trace, decisions = cosimulate(spec, 0, model=model, dataset=dataset, rule=rule, f_star=f_star)
    assert [d.update for d in decisions] == [10, 20, 30, 40, 50]
    for d in decisions:
        assert d.value == r.error[0, list(r.eval_update).index(d.update)]
    ks = [d.k for d in decisions]
    assert ks == sorted(ks) and 1 <= ks[0] and ks[-1] <= 4  # AdaSync never lowers K
    assert ks[-1] > 1  # the error fell enough for K to grow on this problem
    want = [1] * 10 + [k for k in ks for _ in range(10)]
    np.testing.assert_array_equal(trace.k_per_update(), want)
    assert f"k-sync: K by the loss policy, from 1 to {ks[-1]} at the end" in run.table()
    k_curve = run.runs[0].k_curve
    assert k_curve.shape == r.loss.shape and k_curve[0, 0] == 1 and k_curve[0, -1] == ks[-1]


@pytest.mark.parametrize(
    ("variant", "k0", "ratio", "want"),
    [
        ("k-async", 1, 4.0, 2),  # K_0 sqrt(4)
        ("k-batch-async", 2, 9.0, 6),  # 2 sqrt(9)
        ("k-async", 3, 100.0, 8),  # 30, kept within P = 8
        ("k-sync", 1, 7.0, 2),  # K^2 / (8 - K) = 1: K = (-1 + sqrt(33)) / 2 = 2.37
        ("k-sync", 1, 70.0, 5),  # = 10: K = (-10 + sqrt(420)) / 2 = 5.25
        ("k-batch-sync", 8, 3.0, 8),  # K_0 = P stays P
        ("k-sync", 2, 1.0, 2),  # no progress: K_0
    ],
)
def test_adasync_k_by_hand(variant, k0, ratio, want):
    assert adasync_k(variant, k0, 8, ratio, 1.0) == want


def test_adasync_k_at_the_edges():
    assert adasync_k("k-sync", 2, 8, 1.0, math.nan) == 2  # diverged: K kept
    assert adasync_k("k-sync", 2, 8, 1.0, 0.0) == 8  # the optimum reached
    assert adasync_k("k-async", 1, 8, 0.0, 0.5) == 1  # no error at the start


def test_the_theory_policy_picks_the_k_with_the_smallest_predicted_time_by_hand():
    spec = ExperimentSpec(
        variant="k-sync", num_learners=4, k=1, k_policy="theory", updates=100, lr=0.1
    )
    times, sources = iteration_times(spec)
    np.testing.assert_allclose(times, [1 / 4, 1 / 4 + 1 / 3, 1 / 4 + 1 / 3 + 1 / 2, 25 / 12])
    assert sources == ["exact"] * 4
    constants = types.SimpleNamespace(L=2.0, c=0.5, sigma2=1.0)
    policy = TheoryPolicy(spec, lambda trace: (1.0, 1.0), constants)
    error = 0.3
    floors = 0.1 * 2.0 * 1.0 / (2 * 0.5 * np.arange(1, 5))  # eta L sigma^2 / (2 c K m)
    reach = error / 2 > floors
    steps = np.ceil(np.log((error / 2 - floors[reach]) / (error - floors[reach])) / np.log(0.95))
    want = np.full(4, np.inf)
    want[reach] = steps * times[reach]
    np.testing.assert_allclose(policy.predicted_times(error), want)
    assert np.isinf(want[0]) and np.isfinite(want[1:]).all()  # K = 1's floor 0.2 is above
    assert policy.choose(1.0, error, 10) == int(np.argmin(want)) + 1
    assert policy.choose(1.0, 1e-6, 20) == 4  # below every floor: P, the lowest


def test_a_c_within_rounding_of_zero_is_no_strong_convexity():
    spec = ExperimentSpec(
        variant="k-sync", num_learners=4, k=1, k_policy="theory", updates=100, eval_every=10
    )
    rounding = types.SimpleNamespace(L=2.0, c=1.5e-15, sigma2=0.01)
    policy = TheoryPolicy(spec, lambda trace: (1.0, 1.0), rounding)  # eval_every is no bar
    assert policy.hessian_c is None
    assert policy.choose(1.0, 0.5, 10) < 4  # not P at once, as c = 1.5e-15 would give


def test_the_theory_policy_reads_the_contraction_where_c_is_zero():
    spec = ExperimentSpec(
        variant="k-sync", num_learners=4, k=1, k_policy="theory", updates=100, lr=0.1
    )
    flat = types.SimpleNamespace(L=2.0, c=0.0, sigma2=0.01)
    policy = TheoryPolicy(spec, lambda trace: (1.0, 1.0), flat)
    assert policy.choose(1.0, 1.0, 10) == 1  # no fall yet: K kept
    policy.choose(1.0, 0.5, 20)  # halved over 10 updates at K = 1
    f = 0.1 * 2.0 * 0.01 / (2 * policy.c * 1 * 1)  # Lemma 2's floor with that c
    rho = (1 - 0.1 * policy.c) ** 10
    assert rho * 1.0 + (1 - rho) * f == pytest.approx(0.5, rel=1e-9)
    assert policy.c * 0.1 > 1 - 0.5 ** (1 / 10)  # faster than with the floor neglected
    policy.choose(1.0, 1e-6, 30)  # below lr^2 L sigma^2 / (2 K m): no c explains it
    assert policy.c * 0.1 == pytest.approx(1 - (1e-6 / 0.5) ** (1 / 10))


def test_the_theory_policy_needs_f_star(problem):
    model, dataset, rule, _ = problem
    spec = ExperimentSpec(variant="k-sync", k=1, k_policy="theory", **_SMALL)
    with pytest.raises(PssimError, match="needs F\\*"):
        cosimulate(spec, 0, model=model, dataset=dataset, rule=rule, f_star=None)


def test_train_runs_a_loss_policy_from_the_command_line(tmp_path):
    argv = ["train", "--variant", "k-sync", "-P", "4", "-K", "1", "--k-policy", "loss"]
    argv += ["--k-every", "10", "--iterations", "40", "--seeds", "1", "--lr", "0.05"]
    argv += ["--json", "--out", str(tmp_path / "out")]
    code, out, err = pssim(argv, cwd=tmp_path, timeout=300)
    assert code == 0, err
    (run,) = json.loads(out)["runs"]
    assert run["spec"]["k_policy"] == "loss" and run["spec"]["k_every"] == 10
    ks = run["curve"]["k"][0]
    assert len(ks) == len(run["curve"]["update"]) and ks[0] == 1 and ks == sorted(ks)
    assert (tmp_path / "out" / "error_vs_time.png").is_file()


def test_runtime_refuses_a_policy_that_reads_the_loss(tmp_path):
    argv = ["runtime", "--variant", "k-sync", "-P", "4", "-K", "1", "--k-policy", "theory"]
    code, _, err = pssim(argv, cwd=tmp_path)
    assert code == 2
    assert one_line(err).startswith("pssim: error: --k-policy theory reads the training loss")


def test_a_training_sweep_puts_the_loss_policy_beside_fixed_k(tmp_path):
    from simulator import sweep

    config = tmp_path / "adaptive.toml"
    config.write_text(
        '[timing]\nvariant = "k-sync"\nlearners = 4\ndist = "shifted-exp:1,1"\n'
        "iterations = 40\nseeds = 1\n\n[training]\nlr = 0.3\nbatch = 16\neval-every = 10\n\n"
        '[[zip]]\nK = [1, 1]\nk-policy = ["none", "loss"]\nk-every = [10, 10]\n'
    )
    frame = sweep(config, tmp_path / "out", scheduler="serial").frame()
    fixed = frame[frame["k_policy"].isna()]
    adaptive = frame[frame["k_policy"] == "loss"]
    assert len(fixed) == len(adaptive) == 5  # evaluation points 0, 10, ..., 40
    assert (fixed["k_now"] == 1).all() and fixed["k_every"].isna().all()
    assert (adaptive["k_every"] == 10).all()  # "none" drops the k-every it is zipped with
    ks = adaptive.sort_values("update")["k_now"].tolist()
    assert ks[0] == 1 and ks == sorted(ks) and ks[-1] > 1  # the policy ran


def test_with_a_service_time_a_policy_decides_once_the_update_is_applied(problem):
    model, dataset, rule, f_star = problem
    spec = ExperimentSpec(
        variant="k-async", k=1, k_policy="loss", k_every=10, service_time="exp:0.05", **_SMALL
    )
    trace, decisions = cosimulate(spec, 1, model=model, dataset=dataset, rule=rule, f_star=f_star)
    assert [d.update for d in decisions] == [10, 20, 30, 40, 50]
    run = compare(spec, variants=["k-async"], model=model, dataset=dataset, f_star=f_star)
    r = run.runs[0].result
    for d in decisions:
        assert d.value == r.error[1, list(r.eval_update).index(d.update)]
        assert trace.update_time[d.update - 1] <= d.time + 1e-12


def test_cosimulate_refuses_a_variant_without_a_k_policy(problem):
    model, dataset, rule, f_star = problem
    spec = ExperimentSpec(variant="async", k_policy="loss", **_SMALL)
    with pytest.raises(PssimError, match="with a K-variant"):
        cosimulate(spec, 0, model=model, dataset=dataset, rule=rule, f_star=f_star)
    theory = ExperimentSpec(variant="k-async", k=1, k_policy="theory", **_SMALL)
    with pytest.raises(PssimError, match="'theory' predicts with Lemma 2"):
        cosimulate(theory, 0, model=model, dataset=dataset, rule=rule, f_star=f_star)


def test_compare_gives_a_policy_to_the_variants_that_take_it(problem):
    model, dataset, _, f_star = problem
    spec = ExperimentSpec(variant="k-sync", k=1, k_policy="theory", **_SMALL)
    cmp = compare(
        spec, variants=["k-sync", "k-async", "sync"], model=model, dataset=dataset, f_star=f_star
    )
    policies = {run.variant: run.spec.k_policy for run in cmp.runs}
    assert policies == {"k-sync": "theory", "k-async": None, "sync": None}
    cmp = compare(spec, variants=["sync"], model=model, dataset=dataset, f_star=f_star)
    assert cmp.runs[0].spec.k_policy is None  # a template may carry it (the CLI refuses)


def test_a_timing_sweep_refuses_a_policy_that_reads_the_loss(tmp_path):
    from simulator import SweepSpec

    with pytest.raises(SpecError, match="runs in a training sweep"):
        SweepSpec(
            kind="timing",
            base={"variant": "k-sync", "num_learners": 4, "k": 1, "k_policy": "loss"},
            grid={"updates": [20, 40]},
        )


def test_the_error_figure_draws_k_under_the_curves_of_an_adaptive_run(problem):
    from simulator import error_figure

    model, dataset, _, f_star = problem
    spec = ExperimentSpec(
        variant="k-sync", k=1, k_policy="schedule", k_schedule="0:1,30:3", **_SMALL
    )
    fixed = compare(spec.replace(k_policy=None, k_schedule=None, k=2), variants=["k-sync"],
                    model=model, dataset=dataset, f_star=f_star).runs[0]  # fmt: skip
    adaptive = compare(spec, variants=["k-sync"], model=model, dataset=dataset, f_star=f_star)
    fig = error_figure([fixed, adaptive.runs[0]], f_star=f_star)
    assert len(fig.axes) == 4 and fig.axes[2].get_ylabel() == "K (mean over seeds)"
    (line,) = fig.axes[3].get_lines()  # one K line: the adaptive run's, against iterations
    x, y = line.get_data()
    assert set(np.asarray(y)) == {1.0, 3.0} and np.asarray(x)[np.asarray(y) == 3.0].min() == 30
    labels = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert "k-sync (K: schedule policy, K_0=1)" in labels


def test_the_cli_refuses_a_policy_or_a_limit_that_no_variant_takes(tmp_path):
    argv = ["compare", "--variants", "sync,async", "-P", "4", "--iterations", "20"]
    for extra, name in ((["--k-policy", "loss"], "k-policy"), (["--staleness-limit", "3"], "")):
        code, _, err = pssim([*argv, *extra], cwd=tmp_path)
        assert code == 2 and "no" in one_line(err) and name in one_line(err)
    assert not any(tmp_path.iterdir())  # nothing written
