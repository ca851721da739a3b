"""The timing memory estimate against what each engine really allocates.

Each run is measured in a fresh interpreter (:mod:`memory_probe`): the peak RSS after the
run minus the peak after the imports and a tiny warm-up run of every variant, at sizes of
30 to 200 MB. The estimate must lie within 30% of it, for every engine the spec can choose.
"""

from __future__ import annotations

import pytest
from memory_probe import measured_peak

from simulator import ExperimentSpec
from simulator.timing._memory import engine_of, run_bytes, timing_bytes

#: (engine the spec takes, its fields, the ``engine`` argument): each engine once where
#: the updates dominate and, where it matters, once where the learners do.
CASES = [
    ("merge", dict(variant="async", num_learners=8, updates=1_000_000), "auto"),
    ("merge", dict(variant="async", num_learners=50_000, updates=50_000), "auto"),
    ("async-loop", dict(variant="k-async", num_learners=8, k=2, updates=1_000_000), "auto"),
    ("async-loop", dict(variant="k-async", num_learners=2000, k=2, updates=1_100_000), "auto"),
    ("rounds", dict(variant="k-sync", num_learners=64, k=32, updates=31_250), "auto"),
    ("rounds", dict(variant="k-sync", num_learners=50_000, k=1, updates=2), "auto"),
    (
        "batch-sync-loop",
        dict(variant="k-batch-sync", num_learners=64, k=32, updates=31_250),
        "auto",
    ),
    ("avg", dict(variant="k-avg", num_learners=64, k=8, updates=31_250), "auto"),
    ("simpy-async", dict(variant="async", num_learners=8, updates=1_000_000), "simpy"),
    ("simpy-async", dict(variant="async", num_learners=40_000, updates=40_000), "simpy"),
    (
        "simpy-async",
        dict(variant="k-async", num_learners=100, k=4, updates=300_000, push_latency="exp:10"),
        "auto",
    ),
    ("simpy-rounds", dict(variant="sync", num_learners=8, updates=125_000), "simpy"),
    ("simpy-rounds", dict(variant="k-batch-sync", num_learners=64, k=32, updates=10_000), "simpy"),
]


def test_each_variant_takes_the_engine_its_estimate_is_for():
    assert [engine_of(ExperimentSpec(**fields), engine) for _, fields, engine in CASES] == [
        name for name, _, _ in CASES
    ]
    spec = ExperimentSpec(variant="k-sync", num_learners=4, k=2, updates=100)
    assert engine_of(spec) == "rounds" and engine_of(spec, "simpy") == "simpy-rounds"
    assert engine_of(spec.replace(service_time="exp:5")) == "simpy-rounds"


def test_the_estimate_grows_with_the_run():
    spec = ExperimentSpec(variant="k-async", num_learners=16, k=4, updates=1000)
    assert timing_bytes(spec.replace(updates=2000)) > timing_bytes(spec)
    assert timing_bytes(spec.replace(num_learners=32)) > timing_bytes(spec)
    assert run_bytes(spec, kept=3) > run_bytes(spec, kept=2) > run_bytes(spec) >= timing_bytes(spec)


@pytest.mark.slow
@pytest.mark.parametrize("name, fields, engine", CASES, ids=[c[0] for c in CASES])
def test_the_estimate_is_within_30_percent_of_the_measured_peak(name, fields, engine):
    spec = ExperimentSpec(**fields)
    estimate, peak = timing_bytes(spec, engine), measured_peak(fields, engine)
    assert 0.7 * peak <= estimate <= 1.3 * peak, (estimate, peak)


@pytest.mark.slow
def test_a_runtime_study_is_within_30_percent_of_its_estimate():
    """Several seeds, the first trace kept and the staleness summarised seed by seed."""
    fields = dict(variant="k-async", num_learners=8, k=2, updates=600_000, seeds=3)
    estimate = run_bytes(ExperimentSpec(**fields), kept=1)
    peak = measured_peak(fields, "study")
    assert 0.7 * peak <= estimate <= 1.3 * peak, (estimate, peak)
