"""Perrone et al.'s training-time model (eqs. 1-10) and the gradient-diversity batch bound."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from simulator.errors import PssimError
from simulator.theory.minibatch_size import (
    batch_size_bound,
    diversity_from_gradients,
    fit_inverse_law,
    optimal_batch_size,
    optimal_time_to_converge,
    scaling_curve,
    time_to_converge,
    update_time,
)

LAW = dict(n_inf=100.0, alpha=6400.0)
SYSTEM = dict(gamma=0.01, m_t=8.0, delta=0.25)


def test_update_time_and_time_to_converge_by_hand():
    # all-reduce: 0.01 * max(64/4, 8) + 0.5 = 0.66; N_update = 100 + 6400/64 = 200
    t = update_time(64, 4, gamma=0.01, m_t=8, delta=0.5)
    assert t.value == pytest.approx(0.66)
    tc = time_to_converge(64, 4, n_inf=100, alpha=6400, gamma=0.01, m_t=8, delta=0.5)
    assert tc.value == pytest.approx(200 * 0.66)
    # parameter server: 0.02 * max(16/4, 8) + 0.1 * 4 = 0.56; N_update = 50 + 800/16 = 100
    kw = dict(gamma=0.02, m_t=8, delta=0.1, comm="parameter-server")
    assert update_time(16, 4, **kw).value == pytest.approx(0.56)
    assert time_to_converge(16, 4, n_inf=50, alpha=800, **kw).value == pytest.approx(56.0)
    # one learner communicates nothing: 0.01 * max(4, 8) = 0.08
    assert update_time(4, 1, gamma=0.01, m_t=8, delta=0.5).value == pytest.approx(0.08)


def test_update_time_broadcasts():
    t = update_time(np.array([8.0, 64.0]), np.array([2, 4]), gamma=0.01, m_t=8, delta=0.5)
    np.testing.assert_allclose(t.value, [0.01 * 8 + 0.5, 0.01 * 16 + 0.5])


def test_fit_recovers_noiseless_law_exactly():
    m = np.array([1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024], dtype=float)
    fit = fit_inverse_law(m, 300.0 + 5000.0 / m)
    assert fit.n_inf == pytest.approx(300.0, rel=1e-10)
    assert fit.alpha == pytest.approx(5000.0, rel=1e-10)
    assert fit.r_squared == pytest.approx(1.0, abs=1e-12)
    assert np.max(np.abs(fit.residuals)) < 1e-8
    assert fit.predict(10.0) == pytest.approx(800.0)
    np.testing.assert_allclose(fit.predict([1.0, 1000.0]), [5300.0, 305.0])


def test_fit_confidence_intervals_cover_truth_at_their_level():
    # 400 noisy replications of a 9-size experiment; 95% intervals should cover the true
    # (N_inf, alpha) in about 95% of them. The count is Binomial(400, 0.95) for a correct
    # fit: the test accepts its central 99.9% range (fails a correct fit w.p. 0.1%).
    rng = np.random.default_rng(20240611)
    m = 2.0 ** np.arange(9)
    truth = {"n_inf": 200.0, "alpha": 4000.0}
    reps, hits = 400, {"n_inf": 0, "alpha": 0}
    for _ in range(reps):
        y = truth["n_inf"] + truth["alpha"] / m + rng.normal(0.0, 40.0, m.size)
        ci = fit_inverse_law(m, y).confidence_interval(0.95)
        for name in hits:
            hits[name] += ci[name][0] <= truth[name] <= ci[name][1]
    low, high = stats.binom.ppf([0.0005, 0.9995], reps, 0.95)
    for name, count in hits.items():
        assert low <= count <= high, (name, count)


def test_fit_noisy_single_run_within_999_band():
    # one seeded noisy run: the truth lies in the 99.9% t-interval (fails w.p. 0.1%)
    rng = np.random.default_rng(7)
    m = np.repeat(2.0 ** np.arange(11), 3)
    y = 150.0 + 9000.0 / m + rng.normal(0.0, 25.0, m.size)
    ci = fit_inverse_law(m, y).confidence_interval(0.999)
    assert ci["n_inf"][0] <= 150.0 <= ci["n_inf"][1]
    assert ci["alpha"][0] <= 9000.0 <= ci["alpha"][1]


def test_optimal_batch_size_by_hand():
    # sqrt(6400 * 0.25 * 4 / (100 * 0.01)) = 80 > M_T P = 32
    assert optimal_batch_size(4, **LAW, **SYSTEM).value == pytest.approx(80.0)
    # sqrt(6400 * 0.01 * 4 / 1) = 16 < M_T P = 32
    kw = dict(gamma=0.01, m_t=8, delta=0.01)
    assert optimal_batch_size(4, **LAW, **kw).value == pytest.approx(32.0)
    # one learner: eq. 8, M_opt = M_T
    assert optimal_batch_size(1, **LAW, **SYSTEM).value == pytest.approx(8.0)
    # parameter server: P sqrt(6400 * 0.25 / 1) = 4 * 40
    ps = optimal_batch_size(4, **LAW, **SYSTEM, comm="parameter-server")
    assert ps.value == pytest.approx(160.0)


@pytest.mark.parametrize("comm", ["all-reduce", "parameter-server"])
@pytest.mark.parametrize("learners", [1, 2, 4, 16, 64, 256])
@pytest.mark.parametrize("delta", [0.01, 0.25, 3.0])
def test_optimal_batch_size_is_brute_force_argmin(comm, learners, delta):
    kw = dict(**LAW, gamma=0.01, m_t=8.0, delta=delta, comm=comm)
    grid = np.geomspace(1.0, 1e6, 400_001)
    times = time_to_converge(grid, learners, **kw).value
    m_opt = optimal_batch_size(learners, **kw).value
    assert m_opt == pytest.approx(grid[np.argmin(times)], rel=1e-3)
    best = optimal_time_to_converge(learners, **kw)
    assert best.value <= times.min() * (1 + 1e-12)  # no grid point beats the closed form
    # the grid step is 3.5e-5 relative; at a kink (M = M_T P) T_C moves at first order
    assert best.value == pytest.approx(times.min(), rel=1e-4)
    assert best.value == pytest.approx(time_to_converge(m_opt, learners, **kw).value)


def test_optimal_time_both_branches_by_hand():
    # P = 4 < 6400 * 0.25 / (0.01 * 64 * 100) = 25: (sqrt(0.25 * 100) + sqrt(64 / 4))^2 = 81
    b = optimal_time_to_converge(4, **LAW, **SYSTEM)
    assert b.value == pytest.approx(81.0) and b.extra["sqrt_branch"] == 1.0
    # P = 32 >= 25: (100 + 6400 / 256) (0.25 + 0.08) = 41.25
    b = optimal_time_to_converge(32, **LAW, **SYSTEM)
    assert b.value == pytest.approx(41.25) and b.extra["sqrt_branch"] == 0.0


def test_scaling_curves():
    ps = np.array([1, 2, 4, 8, 16, 32, 64, 128])
    strong = scaling_curve(ps, "strong", batch_size=128, **LAW, **SYSTEM)
    weak = scaling_curve(ps, "weak", per_learner=8, **LAW, **SYSTEM)
    best = scaling_curve(ps, "optimal", **LAW, **SYSTEM)
    assert np.all(best.value <= strong.value * (1 + 1e-12))
    assert np.all(best.value <= weak.value * (1 + 1e-12))
    # strong scaling stops improving once P > M_strong / M_T = 16 (all-reduce)
    assert strong.extra["saturation_learners"] == 16.0
    flat = strong.value[ps >= 16]
    np.testing.assert_allclose(flat, flat[0])
    assert np.all(np.diff(strong.value[1:][ps[1:] <= 16]) < 0)
    # weak scaling by hand at P = 4: M = 32, (100 + 200) (0.01 * 8 + 0.25)
    assert weak.value[2] == pytest.approx(300 * 0.33)
    # optimal = weak with M_T per learner for P >= alpha delta / (gamma M_T^2 N_inf) = 25
    big = ps >= 25
    np.testing.assert_allclose(best.value[big], weak.value[big])


def test_batch_size_bound_and_diversity():
    assert batch_size_bound(0.01, 10_000, 0.5).value == pytest.approx(51.0)
    b = batch_size_bound(1.0, 100, 0.0)
    assert b.value == 1.0 and b.relation == "upper-bound"
    assert diversity_from_gradients(np.ones((5, 3))) == pytest.approx(1 / 5)
    assert diversity_from_gradients(np.eye(4)) == pytest.approx(1.0)
    g = np.random.default_rng(0).normal(size=(50, 7))
    expected = (g**2).sum() / (g.sum(axis=0) ** 2).sum()
    assert diversity_from_gradients(g) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("call", "param"),
    [
        (lambda: update_time(0, 4, gamma=0.01, m_t=8, delta=0.5), "batch_size"),
        (lambda: update_time(8, 2.5, gamma=0.01, m_t=8, delta=0.5), "learners"),
        (lambda: update_time(8, 2, gamma=-1, m_t=8, delta=0.5), "gamma"),
        (lambda: update_time(8, 2, gamma=0.01, m_t=0, delta=0.5), "m_t"),
        (lambda: update_time(8, 2, gamma=0.01, m_t=8, delta=-0.5), "delta"),
        (lambda: update_time(8, 2, gamma=0.01, m_t=8, delta=0.5, comm="ring"), "comm"),
        (lambda: time_to_converge(8, 2, n_inf=-1, alpha=1, **SYSTEM), "n_inf"),
        (lambda: optimal_batch_size(2, n_inf=0, alpha=1, **SYSTEM), "n_inf"),
        (lambda: scaling_curve([1, 2], "strong", **LAW, **SYSTEM), "batch_size"),
        (lambda: scaling_curve([1, 2], "weak", **LAW, **SYSTEM), "per_learner"),
        (lambda: scaling_curve([1, 2], "fast", **LAW, **SYSTEM), "mode"),
        (lambda: fit_inverse_law([4, 4, 4], [1, 2, 3]), "batch_sizes"),
        (lambda: fit_inverse_law([1, 2, 4], [1, 2]), "updates_to_target"),
        (lambda: fit_inverse_law([1, -2, 4], [1, 2, 3]), "batch_sizes"),
        (lambda: batch_size_bound(0.001, 100, 0.5), "diversity"),
        (lambda: batch_size_bound(0.5, 0, 0.5), "n"),
        (lambda: batch_size_bound(0.5, 100, -1), "delta"),
        (lambda: diversity_from_gradients([1.0, 2.0]), "gradients"),
    ],
)
def test_bad_input_names_parameter(call, param):
    with pytest.raises(PssimError, match=f"`{param}`") as info:
        call()
    assert info.value.param == param
