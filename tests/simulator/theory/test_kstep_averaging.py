"""Zhou & Cong's K-AVG bounds: Theorem 3.1, Corollary 3.1, Theorems 3.3-3.4."""

from __future__ import annotations

import math

import numpy as np
import pytest

from simulator.errors import PssimError
from simulator.theory.kstep_averaging import (
    k_opt_condition,
    kavg_bound,
    kavg_k_objective,
    kavg_rate,
    kavg_vs_asgd,
    optimal_k,
)

SMALL = dict(learners=4, batch_size=1, step=0.1, lipschitz=1.0, variance=1.0, gap=1.0)


def test_bound_32_by_hand():
    # N=100, K=1, P=4, B=1, gamma=0.1, L=1, M=1, gap=1, delta=0.5:
    # 2/(100*0.5*0.1) + 1*1*0.1*1/(1*0.5) * (1/4 + 0) = 0.4 + 0.05
    b = kavg_bound(updates=100, k=1, delta=0.5, **SMALL)
    assert b.value == pytest.approx(0.45)
    assert b.extra["transient"] == pytest.approx(0.4) and b.valid
    # N=50, K=4, P=8, B=16, gamma=0.05, L=2, M=3, gap=5, delta=0.9
    b = kavg_bound(
        updates=50,
        k=4,
        learners=8,
        batch_size=16,
        step=0.05,
        lipschitz=2.0,
        variance=3.0,
        gap=5.0,
        delta=0.9,
    )
    expected = 2 * 5 / (50 * 3.9 * 0.05) + 2 * 4 * 0.05 * 3 / (16 * 3.9) * (
        4 / 8 + 2 * 7 * 3 * 0.05 / 6
    )
    assert b.value == pytest.approx(expected)
    # (3.1): 0.1^2 * 5 * 2 / 2 + 0.1 * 4 = 0.45 <= 1 and 0.01 <= 0.1
    assert [c.lhs for c in b.conditions] == pytest.approx([0.45, 0.01]) and b.valid


def test_default_delta_is_largest_allowed_and_broken_conditions_are_reported():
    b = kavg_bound(updates=10, k=2, **SMALL)
    assert b.extra["delta"] == pytest.approx(1 - 0.1**2)
    big = kavg_bound(
        updates=10, k=8, learners=4, batch_size=1, step=0.5, lipschitz=1.0, variance=1.0, gap=1.0
    )
    assert not big.valid and big.failed()[0].rule.endswith("(3.1)")
    assert math.isfinite(big.value)


def test_rate_325_by_hand():
    b = kavg_rate(
        updates=10_000,
        k=4,
        learners=8,
        batch_size=16,
        lipschitz=1.0,
        variance=1.0,
        gap=1.0,
        delta=0.5,
    )
    assert b.extra["step"] == pytest.approx(math.sqrt(16 * 8 / (16 * 10_000)))
    assert b.value == pytest.approx(16 / 3.5 * math.sqrt(1 / 128) / 100)
    assert b.valid and b.extra["bound_32"] <= b.value
    b = kavg_rate(
        updates=400, k=2, learners=2, batch_size=4, lipschitz=2.0, variance=0.5, gap=3.0, delta=0.2
    )
    assert b.extra["step"] == pytest.approx(math.sqrt(3 * 4 * 2 / (2 * 0.5 * 4 * 400)))
    assert b.value == pytest.approx(8 / 1.2 * math.sqrt(3 * 2 * 0.5 / 8) / 20)


