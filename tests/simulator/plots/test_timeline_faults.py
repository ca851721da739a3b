"""The timeline draws down periods, transfers, lost work by reason and deadline cuts, and
names each in the legend only where it draws one."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pytest
from matplotlib.colors import to_rgba

from simulator.plots.timeline import CANCELLED, LOST, TRANSFER, timeline_figure
from simulator.timing.engine import simulate
from simulator.trace import LOSS_REASONS, TRANSFER_KINDS, Trace

NAN = np.nan
BASE_LABELS = ["computing", "cancelled", "idle", "server update"]
NEW_GIDS = {"down", "lost: failure", "lost: deadline", "lost: discarded", "push", "pull"}


@pytest.fixture(autouse=True)
def _close():
    yield
    plt.close("all")


def fault_trace(**over) -> Trace:
    """k-sync, P=3, K=2, three rounds (ends at 2, 5, 9); round 1 is cut by a deadline.

    Learner 2 fails at 3 and is down until 4.5; learner 1 has work discarded in round 2.
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
        cancelled_reason=np.array([0, 2, 1, 2, 3]),
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


def _gids(ax) -> list[str]:
    return [c.get_gid() for c in ax.collections]


def _labels(ax) -> list[str]:
    return [t.get_text() for t in ax.get_legend().get_texts()]


def _x_extent(collection) -> tuple[float, float]:
    xs = np.concatenate([p.vertices[:, 0] for p in collection.get_paths()])
    return float(xs.min()), float(xs.max())


def test_every_new_artist_is_drawn_and_named():
    ax = timeline_figure(fault_trace()).axes[0]
    assert set(_gids(ax)) == NEW_GIDS
    assert _gids(ax).count("down") == 1  # learner 2 only
    assert _labels(ax) == [
        *BASE_LABELS,
        "down",
        "lost: failure",
        "lost: deadline",
        "lost: discarded",
        "transfer: push",
        "transfer: pull",
        "update cut by deadline (< K)",
    ]
    (down,) = (c for c in ax.collections if c.get_gid() == "down")
    assert _x_extent(down) == (3.0, 4.5) and down.get_hatch() == "xx"
    pushes = [c for c in ax.collections if c.get_gid() == "push"]
    ys = pushes[0].get_paths()[0].vertices[:, 1]
    assert ys.max() - ys.min() < 0.6 / 2  # thinner than a computation's bar


def test_deadline_cuts_are_dashed_and_replace_the_update_line():
    ax = timeline_figure(fault_trace()).axes[0]
    cuts = [line for line in ax.lines if line.get_gid() == "deadline cut"]
    assert [line.get_xdata()[0] for line in cuts] == [5.0]
    assert cuts[0].get_linestyle() == "--"
    plain = [line.get_xdata()[0] for line in ax.lines if line.get_gid() is None]
    assert plain == [2.0, 9.0]


def test_lost_work_colours_follow_the_reason():
    ax = timeline_figure(fault_trace()).axes[0]
    for reason, (color, _) in LOST.items():
        drawn = [c for c in ax.collections if c.get_gid() == f"lost: {reason}"]
        assert drawn and all(tuple(c.get_facecolor()[0]) == to_rgba(color) for c in drawn)
    # the server's cancellations keep their own bars: learner 2's [0, 2) only
    cancelled = [r for r in ax.patches if r.get_facecolor()[:3] == to_rgba(CANCELLED)[:3]]
    assert [(r.get_x(), r.get_width()) for r in cancelled] == [(0.0, 2.0)]
    colours = [to_rgba(c) for c in (CANCELLED, *(c for c, _ in LOST.values()))]
    assert len(set(colours)) == len(LOSS_REASONS)  # every reason its own colour
    assert {"cancelled", *LOST} == set(LOSS_REASONS)
    assert set(TRANSFER) == set(TRANSFER_KINDS) and len(set(TRANSFER.values())) == 3


def test_only_what_the_window_shows_gets_a_legend_entry():
    # up to update 0 (time 2): no down period, no transfer, no cut; only learner 2's
    # cancelled work, learner 1's deadline loss and learner 2's failure start after it
    ax = timeline_figure(fault_trace(), max_updates=1).axes[0]
    assert len(ax.collections) == 0 and _labels(ax) == BASE_LABELS
    # learners 0-1: no down period, no failure
    ax = timeline_figure(fault_trace(), max_learners=2).axes[0]
    assert "down" not in _labels(ax) and "lost: failure" not in _labels(ax)
    assert "lost: deadline" in _labels(ax) and "transfer: pull" in _labels(ax)


def test_bars_are_clipped_at_the_last_update_drawn():
    trace = fault_trace(
        transfer_start=np.array([5.0, 4.5, 4.9]),
        transfer_stop=np.array([5.2, 4.6, 5.3]),
    )
    ax = timeline_figure(trace, max_updates=2).axes[0]  # until time 5
    (push,) = (c for c in ax.collections if c.get_gid() == "push")
    assert _x_extent(push) == (4.9, 5.0)
    assert "transfer: pull" in _labels(ax)  # learner 2's pull at 4.5; learner 0's at 5 not
    assert _gids(ax).count("pull") == 1


def test_all_reduce_transfers_and_k_avg_cuts():
    trace = fault_trace(
        variant="k-avg",
        k=4,
        num_learners=2,
        learner=np.array([[0, 1], [0, -1], [0, 1]]),
        cancelled_learner=np.array([1, 1, 0, 0, 1]),
        down_learner=np.array([1]),
        transfer_learner=np.array([0, 1, 0]),
        transfer_kind=np.array([2, 2, 2]),
    )
    ax = timeline_figure(trace).axes[0]
    assert _gids(ax).count("all-reduce") == 2
    labels = _labels(ax)
    assert "transfer: all-reduce" in labels and "transfer: push" not in labels
    assert labels[-1] == "update cut by deadline (< P)"


@pytest.mark.parametrize(
    "variant,k", [("k-sync", 2), ("k-batch-sync", 2), ("k-avg", 3), ("k-async", 2), ("async", None)]
)
def test_plain_traces_draw_nothing_new(variant, k):
    trace = simulate(variant, num_learners=4, k=k, law="exp:1", updates=12, seed=2)
    ax = timeline_figure(trace).axes[0]
    assert len(ax.collections) == 0
    assert _labels(ax) == BASE_LABELS
    assert all(line.get_gid() is None for line in ax.lines)
    assert len(ax.lines) == 12


def test_a_fault_figure_renders():
    fig = timeline_figure(fault_trace())
    fig.canvas.draw()  # hatches, dashes and thin bars all render
    assert fig.get_figheight() < 5
