"""Timing at many learners: streams without a Python object per learner, blocks drawn a
level at a time, the memory estimate at large P for both engines, K-sync within twice
its trace.

The common-random-numbers contract is checked against numpy itself: learner l's n-th
duration is the n-th value of ``default_rng(SeedSequence(seed).spawn(P)[l])``'s blocks.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from memory_probe import measured_run

from distributions import Exponential, parse_law
from simulator import ExperimentSpec, simulate
from simulator.timing._draws import block_size, learner_streams
from simulator.timing._memory import timing_bytes
from simulator.timing._seeds import spawn_words


def numpy_words(entropy, p: int) -> np.ndarray:
    children = np.random.SeedSequence(entropy).spawn(p)
    return np.array([c.generate_state(4, np.uint64) for c in children], np.uint64).reshape(p, 4)


@settings(max_examples=60, deadline=None)
@given(
    seed=st.integers(0, 2**63 - 1),
    salt=st.sampled_from([0, 1, 2, 3]),
    p=st.integers(0, 70),
)
def test_the_learners_seeds_are_numpys_spawned_children(seed, salt, p):
    entropy = seed if salt == 0 else [seed, salt]
    assert np.array_equal(spawn_words(entropy, p), numpy_words(entropy, p))


def reference_durations(law, p: int, n: int, seed: int) -> np.ndarray:
    """(p, n) X[l, :n] by the contract: each child's Generator, in blocks."""
    out = []
    for child in np.random.SeedSequence(seed).spawn(p):
        rng, values, b = np.random.default_rng(child), [], 0
        while len(values) < n:
            values.extend(law.sample((block_size(b),), rng=rng).tolist())
            b += 1
        out.append(values[:n])
    return np.array(out)


@pytest.fixture
def no_seed_sequence(monkeypatch):
    """numpy's SeedSequence and default_rng refuse to run (no per-learner spawning)."""

    def refuse(*args, **kwargs):
        raise AssertionError("a SeedSequence or default_rng per learner")

    monkeypatch.setattr(np.random, "SeedSequence", refuse)
    monkeypatch.setattr(np.random, "default_rng", refuse)


@pytest.mark.parametrize("law", ["exp:1", "pareto:2.5,1", "hyperexp:0.3,0.5,0.7,3"])
def test_streams_follow_the_contract_without_a_seed_sequence_per_learner(law, monkeypatch):
    law = parse_law(law)
    expected = reference_durations(law, 40, 100, seed=2**40 + 7)
    monkeypatch.setattr(np.random, "SeedSequence", None)
    streams = learner_streams([law] * 40, [1.0] * 40, 2**40 + 7)
    got = np.array([[draw() for _ in range(100)] for draw in streams])
    assert np.array_equal(got, expected)


@pytest.mark.parametrize("variant", ["async", "k-sync", "k-batch-async", "k-async"])
def test_runs_at_many_learners_spawn_no_seed_sequence_per_learner(variant, no_seed_sequence):
    kwargs = dict(num_learners=3000, updates=4000, seed=5, law=Exponential(1.0))
    if variant != "async":
        kwargs["k"] = 3
    trace = simulate(variant, engine="fast", **kwargs)
    assert trace.num_updates == 4000


class _CountingErrstate:
    """np.errstate, counting how many contexts are entered."""

    entered = 0

    def __init__(self, errstate):
        self.errstate = errstate

    def __call__(self, *args, **kwargs):
        type(self).entered += 1
        return self.errstate(*args, **kwargs)


@pytest.mark.parametrize(
    "variant, kwargs",
    [
        ("k-sync", dict(num_learners=100, k=50, updates=2000)),
        ("k-avg", dict(num_learners=100, k=3, updates=500)),
        ("async", dict(num_learners=2000, updates=20000)),
        ("k-batch-async", dict(num_learners=500, k=4, updates=20000)),
    ],
)
def test_the_vectorised_paths_draw_a_level_of_blocks_under_one_errstate(
    variant, kwargs, monkeypatch
):
    counting = _CountingErrstate(np.errstate)
    counting.entered = _CountingErrstate.entered = 0
    monkeypatch.setattr(np, "errstate", counting)
    simulate(variant, engine="fast", seed=3, law="exp:1", **kwargs)
    # one per block level and a few more, never one per learner's block
    assert _CountingErrstate.entered < 40 < kwargs["num_learners"]


@pytest.mark.slow
@pytest.mark.parametrize(
    "fields, engine",
    [
        (dict(variant="async", num_learners=200_000, updates=200_000), "auto"),
        (dict(variant="async", num_learners=100_000, updates=3_000_000), "auto"),
        (dict(variant="k-sync", num_learners=1000, k=900, updates=2000), "auto"),
        (dict(variant="k-avg", num_learners=64, k=8, updates=62_500), "auto"),
        (dict(variant="async", num_learners=60_000, updates=60_000), "simpy"),
    ],
    ids=["merge-learners", "merge-second-blocks", "rounds", "avg", "simpy"],
)
def test_the_estimate_at_many_learners_is_within_30_percent_of_the_peak(fields, engine):
    estimate = timing_bytes(ExperimentSpec(**fields), engine)
    peak, _ = measured_run(fields, engine)
    assert 0.7 * peak <= estimate <= 1.3 * peak, (estimate, peak)


@pytest.mark.slow
def test_k_sync_at_many_learners_holds_at_most_twice_its_trace():
    """P = 10^4, K = 9000 (the shape of a large K-sync run, at a J that keeps it small)."""
    peak, size = measured_run(
        dict(variant="k-sync", num_learners=10_000, k=9000, updates=1000), "auto"
    )
    assert peak <= 2 * size, (peak, size)
