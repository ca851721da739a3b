"""Axes a reader can compare: a log time axis where the shown time scales differ by more than
10x (or as asked), K-AVG's rounds counted in local steps beside the server updates of the
parameter-server variants, heatmap rows and columns in the sweep's grid order."""

from __future__ import annotations

import sys
from pathlib import Path
from types import SimpleNamespace

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "results"))
from sweep_tables import UPDATES, settings, training_table

from simulator.errors import PssimError, PssimTypeError
from simulator.plots import curves_figure, error_figure, target_heatmap_figure

U = np.array(UPDATES, dtype=float)


@pytest.fixture(autouse=True)
def _close():
    yield
    plt.close("all")


def run(variant: str, k: int, *, scale: float = 1.0, seeds: int = 2, evals: int = 20):
    """A run whose seed-mean time at update u is ``scale * u`` (plus a small seed offset)."""
    update = np.arange(evals) * 5
    time = np.tile(update * scale, (seeds, 1)) + np.arange(seeds)[:, None] * 0.01
    loss = 1.0 + np.exp(-update / 50.0)[None, :] * (1 + 0.1 * np.arange(seeds))[:, None]
    result = SimpleNamespace(
        eval_update=update, eval_time=time, loss=loss, error=loss - 1.0, diverged=np.zeros(seeds)
    )
    return SimpleNamespace(
        variant=variant, k=k, result=result, diverged_seeds=0, staleness=np.zeros(9, int)
    )


# log time axis --------------------------------------------------------------------------------


@pytest.mark.parametrize(("scales", "expected"), [((1.0, 30.0), "log"), ((1.0, 5.0), "linear")])
def test_error_figure_time_axis_is_log_where_scales_differ_tenfold(scales, expected):
    runs = [run("k-sync", 2, scale=scales[0]), run("k-async", 2, scale=scales[1])]
    fig = error_figure(runs, f_star=1.0)
    assert fig.axes[0].get_xscale() == expected
    assert ("log scale" in fig.axes[0].get_xlabel()) == (expected == "log")


@pytest.mark.parametrize("log_time", [True, False])
def test_error_figure_log_time_can_be_forced(log_time):
    runs = [run("k-sync", 2, scale=1.0), run("k-async", 2, scale=30.0)]
    fig = error_figure(runs, f_star=1.0, log_time=log_time)
    assert fig.axes[0].get_xscale() == ("log" if log_time else "linear")


@pytest.mark.parametrize("bad", ["yes", 1, 0.0])
def test_log_time_must_be_a_bool_or_none(bad):
    with pytest.raises(PssimTypeError, match=r"^`log_time` must be True, False or None"):
        error_figure([run("sync", 8)], log_time=bad)
    table = training_table([(settings(k=1), 1.0, 0.05, 1.0)])
    with pytest.raises(PssimTypeError, match=r"^`log_time` must be True, False or None"):
        curves_figure(table, "k", log_time=bad)


@pytest.mark.parametrize(("c_slow", "expected"), [(20.0, "log"), (5.0, "linear")])
def test_curves_time_axis_is_log_where_scales_differ_tenfold(c_slow, expected):
    configs = [(settings(k=1), 1.0, 0.05, c_slow), (settings(k=4), 1.0, 0.02, 1.0)]
    fig = curves_figure(training_table(configs), "k")
    ax_j, ax_t = fig.axes
    assert ax_t.get_xscale() == expected and ax_j.get_xscale() == "linear"
    assert curves_figure(training_table(configs), "k", log_time=False).axes[1].get_xscale() == (
        "linear"
    )


# K-AVG beside the parameter-server variants ---------------------------------------------------


def test_k_avg_rounds_are_counted_in_local_steps():
    fig = error_figure([run("k-sync", 2), run("k-avg", 4)], f_star=1.0)
    ax_j = fig.axes[1]
    sync, avg = [line for line in ax_j.get_lines() if line.get_xdata().size]
    update = np.arange(20) * 5
    np.testing.assert_array_equal(sync.get_xdata(), update)
    np.testing.assert_array_equal(avg.get_xdata(), update * 4)
    label = ax_j.get_xlabel()
    assert "server updates" in label and "k-avg" in label and "local steps" in label
    legend = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert any(t.startswith("k-avg (K=4 local steps per round)") for t in legend), legend


