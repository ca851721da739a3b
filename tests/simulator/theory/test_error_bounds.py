"""Error bounds of Dutta et al. 2018 against hand computations of the paper's formulas.

Each expected value is written out as arithmetic on literal numbers, not computed by the
code under test. Fast: closed forms only.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from simulator.errors import PssimError
from simulator.theory.error_bounds import (
    compensated_rate_bound,
    kasync_error_bound,
    ksync_error_bound,
    nonconvex_bound,
    step_size_limit,
)
from simulator.theory.error_runtime import (
    error_runtime_curve,
    error_vs_time,
    p0_exponential,
    p0_lemma8,
    stale_can_win,
)
from simulator.theory.runtime import expected_runtime

SETTING_A = dict(lr=0.1, L=2.0, c=0.5, sigma2=4.0, K=2, m=5, initial_error=3.0, M_G=1.0)
SETTING_B = dict(lr=0.01, L=1.0, c=0.1, sigma2=1.0, K=8, m=1, initial_error=1.0)


def _holds(bound, prefix):
    (cond,) = [c for c in bound.conditions if c.rule.startswith(prefix)]
    return cond.holds


# ---- step-size limits (Lemma 2, Theorem 3 / Corollary 2) ----------------------------------


def test_step_size_limit_by_hand():
    # Theorem 3 as stated: 1/(2 L (M_G/(K m) + 1/K)); Lemma 2: 1/(2 L (M_G/(K m) + 1)).
    b = step_size_limit(2.0, 1.0, 2, 5)
    assert b.value == pytest.approx(1 / (2 * 2.0 * (1.0 / 10 + 1 / 2)))
    assert b.extra["lemma2"] == pytest.approx(1 / (2 * 2.0 * (1.0 / 10 + 1)))
    assert step_size_limit(2.0, 1.0, 2, 5, result="lemma2").value == b.extra["lemma2"]
    # K = 1 is Corollary 2: both forms give 1/(2 L (M_G/m + 1)).
    b1 = step_size_limit(1.0, 3.0, 1, 3)
    assert b1.value == pytest.approx(1 / (2 * 1.0 * (1.0 + 1.0)))
    assert b1.extra["theorem3"] == pytest.approx(b1.extra["lemma2"])


# ---- Lemma 2 -------------------------------------------------------------------------------


def test_ksync_setting_a_by_hand():
    b = ksync_error_bound([0, 3], **SETTING_A)
    floor = 0.1 * 2.0 * 4.0 / (2 * 0.5 * 2 * 5)  # 0.08
    rate = 1 - 0.1 * 0.5  # 0.95
    assert b.extra["floor"] == pytest.approx(0.08)
    assert b.extra["rate"] == pytest.approx(0.95)
    np.testing.assert_allclose(b.value, [3.0, floor + rate**3 * (3.0 - floor)])
    assert b.value[1] == pytest.approx(2.583535)
    assert b.valid and b.citation.endswith("Lemma 2")


def test_ksync_setting_b_scalar_by_hand():
    b = ksync_error_bound(1000, **SETTING_B)
    assert isinstance(b.value, float)
    assert b.value == pytest.approx(0.00625 + 0.999**1000 * (1.0 - 0.00625))


def test_ksync_floor_scales_as_one_over_k():
    base = dict(SETTING_B, K=1)
    floors = [ksync_error_bound(0, **dict(base, K=k)).extra["floor"] for k in (1, 2, 4, 8)]
    np.testing.assert_allclose(floors, [floors[0] / k for k in (1, 2, 4, 8)])


def test_ksync_step_condition_at_the_boundary():
    # L = 1, M_G = 0: the limit is exactly 1/2.
    setting = dict(L=1.0, c=0.5, sigma2=1.0, K=3, m=2, initial_error=1.0)
    assert _holds(ksync_error_bound(1, lr=0.5, **setting), "eta <=")
    assert not _holds(ksync_error_bound(1, lr=0.5 + 1e-12, **setting), "eta <=")


def test_ksync_reports_c_above_l_without_refusing():
    b = ksync_error_bound(5, lr=0.1, L=1.0, c=2.0, sigma2=1.0, K=1, m=1, initial_error=1.0)
    assert not b.valid
    assert [c.rule for c in b.failed()] == ["c <= L (eqs. 5 and 6 together)"]
    assert np.isfinite(b.value)


# ---- Theorem 3 -----------------------------------------------------------------------------


def test_kasync_setting_a_by_hand():
    b = kasync_error_bound([0, 3], gamma=0.2, p0=0.5, **SETTING_A)
    gp = 1 - 0.2 + 0.5 / 2  # 1.05
    floor = 0.1 * 2.0 * 4.0 / (2 * 0.5 * 1.05 * 2 * 5)
    rate = 1 - 0.1 * 0.5 * 1.05  # 0.9475
    assert b.extra["gamma_prime"] == pytest.approx(gp)
    assert b.extra["floor"] == pytest.approx(0.8 / 10.5)
    assert b.extra["rate"] == pytest.approx(0.9475)
    np.testing.assert_allclose(b.value, [3.0, floor + rate**3 * (3.0 - floor)])
    assert b.valid


def test_kasync_setting_b_by_hand():
    # K = 1, p0 = 1/8 (exponential, P = 8), gamma = 0.5: gamma' = 0.5625.
    b = kasync_error_bound(200, gamma=0.5, p0=0.125, **dict(SETTING_B, K=1))
    floor = 0.01 * 1.0 * 1.0 / (2 * 0.1 * 0.5625 * 1 * 1)
    assert b.value == pytest.approx(floor + (1 - 0.01 * 0.1 * 0.5625) ** 200 * (1.0 - floor))


def test_kasync_with_gamma_prime_one_is_lemma2():
    # gamma = p0/2 makes gamma' = 1: Theorem 3's floor and rate are Lemma 2's.
    j = np.arange(0, 50, 7)
    sync = ksync_error_bound(j, **SETTING_A)
    stale = kasync_error_bound(j, gamma=0.25, p0=0.5, **SETTING_A)
    np.testing.assert_allclose(stale.value, sync.value)
    # Faster decay iff p0/2 > gamma (section 3.2).
    faster = kasync_error_bound(j, gamma=0.0, p0=0.5, **SETTING_A)
    slower = kasync_error_bound(j, gamma=0.5, p0=0.5, **SETTING_A)
    assert faster.extra["rate"] < sync.extra["rate"] < slower.extra["rate"]


def test_kasync_step_conditions_as_stated_and_as_proved():
    # L = 1, M_G = 0, K = 4: stated limit 1/(2 (0 + 1/4)) = 2, proof's limit 1/2.
    setting = dict(L=1.0, c=0.25, sigma2=1.0, K=4, m=1, initial_error=1.0, gamma=0.1, p0=0.25)
    b = kasync_error_bound(1, lr=1.0, **setting)
    assert _holds(b, "eta <= 1/(2 L (M_G/(K m) + 1/K))")
    assert not _holds(b, "eta <= 1/(2 L (M_G/(K m) + 1))")
    assert _holds(kasync_error_bound(1, lr=2.0, **setting), "eta <= 1/(2 L (M_G/(K m) + 1/K))")
    assert not _holds(
        kasync_error_bound(1, lr=2.0 + 1e-12, **setting), "eta <= 1/(2 L (M_G/(K m) + 1/K))"
    )
    assert kasync_error_bound(1, lr=0.5, **setting).valid


def test_kasync_gamma_conditions_at_the_boundary():
    setting = dict(SETTING_A, initial_error=1.0)
    assert _holds(kasync_error_bound(1, gamma=1.0, p0=0.0, **setting), "gamma <= 1")
    b = kasync_error_bound([1, 2], gamma=1.0, p0=0.0, **setting)  # gamma' = 0
    assert not _holds(b, "gamma'") and _holds(b, "gamma <= 1")
    assert np.all(np.isinf(b.value)) and b.extra["floor"] == math.inf
    b = kasync_error_bound(1, gamma=1.5, p0=1.0, **setting)  # gamma' = 0 again
    assert not _holds(b, "gamma <= 1") and not _holds(b, "gamma'")
    assert _holds(kasync_error_bound(1, gamma=1.0, p0=0.5, **setting), "gamma'")


# ---- Theorem 4 (eq. 13) --------------------------------------------------------------------


def test_compensated_fixed_eta_by_hand():
    b = compensated_rate_bound(
        [0, 1, 2], C=0.02, L=1.0, c=0.5, sigma2=2.0, m=2, p0=0.5, initial_error=1.0, eta_max=0.1
    )
    # rho = 0.1 * 1.25 * 0.5 = 0.0625; Delta = 0.01 * 1 * 2 / 4 + 0.02 / 2 = 0.015.
    np.testing.assert_allclose(b.value, [1.0, 0.9525, 0.90796875])
    assert b.extra["limit"] == pytest.approx(0.015 / 0.0625)
    assert b.value[2] == pytest.approx(0.24 + 0.9375**2 * (1.0 - 0.24))
    assert b.extra["contraction"] == pytest.approx(0.9375**2)
    assert b.valid


def test_compensated_sequence_by_hand():
    b = compensated_rate_bound(
        C=0.01, L=2.0, c=0.5, sigma2=1.0, m=1, p0=0.2, initial_error=2.0, lrs=[0.1, 0.05, 0.2]
    )
    # rho_j = eta_j * 1.1 * 0.5 = [0.055, 0.0275, 0.11]; Delta_j = eta_j^2 + 0.02.
    e1 = 0.945 * 2.0 + 0.03
    e2 = 0.9725 * e1 + 0.0225
    e3 = 0.89 * e2 + 0.06
    np.testing.assert_allclose(b.value, [2.0, e1, e2, e3])
    np.testing.assert_allclose(b.value, [2.0, 1.92, 1.8897, 1.741833])
    assert b.extra["floor"] == pytest.approx(0.89 * (0.9725 * 0.03 + 0.0225) + 0.06)
    assert b.extra["contraction"] == pytest.approx(0.945 * 0.9725 * 0.89)
    assert compensated_rate_bound(
        2, C=0.01, L=2.0, c=0.5, sigma2=1.0, m=1, p0=0.2, initial_error=2.0, lrs=[0.1, 0.05, 0.2]
    ).value == pytest.approx(1.8897)


def test_compensated_conditions_at_the_boundary():
    kw = dict(C=0.125, L=1.0, c=0.5, sigma2=1.0, m=1, p0=0.5, initial_error=1.0)
    # eta_j <= 1/(2 L (M_G/m + 1)) = 1/2 and eq. 11 on the realised distances.
    b = compensated_rate_bound(lrs=[0.25, 0.5], distances=[0.5, 0.25], eta_max=0.5, **kw)
    assert b.valid
    b = compensated_rate_bound(lrs=[0.25, 0.5], distances=[0.5, 0.375], eta_max=0.25, **kw)
    assert not _holds(b, "max_j eta_j ||w_j")
    assert not _holds(b, "max_j eta_j <= eta_max")
    assert _holds(b, "max_j eta_j <= 1/(2 L")
    assert not _holds(compensated_rate_bound(lrs=[0.5 + 1e-12], **kw), "max_j eta_j <= 1/(2 L")


# ---- Theorem 5 -----------------------------------------------------------------------------


def test_nonconvex_by_hand():
    b = nonconvex_bound(
        [0, 9], lr=0.1, L=2.0, sigma2=4.0, K=2, m=5, gamma=0.2, p0=0.5, initial_gap=3.0
    )
    gp = 1.05
    first = [2 * 3.0 / (1 * 0.1 * gp), 2 * 3.0 / (10 * 0.1 * gp)]
    floor = 2.0 * 0.1 * 4.0 / (2 * 5 * gp)
    np.testing.assert_allclose(b.value, [first[0] + floor, first[1] + floor])
    assert b.value[1] == pytest.approx(5.7904762, rel=1e-7)
    b = nonconvex_bound(
        99, lr=0.01, L=1.0, sigma2=1.0, K=1, m=1, gamma=0.0, p0=0.0, initial_gap=1.0
    )
    assert b.value == pytest.approx(2 / (100 * 0.01) + 0.01)


# ---- section 3.2: can stale gradients win? -------------------------------------------------


def test_stale_can_win_boundary_and_floors():
    assert not stale_can_win(0.25, 0.125, num_learners=8).valid  # p0/2 = gamma: not faster
    win = stale_can_win(0.25, 0.12, num_learners=8)
    assert win.valid and win.value == pytest.approx(1 - 0.12 + 0.125)
    assert win.extra["floor_ratio"] == pytest.approx(8 / 1.005)
    # Both floors by hand at eta = 0.1, L = 2, sigma^2 = 4, c = 0.5, m = 5, P = 8.
    sync = ksync_error_bound(0, lr=0.1, L=2.0, c=0.5, sigma2=4.0, K=8, m=5, initial_error=1.0)
    stale = kasync_error_bound(
        0, lr=0.1, L=2.0, c=0.5, sigma2=4.0, K=1, m=5, initial_error=1.0, gamma=0.12, p0=0.25
    )
    assert sync.extra["floor"] == pytest.approx(0.8 / (2 * 0.5 * 8 * 5))
    assert stale.extra["floor"] == pytest.approx(0.8 / (2 * 0.5 * 1.005 * 5))
    assert stale.extra["floor"] / sync.extra["floor"] == pytest.approx(win.extra["floor_ratio"])


# ---- Lemma 8 -------------------------------------------------------------------------------


def test_p0_lemma8():
    assert p0_exponential(8).value == 0.125 and p0_exponential(8).relation == "exact"
    assert p0_lemma8("exp:3", 5).value == pytest.approx(0.2)
    nltu = p0_lemma8("shifted-exp:1,1", 4)
    assert nltu.value == pytest.approx(0.25) and nltu.relation == "upper-bound"
    assert p0_lemma8("hyperexp:0.5,1,0.5,3", 4).relation == "lower-bound"


# ---- figure 7: error against runtime -------------------------------------------------------

BOUND_KW = dict(lr=0.1, L=1.0, c=0.5, sigma2=1.0, m=1, initial_error=1.0)


def test_error_runtime_sync_uses_lemma3_with_harmonic_numbers():
    j = [0, 10, 20]
    curve = error_runtime_curve("sync", law="exp:1", num_learners=4, iterations=j, **BOUND_KW)
    h4 = 1 + 1 / 2 + 1 / 3 + 1 / 4  # E[X_{4:4}] for exp(1)
    np.testing.assert_allclose(curve.times, [0.0, 10 * h4, 20 * h4])
    np.testing.assert_allclose(curve.errors, ksync_error_bound(j, K=4, **BOUND_KW).value)
    assert curve.time_relation == "exact" and "Lemma 2" in curve.label()
    # K-sync, K = 2 of P = 4, exp(2): E[X_{2:4}] = (1/4 + 1/3) / 2.
    curve = error_runtime_curve(
        "k-sync", law="exp:2", num_learners=4, k=2, iterations=[0, 12], **BOUND_KW
    )
    np.testing.assert_allclose(curve.times, [0.0, 12 * (1 / 4 + 1 / 3) / 2])


def test_error_runtime_async_uses_theorem3_and_lemma8_p0():
    j = [0, 10, 20]
    curve = error_runtime_curve(
        "async", law="exp:2", num_learners=4, iterations=j, gamma=0.1, **BOUND_KW
    )
    np.testing.assert_allclose(curve.times, [0.0, 10 * 0.5 / 4, 20 * 0.5 / 4])  # J E[X]/P
    expected = kasync_error_bound(j, K=1, gamma=0.1, p0=0.25, **BOUND_KW)
    np.testing.assert_allclose(curve.errors, expected.value)
    assert curve.time_relation == "exact"
    # NLTU K-async: Lemma 5 bounds the time from above, and p0 must be given.
    with pytest.raises(PssimError) as err:
        error_runtime_curve(
            "k-async",
            law="shifted-exp:1,1",
            num_learners=4,
            k=2,
            iterations=j,
            gamma=0.1,
            **BOUND_KW,
        )
    assert err.value.param == "p0"
    curve = error_runtime_curve(
        "k-async",
        law="shifted-exp:1,1",
        num_learners=4,
        k=2,
        iterations=j,
        gamma=0.1,
        p0=0.1,
        **BOUND_KW,
    )
    assert curve.time_relation == "upper-bound"
    np.testing.assert_allclose(curve.times, np.array(j) * (1 + 1 / 4 + 1 / 3))


def test_error_vs_time_with_a_number_and_a_prediction():
    b = ksync_error_bound([0, 4], K=2, **BOUND_KW)
    curve = error_vs_time(b, [0, 4], 1.5)
    np.testing.assert_allclose(curve.times, [0.0, 6.0])
    assert curve.time_relation == "exact"
    # Lemma 4 (renewal) for a shifted exponential: J K E[X] / P = J * 2 * 2 / 4, asymptotic.
    pred = expected_runtime("k-batch-async", num_learners=4, k=2, law="shifted-exp:1,1", updates=1)
    curve = error_vs_time(b, [0, 4], pred)
    np.testing.assert_allclose(curve.times, [0.0, 4.0])
    assert curve.time_relation == "asymptotic"
    with pytest.raises(PssimError) as err:
        error_vs_time(b, [0, 4, 8], 1.5)
    assert err.value.param == "iterations"


# ---- bad input -----------------------------------------------------------------------------

KSYNC = dict(SETTING_A)
KASYNC = dict(SETTING_A, gamma=0.2, p0=0.5)
COMP = dict(C=0.01, L=1.0, c=0.5, sigma2=1.0, m=1, p0=0.5, initial_error=1.0, eta_max=0.1)
NONCVX = dict(lr=0.1, L=1.0, sigma2=1.0, K=1, m=1, gamma=0.1, p0=0.5, initial_gap=1.0)


@pytest.mark.parametrize(
    ("call", "param"),
    [
        (lambda: ksync_error_bound(1, **dict(KSYNC, L=-1.0)), "L"),
        (lambda: ksync_error_bound(1, **dict(KSYNC, K=0)), "K"),
        (lambda: ksync_error_bound(1, **dict(KSYNC, K=1.5)), "K"),
        (lambda: ksync_error_bound(1, **dict(KSYNC, lr=0.0)), "lr"),
        (lambda: ksync_error_bound(1, **dict(KSYNC, sigma2=math.nan)), "sigma2"),
        (lambda: ksync_error_bound(-1, **KSYNC), "iterations"),
        (lambda: ksync_error_bound([1.5], **KSYNC), "iterations"),
        (lambda: kasync_error_bound(1, **dict(KASYNC, p0=1.5)), "p0"),
        (lambda: kasync_error_bound(1, **dict(KASYNC, p0=-0.1)), "p0"),
        (lambda: kasync_error_bound(1, **dict(KASYNC, gamma=-0.1)), "gamma"),
        (lambda: kasync_error_bound(1, **dict(KASYNC, initial_error=-1.0)), "initial_error"),
        (lambda: compensated_rate_bound(1, **dict(COMP, eta_max=None)), "lrs"),
        (lambda: compensated_rate_bound(**dict(COMP, eta_max=None)), "lrs"),
        (lambda: compensated_rate_bound(**COMP), "iterations"),
        (lambda: compensated_rate_bound(5, **dict(COMP, lrs=[0.1, 0.1])), "iterations"),
        (lambda: compensated_rate_bound(**dict(COMP, lrs=[0.1, -0.1])), "lrs"),
        (lambda: compensated_rate_bound(1, **dict(COMP, C=0.0)), "C"),
        (lambda: compensated_rate_bound(**dict(COMP, lrs=[0.1], distances=[1, 2])), "distances"),
        (lambda: nonconvex_bound(-2, **NONCVX), "J"),
        (lambda: nonconvex_bound(2, **dict(NONCVX, m=0)), "m"),
        (lambda: step_size_limit(1.0, -1.0, 1, 1), "M_G"),
        (lambda: step_size_limit(1.0, 0.0, 1, 1, result="lemma3"), "result"),
        (lambda: stale_can_win(2.0, 0.1, num_learners=4), "p0"),
        (lambda: stale_can_win(0.5, 0.1, num_learners=0), "num_learners"),
        (lambda: p0_exponential(0), "num_learners"),
        (lambda: p0_lemma8("pareto:2,1", 4), "law"),
        (
            lambda: error_runtime_curve(
                "k-avg", law="exp:1", num_learners=4, k=2, iterations=[1], **BOUND_KW
            ),
            "variant",
        ),
        (
            lambda: error_runtime_curve(
                "async", law="exp:1", num_learners=4, iterations=[1], **BOUND_KW
            ),
            "gamma",
        ),
        (
            lambda: error_runtime_curve(
                "sync", law="exp:1", num_learners=4, iterations=[1], gamma=0.1, **BOUND_KW
            ),
            "gamma",
        ),
        (lambda: error_vs_time(ksync_error_bound(1, **KSYNC), 1, -2.0), "runtime"),
    ],
)
def test_bad_input_names_the_parameter(call, param):
    with pytest.raises(PssimError) as err:
        call()
    assert err.value.param == param
    assert f"`{param}`" in str(err.value) and "\n" not in str(err.value)
