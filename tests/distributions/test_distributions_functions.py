"""cdf, sf, ppf, isf; aging labels checked numerically; sums of iid draws; value semantics."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
import scipy.stats as st

from distributions import (
    ComputeTimeLaw,
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
    HyperExponential((0.2, 0.3, 0.5), (0.01, 1.0, 100.0)),
    ScipyLaw(st.gamma(2.0, loc=1.0, scale=0.5)),
]
Q = np.array([0.0, 1e-12, 1e-6, 0.01, 0.2, 0.5, 0.8, 0.99, 1 - 1e-6])


@pytest.mark.parametrize("law", CONTINUOUS, ids=str)
def test_cdf_ppf_round_trip(law):
    x = law.ppf(Q)
    assert np.all(np.diff(x) >= 0)
    np.testing.assert_allclose(law.cdf(x), Q, rtol=1e-9, atol=1e-15)
    y = law.ppf(np.linspace(0.05, 0.95, 19))
    np.testing.assert_allclose(law.ppf(law.cdf(y)), y, rtol=1e-9)


@pytest.mark.parametrize("law", CONTINUOUS, ids=str)
def test_sf_is_one_minus_cdf_and_isf_inverts_sf(law):
    x = np.concatenate([[-1.0, 0.0], law.ppf(np.linspace(0.0, 0.999, 40))])
    np.testing.assert_allclose(law.sf(x), 1.0 - law.cdf(x), rtol=1e-12, atol=1e-15)
    small = np.array([1e-300, 1e-100, 1e-12, 1e-3, 0.5, 1.0])
    x_small = law.isf(small)
    finite = np.isfinite(x_small)  # Pareto(0.8) overflows at 1e-300
    np.testing.assert_allclose(law.sf(x_small[finite]), small[finite], rtol=1e-9)
    mid = np.linspace(0.01, 0.99, 9)
    np.testing.assert_allclose(law.isf(mid), law.ppf(1.0 - mid), rtol=1e-9)


@pytest.mark.parametrize("law", CONTINUOUS, ids=str)
def test_distribution_functions_at_the_edges(law):
    assert law.cdf(-1.0) == 0.0 and law.sf(-1.0) == 1.0
    assert law.cdf(np.inf) == 1.0 and law.sf(np.inf) == 0.0
    assert law.ppf(1.0) == np.inf and law.isf(0.0) == np.inf
    assert law.ppf(0.0) >= 0.0
    with pytest.raises(ValueError, match=r"^`x` must not be NaN; got nan$"):
        law.cdf(np.nan)  # never NaN out for a NaN in
    out = law.cdf(np.ones((2, 3)))
    assert out.shape == (2, 3) and out.dtype == np.float64
    assert np.ndim(law.cdf(1.0)) == 0


@pytest.mark.parametrize("q", [-0.1, 1.5, np.nan])
def test_ppf_rejects_probabilities_outside_unit_interval(q):
    with pytest.raises(ValueError, match=r"^`q` must be in \[0, 1\]; got "):
        Gamma(2.0, 1.0).ppf([0.5, q])
    with pytest.raises(ValueError, match=r"^`q` must be in \[0, 1\]; got "):
        Gamma(2.0, 1.0).isf(q)


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
    ids=["exp", "shifted-exp", "pareto", "gamma", "weibull", "lognormal"],
)
def test_functions_match_scipy(law, frozen):
    x = frozen.ppf(np.linspace(0.001, 0.999, 50))
    np.testing.assert_allclose(law.cdf(x), frozen.cdf(x), rtol=1e-10)
    np.testing.assert_allclose(law.sf(x), frozen.sf(x), rtol=1e-10)
    q = np.linspace(0.0, 0.999, 50)
    np.testing.assert_allclose(law.ppf(q), frozen.ppf(q), rtol=1e-10)


# ----------------------------------------------------------------------------- aging


def _aging_gaps(law: ComputeTimeLaw) -> np.ndarray:
    """sf(u + t) - sf(u) sf(t) on a grid of t, u >= 0 spanning the bulk and the tail."""
    grid = np.concatenate([[0.0], law.ppf(np.linspace(0.01, 0.995, 30)), law.isf([1e-4])])
    t, u = np.meshgrid(grid, grid)
    return law.sf(u + t) - law.sf(u) * law.sf(t)


TOL = 1e-12

AGING = [
    (Exponential(2.0), "both"),
    (ShiftedExponential(0.0, 2.0), "both"),
    (ShiftedExponential(1.0, 1.0), "nltu"),
    (Gamma(1.0, 3.0), "both"),
    (Gamma(2.5, 1.0), "nltu"),
    (Gamma(0.4, 1.0), "nstu"),
    (Weibull(1.0, 2.0), "both"),
    (Weibull(3.0, 1.0), "nltu"),
    (Weibull(0.6, 1.0), "nstu"),
    (HyperExponential((1.0,), (2.0,)), "both"),
    (HyperExponential((0.3, 0.7), (0.5, 5.0)), "nstu"),
]


@pytest.mark.parametrize(("law", "label"), AGING, ids=[str(a[0]) for a in AGING])
def test_aging_labels_hold_numerically(law, label):
    # Dutta et al. 2018, Definition 3: NLTU means P(X > u + t | X > t) <= P(X > u), i.e.
    # sf(u + t) <= sf(u) sf(t); NSTU is the reverse inequality.
    assert law.aging == label
    gaps = _aging_gaps(law)
    if label in ("nltu", "both"):
        assert gaps.max() <= TOL
    if label in ("nstu", "both"):
        assert gaps.min() >= -TOL
    if label == "nltu":
        assert gaps.min() < -1e-3  # strictly, somewhere
    if label == "nstu":
        assert gaps.max() > 1e-3


@pytest.mark.parametrize("law", [Pareto(2.0, 1.0), LogNormal(0.0, 1.0)], ids=str)
def test_laws_that_are_neither_have_no_label(law):
    assert law.aging is None
    gaps = _aging_gaps(law)
    assert gaps.min() < -1e-3 and gaps.max() > 1e-3


def test_unknown_aging_for_adapters_and_data():
    assert ScipyLaw(st.expon()).aging is None
    assert Empirical([1.0, 2.0]).aging is None


# --------------------------------------------------------------------------- sum laws


def _erlang_cdf(k: int, rate: float, t: np.ndarray) -> np.ndarray:
    """P(sum of k Exp(rate) <= t) = 1 - sum_{j<k} exp(-rate t) (rate t)^j / j!."""
    t = np.maximum(t, 0.0)
    terms = [np.exp(-rate * t) * (rate * t) ** j / math.factorial(j) for j in range(k)]
    return 1.0 - np.sum(terms, axis=0)


@pytest.mark.parametrize("k", [2, 5])
def test_exponential_sum_is_erlang(k):
    law = Exponential(3.0)
    total = law.sum_law(k)
    assert total == Gamma(float(k), 3.0)
    assert total.mean() == pytest.approx(k / 3.0) and total.var() == pytest.approx(k / 9.0)
    t = np.linspace(0.0, 5.0, 41)
    np.testing.assert_allclose(total.cdf(t), _erlang_cdf(k, 3.0, t), atol=1e-13)


@pytest.mark.parametrize("k", [2, 5])
def test_shifted_exponential_sum_is_shifted_erlang(k):
    law = ShiftedExponential(0.5, 2.0)
    total = law.sum_law(k)
    assert isinstance(total, ScipyLaw)
    assert total.mean() == pytest.approx(k * law.mean(), rel=1e-12)
    assert total.var() == pytest.approx(k * law.var(), rel=1e-12)
    t = np.linspace(0.0, 8.0, 41)
    np.testing.assert_allclose(total.cdf(t), _erlang_cdf(k, 2.0, t - k * 0.5), atol=1e-13)


def test_other_sum_laws():
    assert Gamma(1.5, 2.0).sum_law(4) == Gamma(6.0, 2.0)
    assert HyperExponential((0.5, 0.5), (2.0, 2.0)).sum_law(3) == Gamma(3.0, 2.0)
    for law in [Pareto(2.0, 1.0), Weibull(2.0, 1.0), LogNormal(0.0, 1.0), Empirical([1.0])]:
        assert law.sum_law(2) is None
        assert law.sum_law(1) is law
    assert HyperExponential((0.5, 0.5), (1.0, 2.0)).sum_law(2) is None
    with pytest.raises(ValueError, match=r"^`k` must be >= 1; got 0$"):
        Exponential(1.0).sum_law(0)
    with pytest.raises(TypeError, match=r"^`k` must be an integer; got 2.0 \(float\)$"):
        Exponential(1.0).sum_law(2.0)


# ------------------------------------------------------------------------ value semantics


def test_laws_are_frozen_comparable_and_hashable():
    law = Gamma(2.0, 1.0)
    with pytest.raises(dataclasses.FrozenInstanceError):
        law.shape = 3.0  # type: ignore[misc]
    assert Gamma(2, 1) == law and hash(Gamma(2, 1)) == hash(law)
    assert isinstance(Gamma(2, 1).shape, float)
    assert Gamma(2.0, 1.0) != Gamma(2.0, 2.0)
    assert ScipyLaw(st.gamma(2.0)) == ScipyLaw(st.gamma(a=2.0, scale=1.0))
    assert Empirical([1.0, 2.0]) == Empirical(np.array([1, 2]))
    assert len({Empirical([1.0, 2.0]), Empirical([1.0, 2.0])}) == 1


@pytest.mark.parametrize("law", CONTINUOUS, ids=str)
def test_str_is_spec(law):
    assert str(law) == law.spec
