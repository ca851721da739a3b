"""Figures from sweep tables: the speedup of paired sync/async rows, training curves per
swept value, the time-to-target heatmap; Parquet round trips and refusals. No simulation."""

from __future__ import annotations

import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

# the synthetic sweep tables live beside the results tests
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "results"))
from sweep_tables import UPDATES, settings, timing_table, training_table

from simulator.errors import PssimError, PssimTypeError
from simulator.plots._style import TIME_LABEL, TIME_UNIT
from simulator.plots.heatmap import _time_text
from simulator.plots.runtime import (
    _speedup_rows,
    runtime_vs_k_figure,
    speedup_figure,
)
from simulator.plots.sweep import curves_figure, target_heatmap_figure
from simulator.results.targets import time_to_target_table

U = np.array(UPDATES, dtype=float)


@pytest.fixture(autouse=True)
def _close():
    yield
    plt.close("all")


def three_k(**kw) -> pd.DataFrame:
    """K = 1, 2, 4: error exp(-b u) with b = 0.05, 0.02, 0.001; time c u with c = 2, 1.5, 0.5."""
    configs = [
        (settings(k=1), 1.0, 0.05, 2.0),
        (settings(k=2), 1.0, 0.02, 1.5),
        (settings(k=4), 1.0, 0.001, 0.5),
    ]
    return training_table(configs, **kw)


def grid(never=True) -> pd.DataFrame:
    """K in (1, 2, 4) by m in (1, 8): error exp(-b u), b = 0.01 K m (0.0005 for K=4, m=8)."""
    configs = []
    for k in (1, 2, 4):
        for m in (1, 8):
            b = 0.0005 if (never and (k, m) == (4, 8)) else 0.01 * k * m
            configs.append((settings(k=k, batch_size=m), 1.0, b, 1.0 + k))
    return training_table(configs)


def legend_texts(ax) -> list[str]:
    return [t.get_text() for t in ax.get_legend().get_texts()]


def figure_legend(fig) -> list[str]:
    """The curves figure's one legend, below both panels (never over the data)."""
    assert len(fig.legends) == 1 and all(ax.get_legend() is None for ax in fig.axes)
    return [t.get_text() for t in fig.legends[0].get_texts()]


def mean_lines(ax) -> list:
    return [line for line in ax.get_lines() if line.get_linestyle() != ":"]


# speedup from a timing sweep --------------------------------------------------------------


def test_sync_async_rows_pair_into_speedups():
    rows = _speedup_rows(timing_table(seeds=2))
    assert list(rows.columns) == [
        "law",
        "num_learners",
        "updates",
        "seed",
        "t_sync",
        "t_async",
        "speedup",
        "theory",
        "relation",
        "source",
    ]
    assert len(rows) == 2 * 3 * 2  # laws x P x seeds; the k-sync rows are not paired
    factor = rows["law"].map({"exp:1": 2, "pareto:2,1": 3})
    np.testing.assert_allclose(rows["speedup"], factor * rows["num_learners"])
    np.testing.assert_allclose(rows["t_async"], 10.0 * (rows["seed"] + 1))
    np.testing.assert_allclose(rows["theory"], factor * rows["num_learners"] + 0.5)
    assert rows["relation"].tolist() == ["exact"] * 6 + ["asymptotic"] * 6
    assert rows[["law", "num_learners", "seed"]].values.tolist()[:3] == [
        ["exp:1", 2, 0],
        ["exp:1", 2, 1],
        ["exp:1", 4, 0],
    ]


def test_speedup_figure_draws_a_timing_sweep():
    ax = speedup_figure(timing_table()).axes[0]
    assert len(ax.containers) == 2
    for container, factor in zip(ax.containers, (2, 3), strict=True):
        y = np.asarray(container.lines[0].get_ydata(), dtype=float)
        np.testing.assert_allclose(y, [factor * 2, factor * 4, factor * 8])
    texts = legend_texts(ax)
    assert texts[:2] == ["exp:1: Theorem 1 (exact)", "exp:1: simulated mean, 95% CI"]
    assert "pareto:2,1: Theorem 1 (asymptotic)" in texts
    assert "3 seeds" in ax.get_title()