def test_objective_344_by_hand_and_equal_to_bound_343():
    # alpha = 2/(100*0.1) = 0.2, beta = 0.1/4 = 0.025, eta = 0.01/6
    b = kavg_k_objective([1, 2, 5], total_steps=100, delta=0.5, **SMALL)
    eta = 0.01 / 6
    expected = [(0.2 + 0.025 * k + eta * (2 * k - 1) * (k - 1)) * k / (k - 0.5) for k in (1, 2, 5)]
    np.testing.assert_allclose(b.value, expected)
    # B(K) is bound (3.2) with N = S/K
    for k in (1, 2, 4, 5, 10):
        direct = kavg_bound(updates=100 // k, k=k, delta=0.5, **SMALL).value
        assert kavg_k_objective(k, total_steps=100, delta=0.5, **SMALL).value == pytest.approx(
            direct
        )


SETTINGS = [
    dict(total_steps=100, delta=0.5, **SMALL),
    dict(total_steps=10**6, delta=0.5, **SMALL),
    dict(
        total_steps=1000,
        learners=8,
        batch_size=32,
        step=0.01,
        lipschitz=5.0,
        variance=2.0,
        gap=50.0,
        delta=0.9,
    ),
    dict(
        total_steps=200,
        learners=64,
        batch_size=16,
        step=0.002,
        lipschitz=1.0,
        variance=0.3,
        gap=20.0,
        delta=0.3,
    ),
    dict(
        total_steps=5000, learners=2, batch_size=8, step=0.05, lipschitz=3.0, variance=10.0, gap=2.0
    ),
]


@pytest.mark.parametrize("setting", SETTINGS)
def test_optimal_k_is_brute_force_argmin(setting):
    ks = np.arange(1, 20_001)
    values = kavg_k_objective(ks, **setting).value
    b = optimal_k(**setting)
    assert b.value == float(ks[np.argmin(values)])
    assert b.extra["b_opt"] == pytest.approx(values.min())


def test_optimal_k_random_settings_and_347_iff():
    rng = np.random.default_rng(3)
    for _ in range(200):
        setting = dict(
            total_steps=int(rng.integers(10, 10_000)),
            learners=int(rng.integers(1, 128)),
            batch_size=int(rng.integers(1, 64)),
            step=float(10 ** rng.uniform(-3, -0.5)),
            lipschitz=float(10 ** rng.uniform(-1, 1)),
            variance=float(10 ** rng.uniform(-2, 1)),
            gap=float(10 ** rng.uniform(-1, 2)),
            delta=float(rng.uniform(0.05, 0.95)),
        )
        ks = np.arange(1, 3001)
        values = kavg_k_objective(ks, **setting).value
        best = optimal_k(**setting, k_max=3000).value
        assert values[int(best) - 1] == pytest.approx(values.min(), rel=1e-12)
        assert k_opt_condition(**setting).holds == (best > 1)


def test_condition_347_true_and_false():
    # S = 100: alpha = 0.2; (1-.5)/1 * 0.2 = 0.1 > (0.5/1) * 0.025 + 3 * 0.01/6 = 0.0175
    yes = k_opt_condition(total_steps=100, delta=0.5, **SMALL)
    assert yes.holds and yes.lhs == pytest.approx(0.1) and yes.rhs == pytest.approx(0.0175)
    assert optimal_k(total_steps=100, delta=0.5, **SMALL).value == 2.0
    # S = 10^6: alpha = 2e-5, lhs = 1e-5 < 0.0175
    no = k_opt_condition(total_steps=10**6, delta=0.5, **SMALL)
    assert not no.holds and no.lhs == pytest.approx(1e-5)
    assert optimal_k(total_steps=10**6, delta=0.5, **SMALL).value == 1.0


def test_optimal_k_reports_step_condition_limit():
    b = optimal_k(total_steps=100, delta=0.5, **SMALL)
    # (3.1) at gamma L = 0.1: K = 7 gives 0.9 <= 1, K = 8 gives 1.07
    assert b.extra["k_max_step_condition"] == 7.0
    assert optimal_k(total_steps=100, delta=0.5, k_max=1, **SMALL).value == 1.0


def test_kavg_vs_asgd():
    ps = np.array([1, 4, 16, 64])
    out = kavg_vs_asgd(
        ps,
        updates=100,
        k=4,
        batch_size=16,
        step=0.05,
        lipschitz=1.0,
        variance=2.0,
        gap=1.0,
        c0=2.0,
        c1=1.0,
    )
    # (3.39): 2*1/(100*0.05) + 1 * 0.05^2 * 2^2 * P / (2*16)
    np.testing.assert_allclose(out["asgd"].value, 0.4 + 0.0025 * 4 * ps / 32)
    assert np.all(np.diff(out["k-avg"].value) < 0)
    direct = [
        kavg_bound(
            updates=100,
            k=4,
            learners=int(p),
            batch_size=16,
            step=0.05,
            lipschitz=1.0,
            variance=2.0,
            gap=1.0,
        ).value
        for p in ps
    ]
    np.testing.assert_allclose(out["k-avg"].value, direct)


@pytest.mark.parametrize(
    ("call", "param"),
    [
        (lambda: kavg_bound(updates=0, k=1, **SMALL), "updates"),
        (lambda: kavg_bound(updates=1, k=0, **SMALL), "k"),
        (lambda: kavg_bound(updates=1, k=1, delta=1.0, **SMALL), "delta"),
        (lambda: kavg_bound(updates=1, k=1, delta=0.0, **SMALL), "delta"),
        (lambda: kavg_bound(updates=1, k=1, **{**SMALL, "step": 2.0}), "delta"),
        (lambda: kavg_bound(updates=1, k=1, **{**SMALL, "lipschitz": -1.0}), "lipschitz"),
        (lambda: kavg_bound(updates=1, k=1, **{**SMALL, "batch_size": 1.5}), "batch_size"),
        (lambda: kavg_bound(updates=1, k=1, **{**SMALL, "gap": -1.0}), "gap"),
        (lambda: kavg_k_objective([0, 1], total_steps=10, **SMALL), "k"),
        (lambda: kavg_k_objective(1, total_steps=0, **SMALL), "total_steps"),
        (lambda: optimal_k(total_steps=10, **{**SMALL, "variance": 0.0}), "variance"),
        (lambda: optimal_k(total_steps=10, k_max=0, **SMALL), "k_max"),
        (
            lambda: kavg_rate(
                updates=10, k=1, learners=0, batch_size=1, lipschitz=1.0, variance=1.0, gap=1.0
            ),
            "learners",
        ),
        (
            lambda: kavg_vs_asgd(
                [1, 0], updates=1, k=1, batch_size=1, step=0.1, lipschitz=1.0, variance=1.0, gap=1.0
            ),
            "learners",
        ),
    ],
)
def test_bad_input_names_parameter(call, param):
    with pytest.raises(PssimError, match=f"`{param}`") as info:
        call()
    assert info.value.param == param
