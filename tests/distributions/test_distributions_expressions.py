"""Law values as expressions in m and P, and the deterministic law."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.stats

from distributions import (
    Deterministic,
    Exponential,
    Gamma,
    HyperExponential,
    LawError,
    Pareto,
    ScipyLaw,
    ShiftedExponential,
    law_from,
    law_symbols,
    parse_law,
)


@pytest.mark.parametrize(
    ("spec", "m", "p", "law"),
    [
        ("shifted-exp:0.5*m,1", 4, None, ShiftedExponential(2.0, 1.0)),
        ("shifted-exp: 2 * m , 1", 4, 8, ShiftedExponential(8.0, 1.0)),
        ("deterministic:0.01*max(m/P, 4)", 16, 2, Deterministic(0.08)),
        ("deterministic:0.01*max(m/P, 4)", 4, 8, Deterministic(0.04)),
        ("deterministic:0.002*P", None, 8, Deterministic(0.016)),
        ("exp:1/(1+m)", 3, None, Exponential(0.25)),
        ("exp:-(-m)", 3, None, Exponential(3.0)),
        ("pareto:2, m**0.5", 9, None, Pareto(2.0, 3.0)),
        ("gamma:min(m, P, 5),(m+P)/2", 4, 8, Gamma(4.0, 6.0)),
        ("hyperexp:0.5,m,0.5,2*P", 1, 2, HyperExponential((0.5, 0.5), (1.0, 4.0))),
        ("exp:+2e-1*m", 10, None, Exponential(2.0)),
    ],
)
def test_expressions_resolve_with_m_and_p(spec, m, p, law):
    assert parse_law(spec, m=m, P=p) == law
    assert law_from(spec, m=m, P=p) == law


def test_scipy_arguments_take_expressions_too():
    law = parse_law("scipy:gamma(a=max(m, 2), scale=1/P)", m=3, P=2)
    assert law == ScipyLaw(scipy.stats.gamma(3.0, scale=0.5))
    assert law_symbols("scipy:gamma(a=max(m, 2), scale=1/P)") == {"m", "P"}


def test_strings_without_symbols_are_as_before():
    assert law_symbols("exp:1") == frozenset() and law_symbols("exp:1/2") == frozenset()
    assert parse_law("exp:1", m=4, P=8) == Exponential(1.0)
    assert parse_law("exp:1/2") == Exponential(0.5)  # constant arithmetic needs no symbol
    assert parse_law("pareto:2,1").spec == "pareto:2.0,1.0"
    assert law_symbols("shifted-exp:0.5*m,1") == {"m"}
    assert law_symbols("deterministic:0.01*max(m/P, 4)") == {"m", "P"}


EXPR = r"^`dist` value (.*) in (.*) must be a number or an expression in m and P; got "


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("__import__('os')", r"'__import__' is not callable here \(functions: min, max\)$"),
        ("m.real", r"attribute access 'm.real' is not allowed"),
        ("().__class__", r"attribute access '\(\).__class__' is not allowed"),
        ("m[0]", r"indexing 'm\[0\]' is not allowed"),
        ("x", r"unknown name 'x' \(names: m, P, min, max\)$"),
        ("p", r"unknown name 'p'"),
        ("abs(m)", r"'abs' is not callable here"),
        ("open('f')", r"'open' is not callable here"),
        ("lambda: 1", r"'lambda: 1' is not allowed"),
        ("m if m else 1", r".* is not allowed \(numbers, m, P, min, max, "),
        ("m == 1", r".* is not allowed \(numbers, m, P, min, max, "),
        ("m % 2", r".* is not allowed \(numbers, m, P, min, max, "),
        ("m // 2", r".* is not allowed \(numbers, m, P, min, max, "),
        ("max(m)", r"max takes two or more values, e.g. max\(m, 4\)$"),
        ("max(m, key=1)", r"max takes two or more values"),
        ("min", r"min must be called"),
        ("True", r"True is not a plain decimal number$"),
        ("1j", r"1j is not a plain decimal number$"),
        ("0x10", r"0x10 is not a plain decimal number$"),
        ("'1'", r"'1' is not a plain decimal number$"),
        ("m)", r"not a valid expression$"),
        ("m" + "+m" * 150, r"an expression longer than 200 characters$"),
    ],
)
def test_refused_expressions_say_why_in_one_line(value, reason):
    with pytest.raises(LawError, match=EXPR + reason) as info:
        parse_law(f"exp:{value}", m=2, P=2)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("exp:m", r"^`dist` spec 'exp:m' uses m \(the mini-batch size\), which is not given"),
        ("exp:P", r"^`dist` spec 'exp:P' uses P \(the number of learners\), which is not given"),
    ],
)
def test_a_symbol_that_is_not_given_is_named(spec, message):
    with pytest.raises(LawError, match=message):
        parse_law(spec)


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("exp:1/(m-1)", r"^`dist` value '1/\(m-1\)' in 'exp:1/\(m-1\)' must give a finite "
         r"number \(with m=1\); got division by zero$"),
        ("exp:2**10**10*m", r"must give a finite number \(with m=1\); got overflow$"),
        ("exp:(-8)**0.5*m", r"got a complex number"),
        ("exp:max((-8)**0.5, m)", r"got a complex number"),
        ("exp:1e300*1e300*m", r"got inf$"),
        ("exp:m-1", r"^`dist` 'exp:m-1' with m=1: `Exponential.rate` must be > 0; got 0.0$"),
        ("shifted-exp:m-P,1", r"with m=1, P=8: `ShiftedExponential.shift` must be >= 0; got -7.0$"),
    ],
)  # fmt: skip
def test_values_the_law_refuses_name_m_and_p(spec, message):
    with pytest.raises(LawError, match=message):
        parse_law(spec, m=1, P=8)


def test_m_and_p_must_be_positive_numbers():
    with pytest.raises(LawError, match=r"^`m` must be > 0; got 0.0$"):
        parse_law("exp:m", m=0)
    with pytest.raises(TypeError, match=r"^`P` must be a real number"):
        parse_law("exp:P", P="8")


def test_commas_inside_parentheses_do_not_split_values():
    with pytest.raises(LawError, match=r"must have 1 value \(exp:RATE\); got 2$"):
        parse_law("exp:max(m, 2),1", m=1)
    assert parse_law("exp:max(m, 2)", m=1) == Exponential(2.0)


# ----------------------------------------------------------------------- deterministic
def test_deterministic_moments_functions_and_order_statistics():
    law = Deterministic(0.5)
    assert law.mean() == 0.5 and law.var() == 0.0
    assert law.aging == "nltu"
    for k, n in [(1, 1), (1, 8), (3, 8), (8, 8), (50, 100)]:
        assert law.order_statistic_mean(k, n) == 0.5
    x = np.array([0.0, 0.49, 0.5, 0.51, 10.0])
    np.testing.assert_array_equal(law.cdf(x), [0.0, 0.0, 1.0, 1.0, 1.0])
    np.testing.assert_array_equal(law.sf(x), [1.0, 1.0, 0.0, 0.0, 0.0])
    q = np.array([0.0, 1e-12, 0.5, 1.0])
    np.testing.assert_array_equal(law.ppf(q), np.full(4, 0.5))
    np.testing.assert_array_equal(law.isf(q), np.full(4, 0.5))
    assert law.ppf(0.3) == 0.5 and np.ndim(law.ppf(0.3)) == 0
    draws = law.sample((2, 3), rng=np.random.default_rng(0))
    np.testing.assert_array_equal(draws, np.full((2, 3), 0.5))
    assert law.sum_law(1) is law and law.sum_law(4) == Deterministic(2.0)
    assert law.spec == "deterministic:0.5" and parse_law(law.spec) == law
    assert parse_law("deterministic:2") == Deterministic(2.0) == law_from("deterministic:2")


@pytest.mark.parametrize(
    ("value", "error", "message"),
    [
        (0.0, LawError, r"^`Deterministic.value` must be > 0; got 0.0$"),
        (-1.0, LawError, r"^`Deterministic.value` must be > 0; got -1.0$"),
        (math.nan, LawError, r"^`Deterministic.value` must be finite; got nan$"),
        (1e300, LawError, r"^`Deterministic.value` must give a mean E\[X\] <= 1.34e\+154"),
        ("1", TypeError, r"^`Deterministic.value` must be a real number"),
    ],
)
def test_deterministic_refuses_bad_values(value, error, message):
    with pytest.raises(error, match=message):
        Deterministic(value)