def test_speedup_figure_from_parquet_draws_the_same(tmp_path):
    pytest.importorskip("pyarrow")
    table = timing_table()
    table.to_parquet(tmp_path / "results.parquet")
    a = speedup_figure(table).axes[0]
    b = speedup_figure(pd.read_parquet(tmp_path / "results.parquet")).axes[0]
    for la, lb in zip(a.get_lines(), b.get_lines(), strict=True):
        np.testing.assert_allclose(la.get_xydata(), lb.get_xydata())
    assert legend_texts(a) == legend_texts(b)


def test_heterogeneous_learners_pair_under_their_laws():
    table = timing_table(laws=("exp:1",), ps=(2,))
    table["law"] = None
    table["laws"] = "exp:1;exp:2"
    rows = _speedup_rows(table)
    assert set(rows["law"]) == {"laws=exp:1;exp:2"}
    np.testing.assert_allclose(rows["speedup"], 4.0)


def test_bad_speedup_sweeps_are_refused():
    table = timing_table()
    with pytest.raises(PssimError, match="rows of variant sync and async to pair; none of async"):
        speedup_figure(table[table["variant"] != "async"])
    with pytest.raises(
        PssimError, match=r"unpaired: law=exp:1, num_learners=2, updates=100, seed=0$"
    ):
        speedup_figure(table.drop(index=table.index[table["variant"] == "async"][0]))
    varied = table.copy()
    varied.loc[varied["seed"] == 1, "push_latency"] = "exp:10"
    with pytest.raises(PssimError, match="several values of push_latency") as info:
        speedup_figure(varied)
    assert "`by`" not in str(info.value) and "filter it to one" in str(info.value)
    with pytest.raises(PssimError, match="a timing sweep table; missing speedup_theory"):
        speedup_figure(table.drop(columns="speedup_theory"))


# runtime vs K from a timing sweep -----------------------------------------------------------


def timing_k_table(laws=("exp:1",), ps=(8,)) -> pd.DataFrame:
    rows = []
    for law in laws:
        for p in ps:
            for variant in ("k-sync", "k-async"):
                for k in (1, 2, 4):
                    spec = settings(variant=variant, num_learners=p, k=k, law=law)
                    for s in range(3):
                        rows.append(
                            {
                                **spec,
                                "seed": s,
                                "time": 10.0 * k + s,
                                "theory": 10.0 * k + 1,
                                "relation": "exact" if variant == "k-sync" else "upper-bound",
                                "source": "Lemma 3",
                            }
                        )
    return pd.DataFrame(rows)


def test_runtime_vs_k_draws_a_timing_sweep():
    ax = runtime_vs_k_figure(timing_k_table()).axes[0]
    assert len(ax.containers) == 2
    y = np.asarray(ax.containers[0].lines[0].get_ydata(), dtype=float)
    np.testing.assert_allclose(y, [11.0, 21.0, 41.0])
    assert "P=8, X ~ exp:1" in ax.get_title()


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"laws": ("exp:1", "pareto:2,1")}, "column law has exp:1/pareto:2,1: filter it first"),
        ({"ps": (4, 8)}, "column num_learners has 4/8: filter it first"),
    ],
)
def test_runtime_vs_k_refuses_several_laws_or_p(kwargs, match):
    with pytest.raises(PssimError, match=match) as info:
        runtime_vs_k_figure(timing_k_table(**kwargs))
    assert "one law and one P for runtime_vs_k_figure" in str(info.value)


# training curves ------------------------------------------------------------------------------


