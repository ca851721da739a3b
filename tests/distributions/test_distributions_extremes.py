"""Numeric extremes: laws whose times overflow (or whose mean is 0) are refused on construction."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest
import scipy.stats as st
from hypothesis import given, settings
from hypothesis import strategies as hs

from distributions import (
    Empirical,
    Exponential,
    Gamma,
    HyperExponential,
    LawError,
    LogNormal,
    Pareto,
    ScipyLaw,
    ShiftedExponential,
    Weibull,
    parse_law,
)
from distributions._base import MAX_TIME, TAIL_PROB

BOUND = "1.34e+154 (the square root of the largest float)"


def _mean_high(names: str, got: str, detail: str) -> str:
    return f"{names} must give a mean E[X] <= {BOUND}; got {got} ({detail})"


def _tail_high(names: str, got: str, detail: str) -> str:
    return f"{names} must give a 1 - 1e-12 quantile <= {BOUND}; got {got} ({detail})"


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        (
            "lognormal:800,1",
            _mean_high("`LogNormal.mu`, `LogNormal.sigma`", "inf", "mu=800.0, sigma=1.0"),
        ),
        ("exp:1e-310", _mean_high("`Exponential.rate`", "inf", "rate=1e-310")),
        (
            "pareto:2,1e308",
            _mean_high("`Pareto.shape`, `Pareto.scale`", "inf", "shape=2.0, scale=1e+308"),
        ),
        (
            "pareto:0.001,1",
            _tail_high("`Pareto.shape`, `Pareto.scale`", "inf", "shape=0.001, scale=1.0"),
        ),
        (
            "shifted-exp:1e300,1",
            _mean_high(
                "`ShiftedExponential.shift`, `ShiftedExponential.rate`",
                "1e+300",
                "shift=1e+300, rate=1.0",
            ),
        ),
        (
            "gamma:1,1e-310",
            _mean_high("`Gamma.shape`, `Gamma.rate`", "inf", "shape=1.0, rate=1e-310"),
        ),
        (
            "weibull:0.001,1",
            _mean_high("`Weibull.shape`, `Weibull.scale`", "inf", "shape=0.001, scale=1.0"),
        ),
        (
            "hyperexp:0.5,1e-310,0.5,1",
            _mean_high(
                "`HyperExponential.probs`, `HyperExponential.rates`",
                "inf",
                "probs=(0.5, 0.5), rates=(1e-310, 1.0)",
            ),
        ),
        (
            "scipy:pareto(b=0.01)",
            _tail_high("`ScipyLaw.frozen`", "inf", "pareto(b=0.01, scale=1.0)"),
        ),
        (
            "lognormal:-800,1",
            "`LogNormal.mu`, `LogNormal.sigma` must give a mean E[X] > 0; got 0.0 "
            "(mu=-800.0, sigma=1.0)",
        ),
    ],
)
def test_overflowing_specs_are_refused_naming_the_parameters(spec, message):
    with pytest.raises(LawError, match=f"^{re.escape(message)}$"):
        parse_law(spec)


@pytest.mark.parametrize(
    "make",
    [
        lambda: Exponential(1e-160),  # mean 1e160
        lambda: ShiftedExponential(0.0, 1e-155),  # mean fine-ish, 1 - 1e-12 quantile 2.8e156
        lambda: Pareto(0.05, 1.0),  # infinite mean; quantile 1e240
        lambda: Gamma(2.0, 1e-300),
        lambda: Weibull(0.01, 1.0),  # mean Γ(101) ≈ 9.3e157
        lambda: LogNormal(0.0, 30.0),  # mean exp(450)
        lambda: HyperExponential((0.9, 0.1), (1.0, 1e-200)),
        lambda: Empirical([1.0, 1e200]),
        lambda: ScipyLaw(st.expon(scale=1e300)),
    ],
    ids=[
        "exp",
        "shifted-exp",
        "pareto",
        "gamma",
        "weibull",
        "lognormal",
        "hyperexp",
        "empirical",
        "scipy",
    ],
)
def test_every_law_class_refuses_overflowing_times(make):
    with pytest.raises(LawError, match=r" must give a (mean E\[X\]|1 - 1e-12 quantile) <= "):
        make()


@pytest.mark.parametrize(
    "law",
    [Pareto(0.5, 1.0), Pareto(1.0, 3.0), ScipyLaw(st.pareto(0.5)), ScipyLaw(st.halfcauchy())],
    ids=str,
)
def test_heavy_tails_with_an_infinite_mean_are_kept(law):
    assert law.mean() == math.inf
    assert law.order_statistic_mean(2, 2) == math.inf
    assert np.all(np.isfinite(law.sample(10_000, rng=np.random.default_rng(3))))


def _empirical_zero_message(where: str) -> str:
    return re.escape(f"{where} must give a mean E[X] > 0; got 0.0 (")


def test_empirical_values_with_mean_zero_are_refused():
    with pytest.raises(
        LawError, match=f"^{_empirical_zero_message('`Empirical.values`')}3 values\\)$"
    ):
        Empirical(np.zeros(3))
    with pytest.raises(LawError, match=r"\(1 value\)$"):
        Empirical([0.0])
    assert Empirical([0.0, 0.0, 2.0]).mean() == pytest.approx(2.0 / 3.0)  # zeros allowed


@pytest.mark.parametrize("suffix", [".csv", ".npy"])
def test_empirical_files_with_mean_zero_are_refused_naming_the_file(tmp_path, suffix):
    path = tmp_path / f"zeros{suffix}"
    if suffix == ".npy":
        np.save(path, np.zeros(4))
    else:
        path.write_text("seconds\n0\n0.0\n0\n0\n")
    expected = (
        f"{_empirical_zero_message('`Empirical.path`')}4 values in {re.escape(repr(str(path)))}\\)$"
    )
    with pytest.raises(LawError, match=f"^{expected}"):
        parse_law(f"empirical:{path}")


def test_file_and_count_errors_are_law_errors(tmp_path):
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    with pytest.raises(LawError, match=r"^`Empirical.path` must hold at least 1 value; got 0 in "):
        parse_law(f"empirical:{empty}")
    with pytest.raises(LawError, match=r"^`dist` spec 'exp:1,2' must have 1 value "):
        parse_law("exp:1,2")


_LAW_MAKERS = {
    "exp": lambda a, b: Exponential(a),
    "shifted-exp": lambda a, b: ShiftedExponential(b, a),
    "pareto": lambda a, b: Pareto(a, b),
    "gamma": lambda a, b: Gamma(a, b),
    "weibull": lambda a, b: Weibull(a, b),
    "lognormal": lambda a, b: LogNormal(math.log(b), a),
    "hyperexp": lambda a, b: HyperExponential((0.5, 0.5), (a, b)),
}
_REFUSAL = re.compile(
    r"^(`\w+\.\w+`(, )?)+ must give a (mean E\[X\] > 0|mean E\[X\] <= 1\.34e\+154 "
    r"\(the square root of the largest float\)|1 - 1e-12 quantile <= 1\.34e\+154 "
    r"\(the square root of the largest float\)); got \S+ \(.*\)$"
)


@settings(max_examples=150, deadline=None)
@given(
    kind=hs.sampled_from(sorted(_LAW_MAKERS)),
    log_a=hs.floats(min_value=-300.0, max_value=300.0),
    log_b=hs.floats(min_value=-300.0, max_value=300.0),
)
def test_accepted_laws_draw_finite_times_and_refusals_are_documented(kind, log_a, log_b):
    """Over 600 decades of parameters: either refused with the documented one-line message,
    or the mean (where finite in theory), the quantile and running sums of draws are finite."""
    a, b = 10.0**log_a, 10.0**log_b
    try:
        law = _LAW_MAKERS[kind](a, b)
    except LawError as err:
        assert _REFUSAL.fullmatch(str(err)), str(err)
        return
    mean = law.mean()
    assert mean > 0.0 and (mean <= MAX_TIME or (kind == "pareto" and a <= 1.0))
    assert float(law.isf(TAIL_PROB)) <= MAX_TIME
    draws = law.sample(2000, rng=np.random.default_rng(0))
    assert np.all(np.isfinite(np.cumsum(draws))) and np.all(np.isfinite(draws**2))
