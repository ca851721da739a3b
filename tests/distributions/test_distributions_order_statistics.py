"""E[X_{k:n}]: closed forms and numerical integration against independent references."""

from __future__ import annotations

import functools
import itertools
import math

import numpy as np
import pytest
import scipy.integrate
import scipy.special
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

RANKS = [
    (1, 1),
    (1, 2),
    (2, 2),
    (3, 10),
    (10, 10),
    (1, 1000),
    (500, 1000),
    (999, 1000),
    (1000, 1000),
]


def _scipy_order_mean(dist, k: int, n: int) -> float:
    """Reference from scipy's random-variable infrastructure (scipy >= 1.15)."""
    return float(st.order_statistic(dist, r=k, n=n).mean())


@functools.cache
def _family(name: str):
    return st.make_distribution(getattr(st, name))


def _md(name: str, **params):
    return _family(name)(**params)


# Closed forms (Exponential, ShiftedExponential, Pareto) against scipy.stats.order_statistic,
# which integrates the order statistic's density numerically (agrees to ~1e-9 relative).
CLOSED = [
    (Exponential(2.0), lambda: _md("expon") / 2.0),
    (ShiftedExponential(1.0, 3.0), lambda: _md("expon") / 3.0 + 1.0),
    (Pareto(2.0, 1.0), lambda: _md("pareto", b=2.0)),
    (Pareto(1.5, 0.5), lambda: _md("pareto", b=1.5) * 0.5),
    (Pareto(0.6, 2.0), lambda: _md("pareto", b=0.6) * 2.0),
]

# Numerical quantile integration against the same reference.
NUMERIC = [
    (Gamma(2.5, 3.0), lambda: _md("gamma", a=2.5) / 3.0),
    (Gamma(0.3, 1.0), lambda: _md("gamma", a=0.3)),
    (Weibull(0.5, 2.0), lambda: _md("weibull_min", c=0.5) * 2.0),
    (Weibull(3.0, 2.0), lambda: _md("weibull_min", c=3.0) * 2.0),
    (LogNormal(0.5, 1.5), lambda: _md("lognorm", s=1.5) * math.exp(0.5)),
    (ScipyLaw(st.gamma(2.0, loc=0.5, scale=0.5)), lambda: _md("gamma", a=2.0) * 0.5 + 0.5),
    (ScipyLaw(st.lomax(1.5)), lambda: _md("lomax", c=1.5)),
]


def _finite_pareto_like(law, k: int, n: int) -> bool:
    return not isinstance(law, Pareto) or (n - k + 1) * law.shape > 1


@pytest.mark.parametrize(("law", "ref"), CLOSED, ids=[str(c[0]) for c in CLOSED])
@pytest.mark.parametrize(("k", "n"), RANKS)
def test_closed_forms_match_scipy_order_statistic(law, ref, k, n):
    got = law.order_statistic_mean(k, n)
    if not _finite_pareto_like(law, k, n):
        assert got == math.inf
        return
    assert got == pytest.approx(_scipy_order_mean(ref(), k, n), rel=1e-8)


@pytest.mark.parametrize(("law", "ref"), NUMERIC, ids=[str(c[0]) for c in NUMERIC])
@pytest.mark.parametrize(("k", "n"), RANKS)
def test_numeric_order_statistics_match_scipy(law, ref, k, n):
    # scipy's own value is accurate to about 1e-9 (checked against a finely split integral).
    got = law.order_statistic_mean(k, n)
    assert got == pytest.approx(_scipy_order_mean(ref(), k, n), rel=1e-7)


def _x_space_reference(law, k: int, n: int, upper: float) -> float:
    """E[X_{k:n}] = ∫_0^∞ P(X_{k:n} > x) dx on a fine geometric grid, where
    P(X_{k:n} > x) = P(Binomial(n, F(x)) <= k - 1) = I_{sf(x)}(n - k + 1, k)."""

    def integrand(x: float) -> float:
        return float(scipy.special.betainc(n - k + 1, k, float(law.sf(x))))

    pts = np.concatenate([[0.0], np.geomspace(1e-12, upper, 150)])
    return math.fsum(
        scipy.integrate.quad(integrand, lo, hi, epsabs=1e-16, epsrel=1e-12, limit=200)[0]
        for lo, hi in itertools.pairwise(pts)
    )


HYPER = HyperExponential((0.3, 0.7), (0.5, 20.0))


@pytest.mark.parametrize(("k", "n"), [(1, 1), (2, 5), (5, 5), (1, 1000), (300, 1000), (1000, 1000)])
def test_hyperexponential_matches_x_space_integral(k, n):
    upper = float(HYPER.isf(1e-18))  # P(X > upper)^1 is negligible
    ref = _x_space_reference(HYPER, k, n, upper)
    assert HYPER.order_statistic_mean(k, n) == pytest.approx(ref, rel=1e-8)