def test_curves_are_seed_means_against_iterations_and_time():
    fig = curves_figure(three_k(), "k")
    ax_j, ax_t = fig.axes
    lines_j, lines_t = mean_lines(ax_j), mean_lines(ax_t)
    assert len(lines_j) == len(lines_t) == 3
    for line_j, line_t, b, c in zip(
        lines_j, lines_t, (0.05, 0.02, 0.001), (2, 1.5, 0.5), strict=True
    ):
        np.testing.assert_allclose(line_j.get_xdata(), U)
        np.testing.assert_allclose(line_j.get_ydata(), np.exp(-b * U), rtol=1e-12)
        np.testing.assert_allclose(line_t.get_xdata(), c * U, rtol=1e-12)
        np.testing.assert_allclose(line_t.get_ydata(), np.exp(-b * U), rtol=1e-12)
    styles = [(x.get_color(), x.get_linestyle(), x.get_marker()) for x in lines_t]
    for i in range(3):
        assert len({s[i] for s in styles}) == 3  # colour, line style and marker all differ
    assert ax_j.get_yscale() == ax_t.get_yscale() == "log"
    assert ax_t.get_xlabel() == TIME_LABEL and "iterations" in ax_j.get_xlabel()
    assert "error F(w) - F*" in ax_j.get_ylabel()
    texts = figure_legend(fig)
    assert texts == ["K=1: 3 seeds", "K=2: 3 seeds", "K=4: 3 seeds", "shaded: min-max over seeds"]
    title = fig._suptitle.get_text()
    assert title.startswith("Error by K\n") and "k-sync" in title and "P=8" in title
    assert "K=" not in title and "X ~ exp:1" in title and "rule=fixed" in title


def test_the_band_spans_the_seeds():
    ax_j = curves_figure(three_k(), "k").axes[0]
    band = ax_j.collections[0].get_paths()[0].vertices
    top = band[:, 1].max()
    assert top == pytest.approx(1.2)  # seed +20% at the start


def test_diverged_seeds_leave_the_means_and_the_legend_says_so():
    fig = curves_figure(three_k(diverged=1), "k")
    ax_t = fig.axes[1]
    for line, b in zip(mean_lines(ax_t), (0.05, 0.02, 0.001), strict=True):
        np.testing.assert_allclose(line.get_ydata(), np.exp(-b * U), rtol=1e-12)
    assert figure_legend(fig)[0] == "K=1: 4 seeds, 1 diverged"


def test_a_series_whose_seeds_all_diverged_is_drawn_dotted_per_seed():
    ok = training_table([(settings(k=1), 1.0, 0.05, 2.0)])
    bad = training_table([(settings(k=2), 1.0, 0.05, 2.0)], all_diverged=True)
    fig = curves_figure(pd.concat([ok, bad]), "k")
    dotted = [line for line in fig.axes[1].get_lines() if line.get_linestyle() == ":"]
    assert len(dotted) == 3
    assert all(np.isfinite(line.get_ydata()).sum() == 4 for line in dotted)  # up to u = 30
    assert figure_legend(fig)[1] == "K=2: 3 seeds, all diverged"


def test_settings_that_differ_between_series_show_in_the_legend():
    configs = [
        (settings(variant="sync", k=8), 1.0, 0.05, 2.0),
        (settings(variant="async", k=1), 1.0, 0.02, 1.0),
    ]
    fig = curves_figure(training_table(configs), "variant", value="loss")
    texts = figure_legend(fig)
    assert texts[:2] == ["variant=async (K=1): 3 seeds", "variant=sync (K=8): 3 seeds"]
    assert "loss F(w)" in fig.axes[0].get_ylabel()
    np.testing.assert_allclose(
        mean_lines(fig.axes[0])[0].get_ydata(), np.exp(-0.02 * U) + 0.5, rtol=1e-12
    )


def test_accuracy_curves_are_linear():
    fig = curves_figure(three_k(), "k", value="accuracy", title="mine")
    assert fig.axes[0].get_yscale() == "linear" and fig._suptitle.get_text() == "mine"


