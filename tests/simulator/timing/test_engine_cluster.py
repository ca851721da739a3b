"""The SimPy engine's cluster features against hand-built schedules: failures and repairs,
deadlines, Markov-modulated slowdowns, bandwidth on a shared server link, all-reduce."""

from __future__ import annotations

import math

import numpy as np
import pytest
import simpy

from simulator import ExperimentSpec, PssimError, simulate
from simulator.timing._links import SharedLink, fair_rates
from simulator.timing._slowdown import SlowdownPath
from simulator.trace import LOSS_REASONS, TRANSFER_KINDS

FAILURE, DEADLINE = LOSS_REASONS.index("failure"), LOSS_REASONS.index("deadline")


def _run(**fields):
    seed = fields.pop("seed_", 0)
    return simulate(ExperimentSpec(**fields), seed=seed)


# ---------------------------------------------------------------- deadlines
def test_a_deadline_updates_with_what_has_arrived_and_cuts_the_rest():
    # learners take 1, 2, 5, 6; K = 3 would wait for 5; the deadline 3 updates at 3
    trace = _run(
        variant="k-sync",
        num_learners=4,
        k=3,
        laws=["deterministic:1", "deterministic:2", "deterministic:5", "deterministic:6"],
        deadline=3.0,
        updates=4,
    )
    np.testing.assert_allclose(trace.update_time, [3.0, 6.0, 9.0, 12.0])
    np.testing.assert_array_equal(trace.mask, [[True, True, False]] * 4)
    np.testing.assert_array_equal(trace.learner[:, :2], [[0, 1]] * 4)
    assert np.all(trace.staleness()[trace.mask] == 0)
    np.testing.assert_array_equal(trace.cancelled_learner, [2, 3] * 4)
    np.testing.assert_array_equal(trace.cancelled_reason, [DEADLINE] * 8)
    np.testing.assert_allclose(trace.cancelled_stop, np.repeat([3.0, 6.0, 9.0, 12.0], 2))


def test_a_deadline_with_nothing_arrived_updates_at_the_first_arrival():
    trace = _run(
        variant="k-sync",
        num_learners=3,
        k=2,
        laws=["deterministic:5", "deterministic:6", "deterministic:7"],
        deadline=2.0,
        updates=2,
    )
    np.testing.assert_allclose(trace.update_time, [5.0, 10.0])
    np.testing.assert_array_equal(trace.mask, [[True, False]] * 2)
    np.testing.assert_array_equal(trace.cancelled_reason, [DEADLINE] * 4)


def test_ties_at_the_first_arrival_after_a_deadline_are_cut_by_the_deadline():
    trace = _run(
        variant="k-sync", num_learners=3, k=2, law="deterministic:5", deadline=2.0, updates=1
    )
    np.testing.assert_allclose(trace.update_time, [5.0])
    np.testing.assert_array_equal(trace.mask, [[True, False]])
    np.testing.assert_array_equal(trace.cancelled_reason, [DEADLINE, DEADLINE])


def test_a_deadline_later_than_the_kth_arrival_changes_nothing():
    common = dict(variant="k-batch-sync", num_learners=4, k=3, law="exp:1", updates=200)
    plain, late = _run(**common), _run(**common, deadline=1e9)
    for name in ("update_time", "learner", "version", "start", "finish", "cancelled_stop"):
        np.testing.assert_array_equal(getattr(plain, name), getattr(late, name))
    assert late.mask.all() and not np.any(late.cancelled_reason)


def test_k_avg_with_a_deadline_averages_the_learners_that_finished():
    trace = _run(
        variant="k-avg",
        num_learners=3,
        k=2,
        laws=["deterministic:1", "deterministic:1.5", "deterministic:4"],
        deadline=3.5,
        updates=2,
    )  # 2 local steps: 2, 3 and 8; the deadline 3.5 cuts the third
    np.testing.assert_allclose(trace.update_time, [3.5, 7.0])
    np.testing.assert_array_equal(trace.mask, [[True, True, False]] * 2)


