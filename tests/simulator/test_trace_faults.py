"""The trace's record of lost work, down periods and transfers: views, checks, persistence."""

from __future__ import annotations

import numpy as np
import pytest

from simulator import load_trace, simulate
from simulator.trace import LOSS_REASONS, TRANSFER_KINDS, Trace

NAN = np.nan


def fault_trace(**over) -> Trace:
    """k-sync, P=3, K=2, three rounds, by hand.

    Round 0 (ends at 2): learners 0 and 1 count, learner 2 is cancelled. Round 1 (ends at
    5) is cut by a deadline with learner 0 alone: learner 2 fails at 3, is down until 4.5,
    pulls, and loses its new work to the deadline like learner 1. Round 2 (ends at 9):
    learners 0 (after a pull) and 2 count, learner 1 is cancelled. Learner 0 pushes in
    round 1.
    """
    base = dict(
        variant="k-sync",
        num_learners=3,
        k=2,
        seed=0,
        update_time=np.array([2.0, 5.0, 9.0]),
        learner=np.array([[0, 1], [0, -1], [0, 2]]),
        version=np.array([[0, 0], [1, -1], [2, 2]]),
        start=np.array([[0.0, 0.0], [2.0, NAN], [5.2, 5.0]]),
        finish=np.array([[1.0, 2.0], [4.0, NAN], [7.0, 8.0]]),
        mask=np.array([[True, True], [True, False], [True, True]]),
        cancelled_learner=np.array([2, 1, 2, 2, 1]),
        cancelled_start=np.array([0.0, 2.0, 2.0, 4.6, 5.0]),
        cancelled_stop=np.array([2.0, 5.0, 3.0, 5.0, 9.0]),
        cancelled_reason=np.array([0, 2, 1, 2, 0]),
        down_learner=np.array([2]),
        down_start=np.array([3.0]),
        down_stop=np.array([4.5]),
        transfer_learner=np.array([0, 2, 0]),
        transfer_start=np.array([5.0, 4.5, 4.0]),
        transfer_stop=np.array([5.2, 4.6, 4.3]),
        transfer_kind=np.array([1, 1, 0]),
    )
    base.update(over)
    return Trace(**base)


def plain_trace(**over) -> Trace:
    """The same schedule without any of the fault and network arrays."""
    trace = fault_trace()
    keep = (
        "variant num_learners k seed update_time learner version start finish mask "
        "cancelled_learner cancelled_start cancelled_stop"
    ).split()
    return Trace(**{**{name: getattr(trace, name) for name in keep}, **over})


def test_lost_intervals_by_reason():
    trace = fault_trace()
    np.testing.assert_array_equal(trace.lost_intervals(1), [[2.0, 5.0], [5.0, 9.0]])
    np.testing.assert_array_equal(trace.lost_intervals(1, "deadline"), [[2.0, 5.0]])
    np.testing.assert_array_equal(trace.lost_intervals(1, "cancelled"), [[5.0, 9.0]])
    np.testing.assert_array_equal(trace.lost_intervals(2, "failure"), [[2.0, 3.0]])
    np.testing.assert_array_equal(trace.lost_intervals(2, "deadline"), [[4.6, 5.0]])
    assert trace.lost_intervals(0).shape == (0, 2)
    assert trace.lost_intervals(2, "discarded").shape == (0, 2)
    # every reason: the cancelled view keeps showing all the lost work
    np.testing.assert_array_equal(trace.cancelled_intervals(2), trace.lost_intervals(2))
    assert len(trace.cancelled_intervals(2)) == 3


def test_down_and_transfer_intervals():
    trace = fault_trace()
    np.testing.assert_array_equal(trace.down_intervals(2), [[3.0, 4.5]])
    assert trace.down_intervals(0).shape == (0, 2)
    np.testing.assert_array_equal(trace.transfer_intervals(0), [[4.0, 4.3], [5.0, 5.2]])
    np.testing.assert_array_equal(trace.transfer_intervals(0, "push"), [[4.0, 4.3]])
    np.testing.assert_array_equal(trace.transfer_intervals(0, "pull"), [[5.0, 5.2]])
    np.testing.assert_array_equal(trace.transfer_intervals(2, "pull"), [[4.5, 4.6]])
    assert trace.transfer_intervals(1).shape == (0, 2)
    assert trace.transfer_intervals(0, "all-reduce").shape == (0, 2)


def test_lost_work_totals_per_reason():
    work = fault_trace().lost_work()
    assert list(work) == list(LOSS_REASONS)
    assert work == pytest.approx(
        {"cancelled": 6.0, "failure": 1.0, "deadline": 3.4, "discarded": 0}
    )
    assert plain_trace().lost_work() == pytest.approx(
        {"cancelled": 10.4, "failure": 0.0, "deadline": 0.0, "discarded": 0.0}
    )


