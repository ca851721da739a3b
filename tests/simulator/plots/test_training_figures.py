"""Training figures: identical curves stay visible, bands are labelled, time has a unit."""

from __future__ import annotations

from types import SimpleNamespace

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pytest

from simulator.plots._style import BAND_LABEL, TIME_LABEL
from simulator.plots.training import error_figure, staleness_figure


@pytest.fixture(autouse=True)
def _close():
    yield
    plt.close("all")


def fake_run(variant: str, seeds: int = 3, evals: int = 40, diverged=None) -> SimpleNamespace:
    """A run with the replay result's shapes; every variant gets the same curves."""
    update = np.arange(evals) * 10
    time = np.tile(update * 0.5, (seeds, 1)) + np.arange(seeds)[:, None] * 0.1
    loss = np.exp(-update / 100.0)[None, :] * (1 + 0.1 * np.arange(seeds))[:, None] + 1.0
    diverged = np.zeros(seeds, bool) if diverged is None else np.asarray(diverged)
    result = SimpleNamespace(
        eval_update=update, eval_time=time, loss=loss, error=loss - 1.0, diverged=diverged
    )
    return SimpleNamespace(
        variant=variant,
        k=2,
        result=result,
        diverged_seeds=int(diverged.sum()),
        staleness=np.zeros(100, int),
    )


def curve_lines(ax):
    return [line for line in ax.get_lines() if line.get_xdata().size > 0]


@pytest.mark.parametrize("f_star", [None, 1.0])
def test_identical_curves_differ_by_style_and_marker(f_star):
    runs = [fake_run("k-sync"), fake_run("k-async"), fake_run("k-batch-async")]
    fig = error_figure(runs, f_star=f_star)
    for ax in fig.axes:
        lines = curve_lines(ax)
        assert len(lines) == 3
        assert len({str(line.get_linestyle()) for line in lines}) == 3
        assert len({line.get_marker() for line in lines}) == 3
        # markers are sparse and staggered, not stacked on the same points
        firsts = {line.get_markevery()[0] for line in lines}
        assert len(firsts) == 3


def test_bands_are_named_in_the_legend():
    fig = error_figure([fake_run("sync"), fake_run("async")], f_star=1.0, title="t")
    texts = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert texts == ["sync (K=2)", "async (K=2)", BAND_LABEL]
    assert "min-max over seeds" in BAND_LABEL
    assert fig.axes[0].get_ylabel() == "error F(w) - F*"


def test_single_seed_has_no_band_entry():
    fig = error_figure([fake_run("sync", seeds=1)])
    texts = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert BAND_LABEL not in texts
    assert fig.axes[0].get_ylabel() == "loss F(w)"


def test_time_axis_says_its_unit():
    fig = error_figure([fake_run("sync")])
    assert fig.axes[0].get_xlabel() == TIME_LABEL
    assert "units of the compute-time law" in TIME_LABEL
    assert fig.axes[1].get_xlabel() == "iterations (server updates)"


def test_diverged_runs_are_named():
    runs = [fake_run("sync"), fake_run("async", seeds=2, diverged=[True, True])]
    fig = error_figure(runs)
    texts = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert "async (K=2), 2 diverged (all diverged)" in texts


def test_identical_staleness_histograms_differ_by_line_style():
    fig = staleness_figure([fake_run("sync"), fake_run("k-sync")])
    patches = fig.axes[0].patches
    assert len(patches) == 2
    assert patches[0].get_linestyle() != patches[1].get_linestyle()
    assert patches[0].get_linewidth() > patches[1].get_linewidth()
