"""The error theory beside real training: Lemma 2 holds for K-sync on least squares, and its
floor scales as 1/K; error_bounds evaluates the paper's formulas on the problem's constants."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from models import least_squares, synthetic_least_squares
from simulator import (
    ExperimentSpec,
    FixedRate,
    error_figure,
    ksync_error_bound,
    replay,
    simulate,
)
from simulator.errors import PssimError
from simulator.studies.bounds import error_bounds
from simulator.training.constants import problem_constants

DATA = synthetic_least_squares(num_examples=400, dim=5, noise=0.5, seed=2, condition=5.0)
MODEL = least_squares(5)
LR, P, UPDATES, SEEDS = 0.05, 8, 1200, 24
#: one-sided confidence of the statistical checks below (each fails by chance w.p. 0.1%)
Z = stats.norm.ppf(0.999)


@pytest.fixture(scope="module")
def constants():
    return problem_constants(MODEL, DATA)


@pytest.fixture(scope="module")
def ksync_runs():
    """Error curves (S, E) of K-sync for K = 1, 2, 4, 8 (P = 8, m = 1), paired seeds."""
    out = {}
    for k in (1, 2, 4, 8):
        traces = [
            simulate("k-sync", num_learners=P, k=k, law="exp:1", updates=UPDATES, seed=s)
            for s in range(SEEDS)
        ]
        out[k] = replay(traces, MODEL, DATA, batch_size=1, rule=FixedRate(LR), eval_every=40)
    return out


def test_constants_are_the_closed_forms(constants):
    opt = DATA.optimum
    assert constants.L == pytest.approx(opt["L"], rel=1e-6)
    assert constants.c == pytest.approx(opt["c"], rel=1e-6)
    assert constants.sigma2 == pytest.approx(opt["sigma2"], rel=1e-6)
    assert constants.f_star == pytest.approx(opt["f_star"], rel=1e-9)


def test_ksync_error_stays_under_lemma2_at_every_evaluation(ksync_runs, constants):
    for k, result in ksync_runs.items():
        e0 = float(np.mean(result.error[:, 0]))
        bound = ksync_error_bound(
            result.eval_update,
            lr=LR,
            L=constants.L,
            c=constants.c,
            sigma2=constants.sigma2,
            K=k,
            m=1,
            initial_error=e0,
            M_G=constants.M_G,
        )
        assert bound.valid, [str(c) for c in bound.failed()]
        err = result.error
        mean, se = err.mean(axis=0), err.std(axis=0, ddof=1) / np.sqrt(err.shape[0])
        # the mean error over seeds is below the bound on E[F(w_J)] - F* at every point
        # (one-sided, 99.9% per point; w0 differs by seed, so e0 is the seeds' mean)
        assert np.all(mean[1:] <= bound.value[1:] + Z * se[1:]), (k, mean, bound.value)


def test_ksync_floor_scales_as_one_over_k(ksync_runs):
    """log(floor) against log(K) has slope -1 (Lemma 2's eta L sigma^2 / (2 c K m)).

    The floor of a seed is its mean error over the last half of the run; the slope's
    standard error comes from the seeds (delta method); the allowance 0.08 covers the
    O(eta L) terms of the exact stationary error that Lemma 2's first-order floor drops.
    """
    ks = np.array(sorted(ksync_runs))
    logs, variances = [], []
    for k in ks:
        err = ksync_runs[k].error
        floors = err[:, err.shape[1] // 2 :].mean(axis=1)
        logs.append(np.log(floors.mean()))
        variances.append(floors.var(ddof=1) / len(floors) / floors.mean() ** 2)
    x = np.log(ks) - np.log(ks).mean()
    weights = x / np.sum(x**2)
    slope = float(np.sum(weights * np.array(logs)))
    se = float(np.sqrt(np.sum(weights**2 * np.array(variances))))
    assert abs(slope + 1) <= Z * se + 0.08, (slope, se)  # two-sided 99.8%
    assert se < 0.1  # the test has the power to tell 1/K from, e.g., 1/sqrt(K)


def test_error_bounds_evaluates_lemma2_by_hand(constants):
    spec = ExperimentSpec(
        variant="k-sync",
        num_learners=4,
        k=2,
        model="least-squares",
        data="synthetic:least-squares",
        lr=0.05,
        updates=1000,
    )
    report = error_bounds(spec, model=MODEL, dataset=DATA, constants=constants)
    lemma2 = report.bounds["lemma2"]
    floor = 0.05 * constants.L * constants.sigma2 / (2 * constants.c * 2 * 1)
    assert lemma2.extra["floor"] == pytest.approx(floor, rel=1e-12)
    e0 = constants.loss_init - constants.f_star
    want = floor + (1 - 0.05 * constants.c) ** 1000 * (e0 - floor)
    assert float(lemma2.value[-1]) == pytest.approx(want, rel=1e-12)
    # figure 7's time axis is Lemma 3: J E[X_{2:4}] for exp(1) = J (1/4 + 1/3)
    assert float(report.curve.times[-1]) == pytest.approx(1000 * (1 / 4 + 1 / 3), rel=1e-12)
    assert report.assumptions == {}
    assert report.to_dict()["bounds"]["lemma2"]["valid"] is True


def test_error_bounds_reports_async_assumptions(constants):
    spec = ExperimentSpec(
        variant="async",
        num_learners=4,
        model="least-squares",
        data="synthetic:least-squares",
        lr=0.05,
        updates=500,
        rule="compensated",
        lr_c=1e-4,
    )
    report = error_bounds(spec, model=MODEL, dataset=DATA, constants=constants)
    assert set(report.assumptions) == {"gamma", "p0"}
    assert {"theorem3", "theorem4", "stale_can_win"} <= set(report.bounds)
    # gamma = 0 and p0 = 1/4: gamma' = 1 + 1/8, so async contracts faster per iteration
    assert report.bounds["stale_can_win"].value == pytest.approx(1.125)
    measured = error_bounds(
        spec, model=MODEL, dataset=DATA, constants=constants, gamma=0.5, p0=0.25
    )
    assert measured.assumptions == {} and not measured.bounds["stale_can_win"].valid


def test_error_figure_draws_bounds_beside_the_runs(ksync_runs, constants):

    result = ksync_runs[2]
    report = error_bounds(
        ExperimentSpec(
            variant="k-sync",
            num_learners=P,
            k=2,
            model="least-squares",
            data="synthetic:least-squares",
            lr=LR,
            updates=UPDATES,
        ),
        model=MODEL,
        dataset=DATA,
        constants=constants,
    )

    class Run:
        variant, k, diverged_seeds = "k-sync", 2, []

    Run.result = result
    fig = error_figure([Run()], f_star=constants.f_star, bounds=[report.curve])
    ax_t, ax_j = fig.axes
    dashed = [line for line in ax_j.lines if line.get_linestyle() == "--"]
    assert len(dashed) == 1
    np.testing.assert_array_equal(dashed[0].get_xdata(), report.curve.iterations)
    assert any("bound: Lemma 2" in t.get_text() for t in ax_t.get_legend().get_texts())


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        (dict(points=1), r"`points` must be an integer in \[2, 100000\]"),
        (dict(gamma=-1.0), "`gamma` must be >= 0"),
        (dict(p0=float("nan")), "`p0` must be finite"),
    ],
)
def test_error_bounds_refuses_bad_arguments(kwargs, match):
    with pytest.raises(PssimError, match=match):
        error_bounds(ExperimentSpec(), **kwargs)


def test_error_bounds_refuses_a_time_budget():
    with pytest.raises(PssimError, match="`time_budget` must not be given"):
        error_bounds(ExperimentSpec(time_budget=10.0))


def test_error_bounds_refuses_heterogeneous_learners():
    spec = ExperimentSpec(num_learners=2, laws=["exp:1", "exp:2"])
    with pytest.raises(PssimError, match=r"i\.i\.d\. learners"):
        error_bounds(spec)


def test_bound_curves_follow_the_runs_of_a_comparison():
    from simulator import compare
    from simulator.studies.bounds import bound_curves

    spec = ExperimentSpec(
        variant="k-sync",
        num_learners=4,
        k=2,
        model="least-squares",
        data="synthetic:least-squares",
        lr=0.05,
        updates=200,
        seeds=1,
    )
    result = compare(spec, variants=["k-sync", "async", "k-avg"])
    curves = bound_curves(result)
    assert [c is None for c in curves] == [False, False, True]
    assert curves[0].bound.citation.endswith("Lemma 2")
    assert "Theorem 3" in curves[1].bound.citation
    assert curves[1].iterations[-1] == 200