def test_availability_is_the_up_fraction_of_the_run():
    np.testing.assert_allclose(fault_trace().availability(), [1.0, 1.0, 1.0 - 1.5 / 9.0])
    np.testing.assert_array_equal(plain_trace().availability(), [1.0, 1.0, 1.0])
    # a period that runs past the last update counts only up to it
    late = fault_trace(down_learner=[2, 0], down_start=[3.0, 8.0], down_stop=[4.5, 12.0])
    np.testing.assert_allclose(late.availability(), [1.0 - 1.0 / 9.0, 1.0, 1.0 - 1.5 / 9.0])
    rows = {name: np.zeros((0, 2)) for name in ("learner", "version", "start", "finish", "mask")}
    none = {f"cancelled_{name}": np.zeros(0) for name in ("learner", "start", "stop")}
    empty = Trace("k-sync", 2, 2, 0, update_time=np.zeros(0), **rows, **none)
    assert np.isnan(empty.availability()).all() and empty.availability().shape == (2,)


def test_idle_leaves_out_down_time_and_transfers():
    trace = fault_trace()
    np.testing.assert_allclose(trace.idle_intervals(0), [[1.0, 2.0], [4.3, 5.0], [7.0, 9.0]])
    np.testing.assert_allclose(trace.idle_intervals(2), [[8.0, 9.0]])
    # without the new arrays the meaning is unchanged: gaps between computations
    plain = plain_trace()
    np.testing.assert_allclose(plain.idle_intervals(0), [[1.0, 2.0], [4.0, 5.2], [7.0, 9.0]])
    np.testing.assert_allclose(plain.idle_intervals(2), [[3.0, 4.6], [8.0, 9.0]])


def test_cut_updates_are_short_rounds_of_round_based_variants():
    np.testing.assert_array_equal(fault_trace().cut_updates(), [1])
    # k-avg rounds take one contribution per learner (k counts local steps)
    avg = fault_trace(variant="k-avg", k=5, num_learners=2, **_two_learners())
    np.testing.assert_array_equal(avg.cut_updates(), [1])
    # asynchronous rows are never cut, even padded ones
    assert fault_trace(variant="k-async", **_two_learners()).cut_updates().size == 0
    for variant, k in (("k-sync", 3), ("k-batch-sync", 2), ("k-avg", 3), ("k-sync", 4)):
        run = simulate(variant, num_learners=4, k=k, law="exp:1", updates=30, seed=3)
        assert run.cut_updates().size == 0, variant


def _two_learners() -> dict:
    """The fault trace's arrays restricted to learners 0 and 1."""
    return dict(
        learner=np.array([[0, 1], [0, -1], [0, 1]]),
        cancelled_learner=np.array([1, 1, 0, 0, 1]),
        down_learner=np.array([1]),
        transfer_learner=np.array([0, 1, 0]),
    )


def test_defaults_and_dtypes():
    plain = plain_trace()
    assert plain.cancelled_reason.dtype == np.int8
    np.testing.assert_array_equal(plain.cancelled_reason, np.zeros(5))
    for group in ("down", "transfer"):
        assert getattr(plain, f"{group}_learner").shape == (0,)
        assert getattr(plain, f"{group}_learner").dtype == np.int64
        assert getattr(plain, f"{group}_start").dtype == np.float64
    assert plain.transfer_kind.dtype == np.int8 and plain.transfer_kind.shape == (0,)
    trace = fault_trace(cancelled_reason=[0.0, 2.0, 1.0, 2.0, 0.0])
    assert trace.cancelled_reason.dtype == np.int8
    assert [LOSS_REASONS[c] for c in trace.cancelled_reason][:3] == [
        "cancelled",
        "deadline",
        "failure",
    ]
    assert TRANSFER_KINDS == ("push", "pull", "all-reduce")


def test_all_reduce_traces_are_accepted():
    trace = Trace(
        variant="all-reduce",
        num_learners=2,
        k=2,
        seed=0,
        update_time=np.array([3.0]),
        learner=np.array([[0, 1]]),
        version=np.array([[0, 0]]),
        start=np.array([[0.0, 0.0]]),
        finish=np.array([[1.0, 2.0]]),
        mask=np.ones((1, 2), bool),
        cancelled_learner=np.zeros(0),
        cancelled_start=np.zeros(0),
        cancelled_stop=np.zeros(0),
        transfer_learner=np.array([0, 1]),
        transfer_start=np.array([2.0, 2.0]),
        transfer_stop=np.array([3.0, 3.0]),
        transfer_kind=np.array([2, 2]),
    )
    np.testing.assert_array_equal(trace.transfer_intervals(1, "all-reduce"), [[2.0, 3.0]])
    assert trace.cut_updates().size == 0
    np.testing.assert_allclose(trace.idle_intervals(0), [[1.0, 2.0]])


