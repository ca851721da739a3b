"""Spec strings, law_from, and the documented messages for bad parameters."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest
import scipy.stats as st
from hypothesis import given, settings
from hypothesis import strategies as hs

from distributions import (
    ComputeTimeLaw,
    Exponential,
    Gamma,
    HyperExponential,
    LogNormal,
    Pareto,
    ScipyLaw,
    ShiftedExponential,
    Weibull,
    law_from,
    parse_law,
)

ROUND_TRIP = [
    Exponential(2.0),
    ShiftedExponential(1.0, 0.5),
    ShiftedExponential(0.0, 3.0),
    Pareto(2.0, 1.0),
    Gamma(0.3, 1e-3),
    Weibull(1.5, 2e5),
    LogNormal(-1.25, 0.5),
    HyperExponential((0.2, 0.8), (1.0, 10.0)),
    HyperExponential((1.0,), (4.0,)),
    HyperExponential((0.1, 0.2, 0.7), (0.1, 1.0, 1e3)),
    ScipyLaw(st.gamma(3.0, loc=1.5, scale=0.5)),
    ScipyLaw(st.lomax(2.0)),
]


@pytest.mark.parametrize("law", ROUND_TRIP, ids=str)
def test_spec_round_trips(law):
    back = parse_law(law.spec)
    assert back == law
    assert type(back) is type(law)
    assert back.spec == law.spec


def test_shifted_exponential_sum_law_round_trips():
    total = ShiftedExponential(1.0, 2.0).sum_law(3)
    assert total.spec == "scipy:gamma(a=3.0, loc=3.0, scale=0.5)"
    assert parse_law(total.spec) == total


@pytest.mark.parametrize(
    ("spec", "law"),
    [
        ("exp:2", Exponential(2.0)),
        ("  exp : 2.5e-1 ", Exponential(0.25)),
        ("shifted-exp: 1 , 2", ShiftedExponential(1.0, 2.0)),
        ("pareto:2,1", Pareto(2.0, 1.0)),
        ("gamma:.5,+4.", Gamma(0.5, 4.0)),
        ("weibull:2,3", Weibull(2.0, 3.0)),
        ("lognormal:-1,0.5", LogNormal(-1.0, 0.5)),
        ("hyperexp:0.5,1,0.5,2", HyperExponential((0.5, 0.5), (1.0, 2.0))),
        ("scipy: gamma( a = 2 , scale=0.5 )", ScipyLaw(st.gamma(2.0, scale=0.5))),
    ],
)
def test_parse_accepts_documented_forms(spec, law):
    assert parse_law(spec) == law


EXPR = " or an expression in m and P; got "
FORMS_MESSAGE = re.escape(
    "`dist` spec must be one of exp:RATE, shifted-exp:SHIFT,RATE, pareto:SHAPE,SCALE, "
    "gamma:SHAPE,RATE, weibull:SHAPE,SCALE, lognormal:MU,SIGMA, deterministic:VALUE, "
    "hyperexp:P1,RATE1,P2,RATE2[,...], empirical:PATH, scipy:NAME(ARG=VALUE, ...); got "
)


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("foo:1", FORMS_MESSAGE + "'foo:1'$"),
        ("exp", FORMS_MESSAGE + "'exp'$"),
        ("", FORMS_MESSAGE + "''$"),
        ("Exp:1", FORMS_MESSAGE + "'Exp:1'$"),
        (
            "exp:abc",
            r"^`dist` value 'abc' in 'exp:abc' must be a number" + EXPR + "unknown name 'abc'",
        ),
        ("exp:", r"^`dist` value '' in 'exp:' must be a number$"),
        (
            "exp:nan",
            r"^`dist` value 'nan' in 'exp:nan' must be a number" + EXPR + "unknown name 'nan'",
        ),
        (
            "exp:inf",
            r"^`dist` value 'inf' in 'exp:inf' must be a number" + EXPR + "unknown name 'inf'",
        ),
        (
            "exp:-inf",
            r"^`dist` value '-inf' in 'exp:-inf' must be a number" + EXPR + "unknown name",
        ),
        ("exp:1_000", r"^`dist` value '1_000' in 'exp:1_000' must be a number" + EXPR + "1_000 is"),
        ("pareto:2,", r"^`dist` value '' in 'pareto:2,' must be a number$"),
        ("exp:1,2", r"^`dist` spec 'exp:1,2' must have 1 value \(exp:RATE\); got 2$"),
        ("pareto:2", r"^`dist` spec 'pareto:2' must have 2 values \(pareto:SHAPE,SCALE\); got 1$"),
        ("hyperexp:0.5,1,0.5", r"^`dist` spec 'hyperexp:0.5,1,0.5' must have an even number"),
        ("exp:-1", r"^`Exponential.rate` must be > 0; got -1.0$"),
        ("hyperexp:0.4,1,0.5,2", r"^`HyperExponential.probs` must sum to 1; got 0.9$"),
        ("empirical:", r"^`dist` spec 'empirical:' must name a file \(empirical:PATH\)$"),
        ("scipy:norm()", r"^`ScipyLaw.frozen` support must start at >= 0; got -inf for norm"),
        ("scipy:poisson(mu=1)", r"must name a scipy.stats continuous distribution; got 'poisson'$"),
        ("scipy:gamma(b=1)", r"^`dist` spec 'scipy:gamma\(b=1\)' has bad arguments"),
        ("scipy:gamma(a=x)", r"^`dist` value 'x' in 'scipy:gamma\(a=x\)' must be a number" + EXPR),
        ("scipy:gamma", r"^`dist` spec 'scipy:gamma' must look like scipy:NAME"),
    ],
)
def test_parse_rejects_bad_specs(spec, message):
    with pytest.raises(ValueError, match=message):
        parse_law(spec)


def test_parse_names_the_option_and_needs_a_string():
    with pytest.raises(
        ValueError,
        match=r"^`push_latency` value 'x' in 'exp:x' must be a number or an expression in m",
    ):
        parse_law("exp:x", name="push_latency")
    with pytest.raises(TypeError, match=r"^`dist` spec must be a string; got float$"):
        parse_law(1.0)


def test_law_from():
    law = Gamma(2.0, 1.0)
    assert law_from(law) is law
    assert law_from("exp:2") == Exponential(2.0)
    assert law_from(st.gamma(2.0)) == ScipyLaw(st.gamma(2.0))
    with pytest.raises(ValueError, match="support must start at >= 0"):
        law_from(st.norm())
    for bad in (3, None, st.poisson(2.0), st.gamma, st.make_distribution(st.gamma)(a=2.0)):
        with pytest.raises(TypeError, match=r"^`dist` must be a ComputeTimeLaw, a spec string"):
            law_from(bad)
    with pytest.raises(TypeError, match=r"^`compute` must be"):
        law_from(3, name="compute")


def test_scipy_law_validation():
    with pytest.raises(TypeError, match=r"^`ScipyLaw.frozen` must be a frozen scipy.stats"):
        ScipyLaw(st.gamma)
    with pytest.raises(ValueError, match=r"^`ScipyLaw.frozen` must have valid parameters"):
        ScipyLaw(st.gamma(-1.0))
    with pytest.raises(ValueError, match=r"^`ScipyLaw.frozen` must have scalar parameters"):
        ScipyLaw(st.gamma([1.0, 2.0]))
    with pytest.raises(ValueError, match=r"support must start at >= 0; got -1.0 for expon"):
        ScipyLaw(st.expon(loc=-1.0))


# ------------------------------------------------ invalid parameters (hypothesis properties)

# (class, positional arguments of a valid law, index of the parameter, its name, its rule)
PARAMS = [
    (Exponential, (1.0,), 0, "rate", "> 0"),
    (ShiftedExponential, (1.0, 1.0), 0, "shift", ">= 0"),
    (ShiftedExponential, (1.0, 1.0), 1, "rate", "> 0"),
    (Pareto, (2.0, 1.0), 0, "shape", "> 0"),
    (Pareto, (2.0, 1.0), 1, "scale", "> 0"),
    (Gamma, (2.0, 1.0), 0, "shape", "> 0"),
    (Gamma, (2.0, 1.0), 1, "rate", "> 0"),
    (Weibull, (2.0, 1.0), 0, "shape", "> 0"),
    (Weibull, (2.0, 1.0), 1, "scale", "> 0"),
    (LogNormal, (0.0, 1.0), 0, "mu", "finite"),
    (LogNormal, (0.0, 1.0), 1, "sigma", "> 0"),
]
PARAM_IDS = [f"{p[0].__name__}.{p[3]}" for p in PARAMS]


def _bad_values(rule: str):
    nonfinite = hs.sampled_from([math.nan, math.inf, -math.inf])
    if rule == "> 0":
        return hs.one_of(nonfinite, hs.floats(max_value=0.0, allow_nan=False))
    if rule == ">= 0":
        return hs.one_of(nonfinite, hs.floats(max_value=-1e-300, allow_nan=False))
    return nonfinite


def _with(args: tuple, index: int, value) -> tuple:
    return (*args[:index], value, *args[index + 1 :])


@pytest.mark.parametrize(("cls", "args", "index", "param", "rule"), PARAMS, ids=PARAM_IDS)
@settings(max_examples=25, deadline=None)
@given(data=hs.data())
def test_invalid_parameters_raise_documented_message(cls, args, index, param, rule, data):
    value = data.draw(_bad_values(rule))
    with pytest.raises(ValueError) as info:
        cls(*_with(args, index, value))
    message = str(info.value)
    assert message.startswith(f"`{cls.__name__}.{param}` must be ")
    assert message.endswith(f"; got {value!r}")
    assert ("finite" in message) == (not math.isfinite(value))
    if math.isfinite(value):
        assert f"must be {rule}; got" in message


@pytest.mark.parametrize(("cls", "args", "index", "param", "rule"), PARAMS, ids=PARAM_IDS)
@settings(max_examples=15, deadline=None)
@given(value=hs.floats(max_value=-1e-300, allow_nan=False, allow_infinity=False))
def test_invalid_parameters_through_the_parser(cls, args, index, param, rule, value):
    spec = {
        Exponential: "exp",
        ShiftedExponential: "shifted-exp",
        Pareto: "pareto",
        Gamma: "gamma",
        Weibull: "weibull",
        LogNormal: "lognormal",
    }[cls]
    if rule == "finite":
        return  # any finite mu is valid
    text = f"{spec}:" + ",".join(repr(v) for v in _with(args, index, value))
    with pytest.raises(ValueError, match=rf"^`{cls.__name__}\.{param}` must be {rule}; got "):
        parse_law(text)


@pytest.mark.parametrize(("cls", "args", "index", "param", "rule"), PARAMS, ids=PARAM_IDS)
@pytest.mark.parametrize("value", [True, False, np.bool_(True), "1.0", None, 1 + 0j])
def test_non_numbers_raise_type_error(cls, args, index, param, rule, value):
    with pytest.raises(TypeError, match=rf"^`{cls.__name__}\.{param}` must be a real number; "):
        cls(*_with(args, index, value))


@settings(max_examples=60, deadline=None)
@given(
    a=hs.floats(min_value=1e-6, max_value=1e6),
    b=hs.floats(min_value=1e-6, max_value=1e6),
    shape=hs.floats(min_value=0.1, max_value=1e6),
    mu=hs.floats(min_value=-50, max_value=50),
    sigma=hs.floats(min_value=1e-6, max_value=20.0),
)
def test_valid_parameters_round_trip(a, b, shape, mu, sigma):
    # Shapes below ~0.08 and sigmas above ~26 give overflowing times (see the extremes tests).
    laws: list[ComputeTimeLaw] = [
        Exponential(a),
        ShiftedExponential(a, b),
        Pareto(shape, b),
        Gamma(a, b),
        Weibull(shape, b),
        LogNormal(mu, sigma),
    ]
    for law in laws:
        assert parse_law(law.spec) == law


@settings(max_examples=60, deadline=None)
@given(
    weights=hs.lists(hs.floats(min_value=0.01, max_value=1.0), min_size=1, max_size=4),
    rates=hs.lists(hs.floats(min_value=1e-3, max_value=1e3), min_size=4, max_size=4),
)
def test_hyperexponential_round_trip(weights, rates):
    total = math.fsum(weights)
    probs = tuple(w / total for w in weights)
    law = HyperExponential(probs, tuple(rates[: len(probs)]))
    assert parse_law(law.spec) == law


@settings(max_examples=40, deadline=None)
@given(
    probs=hs.lists(hs.floats(min_value=0.05, max_value=0.95), min_size=2, max_size=4).filter(
        lambda p: abs(math.fsum(p) - 1.0) > 1e-9
    )
)
def test_hyperexponential_probabilities_must_sum_to_one(probs):
    with pytest.raises(ValueError) as info:
        HyperExponential(tuple(probs), tuple(1.0 for _ in probs))
    assert str(info.value) == f"`HyperExponential.probs` must sum to 1; got {math.fsum(probs)!r}"


@pytest.mark.parametrize(
    ("probs", "rates", "exc", "message"),
    [
        ((), (), ValueError, "`HyperExponential.probs` must have at least 1 entry; got 0"),
        (
            (1.5, -0.5),
            (1.0, 1.0),
            ValueError,
            "`HyperExponential.probs[0]` must be in (0, 1]; got 1.5",
        ),
        (
            (0.0, 1.0),
            (1.0, 1.0),
            ValueError,
            "`HyperExponential.probs[0]` must be in (0, 1]; got 0.0",
        ),
        ((0.5, 0.5), (1.0, -2.0), ValueError, "`HyperExponential.rates[1]` must be > 0; got -2.0"),
        (
            (0.5, 0.5),
            (1.0, math.nan),
            ValueError,
            "`HyperExponential.rates[1]` must be finite; got nan",
        ),
        (
            (0.5, 0.5),
            (1.0, 2.0, 3.0),
            ValueError,
            "`HyperExponential.rates` must have as many entries as `HyperExponential.probs` (2); "
            "got 3",
        ),
        (0.5, (1.0,), TypeError, "`HyperExponential.probs` must be a sequence of numbers; got 0.5"),
        ((True,), (1.0,), TypeError, "`HyperExponential.probs[0]` must be a real number; got True"),
    ],
)
def test_hyperexponential_validation(probs, rates, exc, message):
    with pytest.raises(exc) as info:
        HyperExponential(probs, rates)
    assert str(info.value).startswith(message)


def test_hyperexponential_accepts_sums_within_tolerance():
    law = HyperExponential((0.3, 0.7 + 5e-10), (1.0, 2.0))
    assert law.cdf(np.inf) == pytest.approx(1.0)
    assert parse_law(law.spec) == law
