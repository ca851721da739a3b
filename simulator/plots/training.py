"""Training figures: error vs simulated wall-clock time and vs iterations (figure 8 of
Dutta et al. 2018) with seed bands, and the staleness histogram."""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

from simulator.plots._notes import bound_reason, grouped_notes
from simulator.plots._style import (
    ITERATIONS_LABEL,
    STEPS_LABEL,
    band_handle,
    check_log_time,
    check_runs,
    log_time_wanted,
    markevery,
    mean_band,
    series_style,
    set_time_axis,
    steps_per_iteration,
)
from simulator.plots._titles import (
    FIGURE_WIDTHS,
    TITLE_SIZE,
    figure_title,
    spec_settings,
    wrap_title,
)

__all__ = ["error_figure", "staleness_figure"]

#: Legend entries drawn inside the time panel; more go below the panels.
LEGEND_INSIDE = 6


def _curves(run, use_error: bool):
    """(update (E,), time (S, E), value (S, E)) of the non-diverged seeds of one run."""
    r = run.result
    keep = ~np.asarray(r.diverged, dtype=bool)
    value = r.error if use_error else r.loss
    return np.asarray(r.eval_update), np.asarray(r.eval_time)[keep], np.asarray(value)[keep]


def _run_label(run) -> str:
    if str(run.variant) == "k-avg":
        return f"{run.variant} (K={run.k} local steps per round)"
    policy = getattr(getattr(run, "spec", None), "k_policy", None)
    if getattr(run, "k_curve", None) is not None and policy is not None:
        return f"{run.variant} (K: {policy} policy, K_0={run.k})"
    return f"{run.variant} (K={run.k})"


def _k_panels(ax_t, ax_j, runs: list) -> None:
    """K in force at each evaluation point (mean over seeds) of the runs whose K changed,
    against the mean time and the iterations, in each run's colour."""
    for i, run in enumerate(runs):
        k_curve = getattr(run, "k_curve", None)
        if k_curve is None:
            continue
        r = run.result
        style = series_style(i)
        mean_k = np.asarray(k_curve, dtype=float).mean(axis=0)
        t = np.asarray(r.eval_time, dtype=float).mean(axis=0)
        for ax, x in ((ax_t, t), (ax_j, np.asarray(r.eval_update))):
            ax.step(x, mean_k, where="post", color=style["color"], lw=1.5)
    for ax in (ax_t, ax_j):
        ax.set_ylabel("K (mean over seeds)")
        ax.grid(True, alpha=0.3)
        ax.yaxis.get_major_locator().set_params(integer=True)


def _title(kind: str, head: str, runs: list, title: str | None) -> str:
    """The given title wrapped to the figure's width, or one built from what the runs
    share (their variant and K show in the legend, and so does each one's J under a time
    budget)."""
    if title is not None:
        return wrap_title(title.split("\n"), (), kind) if title else ""
    settings = spec_settings(getattr(run, "spec", None) for run in runs)
    return figure_title(kind, head, settings, skip=("variant", "k"))


