"""Where a theory curve is missing, the legend says so and why (the theory's own reason);
the fit figure marks its chosen candidate where the eye looks for the best, and its QQ plot
says how many censored rows it leaves out."""

from __future__ import annotations

import sys
from pathlib import Path
from types import SimpleNamespace

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "results"))
from sweep_tables import timing_table

from simulator import ExperimentSpec, fit_cluster
from simulator.plots import error_figure, fit_figure, runtime_vs_k_figure, speedup_figure
from simulator.plots._titles import title_width
from simulator.theory.runtime import expected_runtime

PARETO = "pareto:2.0,1.0"


@pytest.fixture(autouse=True)
def _close():
    yield
    plt.close("all")


def legend_texts(ax) -> list[str]:
    """The legend of ``ax``, or its figure's (where many entries go below the panels)."""
    legend = ax.get_legend() or ax.figure.legends[0]
    return [t.get_text() for t in legend.get_texts()]


def pareto_runtime_rows() -> pd.DataFrame:
    """k-sync (Lemma 3, exact) and k-async (no bound for a Pareto law beyond K = 1), with the
    theory code's own predictions."""
    rows = []
    for variant in ("k-sync", "k-async"):
        for k in (1, 2, 4):
            theory = expected_runtime(variant, num_learners=4, k=k, law=PARETO, updates=100)
            for s in range(2):
                rows.append(
                    {
                        "law": PARETO,
                        "num_learners": 4,
                        "updates": 100,
                        "variant": variant,
                        "k": k,
                        "seed": s,
                        "time": 100.0 * k + s,
                        "theory": np.nan if theory.mean is None else theory.mean,
                        "relation": theory.relation,
                        "source": theory.source,
                    }
                )
    return pd.DataFrame(rows)


def test_runtime_legend_says_where_theory_is_missing_and_why():
    table = pareto_runtime_rows()
    reason = table.loc[table["relation"] == "none", "source"].iloc[0]
    assert "neither NLTU nor NSTU" in reason  # what the theory says for Pareto
    texts = legend_texts(runtime_vs_k_figure(table).axes[0])
    notes = [t for t in texts if "no theory" in t]
    assert len(notes) == 1, texts
    note = " ".join(notes[0].split())
    assert note.startswith("k-async: no theory at K=2, 4")
    assert "neither NLTU nor NSTU" in note
    assert not any(t.startswith("k-sync: no theory") for t in texts)


def test_long_runs_of_k_are_ranges():
    table = pareto_runtime_rows()
    more = table[table["k"] == 4].assign(k=3)
    texts = legend_texts(runtime_vs_k_figure(pd.concat([table, more])).axes[0])
    assert any(" ".join(t.split()).startswith("k-async: no theory at K=2-4 (") for t in texts)


def test_speedup_legend_says_where_theorem_1_is_missing_and_why():
    table = timing_table(laws=("exp:1", "exp:2"))
    table.loc[table["law"] == "exp:2", "speedup_theory"] = np.nan
    table.loc[table["law"] == "exp:2", "speedup_relation"] = "none"
    table.loc[table["law"] == "exp:2", "source"] = "no closed form with communication costs"
    texts = legend_texts(speedup_figure(table).axes[0])
    notes = [" ".join(t.split()) for t in texts if "no Theorem 1" in t]
    assert notes == ["exp:2: no Theorem 1 line (no closed form with communication costs)"], texts


def run(variant: str, k: int, spec=None):
    update = np.arange(10) * 10
    time = np.tile(update * 1.0, (2, 1))
    loss = 1.0 + np.exp(-update / 50.0)[None, :].repeat(2, axis=0)
    result = SimpleNamespace(
        eval_update=update, eval_time=time, loss=loss, error=loss - 1.0, diverged=np.zeros(2)
    )
    return SimpleNamespace(
        variant=variant, k=k, spec=spec, result=result, diverged_seeds=0, staleness=np.zeros(3)
    )


def bound():
    it = np.arange(1, 90, 10)
    return SimpleNamespace(
        iterations=it, times=it * 1.0, errors=1.0 / it, label=lambda: "Lemma 2 (K-sync)"
    )


