"""Timeline (Gantt) of a trace, like figures 3-4 of Dutta et al. 2018, and figure saving."""

from __future__ import annotations

import os
from pathlib import Path

import matplotlib.pyplot as plt
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from simulator.trace import Trace

__all__ = ["check_png_path", "save_figure", "timeline_figure"]

BUSY, CANCELLED, IDLE, UPDATE = "#4c72b0", "#dd8452", "#e8e8e8", "#c44e52"


def check_png_path(path: str | os.PathLike) -> Path:
    """Check that ``path`` names a .png file in an existing folder; return it as a Path."""
    path = Path(path)
    if path.suffix.lower() != ".png":
        raise ValueError(f"`plot` file must end in .png; got {str(path)!r}")
    if not path.parent.is_dir():
        raise ValueError(f"`plot` folder must exist; got {str(path.parent)!r}")
    return path


def save_figure(fig: Figure, path: str | os.PathLike) -> Path:
    """Write ``fig`` as PNG atomically (temporary file, then rename) and close it."""
    path = check_png_path(path)
    tmp = path.with_name(f".{path.name}.tmp.png")
    try:
        fig.savefig(tmp, dpi=130, bbox_inches="tight")
        tmp.replace(path)
    finally:
        plt.close(fig)
        tmp.unlink(missing_ok=True)
    return path


def timeline_figure(trace: Trace, *, max_updates: int = 12, ax=None) -> Figure:
    """Gantt chart of the first ``max_updates`` updates of a trace.

    Learners on the y axis; computations (busy, labelled with the version read),
    cancelled computations (hatched) and idle gaps; vertical lines at update instants.
    """
    u = min(max_updates, trace.num_updates)
    until = float(trace.update_time[u - 1]) if u else 0.0
    if ax is None:
        fig, ax = plt.subplots(figsize=(10, 0.45 * trace.num_learners + 1.6))
    else:
        fig = ax.figure
    p = min(trace.num_learners, 40)
    for lrn in range(p):
        for a, b in trace.idle_intervals(lrn, until=until):
            ax.barh(lrn, b - a, left=a, color=IDLE, height=0.6, edgecolor="none")
        # every computation that started inside the window, clipped at its end
        rows = trace.mask & (trace.learner == lrn) & (trace.start < until)
        for j, s in zip(*rows.nonzero(), strict=True):
            a, b = trace.start[j, s], min(trace.finish[j, s], until)
            ax.barh(lrn, b - a, left=a, color=BUSY, height=0.6, edgecolor="white")
            if p <= 16 and u <= 20 and b - a > 0.03 * until:
                ax.text(
                    (a + b) / 2,
                    lrn,
                    f"w{trace.version[j, s]}",
                    ha="center",
                    va="center",
                    color="white",
                    fontsize=7,
                )
        for a in trace.inflight_start[(trace.inflight_learner == lrn)]:
            if a < until:
                ax.barh(lrn, until - a, left=a, color=BUSY, height=0.6, edgecolor="white")
        for a, b in trace.cancelled_intervals(lrn):
            if a < until:
                ax.barh(
                    lrn,
                    min(b, until) - a,
                    left=a,
                    color=CANCELLED,
                    height=0.6,
                    hatch="///",
                    edgecolor="white",
                    alpha=0.8,
                )
    for t in trace.update_time[:u]:
        ax.axvline(t, color=UPDATE, lw=0.8, alpha=0.7)
    ax.set_yticks(range(p), [f"learner {i}" for i in range(p)])
    ax.invert_yaxis()
    ax.set_xlim(0, until * 1.01 if until > 0 else 1)
    ax.set_xlabel("simulated time")
    k_label = "local steps" if trace.variant == "k-avg" else "K"
    ax.set_title(
        f"{trace.variant}, P={trace.num_learners}, {k_label}={trace.k}: "
        f"first {u} updates (seed {trace.seed})"
    )
    ax.legend(
        handles=[
            Patch(color=BUSY, label="computing"),
            Patch(facecolor=CANCELLED, hatch="///", label="cancelled"),
            Patch(color=IDLE, label="idle"),
            Patch(color=UPDATE, label="server update"),
        ],
        loc="upper left",
        bbox_to_anchor=(1.01, 1.0),
        frameon=False,
    )
    fig.tight_layout()
    return fig