def test_curves_from_parquet_draw_the_same(tmp_path):
    pytest.importorskip("pyarrow")
    table = three_k(diverged=1)
    table.to_parquet(tmp_path / "results.parquet")
    a = curves_figure(table, "k")
    b = curves_figure(pd.read_parquet(tmp_path / "results.parquet"), "k")
    for ax_a, ax_b in zip(a.axes, b.axes, strict=True):
        for la, lb in zip(ax_a.get_lines(), ax_b.get_lines(), strict=True):
            np.testing.assert_allclose(la.get_xydata(), lb.get_xydata())
    assert figure_legend(a) == figure_legend(b)
    assert a._suptitle.get_text() == b._suptitle.get_text()


def test_bad_curve_tables_are_refused():
    with pytest.raises(PssimTypeError, match="`table` must be a pandas DataFrame"):
        curves_figure([1], "k")
    with pytest.raises(PssimError, match="training sweep table; missing update"):
        curves_figure(timing_table(), "k")
    with pytest.raises(PssimError, match="`by` must name setting columns of the table"):
        curves_figure(three_k(), "K")
    mixed = pd.concat([three_k(), training_table([(settings(k=1, batch_size=4), 1, 0.1, 1)])])
    with pytest.raises(PssimError) as info:
        curves_figure(mixed, "k")
    assert str(info.value).startswith("`table` mixes several values of batch_size (1/4) within k=1")
    assert "or add 'batch_size' to `by`" in str(info.value)


# time-to-target heatmap -------------------------------------------------------------------


def cell_times(table, target=None) -> tuple[np.ndarray, pd.DataFrame]:
    """What the heatmap must show: time_to_target_table's times, rows m, columns K."""
    cells = time_to_target_table(table, ["k", "batch_size"], target=target)
    grid_ = cells.pivot(index="batch_size", columns="k", values="time_to_target")
    return grid_.sort_index().sort_index(axis=1).to_numpy(dtype=float), cells


def test_heatmap_cells_are_times_to_target_and_never_is_marked():
    fig = target_heatmap_figure(grid(), "k", "batch_size", target=0.5)
    ax = fig.axes[0]
    image = ax.get_images()[0].get_array()
    expected, _ = cell_times(grid(), target=0.5)
    assert np.isnan(expected[1, 2]) and np.isfinite(expected).sum() == 5  # K=4, m=8: never
    np.testing.assert_allclose(image.filled(np.nan), expected)
    assert image.mask[1, 2] and not image.mask[0, 0]
    texts = [t.get_text().split("\n")[0] for t in ax.texts]
    assert texts.count("never") == 1
    assert _time_text(expected[0, 0]) in texts and _time_text(expected[1, 0]) in texts
    assert [t.get_text() for t in ax.get_xticklabels()] == ["1", "2", "4"]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["1", "8"]
    assert ax.get_xlabel().startswith("K") and "mini-batch size m" in ax.get_ylabel()
    assert TIME_UNIT in fig.axes[1].get_ylabel() and "time to target" in fig.axes[1].get_ylabel()
    assert ax.get_title().startswith("Time to error F(w) - F* <= 0.5\nk-sync, P=8")
    assert "never reaches the target" in legend_texts(ax)


def test_heatmap_cells_say_their_interval_and_never_seeds():
    fig = target_heatmap_figure(grid(), "k", "batch_size", target=0.5)
    _, cells = cell_times(grid(), target=0.5)
    row = cells[(cells["k"] == 1) & (cells["batch_size"] == 1)].iloc[0]
    assert row["ci95_high"] > row["ci95_low"]  # three seeds at different times
    interval = f"[{_time_text(row['ci95_low'])}, {_time_text(row['ci95_high'])}]"
    assert any(interval in t.get_text() for t in fig.axes[0].texts)
    # a cell where one seed of three never reaches the target: its time, and "1/3 never"
    table = grid(never=False)
    keep = ~((table["k"] == 1) & (table["batch_size"] == 1) & (table["seed"] == 2))
    table.loc[~keep & (table["update"] > 0), "error"] = 0.9
    fig = target_heatmap_figure(table, "k", "batch_size", target=0.5)
    assert any("1/3 never" in t.get_text() for t in fig.axes[0].texts)


