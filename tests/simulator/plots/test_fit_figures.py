"""The figure of ``pssim fit`` and the tables it draws: per-worker boxes (measured and
fitted quantiles), the QQ plot of the chosen model's pooled residuals, the candidates."""

from __future__ import annotations

import dataclasses

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pandas as pd
import pytest
from matplotlib.patches import PathPatch

from simulator import PssimTypeError, fit_cluster, fit_figure, save_figure


@pytest.fixture(scope="module")
def fit(tmp_path_factory):
    folder = tmp_path_factory.mktemp("fit")
    rng = np.random.default_rng(3)
    speeds = np.array([0.6, 1.0, 1.7, 1.2])
    x = rng.gamma(5.0, 0.4, size=(4, 60)) / speeds[:, None]
    censored = np.zeros_like(x, dtype=bool)
    censored[:, ::7] = True  # some computations cut off (recorded at a lower bound)
    pd.DataFrame(
        {
            "worker": np.repeat([3, 1, 4, 2], 60),  # sorted by the reader: 1, 2, 3, 4
            "step": np.tile(np.arange(60), 4),
            "duration": x.ravel(),
            "censored": censored.ravel(),
        }
    ).to_csv(folder / "log.csv", index=False)
    return fit_cluster(folder / "log.csv", families=["exp", "gamma", "lognormal"])


def test_box_table_holds_measured_and_fitted_quantiles(fit):
    boxes = fit.box_table()
    assert list(boxes["worker"].unique()) == [1, 2, 3, 4]
    measured = boxes[boxes["source"] == "measured"].set_index("worker")
    fitted = boxes[boxes["source"] == "fitted"].set_index("worker")
    for w, x, law in zip(
        fit.measured.workers, fit.measured.durations, fit.best.worker_laws(), strict=True
    ):
        assert measured.loc[w, "q50"] == np.median(x)
        assert fitted.loc[w, "q95"] == pytest.approx(float(law.ppf(0.95)))


def test_qq_table_uses_hazen_positions_without_censoring(tmp_path):
    x = np.random.default_rng(0).exponential(2.0, size=(2, 30))
    frame = pd.DataFrame(
        {"worker": np.repeat([0, 1], 30), "step": np.tile(np.arange(30), 2), "duration": x.ravel()}
    )
    frame.to_csv(tmp_path / "log.csv", index=False)
    one = fit_cluster(tmp_path / "log.csv", families=["exp"])
    one = dataclasses.replace(one, best=one.candidates[0])  # (a): one exp
    qq, name, against = one.qq_table()
    assert name == "duration" and against.startswith("exp:")
    order = np.argsort(qq["residual"].to_numpy())
    hazen = (np.arange(60) + 0.5) / 60
    expected = one.best.dist.ppf(hazen)
    assert np.allclose(qq["theoretical"].to_numpy()[order], expected)


def test_fit_figure_draws_boxes_qq_and_scores(fit, tmp_path):
    fig = fit_figure(fit)
    boxes, qq, scores = fig.axes
    assert sum(isinstance(p, PathPatch) for p in boxes.patches) == 2 * 4
    table, name, _ = fit.qq_table()
    assert sum(len(c.get_offsets()) for c in qq.collections) == len(table)
    assert len(table) == sum(int((~c).sum()) for c in fit.measured.censored)
    assert qq.get_ylabel() == name
    assert len(scores.patches) == sum(1 for c in fit.candidates if c.ok)
    assert fit.best.name in fig._suptitle.get_text()
    path = save_figure(fig, tmp_path / "fit.png")
    assert path.stat().st_size > 20_000


def test_fit_figure_of_a_law_per_worker_uses_normal_scores(fit, tmp_path):
    per_worker = next(c for c in fit.candidates if c.structure == "c" and c.family == "gamma")
    fig = fit_figure(dataclasses.replace(fit, best=per_worker))
    qq = fig.axes[1]
    assert qq.get_ylabel().startswith("normal score") and "N(0, 1)" in qq.get_xlabel()
    save_figure(fig, tmp_path / "fit_c.png")


def test_fit_figure_refuses_what_is_not_a_fit():
    with pytest.raises(PssimTypeError, match=r"^`fit` must be a ClusterFit .*; got dict$"):
        fit_figure({"best": 1})
