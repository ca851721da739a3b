"""Bhardwaj & Cong's SGD (Lemma 1, Theorems 2-3) and ASGD (eqs. 7-8, Theorems 4-5) bounds."""

from __future__ import annotations

import math

import numpy as np
import pytest

from simulator.errors import PssimError
from simulator.theory.inefficiency import (
    asgd_bound,
    asgd_optimal_step,
    batch_size_penalty,
    learner_penalty,
    sgd_bound,
    sgd_optimal_step,
)

UNIT = dict(lipschitz=1.0, variance=1.0, gap=1.0)


def test_sgd_bound_by_hand():
    # (1/1000 + 1 * 1 * 0.01^2 / 2) / (0.01 - 1 * 10 * 0.01^2 / 2)
    b = sgd_bound(1000, batch_size=10, step=0.01, **UNIT)
    assert b.value == pytest.approx((0.001 + 0.00005) / 0.0095) and b.valid
    # S = 5e4, M = 4, gamma = 0.02, L = 2, sigma^2 = 3, D_f = 7
    b = sgd_bound(5e4, batch_size=4, step=0.02, lipschitz=2.0, variance=3.0, gap=7.0)
    assert b.value == pytest.approx((7 / 5e4 + 2 * 3 * 0.02**2 / 2) / (0.02 - 2 * 4 * 0.02**2 / 2))
    curve = sgd_bound([1e3, 1e4, 1e5], batch_size=10, step=0.01, **UNIT).value
    assert curve.shape == (3,) and np.all(np.diff(curve) < 0)


def test_sgd_bound_outside_lemma_condition_is_vacuous_not_refused():
    b = sgd_bound(1000, batch_size=100, step=0.05, **UNIT)  # L M gamma / 2 = 2.5
    assert not b.valid and b.value == math.inf


@pytest.mark.parametrize("batch_size", [1, 8, 64, 1024])
@pytest.mark.parametrize("samples", [1e3, 1e5])
def test_sgd_optimal_step_eq13_and_grid(batch_size, samples):
    b = sgd_optimal_step(samples, batch_size=batch_size, lipschitz=2.0, variance=3.0, gap=5.0)
    alpha = math.sqrt(samples * 3.0 / (2.0 * 5.0))
    c = batch_size / alpha * (math.sqrt(1 + 2 * alpha**2 / batch_size**2) - 1)  # eq. 13
    assert b.extra["step"] == pytest.approx(c * math.sqrt(5.0 / (samples * 2.0 * 3.0)))
    coef = (1 / c + c / 2) / (1 - c * batch_size / (2 * alpha))  # eq. 12
    assert b.value == pytest.approx(coef * math.sqrt(5.0 * 2.0 * 3.0 / samples))
    grid = np.linspace(1e-6, 2 / (2.0 * batch_size), 200_001)[:-1]
    values = [
        sgd_bound(
            samples, batch_size=batch_size, step=g, lipschitz=2.0, variance=3.0, gap=5.0
        ).value
        for g in grid[::1000]
    ]
    assert b.value <= min(values) * (1 + 1e-12) and b.valid


def test_theorem3_best_guarantee_worsens_with_batch_size():
    best = [sgd_optimal_step(1e5, batch_size=m, **UNIT).value for m in (1, 4, 16, 64, 256)]
    assert np.all(np.diff(best) > 0)


def test_batch_size_penalty_theorem2():
    b = batch_size_penalty(1e4, small=1, large=1000, **UNIT)  # alpha = 100
    assert b.valid and b.extra["alpha"] == pytest.approx(100.0)
    assert b.extra["approximation"] == pytest.approx(2000 / (math.sqrt(2) * 100 + 1))
    assert b.value == pytest.approx(b.extra["approximation"], rel=0.05)
    low = sgd_optimal_step(1e4, batch_size=1, **UNIT).value
    high = sgd_optimal_step(1e4, batch_size=1000, **UNIT).value
    assert b.value == pytest.approx(high / low)
    assert not batch_size_penalty(1e4, small=50, large=1000, **UNIT).valid