def test_heatmap_default_target_and_diverged_notes():
    fig = target_heatmap_figure(grid(never=False), "k", "batch_size")
    ax = fig.axes[0]
    assert "never" not in [t.get_text() for t in ax.texts] and ax.get_legend() is None
    _, cells = cell_times(grid(never=False))
    assert cells["reached"].all()
    level = float(cells["target"].iloc[0])
    assert f"<= {level:.3g} (default: reached by every cell)\n" in ax.get_title()
    fig = target_heatmap_figure(training_table_grid_diverged(), "k", "batch_size", target=0.5)
    assert any("1/4 diverged" in t.get_text() for t in fig.axes[0].texts)


def test_heatmap_scales_and_numbers():
    configs = [(settings(k=k, batch_size=1), 1.0, 0.05, 6.17 * k**2) for k in (1, 2, 4)]
    fig = target_heatmap_figure(training_table(configs), "k", "batch_size", target=0.5)
    ax, bar = fig.axes
    expected, _ = cell_times(training_table(configs), target=0.5)
    # times 16x apart, over a decade: log colours, plain numbers (no exponent)
    assert expected.max() > 10 * expected.min()
    assert [t.get_text().split("\n")[0] for t in ax.texts] == [_time_text(t) for t in expected[0]]
    assert all("e" not in t.get_text() for t in ax.texts)
    assert ax.get_images()[0].norm.__class__.__name__ == "LogNorm"
    assert "(log scale)" in bar.get_ylabel()
    fig = target_heatmap_figure(grid(), "k", "batch_size", target=1e-9)
    assert len(fig.axes) == 1  # nothing reached: no colour bar
    assert "<= 1e-09: no cell reaches it\n" in fig.axes[0].get_title()
    assert [t.get_text() for t in fig.axes[0].texts].count("never") == 6


def training_table_grid_diverged() -> pd.DataFrame:
    configs = [(settings(k=k, batch_size=m), 1.0, 0.05, 1.0) for k in (1, 2) for m in (1, 2)]
    return training_table(configs, diverged=1)


def test_heatmap_marks_combinations_not_in_the_table():
    table = grid()
    table = table[(table["k"] != 1) | (table["batch_size"] != 8)]
    ax = target_heatmap_figure(table, "k", "batch_size", target=0.5).axes[0]
    assert [t.get_text() for t in ax.texts].count("no run") == 1
    assert np.ma.is_masked(ax.get_images()[0].get_array()[1, 0])


def test_heatmap_from_parquet_is_the_same(tmp_path):
    pytest.importorskip("pyarrow")
    table = grid()
    table.to_parquet(tmp_path / "results.parquet")
    a = target_heatmap_figure(table, "k", "batch_size").axes[0]
    b = target_heatmap_figure(pd.read_parquet(tmp_path / "results.parquet"), "k", "batch_size")
    b = b.axes[0]
    np.testing.assert_array_equal(
        a.get_images()[0].get_array().filled(-1), b.get_images()[0].get_array().filled(-1)
    )
    assert [t.get_text() for t in a.texts] == [t.get_text() for t in b.texts]
    assert a.get_title() == b.get_title()


def test_bad_heatmap_arguments_are_refused():
    with pytest.raises(PssimError, match="`x` and `y` must be different columns"):
        target_heatmap_figure(grid(), "k", "k")
    with pytest.raises(PssimTypeError, match="`y` must be a column name"):
        target_heatmap_figure(grid(), "k", ["batch_size"])
    with pytest.raises(PssimError, match=r"`y` must name a setting column of the table \(vari"):
        target_heatmap_figure(grid(), "k", "m")
    with pytest.raises(PssimError, match="`x` must name a setting column"):
        target_heatmap_figure(grid(), "time", "k")
    with pytest.raises(PssimError, match="several values of batch_size") as info:
        target_heatmap_figure(grid(), "k", "lr")
    assert "`by`" not in str(info.value)