# ---------------------------------------------------------------- failures
def test_a_failure_loses_the_task_in_flight_and_the_learner_restarts_after_repair():
    # one learner, tasks of 1; up 2.5, down 1.5, up 2.5, ...: tasks end at 1, 2, (lost at
    # 2.5), 5, 6, (lost at 6.5), 9, 10, ...
    trace = _run(
        variant="async",
        num_learners=1,
        law="deterministic:1",
        failure="deterministic:2.5",
        repair="deterministic:1.5",
        updates=6,
    )
    np.testing.assert_allclose(trace.update_time, [1, 2, 5, 6, 9, 10])
    np.testing.assert_allclose(trace.finish[:, 0], [1, 2, 5, 6, 9, 10])
    np.testing.assert_allclose(trace.start[:, 0], [0, 1, 4, 5, 8, 9])
    np.testing.assert_array_equal(trace.cancelled_reason, [FAILURE, FAILURE])
    np.testing.assert_allclose(trace.cancelled_start, [2.0, 6.0])
    np.testing.assert_allclose(trace.cancelled_stop, [2.5, 6.5])
    np.testing.assert_allclose(trace.down_start, [2.5, 6.5])
    np.testing.assert_allclose(trace.down_stop, [4.0, 8.0])


def test_sync_waits_for_a_repaired_learner(tmp_path):
    # learner 1 (tasks of 2) is down in [0.5, 3): its first task is lost, it starts again
    # at 3 and the round ends at 5; learner 0 (tasks of 1) waits
    availability = tmp_path / "availability.csv"
    availability.write_text("worker,down,up\n1,0.5,3\n")
    trace = _run(
        variant="sync",
        num_learners=2,
        laws=["deterministic:1", "deterministic:2"],
        availability=str(availability),
        updates=2,
    )
    np.testing.assert_allclose(trace.update_time, [5.0, 7.0])
    np.testing.assert_array_equal(trace.cancelled_reason, [FAILURE])
    np.testing.assert_allclose(trace.cancelled_start, [0.0])
    np.testing.assert_allclose(trace.cancelled_stop, [0.5])
    np.testing.assert_array_equal(trace.learner[0], [0, 1])
    np.testing.assert_allclose(trace.start[0], [0.0, 3.0])
    assert trace.mask.all()


def test_a_k_async_learner_down_while_waiting_loses_nothing(tmp_path):
    # learner 0 pushes at 1 and waits for the update (K = 2; learner 1 pushes at 3); it is
    # down in [1.2, 1.8): nothing is lost, and it starts again from the current model at 1.8
    availability = tmp_path / "availability.csv"
    availability.write_text("worker,down,up\n0,1.2,1.8\n")
    trace = _run(
        variant="k-async",
        num_learners=2,
        k=2,
        laws=["deterministic:1", "deterministic:3"],
        availability=str(availability),
        updates=2,
    )
    assert trace.cancelled_learner.size == 0
    np.testing.assert_allclose(trace.start[0], [0.0, 1.8])
    np.testing.assert_allclose(trace.update_time[0], 2.8)
    np.testing.assert_allclose(trace.down_start, [1.2])


# ---------------------------------------------------------------- slowdowns
def test_a_slowdown_path_stretches_the_work_done_while_slow():
    path = SlowdownPath(1.0, 1.0, 4.0, np.random.default_rng(0))
    path.times, path.slow = [0.0, 2.0, 3.0, math.inf], [False, True, False, True]
    assert path.finish(0.0, 1.5) == 1.5
    assert path.finish(1.0, 1.5) == pytest.approx(2.0 + 1.0 + 0.25)  # 1 fast, 0.25 in slow
    assert path.finish(2.5, 1.0) == pytest.approx(3.0 + 0.875)  # 0.125 of work while slow
    assert not path.is_slow(1.9) and path.is_slow(2.0)


def test_a_shared_slowdown_chain_slows_every_learner_at_once():
    common = dict(variant="k-sync", num_learners=4, k=4, law="deterministic:1", updates=400)
    shared = _run(**common, slowdown=(0.5, 0.5, 3.0), slowdown_shared=True)
    durations = (shared.finish - shared.start)[shared.mask].reshape(-1, 4)
    assert np.all(np.ptp(durations, axis=1) < 1e-12)  # one chain: same duration per round
    assert np.any(durations > 1.5)
    own = _run(**common, slowdown=(0.5, 0.5, 3.0))
    durations = (own.finish - own.start)[own.mask].reshape(-1, 4)
    assert np.any(np.ptp(durations, axis=1) > 0.5)