def test_without_k_avg_the_iterations_axis_is_unchanged():
    fig = error_figure([run("k-sync", 2), run("k-async", 2)], f_star=1.0)
    assert fig.axes[1].get_xlabel() == "iterations (server updates)"


def test_k_avg_curves_by_k_count_local_steps():
    configs = [(settings(variant="k-avg", k=k), 1.0, 0.05 / k, 1.0) for k in (1, 4)]
    fig = curves_figure(training_table(configs), "k")
    ax_j = fig.axes[0]
    lines = [line for line in ax_j.get_lines() if line.get_linestyle() != ":"]
    np.testing.assert_array_equal(lines[0].get_xdata(), U)
    np.testing.assert_array_equal(lines[1].get_xdata(), U * 4)
    assert "local steps" in ax_j.get_xlabel()


# heatmap in grid order ------------------------------------------------------------------------


def grid_table():
    configs = []
    for k in (1, 2, 4):
        for m in (1, 8):
            b = 0.0005 if (k, m) == (4, 8) else 0.01 * k * m
            configs.append((settings(k=k, batch_size=m), 1.0, b, 1.0 + k))
    return training_table(configs)


def test_heatmap_rows_and_columns_follow_the_order_given():
    order = {"k": [4, 1, 2], "batch_size": [8, 1]}
    fig = target_heatmap_figure(grid_table(), "k", "batch_size", target=0.5, order=order)
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["4", "1", "2"]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["8", "1"]
    image = ax.get_images()[0].get_array().filled(np.nan)
    # the same cells as in sorted order (K = 1, 2, 4; m = 1, 8), moved
    ax_sorted = target_heatmap_figure(grid_table(), "k", "batch_size", target=0.5).axes[0]
    assert [t.get_text() for t in ax_sorted.get_xticklabels()] == ["1", "2", "4"]
    default = ax_sorted.get_images()[0].get_array().filled(np.nan)
    np.testing.assert_array_equal(image, default[[1, 0]][:, [2, 0, 1]])
    never = next(t for t in ax.texts if t.get_text().startswith("never"))
    assert never.get_position() == (0, 0)  # K = 4, m = 8 never reaches the target


def test_values_the_order_leaves_out_come_after_it_sorted():
    fig = target_heatmap_figure(grid_table(), "k", "batch_size", target=0.5, order={"k": [2]})
    assert [t.get_text() for t in fig.axes[0].get_xticklabels()] == ["2", "1", "4"]


@pytest.mark.parametrize(
    ("order", "error", "match"),
    [
        ([4, 1], PssimTypeError, r"^`order` must be a mapping of x or y to a list of values"),
        ({"k": "412"}, PssimTypeError, r"^`order` must be a mapping of x or y to a list of values"),
        ({"lr": [0.1]}, PssimError, r"^`order` may only order x \('k'\) or y \('batch_size'\)"),
    ],
)
def test_bad_orders_are_refused(order, error, match):
    with pytest.raises(error, match=match):
        target_heatmap_figure(grid_table(), "k", "batch_size", target=0.5, order=order)


def test_the_sweep_command_passes_the_grid_order(monkeypatch, tmp_path):
    import simulator.plots.sweep as sweep_plots
    from simulator.cli.sweep_command import draw_figures
    from simulator.studies.sweeps import SweepSpec

    spec = SweepSpec.from_toml(
        'variant = "k-sync"\nlearners = 8\nseeds = 3\n[grid]\nK = [4, 1, 2]\nbatch = [8, 1]\n'
        '[[figure]]\nkind = "heatmap"\nx = "K"\ny = "batch"\ntarget = 0.5\n'
    )
    seen = {}

    def spy(table, x, y, **kw):
        seen.update(kw)
        return plt.figure()

    monkeypatch.setattr(sweep_plots, "target_heatmap_figure", spy)
    paths, errors = draw_figures(spec, grid_table(), tmp_path)
    assert not errors and len(paths) == 1
    assert seen["order"] == {"k": [4, 1, 2], "batch_size": [8, 1]}
