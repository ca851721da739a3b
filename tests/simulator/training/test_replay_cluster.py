"""Engine traces with lost and cut work replay as the plain reference loop says: a task
lost to a failure or cut by a deadline contributes nothing, and a cut round averages the
contributions that arrived."""

from __future__ import annotations

import numpy as np
import pytest

from simulator import ExperimentSpec, simulate
from simulator.trace import LOSS_REASONS
from simulator.training.replayer import replay
from simulator.training.rules import FixedRate
from tests.simulator.replay_cases import least_squares, reference_replay, regression_data

CASES = {
    "failures, k-async": dict(
        variant="k-async", k=2, law="exp:1", failure="exp:0.3", repair="exp:1"
    ),
    "deadline, k-sync": dict(variant="k-sync", k=3, law="exp:1", deadline=0.6),
    "deadline and failures, k-batch-sync": dict(
        variant="k-batch-sync",
        k=3,
        law="exp:1",
        deadline=0.5,
        failure="exp:0.3",
        repair="exp:2",
    ),
    "all-reduce": dict(variant="all-reduce", law="exp:1", model_bytes=100, bandwidth=1e3),
}


@pytest.mark.parametrize("name", list(CASES))
def test_cluster_traces_replay_as_the_reference_loop(name):
    spec = ExperimentSpec(num_learners=4, updates=30, **CASES[name])
    trace = simulate(spec, seed=3)
    lost = {LOSS_REASONS[r] for r in trace.cancelled_reason}
    if name.startswith("deadline"):
        assert not trace.mask.all() and "deadline" in lost  # some rounds were cut
    if "failures" in name:
        assert "failure" in lost
    model, data = least_squares(3), regression_data()
    got = replay(
        trace,
        model,
        data,
        batch_size=4,
        rule=FixedRate(0.1),
        eval_every=1,
        dtype="float64",
        f_star=None,
    )
    want, _ = reference_replay(trace, model, data, batch_size=4, rule="fixed", lr=0.1)
    np.testing.assert_allclose(got.loss[0], want, rtol=1e-12, atol=1e-12)
