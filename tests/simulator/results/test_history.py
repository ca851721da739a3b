"""History tables (save, load, seed means) and F* of convex models."""

from __future__ import annotations

import time

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd
import pytest
from replay_cases import (
    TinyModel,
    class_data,
    least_squares,
    make_trace,
    regression_data,
    softmax,
)

from simulator.results.history import COLUMNS, History
from simulator.training.optimum import optimal_loss
from simulator.training.replayer import ReplayResult, replay
from simulator.training.rules import FixedRate


def result(variant="k-async", k=1, loss=None, diverged_at=(-1, -1), f_star=0.5, acc=True):
    loss = np.array([[2.0, 1.0, 0.8, 0.6], [3.0, 1.4, 1.0, 0.9]]) if loss is None else loss
    s, e = loss.shape
    return ReplayResult(
        eval_update=np.array([0, 10, 20, 25]),
        eval_time=np.array([[0.0, 5.0, 9.0, 12.0], [0.0, 7.0, 11.0, 14.0]])[:s],
        loss=loss,
        accuracy=np.full((s, e), 0.5) if acc else None,
        diverged_at=np.asarray(diverged_at),
        seeds=np.arange(100, 100 + s),
        variant=variant,
        k=k,
        num_learners=4,
        batch_size=8,
        rule="fixed",
        f_star=f_star,
    )


def test_frame_is_tidy_with_the_documented_columns():
    frame = History(result(), result("k-sync", k=4, f_star=None, acc=False)).to_frame()
    assert tuple(frame.columns) == COLUMNS
    assert len(frame) == 16
    one = frame[(frame.variant == "k-async") & (frame.seed == 101)]
    np.testing.assert_array_equal(one["update"], [0, 10, 20, 25])
    np.testing.assert_array_equal(one["time"], [0.0, 7.0, 11.0, 14.0])
    np.testing.assert_allclose(one["error"], [2.5, 0.9, 0.5, 0.4])
    sync = frame[frame.variant == "k-sync"]
    assert sync["error"].isna().all() and sync["accuracy"].isna().all()  # F*, accuracy unknown
    assert set(frame["learners"]) == {4} and set(frame["k"]) == {1, 4}


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_save_load_round_trip(tmp_path, suffix):
    loss = np.array([[2.0, 1.0 / 3.0, np.nan, np.nan], [3.0, 1.4, 1.0, 0.9]])
    history = History(result(loss=loss, diverged_at=(20, -1)), result("k-sync", k=4, f_star=None))
    path = history.save(tmp_path / f"run{suffix}")
    assert path.is_file() and [p.name for p in tmp_path.iterdir()] == [path.name]  # no tmp left
    back = History.load(path).to_frame()
    pd.testing.assert_frame_equal(back, history.to_frame())
    assert back["diverged"].dtype == bool


def test_bad_suffix_and_missing_file(tmp_path):
    with pytest.raises(ValueError, match=r"`path` must end in \.parquet or \.csv; got"):
        History(result()).save(tmp_path / "run.json")
    with pytest.raises(ValueError, match=r"`path` must be a readable results table; .*No such"):
        History.load(tmp_path / "none.csv")
    assert list(tmp_path.iterdir()) == []


def test_failed_write_leaves_nothing_half_written(tmp_path, monkeypatch):
    path = tmp_path / "run.csv"
    path.write_text("old")

    def boom(self, target, **kwargs):
        with open(target, "w") as f:
            f.write("partial")
        raise OSError("disk full")

    monkeypatch.setattr(pd.DataFrame, "to_csv", boom)
    with pytest.raises(ValueError, match=r"^`path` cannot be written: .*run.csv' \(disk full\)$"):
        History(result()).save(path)  # one line naming the file, not the temporary one
    assert path.read_text() == "old" and [p.name for p in tmp_path.iterdir()] == ["run.csv"]