def test_error_figure_legend_says_which_bound_is_missing_and_why():
    runs = [
        run("k-sync", 2),
        run("k-avg", 2),
        run("k-async", 2, ExperimentSpec(variant="k-async", k=2, push_latency="exp:10")),
        run("async", 8),
    ]
    bounds = [bound(), None, None, "a loss that is not strongly convex"]
    texts = legend_texts(error_figure(runs, f_star=1.0, bounds=bounds).axes[0])
    joined = [" ".join(t.split()) for t in texts]
    assert "bound: Lemma 2 (K-sync)" in joined
    assert "k-avg: no bound (outside Dutta et al.'s analysis)" in joined
    assert "k-async: no bound (communication times)" in joined, joined
    assert "async: no bound (a loss that is not strongly convex)" in joined


def test_runs_without_a_bound_for_one_reason_share_a_legend_line():
    spec = ExperimentSpec(variant="sync", num_learners=2, speeds=[1.0, 0.5])
    runs = [run("sync", 2, spec), run("k-async", 2, spec.replace(variant="k-async", k=1))]
    texts = legend_texts(error_figure(runs, f_star=1.0, bounds=[None, None]).axes[0])
    notes = [" ".join(t.split()) for t in texts if "no bound" in t]
    assert notes == ["sync, k-async: no bound (learners not identical)"]


# fit figure ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def fit(tmp_path_factory):
    folder = tmp_path_factory.mktemp("fit")
    rng = np.random.default_rng(3)
    speeds = np.array([0.6, 1.0, 1.7, 1.2])
    x = rng.gamma(5.0, 0.4, size=(4, 60)) / speeds[:, None]
    censored = np.zeros_like(x, dtype=bool)
    censored[:, ::7] = True
    pd.DataFrame(
        {
            "worker": np.repeat([3, 1, 4, 2], 60),
            "step": np.tile(np.arange(60), 4),
            "duration": x.ravel(),
            "censored": censored.ravel(),
        }
    ).to_csv(folder / "log.csv", index=False)
    return fit_cluster(folder / "log.csv", families=["exp", "gamma", "lognormal"])


def test_the_highest_held_out_score_is_the_longest_bar_and_the_chosen_is_marked(fit):
    fig = fit_figure(fit)
    scores = fig.axes[2]
    table = fit.table()
    fitted = table[table["error"].isna()]
    lengths = [abs(p.get_width()) for p in scores.patches]
    assert len(lengths) == len(fitted)
    best = int(np.argmax(fitted["heldout_loglik"].to_numpy(float)))
    assert int(np.argmax(lengths)) == best
    # a longer bar is always a higher score
    order = np.argsort(fitted["heldout_loglik"].to_numpy(float))
    assert np.all(np.diff(np.asarray(lengths)[order]) >= 0)
    texts = [t.get_text() for t in scores.texts]
    assert any("chosen" in t for t in texts), texts


def test_the_qq_plot_says_how_many_censored_rows_it_leaves_out(fit):
    fig = fit_figure(fit)
    qq = fig.axes[1]
    n = sum(int(c.sum()) for c in fit.measured.censored)
    assert n > 0
    assert any(f"{n} censored rows not shown" in t.get_text() for t in qq.texts)


def test_the_fit_title_keeps_to_its_width(fit):
    fig = fit_figure(fit)
    title = fig._suptitle.get_text()
    assert "log.csv" in title and "/" not in title
    assert all(len(line) <= title_width("fit") for line in title.split("\n"))


def test_an_error_figure_with_many_entries_puts_its_legend_below_the_panels():
    few = error_figure([run("sync", 4), run("async", 1)], f_star=1.0)
    assert few.axes[0].get_legend() is not None and not few.legends
    many = error_figure([run(f"k-sync-{k}", k) for k in range(1, 8)], f_star=1.0)
    assert many.axes[0].get_legend() is None and len(many.legends) == 1
    many.canvas.draw()
    renderer = many.canvas.get_renderer()
    top = many.legends[0].get_window_extent(renderer).y1
    assert all(top < ax.get_tightbbox(renderer).y0 for ax in many.axes)  # covers no panel