def test_asgd_bound_by_hand():
    # 2/(1000*0.05) + 1*1*0.05 + 2*1*1*1*4*0.05^2
    b = asgd_bound(1000, batch_size=1, learners=4, step=0.05, **UNIT)
    assert b.value == pytest.approx(0.04 + 0.05 + 0.02)
    # eq. 8: 0.05 + 2 * 16 * 0.0025 = 0.13 <= 1
    assert b.valid and b.conditions[0].lhs == pytest.approx(0.13)
    b = asgd_bound(6e4, batch_size=8, learners=16, step=0.01, lipschitz=2.0, variance=0.5, gap=3.0)
    expected = 2 * 3 / (6e4 * 0.01) + 0.5 * 2 * 0.01 + 2 * 0.5 * 4 * 8 * 16 * 0.01**2
    assert b.value == pytest.approx(expected)
    lhs = 2 * 8 * 0.01 + 2 * 4 * 64 * 256 * 0.01**2  # 0.16 + 13.1 > 1
    assert not b.valid and b.conditions[0].lhs == pytest.approx(lhs)


@pytest.mark.parametrize("learners", [1, 4, 32, 1000])
@pytest.mark.parametrize("samples", [1e3, 1e5])
def test_asgd_optimal_step_is_grid_argmin_under_eq8(learners, samples):
    kw = dict(batch_size=2, learners=learners, lipschitz=1.5, variance=2.0, gap=4.0)
    b = asgd_optimal_step(samples, **kw)
    cap = (math.sqrt(1 + 8 * learners**2) - 1) / (4 * 1.5 * 2 * learners**2)
    assert b.extra["step_max"] == pytest.approx(cap) and b.valid
    grid = np.linspace(cap * 1e-4, cap, 20_001)
    values = np.array([asgd_bound(samples, step=g, **kw).value for g in grid[::20]])
    assert b.value <= values.min() * (1 + 1e-12)
    assert b.value == pytest.approx(values.min(), rel=1e-3)
    c, alpha = b.extra["c"], b.extra["alpha"]
    if b.extra["step"] < cap:  # eq. 21 holds at an interior optimum
        assert 4 * learners * c**3 + alpha * c**2 - 2 * alpha == pytest.approx(0, abs=1e-8 * alpha)


def test_learner_penalty_theorem4_and_theorem5():
    b = learner_penalty(1e4, learners=1000, batch_size=1, **UNIT)  # alpha = 100
    assert b.valid and b.extra["approximation"] == pytest.approx(10.0)
    assert b.value == pytest.approx(10.0, rel=0.05)
    best = [asgd_optimal_step(1e4, batch_size=1, learners=n, **UNIT).value for n in (1, 4, 16)]
    assert np.all(np.diff(best) > 0)  # Theorem 5
    # one learner: c* ~ sqrt(2) and the bound ~ 2 sqrt(2) sigma^2 / (alpha M) (eq. 22)
    one = asgd_optimal_step(1e4, batch_size=1, learners=1, **UNIT)
    assert one.extra["c"] == pytest.approx(math.sqrt(2), rel=0.05)
    assert one.value == pytest.approx(2 * math.sqrt(2) / 100, rel=0.05)


@pytest.mark.parametrize(
    ("call", "param"),
    [
        (lambda: sgd_bound(0, batch_size=1, step=0.1, **UNIT), "samples"),
        (lambda: sgd_bound([1, -1], batch_size=1, step=0.1, **UNIT), "samples"),
        (lambda: sgd_bound(10, batch_size=0, step=0.1, **UNIT), "batch_size"),
        (lambda: sgd_bound(10, batch_size=1, step=0.0, **UNIT), "step"),
        (lambda: sgd_bound(10, batch_size=1, step=0.1, **{**UNIT, "variance": -1}), "variance"),
        (lambda: sgd_optimal_step(10, batch_size=1, **{**UNIT, "gap": 0.0}), "gap"),
        (lambda: batch_size_penalty(10, small=0, large=4, **UNIT), "small"),
        (lambda: asgd_bound(10, batch_size=1, learners=0, step=0.1, **UNIT), "learners"),
        (
            lambda: asgd_optimal_step(10, batch_size=1, learners=2, **{**UNIT, "lipschitz": 0}),
            "lipschitz",
        ),
        (lambda: learner_penalty(10, learners=2.5, batch_size=1, **UNIT), "learners"),
    ],
)
def test_bad_input_names_parameter(call, param):
    with pytest.raises(PssimError, match=f"`{param}`") as info:
        call()
    assert info.value.param == param
