"""Training figures: error vs simulated wall-clock time and vs iterations (figure 8 of
Dutta et al. 2018) with seed bands, and the staleness histogram."""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

from simulator.plots._style import (
    TIME_LABEL,
    band_handle,
    check_runs,
    markevery,
    mean_band,
    series_style,
)

__all__ = ["error_figure", "staleness_figure"]


def _curves(run, use_error: bool):
    """(update (E,), time (S, E), value (S, E)) of the non-diverged seeds of one run."""
    r = run.result
    keep = ~np.asarray(r.diverged, dtype=bool)
    value = r.error if use_error else r.loss
    return np.asarray(r.eval_update), np.asarray(r.eval_time)[keep], np.asarray(value)[keep]


def error_figure(
    runs: Sequence,
    *,
    f_star: float | None = None,
    title: str = "",
    bounds: Sequence = (),
) -> Figure:
    """Two panels: error (or loss) vs simulated time and vs iterations.

    Args:
        runs: :class:`~simulator.studies.comparison.VariantRun` objects (anything with
            ``variant``, ``k``, ``diverged_seeds`` and a ``result`` holding (E,)
            ``eval_update``, (S, E) ``eval_time``, ``loss``, ``error`` and (S,) ``diverged``).
        f_star: F*, the optimal loss; with it the y axis is the error F(w) - F*.
        title: the figure's title.
        bounds: theory curves drawn beside the simulated ones, e.g.
            :class:`~simulator.theory.error_runtime.ErrorRuntimeCurve` objects (anything
            with (n,) ``iterations``, ``times``, ``errors`` and ``label()``): a bound on
            ``E[F(w_J)] - F*`` against iterations and its expected runtime; dashed, in the
            colour of the run at the same position in ``runs`` (None: no bound for it).

    Returns:
        The figure. Lines are the mean over non-diverged seeds, each variant with its own
        colour, line style and marker, so identical curves stay distinguishable; shaded
        bands span the min and max over seeds (a legend entry says so). Both y axes are
        logarithmic; time is in simulated time units.
    """
    runs = check_runs(runs, ("variant", "k", "diverged_seeds", "result"))
    bounds = check_runs(bounds, ()) if bounds else []
    use_error = f_star is not None
    fig, (ax_t, ax_j) = plt.subplots(1, 2, figsize=(12, 4.6), sharey=True)
    banded = False
    for i, run in enumerate(runs):
        style = series_style(i)
        update, time, value = _curves(run, use_error)
        label = f"{run.variant} (K={run.k})"
        if run.diverged_seeds:
            label += f", {run.diverged_seeds} diverged"
        if value.shape[0] == 0:  # every seed diverged: each seed up to its divergence
            _diverged_seeds(ax_t, ax_j, run, use_error, style, label + " (all diverged)")
            continue
        if use_error:
            value = np.maximum(value, np.finfo(float).tiny)
        mean, lo, hi = value.mean(axis=0), value.min(axis=0), value.max(axis=0)
        t = time.mean(axis=0)
        every = markevery(i, len(runs), mean.size)
        for ax, x in ((ax_t, t), (ax_j, update)):
            mean_band(ax, x, mean, lo, hi, style, every, label if ax is ax_t else None)
        banded = banded or value.shape[0] > 1
    for i, curve in enumerate(bounds):
        if curve is None:  # no bound for the run at this position
            continue
        style = series_style(i)
        errors = np.maximum(np.asarray(curve.errors, dtype=float), np.finfo(float).tiny)
        for ax, x in ((ax_t, curve.times), (ax_j, curve.iterations)):
            ax.plot(
                np.asarray(x, dtype=float),
                errors,
                color=style["color"],
                ls="--",
                lw=1.3,
                label=f"bound: {curve.label()}" if ax is ax_t else None,
            )
    ylabel = "error F(w) - F*" if use_error else "loss F(w)"
    for ax in (ax_t, ax_j):
        ax.set_yscale("log")
        ax.grid(True, which="both", alpha=0.3)
    ax_t.set_xlabel(TIME_LABEL)
    ax_j.set_xlabel("iterations (server updates)")
    ax_t.set_ylabel(ylabel)
    ax_t.set_title("vs simulated wall-clock time")
    ax_j.set_title("vs iterations")
    handles, labels = ax_t.get_legend_handles_labels()
    if banded:
        band = band_handle()
        handles, labels = [*handles, band], [*labels, band.get_label()]
    ax_t.legend(handles, labels, fontsize=8)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def _diverged_seeds(ax_t, ax_j, run, use_error: bool, style: dict, label: str) -> None:
    """Thin dotted per-seed curves of a run whose seeds all diverged, up to the evaluation
    that found the divergence (later points are NaN and not drawn)."""
    r = run.result
    value = np.asarray(r.error if use_error else r.loss, dtype=float)
    if use_error:
        value = np.maximum(value, np.finfo(float).tiny)
    for s in range(value.shape[0]):
        for ax, x in ((ax_t, np.asarray(r.eval_time)[s]), (ax_j, np.asarray(r.eval_update))):
            ax.plot(
                x,
                value[s],
                color=style["color"],
                marker=style["marker"],
                ls=":",
                lw=1.0,
                ms=4,
                mfc="none",
                label=label if (ax is ax_t and s == 0) else None,
            )


def staleness_figure(runs: Sequence) -> Figure:
    """Histogram of staleness (update index minus version read) per variant, log counts.

    Args:
        runs: objects with ``variant`` and a 1-D integer ``staleness`` array (every
            contribution, pooled over seeds), e.g.
            :class:`~simulator.studies.comparison.VariantRun`.

    Returns:
        The figure: one step histogram per variant, each with its own colour and line style
        (identical histograms, e.g. sync and K-sync at staleness 0, stay visible).
    """
    runs = check_runs(runs, ("variant", "staleness"))
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    top = max((int(run.staleness.max()) for run in runs if run.staleness.size), default=0)
    bins = np.arange(top + 2) - 0.5
    for i, run in enumerate(runs):
        style = series_style(i)
        s = run.staleness
        stats = f"mean {s.mean():.2f}, p0 {np.mean(s == 0):.2f}" if s.size else "no data"
        ax.hist(
            s,
            bins=bins,
            histtype="step",
            color=style["color"],
            linestyle=style["linestyle"],
            lw=1.5 + 0.5 * (len(runs) - 1 - i) / max(1, len(runs) - 1),
            density=True,
            label=f"{run.variant}: {stats}",
        )
    ax.set_yscale("log")
    ax.set_xlabel("staleness (updates)")
    ax.set_ylabel("fraction of contributions")
    ax.set_title("Staleness of applied gradients")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig
