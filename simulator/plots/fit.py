"""The figure of ``pssim fit``: measured against fitted durations per worker, the QQ plot
of the chosen model's pooled residuals, and every candidate's held-out score.

It draws the tables of a fit (``ClusterFit.box_table``, ``qq_table`` and ``table``) and
never fits anything itself.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from simulator.errors import PssimTypeError
from simulator.plots._style import series_style
from simulator.plots._titles import FIGURE_WIDTHS, TITLE_SIZE, wrap_title

__all__ = ["fit_figure"]

#: What a fit must offer to be drawn (a ClusterFit; plots import no study to check it).
_NEEDS = ("box_table", "qq_table", "table", "best", "measured", "split")
#: Most worker labels on the box plots' axis (every n-th worker is labelled beyond it).
_MAX_LABELS = 64


def _box_stats(row) -> dict[str, float]:
    return {
        "whislo": row.q05,
        "q1": row.q25,
        "med": row.q50,
        "q3": row.q75,
        "whishi": row.q95,
        "fliers": [],
    }


def _boxes(ax, boxes, colors, censored: bool) -> None:
    workers = list(dict.fromkeys(boxes["worker"]))
    for k, (source, shift) in enumerate((("measured", -0.2), ("fitted", 0.2))):
        rows = boxes[boxes["source"] == source]
        ax.bxp(
            [_box_stats(r) for r in rows.itertuples()],
            positions=np.arange(len(workers)) + shift,
            widths=0.36,
            patch_artist=True,
            showfliers=False,
            boxprops={"facecolor": colors[k], "alpha": 0.7, "linewidth": 0.6},
            whiskerprops={"linewidth": 0.6},
            capprops={"linewidth": 0.6},
            medianprops={"color": "black", "linewidth": 1.0},
        )
    measured = "measured (all steps" + (
        ", cut-off ones at their recorded lower bound)" if censored else ")"
    )
    every = max(1, math.ceil(len(workers) / _MAX_LABELS))
    ticks = np.arange(0, len(workers), every)
    ax.set_xticks(ticks, [str(workers[i]) for i in ticks], rotation=90, fontsize=7)
    ax.set_xlim(-0.7, len(workers) - 0.3)
    ax.set_xlabel("worker (sorted id)")
    ax.set_ylabel("duration (time unit of the log)")
    ax.legend(
        handles=[
            Patch(facecolor=colors[0], alpha=0.7, label=measured),
            Patch(facecolor=colors[1], alpha=0.7, label="fitted law"),
        ],
        loc="upper left",
        fontsize=8,
    )
    ax.set_title("per worker: box at the quartiles, whiskers at the 5% and 95% quantiles")


def _qq(ax, qq, name: str, against: str, colors, censored: int) -> None:
    for k, (split, marker) in enumerate((("train", "o"), ("held-out", "^"))):
        rows = qq[qq["split"] == split]
        ax.scatter(
            rows["theoretical"],
            rows["residual"],
            s=9,
            marker=marker,
            facecolors="none",
            edgecolors=colors[k],
            linewidths=0.6,
            label=f"{split} ({len(rows)})",
        )
    finite = qq[np.isfinite(qq["theoretical"])]
    low = float(min(finite["theoretical"].min(), finite["residual"].min()))
    high = float(max(finite["theoretical"].max(), finite["residual"].max()))
    ax.plot([low, high], [low, high], color="black", lw=0.8, ls="--", label="y = x")
    ax.set_xlabel(f"quantile of {against}")
    ax.set_ylabel(name)
    ax.set_title("QQ plot of the chosen model's pooled residuals", fontsize=10)
    ax.legend(loc="upper left", fontsize=8)
    if censored:  # a cut-off duration has no residual, only a lower bound on one
        rows = "row" if censored == 1 else "rows"
        ax.text(
            0.98,
            0.03,
            f"{censored} censored {rows} not shown (cut off: only a lower bound is known)",
            transform=ax.transAxes,
            ha="right",
            va="bottom",
            fontsize=7,
            color="0.3",
        )


def _scores(ax, table, best: str) -> None:
    """Held-out log-likelihood per row of each fitted candidate, best first: bars start
    just below the lowest score, so the higher a score the longer its bar; the chosen
    candidate is red and labelled."""
    fitted = table[table["error"].isna()]
    score = fitted["heldout_loglik"].astype(float)
    finite = fitted[np.isfinite(score)]
    outside = fitted[~np.isfinite(score)]
    values = finite["heldout_loglik"].to_numpy(dtype=float)
    y = np.arange(len(finite))[::-1]
    if values.size:
        span = float(values.max() - values.min()) or max(1.0, abs(float(values.max())))
        floor = float(values.min()) - 0.08 * span
        colors = ["tab:red" if n == best else "0.6" for n in finite["name"]]
        ax.barh(y, values - floor, left=floor, color=colors, height=0.7)
        for yi, value, name in zip(y, values, finite["name"], strict=True):
            mark = "  chosen" if name == best else ""
            ax.text(value, yi, f" {value:.4g}{mark}", va="center", fontsize=7)
        ax.set_xlim(floor, float(values.max()) + 0.3 * span)
    ax.set_yticks(y, list(finite["name"]), fontsize=7)
    ax.set_xlabel("held-out log-likelihood per row (longer bar: higher, better)")
    ax.set_title("candidates, best first (red: chosen)", fontsize=10)
    if len(outside):
        note = "outside the fitted support (-inf): " + ", ".join(outside["name"])
        ax.text(0.0, -0.16, note, transform=ax.transAxes, fontsize=7, va="top", wrap=True)


def fit_figure(fit: Any) -> Figure:
    """Measured vs fitted durations per worker, the QQ plot of the chosen model's pooled
    residuals (train and held-out rows), and every candidate's held-out score.

    Args:
        fit: a :class:`~simulator.studies.fit.ClusterFit` (``fit_cluster``'s result).

    Returns:
        The figure, 13 inches wide (save it with
        :func:`~simulator.plots.timeline.save_figure`). The QQ panel says how many
        censored rows it leaves out; the candidates' bars grow with the held-out score and
        the chosen one is red and labelled.

    Raises:
        PssimTypeError: ``fit`` is not a fit.

    Example:
        >>> save_figure(fit_figure(fit_cluster("cluster.csv")), "fit.png")  # doctest: +SKIP
    """
    if not all(hasattr(fit, name) for name in _NEEDS):
        raise PssimTypeError(
            f"`fit` must be a ClusterFit (fit_cluster's result); got {type(fit).__name__}",
            param="fit",
        )
    boxes = fit.box_table()
    qq, name, against = fit.qq_table()
    table = fit.table()
    workers = boxes["worker"].nunique()
    colors = [series_style(0)["color"], series_style(1)["color"]]
    fig = plt.figure(figsize=(FIGURE_WIDTHS["fit"], 9.0))
    grid = fig.add_gridspec(2, 2, height_ratios=(1.0, 1.1), width_ratios=(1.0, 1.0))
    _boxes(fig.add_subplot(grid[0, :]), boxes, colors, fit.measured.any_censored)
    censored = sum(int(np.sum(rows.censored)) for rows in (fit.split.train, fit.split.heldout))
    _qq(fig.add_subplot(grid[1, 0]), qq, name, against, colors, censored)
    _scores(fig.add_subplot(grid[1, 1]), table, fit.best.name)
    head = (
        f"{Path(str(fit.measured.source)).name}: {workers} workers; chosen model "
        f"{fit.best.name} (held-out steps: {fit.split.heldout_steps.size} of "
        f"{fit.split.num_steps})"
    )
    fig.suptitle(wrap_title([head], (), "fit"), fontsize=TITLE_SIZE)
    fig.tight_layout()
    return fig
