"""Figure titles say what was simulated in words (speeds, per-learner laws, measured
durations by their file's name, latencies, budget), with fitted numbers to four significant
digits, wrapped at a fixed width that stays inside a figure of fixed width. No simulation
beyond a tiny trace."""

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
from sweep_tables import settings, timing_table, training_table

from simulator import ExperimentSpec
from simulator.plots import (
    curves_figure,
    error_figure,
    runtime_vs_k_figure,
    speedup_figure,
    staleness_figure,
    target_heatmap_figure,
    timeline_figure,
)
from simulator.plots._titles import FIGURE_WIDTHS, setting_phrases, title_width
from simulator.timing.engine import simulate

FITTED = "lognormal:-0.8180086910515205,0.21400930988449812"


@pytest.fixture(autouse=True)
def _close():
    yield
    plt.close("all")


@pytest.fixture
def durations_file(tmp_path) -> Path:
    """A measured log deep in a folder whose path must never reach a title."""
    folder = tmp_path / "deep" / "folder"
    folder.mkdir(parents=True)
    frame = pd.DataFrame(
        {
            "worker": np.repeat([0, 1], 6),
            "step": np.tile(np.arange(6), 2),
            "duration": np.linspace(1.0, 2.0, 12),
        }
    )
    frame.to_csv(folder / "llm-se.csv", index=False)
    return folder / "llm-se.csv"


def run_of(spec: ExperimentSpec, *, seeds: int = 2, evals: int = 20, scale: float = 1.0):
    """A replayed run's shapes (as VariantRun has them) for ``spec``."""
    update = np.arange(evals) * 5
    time = np.tile(update * scale, (seeds, 1)) + np.arange(seeds)[:, None] * 0.1
    loss = 1.0 + np.exp(-update / 50.0)[None, :] * (1 + 0.1 * np.arange(seeds))[:, None]
    result = SimpleNamespace(
        eval_update=update,
        eval_time=time,
        loss=loss,
        error=loss - 1.0,
        diverged=np.zeros(seeds, bool),
    )
    return SimpleNamespace(
        spec=spec,
        variant=spec.variant,
        k=spec.canonical[1],
        result=result,
        diverged_seeds=0,
        staleness=np.zeros(50, int),
    )


def lines_fit(text: str, kind: str) -> None:
    assert all(len(line) <= title_width(kind) for line in text.split("\n")), text


def inside_the_figure(fig, text) -> None:
    """The drawn title lies wholly inside the figure (nothing runs off its edges)."""
    fig.canvas.draw()
    box = text.get_window_extent()
    frame = fig.bbox
    assert box.x0 >= frame.x0 - 1 and box.x1 <= frame.x1 + 1, (box, frame)
    assert box.y0 >= frame.y0 - 1 and box.y1 <= frame.y1 + 1, (box, frame)


def test_error_figure_title_says_the_cluster_in_words():
    common = dict(
        num_learners=2,
        law=FITTED,
        speeds=[1.25, 0.8],
        push_latency="exp:10",
        service_time="deterministic:0.1",
        time_budget=50.0,
        seeds=2,
    )
    runs = [
        run_of(ExperimentSpec(variant="sync", **common)),
        run_of(ExperimentSpec(variant="k-async", k=2, **common)),
    ]
    fig = error_figure(runs, f_star=1.0)
    title = fig._suptitle.get_text()
    for words in (
        "X ~ lognormal:-0.818,0.214",
        "learners with their own speeds",
        "push latency ~ exp:10",
        "server service time ~ deterministic:0.1",
        "time budget T=50",
        "P=2",
        "2 seeds",
    ):
        assert words in " ".join(title.split("\n")), (words, title)
    assert "0.8180086910515205" not in title
    lines_fit(title, "error")
    assert fig.get_figwidth() == FIGURE_WIDTHS["error"]
    inside_the_figure(fig, fig._suptitle)


@pytest.mark.parametrize(("mode", "words"), [("replay", "replayed"), ("resample", "resampled")])
def test_durations_are_named_by_the_file_never_its_folder(durations_file, mode, words):
    spec = ExperimentSpec(
        variant="k-sync", k=1, num_learners=2, durations=str(durations_file), durations_mode=mode
    )
    fig = error_figure([run_of(spec)])
    title = " ".join(fig._suptitle.get_text().split("\n"))
    assert f"durations of llm-se.csv, {words}" in title, title
    assert "/" not in title and "folder" not in title
    fig = staleness_figure([run_of(spec)])
    title = fig.axes[0].get_title()
    assert "llm-se.csv" in title and "/" not in title
    lines_fit(title, "staleness")
    inside_the_figure(fig, fig.axes[0].title)