def error_figure(
    runs: Sequence,
    *,
    f_star: float | None = None,
    title: str | None = None,
    bounds: Sequence = (),
    log_time: bool | None = None,
    optimal=None,
) -> Figure:
    """Two panels: error (or loss) vs simulated time and vs iterations.

    Args:
        runs: :class:`~simulator.studies.comparison.VariantRun` objects (anything with
            ``variant``, ``k``, ``diverged_seeds`` and a ``result`` holding (E,)
            ``eval_update``, (S, E) ``eval_time``, ``loss``, ``error`` and (S,) ``diverged``;
            a ``spec`` too for the default title).
        f_star: F*, the optimal loss; with it the y axis is the error F(w) - F*.
        title: the figure's title, wrapped at the figure's width; None (default): what
            was simulated, in words, from the settings the runs' specs share; "": none.
        bounds: theory curves drawn beside the simulated ones, e.g.
            :class:`~simulator.theory.error_runtime.ErrorRuntimeCurve` objects (anything
            with (n,) ``iterations``, ``times``, ``errors`` and ``label()``): a bound on
            ``E[F(w_J)] - F*`` against iterations and its expected runtime; dashed, in the
            colour of the run at the same position in ``runs``. An entry None (no bound
            for that run) or a string (the reason there is none) puts a legend line that
            says so and why (for None, the reason
            :func:`~simulator.studies.bounds.bound_curves` has: k-avg, non-identical
            learners, communication, else a loss that is not strongly convex).
        log_time: draw simulated time on a log axis (True), a linear one (False) or
            (None, default) a log axis where the runs' final times differ by more than
            10x.
        optimal: the optimal time to each level, drawn on the time panel as a black
            dash-dotted curve through ``(times[i], levels[i])`` up to the runs' last time:
            no method reaches a level left of it on every problem with the same constants,
            up to a universal constant (e.g.
            :func:`~simulator.studies.bounds.optimal_curve`'s
            :class:`~simulator.theory.optimal_time.OptimalTimeCurve`: anything with (n,)
            ``levels`` and ``times`` and ``label()``); None (default): none.

    Returns:
        The figure, 12 inches wide. Lines are the mean over non-diverged seeds, each
        variant with its own colour, line style and marker, so identical curves stay
        distinguishable; shaded bands span the min and max over seeds (a legend entry
        says so). Both y axes are logarithmic; time is in simulated time units. On the
        iterations panel one unit is one step of the model: a server update, and for
        ``k-avg`` (J rounds of K local steps) a local step, so K-AVG's x is J K.

    Raises:
        PssimTypeError: ``runs`` or ``bounds`` are not sequences of runs and curves,
            ``optimal`` has no levels, times and label, or ``log_time`` is not True, False
            or None.
    """
    runs = check_runs(runs, ("variant", "k", "diverged_seeds", "result"))
    if optimal is not None:
        optimal = check_runs([optimal], ("levels", "times", "label"), name="optimal")[0]
    log_time = check_log_time(log_time)
    bounds = list(bounds) if bounds else []
    bounds = [b if b is None or isinstance(b, str) else check_runs([b], ())[0] for b in bounds]
    use_error = f_star is not None
    adaptive = any(getattr(run, "k_curve", None) is not None for run in runs)
    if adaptive:  # a row below for K, on the same x axes
        fig, axes = plt.subplots(
            2,
            2,
            figsize=(FIGURE_WIDTHS["error"], 6.4),
            sharex="col",
            gridspec_kw={"height_ratios": [3, 1]},
        )
        (ax_t, ax_j), (k_t, k_j) = axes
        ax_j.sharey(ax_t)
        ax_j.tick_params(labelleft=False)
    else:
        fig, (ax_t, ax_j) = plt.subplots(1, 2, figsize=(FIGURE_WIDTHS["error"], 4.6), sharey=True)
    banded = False
    finals, last_steps = [], []
    for i, run in enumerate(runs):
        style = series_style(i)
        update, time, value = _curves(run, use_error)
        update = update * steps_per_iteration(run.variant, run.k)
        label = _run_label(run)
        if getattr(run, "time_budget", None) is not None:  # each variant its own J
            label += f", J={run.num_updates}"
        if run.diverged_seeds:
            label += f", {run.diverged_seeds} diverged"
        if value.shape[0] == 0:  # every seed diverged: each seed up to its divergence
            _diverged_seeds(ax_t, ax_j, run, use_error, style, label + " (all diverged)")
            continue
        if use_error:
            value = np.maximum(value, np.finfo(float).tiny)
        mean, lo, hi = value.mean(axis=0), value.min(axis=0), value.max(axis=0)
        t = time.mean(axis=0)
        finals.append(t[-1] if t.size else np.nan)
        last_steps.append(update[-1] if update.size else np.nan)
        every = markevery(i, len(runs), mean.size)
        for ax, x in ((ax_t, t), (ax_j, update)):
            mean_band(ax, x, mean, lo, hi, style, every, label if ax is ax_t else None)
        banded = banded or value.shape[0] > 1
    missing = []
    for i, curve in enumerate(bounds):
        if curve is None or isinstance(curve, str):  # no bound for the run at this position
            if i < len(runs):
                missing.append((str(runs[i].variant), curve or bound_reason(runs[i])))
            continue
        style = series_style(i)
        errors = np.maximum(np.asarray(curve.errors, dtype=float), np.finfo(float).tiny)
        steps = steps_per_iteration(runs[i].variant, runs[i].k) if i < len(runs) else 1
        for ax, x in ((ax_t, curve.times), (ax_j, np.asarray(curve.iterations) * steps)):
            ax.plot(
                np.asarray(x, dtype=float),
                errors,
                color=style["color"],
                ls="--",
                lw=1.3,
                label=f"bound: {curve.label()}" if ax is ax_t else None,
            )
    if optimal is not None:
        last = float(np.nanmax(finals)) if np.isfinite(finals).any() else np.nan
        _optimal_curve(ax_t, optimal, last)
    ylabel = "error F(w) - F*" if use_error else "loss F(w)"
    for ax in (ax_t, ax_j):
        ax.set_yscale("log")
        ax.grid(True, which="both", alpha=0.3)
    set_time_axis(ax_t, log_time_wanted(log_time, finals))
    k_avg = any(steps_per_iteration(run.variant, run.k) > 1 for run in runs)
    ax_j.set_xlabel(STEPS_LABEL if k_avg else ITERATIONS_LABEL)
    if log_time_wanted(None, last_steps):  # runs of very different lengths (a time budget)
        ax_j.set_xscale("log", nonpositive="mask")
        ax_j.set_xlabel(ax_j.get_xlabel() + ", log scale")
    if adaptive:
        _k_panels(k_t, k_j, runs)
        k_t.set_xlabel(ax_t.get_xlabel())
        k_j.set_xlabel(ax_j.get_xlabel())
        ax_t.set_xlabel("")
        ax_j.set_xlabel("")
    ax_t.set_ylabel(ylabel)
    ax_t.set_title("vs simulated wall-clock time")
    ax_j.set_title("vs iterations")
    handles, labels = ax_t.get_legend_handles_labels()
    extra = grouped_notes(missing, "no bound") + ([band_handle()] if banded else [])
    handles, labels = [*handles, *extra], [*labels, *(h.get_label() for h in extra)]
    head = "Training error F(w) - F*" if use_error else "Training loss F(w)"
    text = _title("error", head, runs, title)
    if text:
        fig.suptitle(text, fontsize=TITLE_SIZE)
    if len(handles) <= LEGEND_INSIDE:
        ax_t.legend(handles, labels, fontsize=8)
        fig.tight_layout()
        return fig
    # many entries: below the panels, where they cover no curve
    rows = -(-len(handles) // 3)
    fig.set_figheight(fig.get_figheight() + 0.19 * rows + 0.1)
    fig.legend(handles, labels, fontsize=8, ncol=3, loc="lower center", frameon=False)
    fig.tight_layout(rect=(0, (0.19 * rows + 0.15) / fig.get_figheight(), 1, 1))
    return fig


def _optimal_curve(ax, optimal, until: float) -> None:
    """The optimal time to each level, black and dash-dotted, up to the runs' last time."""
    times = np.asarray(optimal.times, dtype=float)
    levels = np.asarray(optimal.levels, dtype=float)
    keep = np.isfinite(times) & (times > 0) & (levels > 0)
    if np.isfinite(until):
        keep &= times <= until
    ax.plot(times[keep], levels[keep], color="k", ls="-.", lw=1.6, label=optimal.label())


def _diverged_seeds(ax_t, ax_j, run, use_error: bool, style: dict, label: str) -> None:
    """Thin dotted per-seed curves of a run whose seeds all diverged, up to the evaluation
    that found the divergence (later points are NaN and not drawn)."""
    r = run.result
    value = np.asarray(r.error if use_error else r.loss, dtype=float)
    if use_error:
        value = np.maximum(value, np.finfo(float).tiny)
    update = np.asarray(r.eval_update) * steps_per_iteration(run.variant, run.k)
    for s in range(value.shape[0]):
        for ax, x in ((ax_t, np.asarray(r.eval_time)[s]), (ax_j, update)):
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


def staleness_figure(runs: Sequence, *, title: str | None = None) -> Figure:
    """Histogram of staleness (update index minus version read) per variant, log counts.

    Args:
        runs: objects with ``variant`` and a 1-D integer ``staleness`` array (every
            contribution, pooled over seeds), e.g.
            :class:`~simulator.studies.comparison.VariantRun` (with a ``spec`` for the
            default title).
        title: the title, wrapped at the figure's width; None (default): what was
            simulated, in words, from the settings the runs' specs share; "": none.

    Returns:
        The figure: one step histogram per variant, each with its own colour and line style
        (identical histograms, e.g. sync and K-sync at staleness 0, stay visible).
    """
    runs = check_runs(runs, ("variant", "staleness"))
    fig, ax = plt.subplots(figsize=(FIGURE_WIDTHS["staleness"], 4.2))
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
    text = _title("staleness", "Staleness of applied gradients", runs, title)
    if text:
        ax.set_title(text, fontsize=TITLE_SIZE)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig
