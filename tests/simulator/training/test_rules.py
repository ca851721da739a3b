"""Server update rules: eqs. (2)-(4) and (13) of Dutta et al. 2018, damping, optax, checks."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simulator.training import make_rule
from simulator.training.rules import (
    RULE_NAMES,
    CompensatedRate,
    DampedRate,
    FixedRate,
    OptaxRule,
)

# One update with three slots (the last masked) on params {"a": (2,), "b": ()}.
W = {"a": jnp.array([1.0, 2.0]), "b": jnp.array(0.5)}
READS = {"a": jnp.array([[1.0, 2.0], [0.0, 0.0], [9.0, 9.0]]), "b": jnp.array([0.5, 0.5, 9.0])}
GRADS = {
    "a": jnp.array([[1.0, -1.0], [2.0, 4.0], [np.nan, np.nan]]),
    "b": jnp.array([1.0, 3.0, 7.0]),
}
MASK = jnp.array([True, True, False])
STALE = jnp.array([0, 3, 0])


def apply(rule, state=()):
    return rule.apply(state, W, GRADS, READS, MASK, STALE)[0]


def test_fixed_rate_is_eq_2_mean_over_real_slots():
    new = apply(FixedRate(0.1))
    # K = 2 real slots; the masked NaN gradient must not leak.
    np.testing.assert_allclose(new["a"], [1.0 - 0.1 * 3 / 2, 2.0 - 0.1 * 3 / 2], rtol=1e-6)
    np.testing.assert_allclose(new["b"], 0.5 - 0.1 * 4 / 2, rtol=1e-6)


def test_compensated_rate_is_eq_13_per_contribution():
    c, lr_max = 0.5, 0.2
    rule = CompensatedRate(c=c, lr_max=lr_max)
    eta = np.asarray(rule.rates(W, READS, MASK, STALE))
    # slot 0 read w_j itself (distance 0): eta_max; slot 1: ||w_j - w_tau||^2 = 1 + 4 + 0 = 5.
    assert eta[0] == pytest.approx(lr_max)
    assert eta[1] == pytest.approx(min(c / 5.0, lr_max))
    new = apply(rule)
    expected_a = (
        np.array([1.0, 2.0]) - (eta[0] * np.array([1.0, -1.0]) + eta[1] * np.array([2.0, 4.0])) / 2
    )
    np.testing.assert_allclose(new["a"], expected_a, rtol=1e-6)


def test_compensated_rate_caps_at_lr_max_when_models_are_close():
    rule = CompensatedRate(c=10.0, lr_max=0.3)
    eta = np.asarray(rule.rates(W, READS, MASK, STALE))
    np.testing.assert_allclose(eta[:2], [0.3, 0.3])


def test_damped_rate_divides_by_one_plus_staleness():
    rule = DampedRate(0.4)
    np.testing.assert_allclose(rule.rates(W, READS, MASK, STALE), [0.4, 0.1, 0.4])
    new = apply(rule)
    np.testing.assert_allclose(new["b"], 0.5 - (0.4 * 1.0 + 0.1 * 3.0) / 2, rtol=1e-6)


def test_optax_sgd_equals_fixed_rate():
    rule = OptaxRule(optax.sgd(0.1))
    new = rule.apply(rule.init(W), W, GRADS, READS, MASK, STALE)[0]
    ref = apply(FixedRate(0.1))
    for name in W:
        np.testing.assert_allclose(new[name], ref[name], rtol=1e-6)


def test_optax_state_is_carried():
    rule = OptaxRule(optax.sgd(0.1, momentum=0.9))
    state = rule.init(W)
    w1, state = rule.apply(state, W, GRADS, READS, MASK, STALE)
    w2, _ = rule.apply(state, w1, GRADS, READS, MASK, STALE)
    # second step: velocity 1.9 * mean gradient
    np.testing.assert_allclose(w1["b"] - w2["b"], 0.1 * 1.9 * 2.0, rtol=1e-5)


def test_rules_are_pytrees_with_traced_rates():
    calls = []

    @jax.jit
    def step(rule):
        calls.append(1)
        return rule.apply((), W, GRADS, READS, MASK, STALE)[0]["b"]

    assert float(step(FixedRate(0.1))) == pytest.approx(0.3)
    assert float(step(FixedRate(0.2))) == pytest.approx(0.1)
    assert len(calls) == 1  # a new learning rate does not retrace
    assert jax.tree_util.tree_leaves(CompensatedRate(0.01, 0.1)) == [0.01, 0.1]


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: FixedRate(-1.0), "`lr` must be > 0; got -1.0"),
        (lambda: FixedRate(0.0), "`lr` must be > 0; got 0.0"),
        (lambda: FixedRate(float("inf")), "`lr` must be finite; got inf"),
        (lambda: FixedRate(float("nan")), "`lr` must be finite; got nan"),
        (lambda: FixedRate("0.1"), "`lr` must be a number > 0; got '0.1'"),
        (lambda: DampedRate(-2), "`lr` must be > 0; got -2.0"),
        (lambda: CompensatedRate(c=0.0, lr_max=0.1), "`c` must be > 0; got 0.0"),
        (lambda: CompensatedRate(c=0.1, lr_max=-0.1), "`lr_max` must be > 0; got -0.1"),
        (lambda: OptaxRule("adam"), "`transform` must be an optax.GradientTransformation"),
        (
            lambda: make_rule("x", 0.1),
            "`name` must be one of fixed, compensated, damped, dc-asgd, staleness-weight; got 'x'",
        ),
        (lambda: make_rule("compensated", -1.0), "`lr` must be > 0; got -1.0"),
    ],
)
def test_bad_parameters_raise_the_documented_message(build, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        build()


def test_make_rule_names_and_paper_default_c():
    assert set(RULE_NAMES) == {"fixed", "compensated", "damped", "dc-asgd", "staleness-weight"}
    assert make_rule("fixed", 0.01) == FixedRate(0.01)
    assert make_rule("Damped", 0.01) == DampedRate(0.01)
    rule = make_rule("compensated", 0.01)
    assert rule.lr_max == 0.01 and rule.c == pytest.approx(0.005 * 0.01)  # fig. 9 setting
    assert make_rule("compensated", 0.01, c=1e-3).c == 1e-3
    assert [make_rule(n, 0.1).name for n in RULE_NAMES] == list(RULE_NAMES)


@settings(max_examples=30, deadline=None)
@given(
    lr=st.floats(1e-4, 10.0),
    stale=st.lists(st.integers(0, 50), min_size=3, max_size=3),
)
def test_damped_never_exceeds_fixed_and_equals_it_when_fresh(lr, stale):
    s = jnp.asarray(stale)
    damped = np.asarray(DampedRate(lr).rates(W, READS, MASK, s))
    assert np.all(damped <= lr * (1 + 1e-6))
    np.testing.assert_allclose(damped[np.asarray(stale) == 0], lr, rtol=1e-6)
