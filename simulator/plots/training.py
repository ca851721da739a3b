"""Training figures: error vs simulated wall-clock time and vs iterations (figure 8 of
Dutta et al. 2018) with seed bands, and the staleness histogram."""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

__all__ = ["error_figure", "staleness_figure"]


def _curves(run, use_error: bool):
    """(time (S, E), value (S, E)) of the non-diverged seeds of one run."""
    r = run.result
    keep = ~r.diverged
    value = r.error if use_error else r.loss
    return r.eval_update, r.eval_time[keep], value[keep]


def error_figure(runs: Sequence, *, f_star: float | None = None, title: str = "") -> Figure:
    """Two panels: error (or loss) vs simulated time and vs iterations.

    Lines are the mean over non-diverged seeds, bands span their min and max. With F* known,
    the y axis is the paper's error F(w) - F* on a log scale; otherwise the loss.
    """
    use_error = f_star is not None
    fig, (ax_t, ax_j) = plt.subplots(1, 2, figsize=(12, 4.6), sharey=True)
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for run, color in zip(runs, colors * 3, strict=False):
        update, time, value = _curves(run, use_error)
        label = f"{run.variant} (K={run.k})"
        if run.diverged_seeds:
            label += f", {run.diverged_seeds} diverged"
        if value.shape[0] == 0:
            ax_t.plot([], [], color=color, label=label + " (all diverged)")
            continue
        if use_error:
            value = np.maximum(value, np.finfo(float).tiny)
        mean, lo, hi = value.mean(axis=0), value.min(axis=0), value.max(axis=0)
        t = time.mean(axis=0)
        ax_t.plot(t, mean, color=color, lw=1.5, label=label)
        ax_t.fill_between(t, lo, hi, color=color, alpha=0.18, lw=0)
        ax_j.plot(update, mean, color=color, lw=1.5)
        ax_j.fill_between(update, lo, hi, color=color, alpha=0.18, lw=0)
    ylabel = "error F(w) - F*" if use_error else "loss F(w)"
    for ax in (ax_t, ax_j):
        ax.set_yscale("log")
        ax.grid(True, which="both", alpha=0.3)
    ax_t.set_xlabel("simulated wall-clock time")
    ax_j.set_xlabel("iterations (server updates)")
    ax_t.set_ylabel(ylabel)
    ax_t.set_title("vs wall-clock time")
    ax_j.set_title("vs iterations")
    ax_t.legend(fontsize=8)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def staleness_figure(runs: Sequence) -> Figure:
    """Histogram of staleness (update index minus version read) per variant, log counts."""
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    top = max(int(run.staleness.max()) for run in runs if run.staleness.size)
    bins = np.arange(top + 2) - 0.5
    for run, color in zip(runs, colors * 3, strict=False):
        s = run.staleness
        ax.hist(
            s,
            bins=bins,
            histtype="step",
            color=color,
            lw=1.5,
            density=True,
            label=f"{run.variant}: mean {s.mean():.2f}, p0 {np.mean(s == 0):.2f}",
        )
    ax.set_yscale("log")
    ax.set_xlabel("staleness (updates)")
    ax.set_ylabel("fraction of contributions")
    ax.set_title("Staleness of applied gradients")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig
