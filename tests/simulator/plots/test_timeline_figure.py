"""The timeline says its time unit and how many learners it leaves out."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import pytest

from simulator.errors import PssimError
from simulator.plots._style import TIME_LABEL
from simulator.plots.timeline import MAX_LEARNERS, timeline_figure
from simulator.timing.engine import simulate


@pytest.fixture(autouse=True)
def _close():
    yield
    plt.close("all")


def test_small_timeline_shows_every_learner():
    trace = simulate("k-sync", num_learners=3, k=2, law="exp:1", updates=12, seed=0)
    ax = timeline_figure(trace).axes[0]
    assert [t.get_text() for t in ax.get_yticklabels()] == [f"learner {i}" for i in range(3)]
    assert "not shown" not in ax.get_title()
    assert ax.get_xlabel() == TIME_LABEL
    assert ax.get_ylim() == (2.5, -0.5)  # learner 0 on top, no empty margin


def test_large_timeline_says_how_many_learners_are_hidden():
    trace = simulate("async", num_learners=MAX_LEARNERS + 5, law="exp:1", updates=20, seed=1)
    fig = timeline_figure(trace)
    ax = fig.axes[0]
    assert len(ax.get_yticks()) == MAX_LEARNERS
    assert f"5 of {MAX_LEARNERS + 5} not shown" in ax.get_title()
    assert fig.get_figheight() < 20


def test_max_learners_is_checked_and_used():
    trace = simulate("async", num_learners=6, law="exp:1", updates=10, seed=0)
    ax = timeline_figure(trace, max_learners=4).axes[0]
    assert "learners 0-3 shown; 2 of 6 not shown" in ax.get_title()
    with pytest.raises(PssimError, match="`max_learners` must be >= 1; got 0"):
        timeline_figure(trace, max_learners=0)
