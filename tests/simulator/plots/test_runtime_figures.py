"""Figures 5 and 6 drawn from tables: styles that keep coinciding series apart, labels with
units, and a table reloaded from CSV that redraws the same figure. No simulation here."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

from simulator.errors import PssimError, PssimTypeError
from simulator.plots._style import TIME_UNIT
from simulator.plots.runtime import runtime_vs_k_figure, speedup_figure


@pytest.fixture(autouse=True)
def _close():
    yield
    plt.close("all")


def speedup_rows(laws=("exp:1.0", "pareto:2.0,1.0"), ps=(1, 2, 4), seeds=3) -> pd.DataFrame:
    rows = []
    for i, law in enumerate(laws):
        for p in ps:
            for s in range(seeds):
                ratio = p * (1.5 + 0.1 * i) + 0.01 * s
                rows.append(
                    {
                        "law": law,
                        "num_learners": p,
                        "updates": 100,
                        "seed": s,
                        "t_sync": ratio * 10,
                        "t_async": 10.0,
                        "speedup": ratio,
                        "theory": p * (1.5 + 0.1 * i),
                        "relation": "exact" if i == 0 else "asymptotic",
                        "source": "Theorem 1",
                    }
                )
    return pd.DataFrame(rows)


def runtime_rows(variants=("k-sync", "k-async"), ks=(1, 2, 3, 4), seeds=3, relation="exact"):
    """Identical values for every variant: their curves coincide exactly."""
    rows = []
    for v in variants:
        for k in ks:
            for s in range(seeds):
                rows.append(
                    {
                        "law": "exp:1.0",
                        "num_learners": 4,
                        "updates": 100,
                        "variant": v,
                        "k": k,
                        "seed": s,
                        "time": 50.0 * k + s,
                        "theory": 50.0 * k + 1,
                        "relation": relation,
                        "source": "Lemma 3",
                    }
                )
    return pd.DataFrame(rows)


def legend_texts(ax) -> list[str]:
    return [t.get_text() for t in ax.get_legend().get_texts()]


def sim_markers(ax) -> list[str]:
    """Markers of the simulated points (errorbar containers), in drawing order."""
    return [c.lines[0].get_marker() for c in ax.containers]


def test_speedup_series_differ_by_marker_and_line_style():
    fig = speedup_figure(speedup_rows())
    ax = fig.axes[0]
    markers = sim_markers(ax)
    assert len(markers) == 2 and len(set(markers)) == 2
    # at P = 1 both speedups are 1: the points sit side by side
    first_x = {float(c.lines[0].get_xdata()[0]) for c in ax.containers}
    assert len(first_x) == 2 and all(0.9 < x < 1.1 for x in first_x)
    theory = [line for line in ax.get_lines() if "Theorem 1" in str(line.get_label())]
    assert len({line.get_linestyle() for line in theory}) == 2
    texts = legend_texts(ax)
    assert any("95% CI" in t for t in texts)
    assert texts[:2] == ["exp:1.0: Theorem 1 (exact)", "exp:1.0: simulated mean, 95% CI"]
    assert "ratio" in ax.get_ylabel()
    assert "3 seeds" in ax.get_title() and "J=100" in ax.get_title()


def test_speedup_points_are_seed_means_with_intervals():
    table = speedup_rows(laws=("exp:1.0",), ps=(2,), seeds=4)
    ax = speedup_figure(table).axes[0]
    x, y = ax.containers[0].lines[0].get_data()
    assert x.tolist() == [2] and y[0] == pytest.approx(table["speedup"].mean())


def test_speedup_single_seed_says_so():
    ax = speedup_figure(speedup_rows(seeds=1)).axes[0]
    assert any("1 seed, no interval" in t for t in legend_texts(ax))


def test_speedup_figure_redraws_from_csv(tmp_path):
    table = speedup_rows()
    table.to_csv(tmp_path / "t.csv", index=False)
    a = speedup_figure(table).axes[0]
    b = speedup_figure(pd.read_csv(tmp_path / "t.csv")).axes[0]
    for la, lb in zip(a.get_lines(), b.get_lines(), strict=True):
        np.testing.assert_allclose(la.get_xydata(), lb.get_xydata())
    assert legend_texts(a) == legend_texts(b)


def test_runtime_coinciding_variants_stay_distinguishable():
    fig = runtime_vs_k_figure(runtime_rows(variants=("k-sync", "k-async", "k-batch-async")))
    ax = fig.axes[0]
    markers = sim_markers(ax)
    assert len(set(markers)) == 3
    # simulated points of equal value are shifted apart
    xs = [tuple(c.lines[0].get_xdata()) for c in ax.containers]
    assert len(set(xs)) == 3
    theory = [line for line in ax.get_lines() if "theory" in str(line.get_label())]
    assert len({line.get_marker() for line in theory}) == 3
    assert all(line.get_markerfacecolor() == "none" for line in theory)
    # legend grouped per variant: theory then simulated
    texts = legend_texts(ax)
    assert texts[:2] == ["k-sync: theory (exact)", "k-sync: simulated mean, 95% CI"]


@pytest.mark.parametrize(
    ("relation", "style"), [("exact", "-"), ("upper-bound", "--"), ("lower-bound", ":")]
)
def test_runtime_theory_line_style_says_relation(relation, style):
    ax = runtime_vs_k_figure(runtime_rows(variants=("k-async",), relation=relation)).axes[0]
    (line,) = [x for x in ax.get_lines() if "theory" in str(x.get_label())]
    assert line.get_linestyle() == style
    assert f"k-async: theory ({relation})" in legend_texts(ax)


def test_runtime_no_theory_no_line():
    table = runtime_rows(variants=("k-batch-sync",))
    table["theory"] = np.nan
    table["relation"] = "none"
    ax = runtime_vs_k_figure(table).axes[0]
    assert not [x for x in ax.get_lines() if "theory" in str(x.get_label())]


def test_runtime_axis_says_time_unit():
    ax = runtime_vs_k_figure(runtime_rows()).axes[0]
    assert TIME_UNIT in ax.get_ylabel() and "J=100" in ax.get_ylabel()
    assert ax.get_xlabel() == "K"
    assert "P=4" in ax.get_title() and "3 seeds" in ax.get_title()


def test_figures_draw_into_a_given_axes():
    fig, (a, b) = plt.subplots(1, 2)
    assert speedup_figure(speedup_rows(), ax=a) is fig
    assert runtime_vs_k_figure(runtime_rows(), ax=b, title="mine") is fig
    assert b.get_title() == "mine"


def test_bad_tables_are_refused():
    with pytest.raises(PssimTypeError, match="`table` must be a pandas DataFrame"):
        speedup_figure([1, 2])
    with pytest.raises(PssimError, match="missing speedup"):
        speedup_figure(speedup_rows().drop(columns="speedup"))
    with pytest.raises(PssimError, match="at least one row"):
        runtime_vs_k_figure(runtime_rows().iloc[:0])
    with pytest.raises(PssimError, match="runtime_vs_k_table; missing variant"):
        runtime_vs_k_figure(speedup_rows())
