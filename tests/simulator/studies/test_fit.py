"""``fit_cluster``: maximum-likelihood recovery, the choice by held-out fit, censored logs,
the speeds model, the verdicts on the papers' assumptions, and the config round trip.

Tolerances come from the estimators' standard errors: an estimate must lie within 3.29
standard errors of the truth (a two-sided 99.9% interval), the standard error taken from
the observed information (the Hessian of the log-likelihood, ``scipy.differentiate``) of
the rows the fit saw; a threshold (a shift, a Pareto scale), estimated by the smallest
duration, must lie in its exact one-sided 99.9% interval.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import scipy.stats
from scipy.differentiate import hessian

from distributions import parse_law
from simulator import (
    ExperimentSpec,
    FitCandidate,
    PssimError,
    PssimTypeError,
    fit_cluster,
    read_durations,
)
from simulator.studies import _fit_scores
from simulator.studies.fit import FAMILY_NAMES

Z999 = 3.29  # two-sided 99.9% normal quantile
TAIL = 0.001  # one-sided 99.9% for thresholds

#: A true law of each family (pssim spec strings).
TRUE = {
    "exp": "exp:0.5",
    "shifted-exp": "shifted-exp:2,0.8",
    "gamma": "gamma:4,2",
    "lognormal": "lognormal:0.5,0.3",
    "weibull": "weibull:2.5,3",
    "pareto": "pareto:1.5,1.5",
}
#: scipy log-density of a family at pssim parameters theta (the definitions in
#: distributions/, written out independently of the fitting code).
LOGPDF = {
    "exp": lambda x, t: scipy.stats.expon.logpdf(x, scale=1 / t[0]),
    "shifted-exp": lambda x, t: scipy.stats.expon.logpdf(x, loc=t[0], scale=1 / t[1]),
    "gamma": lambda x, t: scipy.stats.gamma.logpdf(x, t[0], scale=1 / t[1]),
    "lognormal": lambda x, t: scipy.stats.norm.logpdf(np.log(x), t[0], t[1]) - np.log(x),
    "weibull": lambda x, t: scipy.stats.weibull_min.logpdf(x, t[0], scale=t[1]),
    "pareto": lambda x, t: scipy.stats.pareto.logpdf(x, t[0], scale=t[1]),
}
SHIPPED = (
    Path(__file__).resolve().parents[3].parent / "shared/data/cluster-traces/llm-SE-compute.csv"
)


def write_log(path: Path, durations: np.ndarray, censored: np.ndarray | None = None) -> Path:
    """A durations CSV of a (W, S) array: workers 0..W-1 (ids 10, 20, ...), steps 0..S-1."""
    w, s = durations.shape
    frame = pd.DataFrame(
        {
            "worker": np.repeat(np.arange(1, w + 1) * 10, s),
            "step": np.tile(np.arange(s), w),
            "duration": durations.ravel(),
        }
    )
    if censored is not None:
        frame["censored"] = censored.ravel()
    frame.to_csv(path, index=False)
    return path


def draw(spec: str, shape, seed: int) -> np.ndarray:
    return parse_law(spec).sample(shape, rng=np.random.default_rng(seed))


def values(law) -> np.ndarray:
    return np.array([float(v) for v in law.spec.split(":")[1].split(",")])


def covariance(loglik, theta: np.ndarray) -> np.ndarray:
    """The inverse observed information, (-H)^-1, of ``loglik`` at ``theta`` (the Hessian
    taken in relative steps, theta (1 + z), then scaled back)."""

    def f(z):
        cols = z.reshape(len(theta), -1)
        out = [loglik(theta * (1 + cols[:, j])) for j in range(cols.shape[1])]
        return np.asarray(out).reshape(z.shape[1:])

    h = hessian(f, np.zeros(len(theta)), initial_step=0.05).ddf
    return np.diag(theta) @ np.linalg.inv(-h) @ np.diag(theta)


def standard_errors(loglik, theta: np.ndarray) -> np.ndarray:
    return np.sqrt(np.diag(covariance(loglik, theta)))


def candidate(fit, structure: str, family: str) -> FitCandidate:
    return next(c for c in fit.candidates if (c.structure, c.family) == (structure, family))


@pytest.mark.parametrize("family", FAMILY_NAMES)
def test_recovers_the_parameters_of_each_family(tmp_path, family):
    path = write_log(tmp_path / "log.csv", draw(TRUE[family], (4, 1000), seed=1))
    fit = fit_cluster(path, families=[family], seed=3)
    one = candidate(fit, "a", family)
    x, n = fit.split.train.x, fit.split.train.n
    truth, got = values(parse_law(TRUE[family])), values(one.dist)
    if family in ("shifted-exp", "pareto"):  # threshold = the smallest duration
        at = 0 if family == "shifted-exp" else 1
        assert got[at] == x.min()
        if family == "shifted-exp":  # n rate (min - shift) ~ Exp(1)
            assert 0 <= got[0] - truth[0] <= -math.log(TAIL) / (n * truth[1])
        else:  # min / scale ~ Pareto(n shape)
            assert 1 <= got[1] / truth[1] <= TAIL ** (-1 / (n * truth[0]))
        other = 1 - at

        def loglik(t, at=at, other=other):
            theta = got.copy()
            theta[other] = t[0]
            return LOGPDF[family](x, theta).sum()

        se = standard_errors(loglik, got[[other]])
        assert abs(got[other] - truth[other]) <= Z999 * se[0], (got, truth, se)
    else:
        se = standard_errors(lambda t: LOGPDF[family](x, t).sum(), got)
        assert np.all(np.abs(got - truth) <= Z999 * se), (got, truth, se)
    # the reported log-likelihood is the law's on the training rows, and no nearby point
    # of a free (non-threshold) parameter beats it: the fit is a maximum
    best = LOGPDF[family](x, got).sum()
    assert one.train_loglik == pytest.approx(best, rel=1e-12)
    free = [1] if family == "shifted-exp" else [0] if family == "pareto" else range(len(got))
    for i in free:
        for factor in (0.999, 1.001):
            moved = got.copy()
            moved[i] *= factor
            assert LOGPDF[family](x, moved).sum() < best


@pytest.mark.parametrize("family", ["exp", "gamma", "lognormal", "weibull"])
def test_chooses_the_true_family_for_identical_workers(tmp_path, family):
    path = write_log(tmp_path / "log.csv", draw(TRUE[family], (4, 500), seed=2))
    fit = fit_cluster(path, seed=5)
    assert (fit.best.structure, fit.best.family) == ("a", family), fit.summary()


@pytest.mark.parametrize("family", ["shifted-exp", "pareto"])
def test_threshold_families_are_chosen_unless_held_out_rows_fall_below(tmp_path, family):
    """A threshold fitted at the training minimum puts a held-out row outside the support
    with probability (held-out rows) / (rows) = 1/4 even for the true family: then its
    held-out log-likelihood is -inf, and ``outside`` counts exactly those rows. Over 10
    seeds that happens at most 6 times (binomial(10, 1/4): P(>= 7) = 0.0035); otherwise
    the true family is chosen."""
    refuted = 0
    for seed in range(10):
        path = write_log(tmp_path / f"log{seed}.csv", draw(TRUE[family], (2, 200), seed=seed))
        fit = fit_cluster(path, seed=seed)
        one = candidate(fit, "a", family)
        threshold = values(one.dist)[0 if family == "shifted-exp" else 1]
        assert one.outside == int((fit.split.heldout.x < threshold).sum())
        if one.outside:
            refuted += 1
            assert one.heldout_loglik == -np.inf and fit.best.family != family
        else:
            assert fit.best.family == family, fit.summary()
    assert refuted <= 6


def k_sync_log(seed: int, p: int = 8, k: int = 4, steps: int = 400):
    """K-sync rounds: each step the K fastest of P gamma(3, 2) durations are observed and
    the P - K stragglers are cut off (censored) at the K-th time."""
    x = draw("gamma:3,2", (steps, p), seed)
    cut = np.sort(x, axis=1)[:, k - 1 : k]
    censored = x > cut
    return np.where(censored, cut, x).T, censored.T


def test_censored_fit_recovers_the_law_an_uncensored_fit_gets_wrong(tmp_path):
    durations, censored = k_sync_log(seed=7)
    fit = fit_cluster(write_log(tmp_path / "k.csv", durations, censored), families=["gamma"])
    naive = fit_cluster(write_log(tmp_path / "n.csv", durations), families=["gamma"])
    got, truth = values(candidate(fit, "a", "gamma").dist), np.array([3.0, 2.0])
    rows = fit.split.train

    def loglik(t):
        law = scipy.stats.gamma(t[0], scale=1 / t[1])
        return law.logpdf(rows.x[~rows.censored]).sum() + law.logsf(rows.x[rows.censored]).sum()

    cov = covariance(loglik, got)
    assert np.all(np.abs(got - truth) <= Z999 * np.sqrt(np.diag(cov))), (got, cov)
    wrong = candidate(naive, "a", "gamma").dist
    # the cut-off rows read as finished: the mean (shape / rate = 1.5) comes out far too
    # small, by more than 10 standard errors of the censored fit's mean (delta method)
    grad = np.array([1 / got[1], -got[0] / got[1] ** 2])
    assert wrong.mean() < 1.5 - 10 * np.sqrt(grad @ cov @ grad)
    assert fit.best.family == "gamma" and fit.measured.any_censored


def test_speeds_model_recovers_each_workers_speed(tmp_path):
    speeds = np.array([0.5, 0.8, 1.0, 1.25, 1.6, 2.0])
    speeds /= np.exp(np.log(speeds).mean())  # the fit's convention: geometric mean 1
    x = draw("gamma:4,1", (6, 300), seed=11) / speeds[:, None]
    fit = fit_cluster(write_log(tmp_path / "log.csv", x), families=["exp", "gamma", "lognormal"])
    b = candidate(fit, "b", "gamma")
    n = np.bincount(fit.split.train.worker)
    # log s_l given the noise law: standard error 1 / sqrt(n_l a) for gamma(a) noise
    se = 1 / np.sqrt(n * values(b.dist)[0])
    assert np.all(np.abs(np.log(b.speeds) - np.log(speeds)) <= Z999 * se)
    assert math.prod(b.speeds) == pytest.approx(1.0, rel=1e-9)
    assert b.converged and b.rounds <= 50
    assert fit.best.structure == "b"
    assert fit.assumptions["identical"].supported is False
    assert fit.best.family == "gamma"
    assert fit.assumptions["nltu"].supported is True  # gamma with shape 4 > 1


def test_identical_exponential_workers_support_the_papers_assumptions(tmp_path):
    fit = fit_cluster(write_log(tmp_path / "log.csv", draw("exp:1", (4, 300), seed=4)))
    assert fit.best.name == "one exp"
    verdict = fit.assumptions
    assert verdict["identical"].supported and verdict["identical"].p_value >= 0.01
    assert verdict["exponential"].supported and verdict["nltu"].supported
    assert "supported: per-worker speeds" in verdict["identical"].line()
    assert verdict["independent"].supported


def test_a_factor_shared_within_steps_is_reported_against_independence(tmp_path):
    """Every step's durations share one lognormal factor: the step explains most of the
    within-worker variance, and the verdict says to replay the log instead."""
    shared = draw("lognormal:0,0.4", (1, 120), seed=5)
    noise = draw("lognormal:0,0.05", (16, 120), seed=6)
    fit = fit_cluster(write_log(tmp_path / "log.csv", shared * noise))
    verdict = fit.assumptions["independent"]
    assert verdict.supported is False and verdict.p_value < 1e-10
    assert "replay the log (--durations)" in verdict.line()


def test_heldout_scores_are_scipys(tmp_path):
    fit = fit_cluster(write_log(tmp_path / "log.csv", draw("exp:2", (3, 80), seed=6)))
    one, test = candidate(fit, "a", "exp"), fit.split.heldout
    law = scipy.stats.expon(scale=1 / one.dist.rate)
    assert one.heldout_loglik == pytest.approx(law.logpdf(test.x).mean(), rel=1e-12)
    assert one.heldout_ks == pytest.approx(scipy.stats.kstest(law.cdf(test.x), "uniform")[0])
    assert one.aic == pytest.approx(2 - 2 * law.logpdf(fit.split.train.x).sum())
    assert fit.split.heldout_steps.size == 20  # round(0.25 * 80), same steps for all workers
    assert set(test.step) == set(fit.split.heldout_steps) and test.n == 60


def test_heldout_standard_error_sums_rows_within_steps():
    mean, se = _fit_scores.mean_se(np.array([-1.0, -1.0, -3.0, -3.0]), np.array([5, 5, 9, 9]))
    assert (mean, se) == (-2.0, 1.0)  # step sums -2 and -6: sqrt(2 * 8) / 4


def test_config_round_trips_through_the_spec(tmp_path):
    x = draw("lognormal:0,0.2", (5, 60), seed=8) * np.array([1, 1, 2, 2, 3])[:, None]
    fit = fit_cluster(write_log(tmp_path / "log.csv", x), seed=1)
    spec = ExperimentSpec.from_toml(fit.to_toml())
    assert spec.num_learners == 5
    again = fit_cluster(read_durations(tmp_path / "log.csv"), seed=1)  # the table, read
    assert again.to_toml() == fit.to_toml()
    assert fit.to_toml().startswith("# pssim fit of log.csv")
    for c in (c for c in fit.candidates if c.ok):
        spec = ExperimentSpec.from_dict({"timing": c.config()})
        laws = spec.laws if spec.laws is not None else (spec.law,) * 5
        if c.speeds is not None:
            assert spec.speeds == c.speeds
            laws = c.worker_laws()  # Z / s_l of the spec's law and speeds
            assert spec.law == c.dist
        assert laws == c.worker_laws() and all(parse_law(law.spec) == law for law in laws)
        assert c.spec(variant="k-sync", k=2).laws == spec.laws


def test_refusals_are_one_line_naming_the_argument(tmp_path):
    good = write_log(tmp_path / "log.csv", draw("exp:1", (2, 3), seed=0))
    cases = [
        ({"holdout": 0}, PssimError, "`holdout` must be a fraction of the steps in (0, 1); got 0"),
        ({"holdout": 1.0}, PssimError, "in (0, 1); got 1.0"),
        ({"holdout": float("nan")}, PssimError, "got nan"),
        ({"holdout": "0.2"}, PssimTypeError, "`holdout` must be a number in (0, 1); got '0.2'"),
        ({"seed": -1}, PssimError, "`seed` must be >= 0; got -1"),
        ({"families": ["gamma", "beta"]}, PssimError, "`families` must be distinct names"),
        ({"families": "exp"}, PssimTypeError, "`families` must be a list"),
        ({"holdout": 0.5}, PssimError, "leaves worker 10 1 of 3 (hold out less)"),
    ]
    for kwargs, kind, text in cases:
        with pytest.raises(kind) as info:
            fit_cluster(good, **kwargs)
        assert text in str(info.value) and "\n" not in str(info.value)
    with pytest.raises(PssimTypeError, match=r"^`source` must be a path .*; got 3 \(int\)$"):
        fit_cluster(3)
    with pytest.raises(
        PssimError, match=r"`source` must be a readable durations file .*nope.csv' \(No such file"
    ):
        fit_cluster(tmp_path / "nope.csv")
    constant = write_log(tmp_path / "flat.csv", np.ones((2, 8)))
    with pytest.raises(PssimError, match="must give a candidate that can be fitted; none could"):
        fit_cluster(constant)
    cut = np.zeros((2, 8), dtype=bool)
    cut[1, :] = True  # worker 20 never finishes a step
    with pytest.raises(PssimError, match="worker 20 has none"):
        fit_cluster(write_log(tmp_path / "cut.csv", np.ones((2, 8)) + np.arange(8), cut))


def test_too_many_workers_are_refused_before_fitting(tmp_path, monkeypatch):
    from simulator.studies import fit as fit_module

    monkeypatch.setattr(fit_module, "MAX_FIT_WORKERS", 3)
    path = write_log(tmp_path / "log.csv", draw("exp:1", (4, 10), seed=0))
    with pytest.raises(PssimError, match="must hold at most 3 workers to fit; got 4"):
        fit_cluster(path)


@pytest.mark.skipif(
    not SHIPPED.is_file(), reason="the measured LLM trace is not beside the checkout"
)
def test_the_measured_llm_trace_rejects_identical_exponential_learners():
    fit = fit_cluster(SHIPPED)
    assert fit.best.structure in ("b", "c") and fit.best.family in ("lognormal", "gamma")
    assert fit.assumptions["identical"].supported is False
    assert fit.assumptions["exponential"].supported is False
    exp = candidate(fit, "a", "exp")
    assert fit.best.heldout_loglik - exp.heldout_loglik > 1.0  # nats per row