@pytest.mark.parametrize(
    "over,message",
    [
        (
            {"cancelled_reason": [0, 1]},
            r"`Trace.cancelled_reason` must have shape \(5,\); got \(2,\)",
        ),
        (
            {"cancelled_reason": [0, 1, 4, 0, 0]},
            r"`Trace.cancelled_reason` must hold codes 0-3 .*got 4",
        ),
        ({"cancelled_reason": [0, -1, 0, 0, 0]}, "got -1"),
        ({"cancelled_reason": [0, 258, 0, 0, 0]}, "got 258"),  # not wrapped to 2 by int8
        ({"transfer_kind": [0, 1, 3]}, r"`Trace.transfer_kind` must hold codes 0-2 .*got 3"),
        ({"transfer_kind": [0, 1]}, r"`Trace.transfer_kind` must have shape \(3,\)"),
        ({"down_stop": [4.5, 5.0]}, r"`Trace.down_\*` arrays must be 1-D of the same length"),
        ({"down_learner": [3]}, r"`Trace.down_learner` must lie in \[0, 3\); got range \[3, 3\]"),
        ({"down_stop": [2.0]}, "`Trace.down_stop` must be >= `Trace.down_start`"),
        ({"down_start": [NAN]}, "`Trace.down_stop` must be >= `Trace.down_start`"),
        ({"transfer_learner": [0, -1, 0]}, r"`Trace.transfer_learner` must lie in \[0, 3\)"),
        ({"transfer_stop": [5.2, 4.6, 3.9]}, "`Trace.transfer_stop` must be >= "),
        (
            {"down_learner": [2, 2], "down_start": [3.0, 4.0], "down_stop": [4.5, 6.0]},
            "`Trace.down_\\*` periods of one learner must not overlap",
        ),
    ],
)
def test_bad_arrays_are_refused_in_one_line(over, message):
    fault_trace()  # the base is valid
    with pytest.raises(ValueError, match=message) as err:
        fault_trace(**over)
    assert "\n" not in str(err.value)


def test_back_to_back_down_periods_and_other_learners_may_touch():
    trace = fault_trace(
        down_learner=[2, 2, 1], down_start=[3.0, 4.5, 3.5], down_stop=[4.5, 5.0, 4.0]
    )
    np.testing.assert_array_equal(trace.down_intervals(2), [[3.0, 4.5], [4.5, 5.0]])


@pytest.mark.parametrize(
    "call,message",
    [
        (lambda t: t.lost_intervals(0, "lost"), "`reason` must be one of cancelled, failure, "),
        (lambda t: t.lost_intervals(0, 1), "`reason` must be one of .* got 1"),
        (lambda t: t.transfer_intervals(0, "send"), "`kind` must be one of push, pull, all-reduce"),
        (lambda t: t.down_intervals(3), "`learner` must be <= 2"),
    ],
)
def test_views_refuse_bad_arguments(call, message):
    with pytest.raises(ValueError, match=message):
        call(fault_trace())


def _assert_same(a: Trace, b: Trace) -> None:
    for name in (
        "update_time",
        "mask",
        "cancelled_stop",
        "cancelled_reason",
        "down_learner",
        "down_start",
        "down_stop",
        "transfer_learner",
        "transfer_start",
        "transfer_stop",
        "transfer_kind",
    ):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name), err_msg=name)
        assert getattr(a, name).dtype == getattr(b, name).dtype, name


def test_save_and_load_keep_the_new_arrays(tmp_path):
    trace = fault_trace()
    back = load_trace(trace.save(tmp_path / "faults"))
    _assert_same(back, trace)
    assert back.lost_work() == trace.lost_work()
    plain = plain_trace()
    _assert_same(load_trace(plain.save(tmp_path / "plain")), plain)


def test_files_without_the_new_arrays_still_load(tmp_path):
    """A file in the earlier format: only the original arrays and the metadata."""
    trace = fault_trace()
    old = (
        "update_time learner version start finish mask cancelled_learner cancelled_start "
        "cancelled_stop inflight_learner inflight_start"
    ).split()
    meta = {"variant": "k-sync", "num_learners": 3, "k": 2, "seed": 0, "local_steps": 1}
    path = tmp_path / "old.npz"
    np.savez(path, **{name: getattr(trace, name) for name in old}, **meta)
    back = load_trace(path)
    _assert_same(back, plain_trace())
    np.testing.assert_array_equal(back.finish, trace.finish)
    assert back.lost_work()["cancelled"] == pytest.approx(10.4)
