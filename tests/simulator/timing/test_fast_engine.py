"""The fast timing paths against the SimPy reference engine: equal traces, array for array.

Laws with atoms (an empirical law over a few values, a single value) make simultaneous
events common, so the tie rules are exercised, not only the continuous case.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from distributions import Empirical, Exponential, Pareto, parse_law
from simulator import simulate
from simulator.errors import PssimError
from simulator.timing._draws import LearnerBlocks, block_size, learner_rngs, learner_streams

CONTINUOUS = ["exp:1", "shifted-exp:0.5,2", "pareto:2.5,1", "hyperexp:0.3,0.5,0.7,3", "gamma:2,1"]
ATOMS = [Empirical(np.array([1.0])), Empirical(np.array([0.5, 1.0, 1.5])), Empirical([0.25, 1.0])]
VARIANTS = ["sync", "async", "k-sync", "k-batch-sync", "k-async", "k-batch-async", "k-avg"]


def assert_same_trace(a, b) -> None:
    """Every field equal: arrays bit for bit with the same dtype, scalars exactly."""
    for field in dataclasses.fields(a):
        x, y = getattr(a, field.name), getattr(b, field.name)
        if isinstance(x, np.ndarray):
            assert x.dtype == y.dtype, field.name
            assert np.array_equal(x, y, equal_nan=True), field.name
        else:
            assert x == y, field.name


@st.composite
def runs(draw):
    variant = draw(st.sampled_from(VARIANTS))
    p = draw(st.integers(1, 12))
    kwargs = dict(
        num_learners=p, updates=draw(st.integers(1, 80)), seed=draw(st.integers(0, 2**40))
    )
    if variant not in ("sync", "async"):
        kwargs["k"] = draw(st.integers(1, p if variant != "k-avg" else 5))
    laws = st.sampled_from(CONTINUOUS + ATOMS)
    if draw(st.booleans()):
        kwargs["law"] = draw(laws)
    else:
        kwargs["laws"] = draw(st.lists(laws, min_size=p, max_size=p))
    if draw(st.booleans()):
        kwargs["speeds"] = draw(
            st.lists(st.sampled_from([0.5, 1.0, 2.0, 3.0]), min_size=p, max_size=p)
        )
    return variant, kwargs


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(runs())
def test_fast_path_reproduces_the_simpy_engine(run):
    variant, kwargs = run
    assert_same_trace(
        simulate(variant, engine="fast", **kwargs), simulate(variant, engine="simpy", **kwargs)
    )


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("law", [Exponential(1.0), Pareto(1.5, 1.0), ATOMS[1]])
def test_long_runs_are_equal(variant, law):
    kwargs = dict(num_learners=40, law=law, updates=1500, seed=11)
    if variant not in ("sync", "async"):
        kwargs["k"] = 3 if variant == "k-avg" else 7
    assert_same_trace(
        simulate(variant, engine="fast", **kwargs), simulate(variant, engine="simpy", **kwargs)
    )


def test_auto_takes_the_reference_engine_when_a_duration_is_zero():
    law = Empirical(np.array([0.0, 1.0]))
    kwargs = dict(num_learners=4, law=law, updates=30, seed=2)
    with pytest.raises(PssimError, match="`engine` 'fast' cannot reproduce this run exactly"):
        simulate("async", engine="fast", **kwargs)
    assert_same_trace(simulate("async", **kwargs), simulate("async", engine="simpy", **kwargs))


def test_communication_needs_the_reference_engine():
    kwargs = dict(num_learners=3, law="exp:1", updates=20, seed=1, push_latency="exp:5")
    with pytest.raises(PssimError, match="applies only without latencies"):
        simulate("async", engine="fast", **kwargs)
    assert_same_trace(simulate("async", **kwargs), simulate("async", engine="simpy", **kwargs))


def test_an_unknown_engine_is_refused():
    with pytest.raises(ValueError, match=r"`engine` must be one of auto, simpy, fast; got 'numpy'"):
        simulate("async", num_learners=2, updates=5, engine="numpy")


def test_blocks_do_not_depend_on_how_draws_are_consumed():
    law = parse_law("pareto:2.5,1")
    streams = learner_streams([law] * 3, [1.0, 2.0, 1.0], seed=9)
    one_by_one = np.array([[draw() for _ in range(3000)] for draw in streams])
    rngs = learner_rngs(3, 9)
    blocks = [LearnerBlocks(law, rng, s) for rng, s in zip(rngs, [1.0, 2.0, 1.0], strict=True)]
    whole = np.array([np.concatenate([b.next() for _ in range(8)])[:3000] for b in blocks])
    assert np.array_equal(one_by_one, whole)
    assert [block_size(b) for b in range(8)] == [16, 32, 64, 128, 256, 512, 1024, 1024]
