"""Rennala and Ringmaster SGD in the SimPy engine against hand-built schedules: stale
gradients discarded on arrival (recorded as discarded work), their learners restarted at the
current model, and no learner ever cancelled."""

from __future__ import annotations

import numpy as np

from simulator import ExperimentSpec, simulate
from simulator.trace import LOSS_REASONS

DISCARDED = LOSS_REASONS.index("discarded")


def test_rennala_counts_only_gradients_of_the_current_model():
    # learners take 1 and 1.5; K = 2. Learner 0 pushes w0 at 1 and restarts at w0; learner
    # 1 closes the batch at 1.5 and reads w1. Learner 0's gradient at 2 (of w0) is discarded;
    # it restarts at w1: learner 1 (w1) and learner 0 (w1) close batch 1 at 3. Learner 1,
    # pushing first at 3, reads w1 again (the batch is not closed yet): its gradient at 4.5
    # is discarded; learner 0 pushes w2 at 4 and 5.
    trace = simulate(
        ExperimentSpec(
            variant="rennala",
            k=2,
            num_learners=2,
            laws=["deterministic:1", "deterministic:1.5"],
            updates=3,
        )
    )
    np.testing.assert_allclose(trace.update_time, [1.5, 3.0, 5.0])
    np.testing.assert_array_equal(trace.learner, [[0, 1], [1, 0], [0, 0]])
    assert np.all(trace.staleness() == 0)
    np.testing.assert_allclose(trace.cancelled_start, [1.0, 3.0])
    np.testing.assert_allclose(trace.cancelled_stop, [2.0, 4.5])
    np.testing.assert_array_equal(trace.cancelled_reason, [DISCARDED, DISCARDED])


def test_rennala_cancels_no_one_where_k_batch_sync_does():
    common = dict(num_learners=4, k=3, law="exp:1", updates=300)
    rennala = simulate(ExperimentSpec(variant="rennala", **common), seed=2)
    batch_sync = simulate(ExperimentSpec(variant="k-batch-sync", **common), seed=2)
    assert np.all(rennala.cancelled_reason == DISCARDED) and rennala.cancelled_reason.size
    assert np.all(batch_sync.cancelled_reason == 0) and batch_sync.cancelled_reason.size
    assert np.all(rennala.staleness()[rennala.mask] == 0)


def test_rennala_batches_may_be_larger_than_p():
    trace = simulate(ExperimentSpec(variant="rennala", k=10, num_learners=3, updates=20))
    assert trace.max_k == 10 and np.all(trace.staleness() == 0)


def test_ringmaster_discards_a_gradient_at_least_r_updates_stale():
    # learners take 1 and 3, R = 3. Learner 1's first gradient (of w0) arrives at 3 with
    # staleness 2 and counts; it restarts at w3 and its next one arrives at 6 with
    # staleness 3: discarded.
    trace = simulate(
        ExperimentSpec(
            variant="ringmaster",
            staleness_limit=3,
            num_learners=2,
            laws=["deterministic:1", "deterministic:3"],
            updates=7,
        )
    )
    np.testing.assert_allclose(trace.update_time, [1, 2, 3, 3, 4, 5, 6])
    np.testing.assert_array_equal(trace.learner.ravel(), [0, 0, 1, 0, 0, 0, 0])
    np.testing.assert_array_equal(trace.staleness().ravel(), [0, 0, 2, 1, 0, 0, 0])
    np.testing.assert_allclose(trace.cancelled_start, [3.0])
    np.testing.assert_allclose(trace.cancelled_stop, [6.0])
    np.testing.assert_array_equal(trace.cancelled_reason, [DISCARDED])


def test_ringmaster_with_a_limit_never_reached_is_asynchronous_sgd():
    common = dict(num_learners=5, law="pareto:2.5,1", updates=500)
    ring = simulate(ExperimentSpec(variant="ringmaster", staleness_limit=10**6, **common), seed=4)
    plain = simulate(ExperimentSpec(variant="async", **common), seed=4)
    for name in ("update_time", "learner", "version", "start", "finish"):
        np.testing.assert_array_equal(getattr(ring, name), getattr(plain, name))
    assert ring.cancelled_learner.size == 0


def test_ringmaster_keeps_every_contribution_below_the_limit():
    spec = ExperimentSpec(variant="ringmaster", staleness_limit=4, num_learners=16, updates=2000)
    trace = simulate(spec, seed=1)
    assert trace.staleness()[trace.mask].max() <= 3
    assert np.all(trace.cancelled_reason == DISCARDED) and trace.cancelled_reason.size
