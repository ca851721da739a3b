"""Simulated runtimes against the closed forms of Dutta et al. 2018 (section 4, supplement 7).

Each check compares the mean over R seeded replications of the time of the J-th update with
the prediction. Exact predictions: two-sided z-test. Bounds: one-sided. Renewal (asymptotic)
predictions: a stated relative tolerance plus the sampling error. The family-wise level is
ALPHA = 0.001 over all checks of this module (Bonferroni), so a correct engine fails a run
with probability below 0.1%; the seeds are fixed, so the outcome is reproducible.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from simulator import expected_runtime, simulate

ALPHA = 0.001
RENEWAL_TOL = 0.02  # relative finite-J bias allowed for Lemma 4 under non-exponential laws

EXACT = [
    ("sync", None, "exp:1"),
    ("async", None, "exp:1"),
    ("k-sync", 3, "exp:1"),
    ("k-batch-sync", 3, "exp:1"),
    ("k-async", 3, "exp:1"),
    ("k-batch-async", 3, "exp:1"),
    ("k-avg", 2, "exp:1"),
    ("sync", None, "shifted-exp:1,1"),
    ("k-sync", 4, "shifted-exp:1,1"),
    ("k-sync", 4, "pareto:2,1"),
    ("k-sync", 6, "pareto:3,1"),
    ("k-sync", 5, "gamma:2,1"),
    ("k-sync", 5, "weibull:1.5,1"),
    ("k-avg", 3, "shifted-exp:1,1"),
]
BOUNDS = [
    ("k-async", 3, "shifted-exp:1,1", "upper-bound"),
    ("k-async", 5, "weibull:2,1", "upper-bound"),
    ("k-async", 3, "weibull:0.7,1", "lower-bound"),
    ("k-async", 3, "hyperexp:0.5,0.5,0.5,4", "lower-bound"),
]
RENEWAL = [
    ("k-batch-async", 2, "shifted-exp:1,1"),
    ("k-batch-async", 3, "pareto:3,1"),
    ("async", None, "weibull:2,1"),
    ("async", None, "lognormal:0,0.5"),
]
CHECKS = len(EXACT) + len(BOUNDS) + len(RENEWAL)
Z_TWO = stats.norm.ppf(1 - ALPHA / CHECKS / 2)
Z_ONE = stats.norm.ppf(1 - ALPHA / CHECKS)
P = 8


def replicate(variant, k, law, updates, reps, base=1000):
    times = np.array(
        [
            simulate(variant, num_learners=P, k=k, law=law, updates=updates, seed=base + r).end_time
            for r in range(reps)
        ]
    )
    return times.mean(), times.std(ddof=1) / np.sqrt(reps)


@pytest.mark.slow
@pytest.mark.parametrize("variant,k,law", EXACT)
def test_exact_predictions_hold(variant, k, law):
    theory = expected_runtime(variant, num_learners=P, k=k, law=law, updates=100)
    assert theory.relation == "exact"
    mean, se = replicate(variant, k, law, 100, 300)
    assert abs(mean - theory.mean) <= Z_TWO * se, (mean, theory.mean, se)


@pytest.mark.slow
@pytest.mark.parametrize("variant,k,law,relation", BOUNDS)
def test_bounds_hold(variant, k, law, relation):
    theory = expected_runtime(variant, num_learners=P, k=k, law=law, updates=200)
    assert theory.relation == relation
    mean, se = replicate(variant, k, law, 200, 100)
    if relation == "upper-bound":
        assert mean <= theory.mean + Z_ONE * se, (mean, theory.mean)
    else:
        assert mean >= theory.mean - Z_ONE * se, (mean, theory.mean)


@pytest.mark.slow
@pytest.mark.parametrize("variant,k,law", RENEWAL)
def test_renewal_prediction_for_batch_async(variant, k, law):
    theory = expected_runtime(variant, num_learners=P, k=k, law=law, updates=2000)
    assert theory.relation == "asymptotic"
    mean, se = replicate(variant, k, law, 2000, 40)
    assert abs(mean - theory.mean) <= RENEWAL_TOL * theory.mean + Z_TWO * se


def test_bounds_are_informative_not_vacuous():
    # K-async under a shifted exponential is strictly faster than its Lemma 5 bound
    theory = expected_runtime("k-async", num_learners=P, k=3, law="shifted-exp:1,1", updates=200)
    mean, se = replicate("k-async", 3, "shifted-exp:1,1", 200, 30)
    assert mean < theory.mean - 3 * se


def test_async_staleness_is_geometric_for_exponential():
    """p0 = 1/P and mean staleness P - 1 (Lemma 8), 99.9% normal interval."""
    trace = simulate("async", num_learners=P, law="exp:1", updates=40_000, seed=3)
    s = trace.staleness()[trace.mask][1000:]  # drop the start-up transient
    p0 = np.mean(s == 0)
    z = stats.norm.ppf(1 - 0.001 / 2)
    # consecutive contributions are nearly independent under memoryless times
    assert abs(p0 - 1 / P) <= z * np.sqrt((1 / P) * (1 - 1 / P) / s.size) * 1.5
    assert abs(s.mean() - (P - 1)) <= z * s.std() / np.sqrt(s.size) * 1.5
