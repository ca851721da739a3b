"""Studies that read only a run's statistics do not build its per-contribution arrays."""

from __future__ import annotations

import numpy as np
import pytest

from simulator import ExperimentSpec
from simulator.studies.runtime import runtime_study
from simulator.timing._stats import RunStatistics, run_statistics
from simulator.timing.engine import simulate_spec
from simulator.trace import Trace


@pytest.fixture
def traces_built(monkeypatch):
    """A list that grows by one each time a Trace is built."""
    built = []
    check = Trace.__post_init__

    def counted(self):
        built.append(self.num_learners)
        check(self)

    monkeypatch.setattr(Trace, "__post_init__", counted)
    return built


@pytest.mark.parametrize(
    "fields",
    [
        dict(variant="k-sync", num_learners=30, k=20, updates=400),
        dict(variant="sync", num_learners=6, updates=50, law="deterministic:1"),
        dict(variant="async", num_learners=8, updates=300),
        dict(variant="k-async", num_learners=8, k=3, updates=300),
        dict(variant="k-sync", num_learners=5, k=2, time_budget=30.0),
        dict(variant="k-sync", num_learners=5, k=2, updates=40, push_latency="exp:4"),
    ],
)
def test_run_statistics_are_those_of_the_trace(fields):
    spec = ExperimentSpec(**fields)
    got, expected = run_statistics(spec, 4), RunStatistics.of_trace(simulate_spec(spec, 4))
    assert np.array_equal(got.update_time, expected.update_time)
    assert (got.contributions, got.staleness_total, got.fresh, got.staleness_max) == (
        expected.contributions,
        expected.staleness_total,
        expected.fresh,
        expected.staleness_max,
    )


def test_a_k_sync_runtime_study_builds_only_the_trace_it_keeps(traces_built):
    spec = ExperimentSpec(variant="k-sync", num_learners=40, k=30, updates=300, seeds=3)
    expected = [simulate_spec(spec, s).end_time for s in spec.seed_list]
    traces_built.clear()
    kept = runtime_study(spec)
    assert len(traces_built) == 1 and kept.first_trace is not None
    traces_built.clear()
    summary = runtime_study(spec, keep_trace=False)
    assert traces_built == [] and summary.first_trace is None
    assert summary.times.tolist() == kept.times.tolist() == expected
    assert summary.staleness == kept.staleness == {"mean": 0.0, "max": 0, "p0": 1.0}
