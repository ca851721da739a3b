"""Samplers: sequential consistency, goodness of fit (Kolmogorov–Smirnov) and moments.

Statistical checks are seeded, so they are deterministic; each family of tests runs at a
stated total level with a Bonferroni correction over the laws it covers.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.stats as st

from distributions import (
    Empirical,
    Exponential,
    Gamma,
    HyperExponential,
    LogNormal,
    Pareto,
    ScipyLaw,
    ShiftedExponential,
    Weibull,
)

ALPHA_TOTAL = 0.001

CONTINUOUS = [
    Exponential(2.0),
    ShiftedExponential(1.0, 1.0),
    Pareto(2.0, 1.0),
    Pareto(0.8, 2.0),
    Gamma(0.5, 1.0),
    Gamma(3.0, 2.0),
    Weibull(0.7, 1.0),
    Weibull(2.0, 3.0),
    LogNormal(0.0, 1.0),
    HyperExponential((0.3, 0.7), (0.5, 5.0)),
    ScipyLaw(st.gamma(2.0, loc=1.0, scale=0.5)),
]
ALL_LAWS = [*CONTINUOUS, Empirical([0.5, 1.0, 1.0, 4.0])]

# Laws with a finite fourth moment, for the mean and variance z-tests.
MOMENT_LAWS = [
    Exponential(2.0),
    ShiftedExponential(1.0, 1.0),
    Pareto(6.0, 1.0),
    Gamma(0.5, 1.0),
    Gamma(3.0, 2.0),
    Weibull(0.7, 1.0),
    Weibull(2.0, 3.0),
    LogNormal(0.0, 0.5),
    HyperExponential((0.3, 0.7), (0.5, 5.0)),
    ScipyLaw(st.gamma(2.0, loc=1.0, scale=0.5)),
    Empirical([0.5, 1.0, 1.0, 4.0]),
]


@pytest.mark.parametrize("law", ALL_LAWS, ids=str)
def test_draws_are_sequential_consistent(law):
    small = law.sample(7, rng=np.random.default_rng(11))
    large = law.sample(1000, rng=np.random.default_rng(11))
    np.testing.assert_array_equal(small, large[:7])
    grid = law.sample((3, 4), rng=np.random.default_rng(11))
    np.testing.assert_array_equal(grid, large[:12].reshape(3, 4))


@pytest.mark.parametrize("law", ALL_LAWS, ids=str)
def test_draws_are_nonnegative_float64_of_the_right_shape(law):
    x = law.sample((50, 3), rng=np.random.default_rng(0))
    assert x.shape == (50, 3)
    assert x.dtype == np.float64
    assert np.all(np.isfinite(x)) and np.all(x >= 0.0)
    assert law.sample((), rng=np.random.default_rng(0)).shape == ()
    assert law.sample(0, rng=np.random.default_rng(0)).shape == (0,)


@pytest.mark.parametrize("law", CONTINUOUS, ids=str)
def test_sampler_matches_cdf_kolmogorov_smirnov(law):
    alpha = ALPHA_TOTAL / len(CONTINUOUS)  # Bonferroni over the laws
    x = law.sample(4000, rng=np.random.default_rng(20240601))
    p_value = st.kstest(x, law.cdf).pvalue
    assert p_value > alpha, f"{law}: KS p-value {p_value:.3g} <= {alpha:.3g}"


def test_kolmogorov_smirnov_check_has_power():
    # numpy's pareto draws a Lomax (Pareto II) law: used as is, the check must reject it.
    law = Pareto(2.0, 1.0)
    wrong = law.scale * np.random.default_rng(20240601).pareto(law.shape, 4000)
    assert st.kstest(wrong, law.cdf).pvalue < ALPHA_TOTAL / len(CONTINUOUS)


def test_empirical_sampler_frequencies_chi_square():
    values = np.array([0.5, 1.0, 1.0, 4.0, 7.5])
    law = Empirical(values)
    x = law.sample(20_000, rng=np.random.default_rng(3))
    support, counts = np.unique(x, return_counts=True)
    np.testing.assert_array_equal(support, [0.5, 1.0, 4.0, 7.5])
    expected = np.array([1, 2, 1, 1]) / 5 * x.size
    assert st.chisquare(counts, expected).pvalue > ALPHA_TOTAL


@pytest.mark.parametrize("law", MOMENT_LAWS, ids=str)
def test_mean_and_variance_match_sample_moments(law):
    # Two z-tests per law (mean with the known variance, variance with the sample fourth
    # central moment), Bonferroni over all of them.
    z = st.norm.isf(ALPHA_TOTAL / (2 * len(MOMENT_LAWS)) / 2)
    n = 200_000
    x = law.sample(n, rng=np.random.default_rng(7))
    mean, var = law.mean(), law.var()
    assert abs(x.mean() - mean) <= z * math.sqrt(var / n)
    m4 = np.mean((x - x.mean()) ** 4)
    s2 = x.var()
    assert abs(s2 - var) <= z * math.sqrt((m4 - s2 * s2) / n)


def test_infinite_moments_are_inf():
    assert Pareto(1.0, 1.0).mean() == math.inf
    assert Pareto(0.5, 1.0).var() == math.inf
    assert Pareto(2.0, 1.0).var() == math.inf
    assert math.isfinite(Pareto(2.5, 1.0).var())
    assert ScipyLaw(st.pareto(0.8)).mean() == math.inf
    assert ScipyLaw(st.pareto(1.5)).var() == math.inf


@pytest.mark.parametrize(
    ("law", "frozen"),
    [
        (Exponential(2.0), st.expon(scale=0.5)),
        (ShiftedExponential(1.0, 4.0), st.expon(loc=1.0, scale=0.25)),
        (Pareto(3.0, 2.0), st.pareto(3.0, scale=2.0)),
        (Gamma(2.5, 4.0), st.gamma(2.5, scale=0.25)),
        (Weibull(0.7, 2.0), st.weibull_min(0.7, scale=2.0)),
        (LogNormal(0.3, 0.8), st.lognorm(0.8, scale=math.exp(0.3))),
    ],
    ids=lambda v: str(v) if not hasattr(v, "dist") else "",
)
def test_moments_match_scipy(law, frozen):
    assert law.mean() == pytest.approx(frozen.mean(), rel=1e-12)
    assert law.var() == pytest.approx(frozen.var(), rel=1e-12)


def test_hyperexponential_moments_closed_form():
    law = HyperExponential((0.25, 0.75), (1.0, 4.0))
    mean = 0.25 / 1.0 + 0.75 / 4.0
    second = 2 * (0.25 / 1.0 + 0.75 / 16.0)
    assert law.mean() == pytest.approx(mean, rel=1e-15)
    assert law.var() == pytest.approx(second - mean**2, rel=1e-14)


def test_sample_arguments_are_validated():
    law = Exponential(1.0)
    with pytest.raises(
        TypeError, match=r"^`rng` must be a numpy\.random\.Generator; got NoneType$"
    ):
        law.sample(3, rng=None)
    with pytest.raises(
        TypeError, match=r"^`rng` must be a numpy\.random\.Generator; got RandomState$"
    ):
        law.sample(3, rng=np.random.RandomState(0))
    with pytest.raises(TypeError):
        law.sample(3, np.random.default_rng(0))  # rng is keyword-only
    with pytest.raises(ValueError, match=r"^`shape` must be >= 0; got -1$"):
        law.sample(-1, rng=np.random.default_rng(0))
    with pytest.raises(TypeError, match="`shape` must be"):
        law.sample(2.5, rng=np.random.default_rng(0))