def test_per_learner_laws_are_said():
    spec = ExperimentSpec(variant="async", num_learners=3, laws=["exp:1", "exp:1", "exp:2"])
    title = error_figure([run_of(spec)])._suptitle.get_text()
    assert "per-learner laws" in title and "exp:2" in title, title


def test_a_user_title_is_wrapped_at_the_width():
    fig = error_figure([run_of(ExperimentSpec())], title="word " * 80)
    lines_fit(fig._suptitle.get_text(), "error")


def test_timeline_title_says_the_spec():
    spec = ExperimentSpec(
        variant="k-sync", k=2, num_learners=3, law=FITTED, speeds=[1.0, 0.5, 2.0], updates=8
    )
    trace = simulate("k-sync", num_learners=3, k=2, law="exp:1", updates=8, seed=0)
    fig = timeline_figure(trace, spec=spec)
    title = fig.axes[0].get_title()
    assert "learners with their own speeds" in " ".join(title.split("\n")), title
    assert "lognormal:-0.818,0.214" in title
    lines_fit(title, "timeline")
    assert fig.get_figwidth() == FIGURE_WIDTHS["timeline"]
    inside_the_figure(fig, fig.axes[0].title)


def cluster_columns(table: pd.DataFrame, path: str) -> pd.DataFrame:
    """The table's rows as if run on measured durations resampled per worker, with a
    push latency (the durations column holds the path as the sweep stored it)."""
    table = table.copy()
    table["law"] = None
    table["durations"] = path
    table["durations_mode"] = "resample"
    table["push_latency"] = "exp:10.0"
    return table


def runtime_table() -> pd.DataFrame:
    rows = []
    for variant in ("k-sync", "k-async"):
        for k in (1, 2, 4):
            for s in range(3):
                rows.append(
                    {
                        **settings(variant=variant, k=k, num_learners=4),
                        "seed": s,
                        "time": 10.0 * k + s,
                        "theory": 10.0 * k + 1,
                        "relation": "exact",
                        "source": "Lemma 3",
                    }
                )
    return pd.DataFrame(rows)


def test_sweep_and_runtime_titles_say_the_cluster(durations_file):
    path = str(durations_file.absolute())
    k_table = cluster_columns(runtime_table(), path)
    configs = [
        (settings(k=k, batch_size=m), 1.0, 0.01 * k * m, 1.0 + k) for k in (1, 2) for m in (1, 8)
    ]
    train = cluster_columns(training_table(configs), path)
    speed = timing_table(laws=("exp:1",))
    speed["push_latency"] = "exp:10.0"
    drawn = {
        "runtime": runtime_vs_k_figure(k_table).axes[0].title,
        "curves": curves_figure(train[train["batch_size"] == 1], "k")._suptitle,
        "heatmap": target_heatmap_figure(train, "k", "batch_size", target=0.5).axes[0].title,
        "speedup": speedup_figure(speed).axes[0].title,
    }
    for kind, text in drawn.items():
        title = text.get_text()
        joined = " ".join(title.split("\n"))
        assert "push latency ~ exp:10" in joined, (kind, title)
        if kind != "speedup":
            assert "durations of llm-se.csv, resampled per worker" in joined, (kind, title)
        if kind in ("speedup", "runtime"):  # runtimes do not depend on the training
            assert "softmax" not in joined and "lr=" not in joined and "m=" not in joined
        assert "/" not in title, (kind, title)
        lines_fit(title, kind)
        fig = text.get_figure()
        assert fig.get_figwidth() == FIGURE_WIDTHS[kind], kind
        inside_the_figure(fig, text)


def test_heatmap_width_is_fixed_whatever_the_grid():
    small = [(settings(k=k, batch_size=1), 1.0, 0.01 * k, 1.0) for k in (1, 2)]
    large = [(settings(k=k, batch_size=1), 1.0, 0.01 * k, 1.0) for k in range(1, 13)]
    widths = {
        target_heatmap_figure(training_table(c), "k", "batch_size", target=0.5).get_figwidth()
        for c in (small, large)
    }
    assert widths == {FIGURE_WIDTHS["heatmap"]}


def test_a_law_written_in_m_and_p_is_kept_and_data_folders_are_named_only():
    settings = {
        "law": "shifted-exp:0.1*m/P,1.0",
        "laws": None,
        "model": "softmax",
        "data": "mnist:/home/someone/data/mnist",
        "push_latency": "empirical:/home/someone/lat.csv",
    }
    phrases = setting_phrases(settings)
    assert "X ~ shifted-exp:0.1*m/P,1" in phrases
    assert "push latency ~ empirical:lat.csv" in phrases
    assert "softmax on mnist:mnist" in phrases
    assert not any("someone" in p for p in phrases)
