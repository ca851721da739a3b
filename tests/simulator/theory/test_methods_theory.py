"""Rennala and Ringmaster runtime theory against hand computations and the SimPy engine."""

from __future__ import annotations

import math

import numpy as np
import pytest

from simulator import ExperimentSpec, simulate
from simulator.studies._common import spec_theory
from simulator.theory.methods import rennala_batch_bounds, ringmaster_upper_bound

TAUS = [1.0, 1.7, 2.3, 5.0]


def test_rennala_batch_bounds_by_hand():
    # completions of learners taking 1 and 2: 1, 2, 2, 3, 4, 4, ...; skipping each
    # learner's first task: 2, 3, 4, 4, ...
    assert rennala_batch_bounds([1.0, 2.0], 3) == {
        "low": 2.0,
        "high": 4.0,
        "paper": pytest.approx(2 * min(1 * (1 + 3), (2 / 1.5) * (1 + 3 / 2))),
    }


@pytest.mark.parametrize("k", [1, 3, 6, 11])
def test_rennala_batches_lie_between_the_bounds_and_the_first_is_exact(k):
    spec = ExperimentSpec(
        variant="rennala", k=k, num_learners=4, laws=[f"deterministic:{t}" for t in TAUS]
    )
    trace = simulate(spec.replace(updates=200))
    bounds = rennala_batch_bounds(TAUS, k)
    batches = np.diff(trace.update_time, prepend=0.0)
    assert trace.update_time[0] == pytest.approx(bounds["low"])  # every learner starts afresh
    assert np.all(batches >= bounds["low"] - 1e-9)
    assert np.all(batches <= bounds["high"] + 1e-9)
    assert bounds["high"] <= bounds["paper"] + 1e-9
    theory = spec_theory(spec.replace(updates=200))
    assert theory.relation == "lower-bound" and theory.mean <= trace.end_time + 1e-9


@pytest.mark.parametrize("r", [1, 2, 5])
def test_ringmaster_stays_under_its_lemma_bound_with_fixed_durations(r):
    spec = ExperimentSpec(
        variant="ringmaster",
        staleness_limit=r,
        num_learners=4,
        laws=[f"deterministic:{t}" for t in TAUS],
        updates=300,
    )
    trace = simulate(spec)
    assert trace.end_time <= ringmaster_upper_bound(TAUS, r, 300) + 1e-9
    assert spec_theory(spec).mean <= trace.end_time + 1e-9


@pytest.mark.parametrize(
    "fields",
    [
        dict(variant="rennala", k=6, law="exp:1"),
        dict(variant="rennala", k=12, laws=["exp:0.5", "exp:1", "exp:2", "exp:4"] * 2),
        dict(variant="ringmaster", staleness_limit=3, law="exp:1"),
        dict(
            variant="ringmaster",
            staleness_limit=2,
            laws=["exp:0.5", "exp:1", "exp:2"] * 2 + ["exp:3"] * 2,
        ),
    ],
)
def test_the_lower_bounds_are_below_the_simulated_mean(fields):
    # 20 seeds; the mean's upper 99.9% confidence limit must be above the bound
    spec = ExperimentSpec(num_learners=8, updates=500, **fields)
    times = np.array([simulate(spec, seed=s).end_time for s in range(20)])
    theory = spec_theory(spec)
    assert theory.relation == "lower-bound"
    upper = times.mean() + 3.88 * times.std(ddof=1) / math.sqrt(times.size)  # t(19), 99.9%
    assert theory.mean <= upper


def test_ringmaster_has_no_bound_where_asynchronous_sgd_is_only_asymptotic():
    spec = ExperimentSpec(variant="ringmaster", staleness_limit=2, law="pareto:2.5,1")
    assert spec_theory(spec).relation == "none"


def test_rennala_and_ringmaster_with_cluster_features_have_no_form():
    spec = ExperimentSpec(variant="rennala", k=4, push_latency="exp:10")
    theory = spec_theory(spec)
    assert theory.relation == "none" and "push_latency" in theory.source