# ---------------------------------------------------------------- links and all-reduce
def test_fair_rates_fill_the_link_up_to_each_cap():
    assert fair_rates(10.0, [math.inf, math.inf]) == [5.0, 5.0]
    assert fair_rates(10.0, [2.0, math.inf, math.inf]) == [2.0, 4.0, 4.0]
    assert fair_rates(10.0, [1.0, 2.0]) == [1.0, 2.0]


def test_a_shared_link_recomputes_finish_times_when_flows_come_and_go():
    env = simpy.Environment()
    link = SharedLink(env, 10.0)
    done = {}

    def flow(name, at, nbytes, cap=math.inf):
        yield env.timeout(at)
        f = link.transfer(nbytes, cap)
        yield f.done
        done[name] = env.now

    env.process(flow("a", 0.0, 20.0))  # alone at 10/s for 1 s: 10 left
    env.process(flow("b", 1.0, 5.0))  # then both at 5/s: b ends at 2, a has 5 left
    env.run()
    assert done["b"] == pytest.approx(2.0)
    assert done["a"] == pytest.approx(2.5)


def test_the_server_link_bound_is_reached_when_compute_is_negligible():
    for servers in (1, 2):
        trace = _run(
            variant="async",
            num_learners=8,
            law="deterministic:1e-9",
            model_bytes=1000,
            server_bandwidth=1000.0,
            servers=servers,
            updates=2000,
        )
        rate = trace.num_updates / trace.end_time  # bound: S C / (2 B): push and pull
        assert rate == pytest.approx(servers * 1000.0 / (2 * 1000), rel=0.01)
        # J pushes and at least J - P pulls have crossed the link (the first reads are free)
        assert trace.end_time >= (2 * 2000 - 8) * 1000 / (servers * 1000.0) * (1 - 1e-9)


def test_transfers_are_recorded_with_their_kind():
    trace = _run(
        variant="k-async",
        num_learners=2,
        k=1,
        law="exp:1",
        model_bytes=10,
        bandwidth=100.0,
        updates=20,
    )
    kinds = {TRANSFER_KINDS[k] for k in trace.transfer_kind}
    assert kinds == {"push", "pull"}
    np.testing.assert_allclose(trace.transfer_stop - trace.transfer_start, 0.1)


def test_ring_all_reduce_time_for_deterministic_durations_is_exact():
    p, nbytes, bw, lat = 4, 4e6, 1e6, 0.01
    trace = _run(
        variant="all-reduce",
        num_learners=p,
        law="deterministic:1",
        model_bytes=int(nbytes),
        bandwidth=bw,
        push_latency=f"deterministic:{lat}",
        updates=5,
    )
    round_time = 1 + 2 * (p - 1) / p * nbytes / bw + 2 * (p - 1) * lat
    np.testing.assert_allclose(trace.update_time, round_time * np.arange(1, 6))
    assert trace.mask.all() and np.all(trace.staleness() == 0)
    assert {TRANSFER_KINDS[k] for k in trace.transfer_kind} == {"all-reduce"}


def test_a_learner_whose_up_periods_are_shorter_than_its_tasks_is_refused():
    spec = ExperimentSpec(
        variant="async",
        num_learners=2,
        law="deterministic:1",
        failure="deterministic:0.5",
        repair="deterministic:0.1",
        updates=5,
    )
    with pytest.raises(PssimError, match="lost 1000 tasks in a row") as err:
        simulate(spec)
    assert err.value.param == "failure"


def test_all_reduce_loses_a_gradient_held_by_a_learner_that_fails_before_the_ring(tmp_path):
    # learner 0 finishes at 1 and holds its gradient; it is down in [1.5, 2): the gradient
    # is lost, it computes again in [2, 3); learner 1 finishes at 2.5; the ring (no bytes:
    # no time) ends the round at 3
    availability = tmp_path / "availability.csv"
    availability.write_text("worker,down,up\n0,1.5,2\n")
    trace = _run(
        variant="all-reduce",
        num_learners=2,
        laws=["deterministic:1", "deterministic:2.5"],
        availability=str(availability),
        updates=1,
    )
    np.testing.assert_allclose(trace.update_time, [3.0])
    np.testing.assert_array_equal(trace.learner, [[1, 0]])
    np.testing.assert_allclose(trace.start, [[0.0, 2.0]])
    np.testing.assert_array_equal(trace.cancelled_reason, [FAILURE])
    np.testing.assert_allclose(trace.cancelled_start, [0.0])
    np.testing.assert_allclose(trace.cancelled_stop, [1.0])  # the gradient it had computed