def test_mean_curve_ignores_diverged_seeds():
    loss = np.array([[2.0, 1.0, np.nan, np.nan], [3.0, 1.4, 1.0, 0.9]])
    history = History(result(loss=loss, diverged_at=(20, -1)))
    curve = history.mean_curve("k-async")
    np.testing.assert_array_equal(curve["update"], [0, 10, 20, 25])
    np.testing.assert_allclose(curve["loss"], [3.0, 1.4, 1.0, 0.9])  # seed 100 diverged
    np.testing.assert_allclose(curve["time"], [0.0, 6.0, 10.0, 13.0])  # time: all seeds
    np.testing.assert_allclose(curve["error"], [2.5, 0.9, 0.5, 0.4])
    assert history.final_loss("k-async") == pytest.approx(0.9)
    assert history.diverged_seeds("k-async") == [100]


def test_summaries_of_healthy_seeds():
    history = History(result(), result("k-sync", k=4))
    curve = history.mean_curve("k-async")
    np.testing.assert_allclose(curve["loss"], [2.5, 1.2, 0.9, 0.75])
    assert history.final_loss("k-async") == pytest.approx(0.75)
    assert history.time_to_loss("k-async", 1.2) == pytest.approx(6.0)
    assert history.time_to_loss("k-async", 0.9) == pytest.approx(10.0)
    assert history.time_to_loss("k-async", 0.1) is None
    assert history.diverged_seeds("k-sync") == []
    assert history.variants() == ["k-async", "k-sync"]


def test_all_seeds_diverged_gives_nan_and_ambiguity_is_an_error():
    nan = np.full((2, 4), np.nan)
    history = History(result(loss=nan, diverged_at=(0, 0)), result(k=2))
    assert np.isnan(history.final_loss("k-async", k=1))
    assert history.time_to_loss("k-async", 10.0, k=1) is None
    with pytest.raises(ValueError, match="must select exactly one configuration"):
        history.mean_curve("k-async")
    with pytest.raises(ValueError, match="`variant` must be one of k-async; got 'k-sync'"):
        history.mean_curve("k-sync")
    with pytest.raises(ValueError, match="filter must be one of"):
        history.diverged_seeds("k-async", seed=1)


def test_history_of_a_real_replay():
    trace = make_trace("k-sync", [[(0, j), (1, j)] for j in range(6)], num_learners=2, k=2)
    res = replay(
        [trace],
        least_squares(3),
        regression_data(),
        batch_size=2,
        rule=FixedRate(0.1),
        eval_every=2,
    )
    frame = History(res).to_frame()
    assert len(frame) == 4 and not frame["diverged"].any()
    assert (frame["error"] >= -1e-6).all()


# --------------------------------------------------------------------------- F*
def test_f_star_of_ridge_least_squares_equals_lstsq():
    data = regression_data(n=80, dim=4, seed=3)
    lam = 0.1
    model = least_squares(4, l2=lam, name="ls-ridge")
    # min 1/(2n) ||X w + b - y||^2 + lam/2 ||w||^2 as one augmented least-squares problem.
    n = len(data.y)
    a = np.hstack([data.x_eval, np.ones((n, 1))]) / np.sqrt(n)
    a = np.vstack([a, np.hstack([np.sqrt(lam) * np.eye(4), np.zeros((4, 1))])])
    rhs = np.r_[data.y_eval / np.sqrt(n), np.zeros(4)]
    sol = np.linalg.lstsq(a, rhs, rcond=None)[0]
    want = 0.5 * np.sum((a @ sol - rhs) ** 2)
    assert optimal_loss(model, data) == pytest.approx(want, rel=1e-10, abs=1e-12)


def test_f_star_of_softmax_is_below_any_loss_and_cached():
    model, data = softmax(4, 3), class_data()
    first = optimal_loss(model, data)
    t0 = time.perf_counter()
    assert optimal_loss(model, data) == first  # cached
    assert time.perf_counter() - t0 < 0.05
    start = float(model.loss(model.init(jax.random.key(0)), (jnp.asarray(data.x), data.y)))
    assert first < start


def test_f_star_is_none_for_non_convex_models():
    model = TinyModel("mlp", lambda key: {}, lambda p, b: 0.0, None, convex=False)
    assert optimal_loss(model, regression_data()) is None