@pytest.mark.parametrize("rate", [0.5, 4.0])
@pytest.mark.parametrize(("k", "n"), [(1, 1), (3, 7), (1, 1000), (1000, 1000)])
def test_generic_integration_reproduces_exponential_closed_form(rate, k, n):
    # ScipyLaw has no closed form, so this exercises the quantile integration.
    numeric = ScipyLaw(st.expon(scale=1.0 / rate)).order_statistic_mean(k, n)
    assert numeric == pytest.approx(Exponential(rate).order_statistic_mean(k, n), rel=1e-9)


@pytest.mark.parametrize(("k", "n"), [(1, 3), (2, 3), (999, 1000), (1000, 1000)])
def test_generic_integration_reproduces_pareto_closed_form(k, n):
    numeric = ScipyLaw(st.pareto(2.0, scale=1.5)).order_statistic_mean(k, n)
    assert numeric == pytest.approx(Pareto(2.0, 1.5).order_statistic_mean(k, n), rel=1e-8)


@pytest.mark.parametrize(
    ("shape", "k", "n", "finite"),
    [
        (1.0, 1, 1, False),  # infinite mean
        (0.5, 1, 1, False),
        (0.5, 2, 2, False),
        (0.5, 1, 2, False),  # (n-k+1) a = 1: borderline, infinite
        (0.5, 1, 3, True),  # (n-k+1) a = 1.5
        (0.6, 1000, 1000, False),
        (0.6, 999, 1000, True),
        (2.0, 1000, 1000, True),
    ],
)
def test_pareto_infinite_cases(shape, k, n, finite):
    for law in (Pareto(shape, 1.0), ScipyLaw(st.pareto(shape))):
        got = law.order_statistic_mean(k, n)
        assert not math.isnan(got)
        assert math.isfinite(got) == finite, law


@pytest.mark.parametrize(
    "law",
    [Gamma(0.7, 2.0), Weibull(1.7, 1.0), LogNormal(0.0, 0.8), HYPER, Pareto(2.5, 1.0)],
    ids=str,
)
def test_order_statistic_means_sum_to_n_times_mean(law):
    # sum_k X_{k:n} = sum_i X_i, so sum_k E[X_{k:n}] = n E[X].
    n = 25
    means = [law.order_statistic_mean(k, n) for k in range(1, n + 1)]
    assert np.all(np.diff(means) > 0)
    assert math.fsum(means) == pytest.approx(n * law.mean(), rel=1e-9)


def test_empirical_order_statistics_match_enumeration():
    values = np.array([0.5, 2.0, 2.0, 7.0])
    law = Empirical(values)
    n = 4
    draws = np.sort(np.array(list(itertools.product(values, repeat=n))), axis=1)
    for k in range(1, n + 1):
        assert law.order_statistic_mean(k, n) == pytest.approx(draws[:, k - 1].mean(), rel=1e-12)
    assert Empirical([3.0]).order_statistic_mean(2, 5) == 3.0


@pytest.mark.parametrize(
    ("k", "n", "exc", "message"),
    [
        (0, 3, ValueError, "`k` must be in [1, 3]; got 0"),
        (4, 3, ValueError, "`k` must be in [1, 3]; got 4"),
        (1, 0, ValueError, "`n` must be >= 1; got 0"),
        (1.0, 3, TypeError, "`k` must be an integer; got 1.0 (float)"),
        (1, True, TypeError, "`n` must be an integer; got True (bool)"),
    ],
)
def test_order_statistic_arguments_are_validated(k, n, exc, message):
    with pytest.raises(exc) as info:
        Exponential(1.0).order_statistic_mean(k, n)
    assert str(info.value) == message


def test_numpy_integers_are_accepted():
    law = Gamma(2.0, 1.0)
    assert law.order_statistic_mean(np.int64(2), np.int32(3)) == law.order_statistic_mean(2, 3)


@pytest.mark.parametrize(
    ("shape", "k", "n"), [(1.02, 1, 1), (1.02, 50, 50), (0.51, 1, 2), (0.51, 99, 100)]
)
def test_generic_integration_close_to_divergence(shape, k, n):
    # (n - k + 1) * shape is just above 1: the integrand's tail decays very slowly.
    numeric = ScipyLaw(st.pareto(shape)).order_statistic_mean(k, n)
    assert numeric == pytest.approx(Pareto(shape, 1.0).order_statistic_mean(k, n), rel=1e-8)
