"""The estimated cost of a sweep configuration: it follows the engine that will run it, its
sizes and its law (through a time budget's expected updates), and tells which training
configurations share one compiled replay program. Nothing is timed: the rates were measured
once; these tests check the estimate's structure."""

from __future__ import annotations

import math

import pytest
import scipy.stats

from simulator.spec import ExperimentSpec
from simulator.studies.sweeps._cost import (
    COMPILE_S,
    program_key,
    seed_seconds,
    timing_seconds,
    training_seconds,
)
from simulator.timing._memory import expected_updates

VARIANTS = ("k-sync", "k-batch-sync", "k-async", "k-batch-async", "k-avg")


def spec(**changes) -> ExperimentSpec:
    base = {"variant": "k-batch-sync", "num_learners": 64, "k": 4, "updates": 30_000}
    return ExperimentSpec(**{**base, **changes})


def test_the_heap_loop_costs_more_than_the_vectorised_paths():
    """K-batch-sync's event loop restarts P learners per update; K-batch-async merges
    running sums: at P = 64, K = 4 the first is an order of magnitude costlier."""
    heap = timing_seconds(spec())
    assert heap > 10 * timing_seconds(spec(variant="k-batch-async"))
    assert heap > 2 * timing_seconds(spec(variant="k-sync"))


@pytest.mark.parametrize("variant", VARIANTS)
def test_cost_grows_with_updates_and_learners(variant):
    small = timing_seconds(spec(variant=variant, num_learners=16, updates=1_000))
    assert timing_seconds(spec(variant=variant, num_learners=16, updates=2_000)) > small
    assert timing_seconds(spec(variant=variant, num_learners=32, updates=1_000)) > small
    long = timing_seconds(spec(variant=variant, num_learners=16, updates=10**6))
    assert timing_seconds(spec(variant=variant, num_learners=16, updates=4 * 10**6)) > 2 * long
    assert 0 < small < math.inf


def test_the_reference_engine_costs_more_than_the_fast_path():
    for variant in ("k-sync", "k-async"):
        fast = spec(variant=variant, updates=1_000)
        assert timing_seconds(fast.replace(push_latency="exp:100")) > 2 * timing_seconds(fast)


def test_a_time_budget_costs_its_expected_updates():
    """A budget enters through the updates expected within it, so the law counts: a
    slower law completes fewer updates in the same budget."""
    budget = spec(variant="k-batch-async", updates=None, time_budget=20_000.0)
    expected = expected_updates(budget)
    assert timing_seconds(budget) == timing_seconds(budget.replace(updates=int(expected)))
    slow = budget.replace(law="exp:0.25")  # a quarter of the updates
    assert timing_seconds(slow) < timing_seconds(budget) / 2


def test_a_budget_beyond_any_run_is_the_costliest_and_finite():
    huge = spec(variant="k-batch-async", updates=None, time_budget=1e300)
    assert math.isfinite(timing_seconds(huge))
    assert timing_seconds(huge) > timing_seconds(spec(updates=10**9))


def test_a_scipy_law_costs_more_than_its_native_twin():
    native = spec(variant="k-sync", law="gamma:2,1")
    generic = spec(variant="k-sync", law=scipy.stats.gamma(2))
    assert timing_seconds(generic) > 2 * timing_seconds(native)


def test_training_costs_grow_with_slots_and_batch():
    base = spec(variant="k-sync", num_learners=8, k=1, updates=10_000, batch_size=1)
    assert training_seconds(base.replace(k=8)) > 3 * training_seconds(base)
    assert training_seconds(base.replace(batch_size=16)) > training_seconds(base)
    assert seed_seconds("training", base) == training_seconds(base)
    assert seed_seconds("timing", base) == timing_seconds(base)
    assert training_seconds(base) < COMPILE_S  # compiling dominates a short replay


def test_program_key_ignores_what_is_not_compiled_in():
    base = spec(variant="k-sync", num_learners=8, k=2, updates=1_000, batch_size=4)
    same = [base.replace(lr=0.5), base.replace(seed=7, seeds=3), base.replace(law="pareto:3,1")]
    assert {program_key(s) for s in same} == {program_key(base)}
    other = [base.replace(k=4), base.replace(batch_size=16), base.replace(variant="k-async")]
    assert len({program_key(s) for s in [base, *other]}) == 4
