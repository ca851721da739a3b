"""Figures of training sweeps: curves per swept value (and the time-to-target heatmap of
:mod:`simulator.plots.heatmap`, imported here too).

Both draw a training sweep table (``pssim sweep``, ``pandas.read_parquet("DIR/results.parquet")``)
and never simulate. :func:`curves_figure` gives Dutta et al.'s figures 11-14 (error vs
iterations and vs simulated time for several K or several mini-batch sizes);
:func:`target_heatmap_figure` shows how K and m together set the time to a target error.
"""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from simulator.plots._style import (
    ITERATIONS_LABEL,
    SHORT_NAMES,
    STEPS_LABEL,
    VALUE_LABELS,
    band_handle,
    check_log_time,
    log_time_wanted,
    markevery,
    mean_band,
    series_style,
    set_time_axis,
    setting_text,
    steps_per_iteration,
)
from simulator.plots._titles import FIGURE_WIDTHS, TITLE_SIZE, figure_title, table_settings
from simulator.plots.heatmap import target_heatmap_figure
from simulator.results.targets import SETTING_COLUMNS, mean_curves

__all__ = ["curves_figure", "target_heatmap_figure"]


def _names(by: str | Sequence[str]) -> list[str]:
    return [by] if isinstance(by, str) else list(by)


def _short(columns: Sequence[str]) -> str:
    return ", ".join(SHORT_NAMES.get(c, c) for c in columns)


def _between_series(table: pd.DataFrame, by: list[str]) -> list[str]:
    """Setting columns that differ between series (constant within each, else refused)."""
    return [
        c
        for c in SETTING_COLUMNS
        if c in table.columns
        and c not in (*by, "seeds", "eval_every")  # evaluation spacing is not a setting
        and table[c].nunique(dropna=False) > 1
    ]


def _series_label(keys: dict, extra: dict, seeds: int, diverged: int) -> str:
    label = ", ".join(setting_text(c, v) for c, v in keys.items())
    if extra:
        label += " (" + ", ".join(setting_text(c, v) for c, v in extra.items()) + ")"
    label += f": {seeds} seed" + ("s" if seeds != 1 else "")
    if diverged:
        label += ", all diverged" if diverged == seeds else f", {diverged} diverged"
    return label


def curves_figure(
    table: pd.DataFrame,
    by: str | Sequence[str],
    *,
    value: str | None = None,
    title: str | None = None,
    log_time: bool | None = None,
) -> Figure:
    """Training curves of a sweep, one series per value of ``by``: figures 11-14 of Dutta
    et al. 2018 (``by="k"`` for K, ``by="batch_size"`` for the mini-batch size m).

    Args:
        table: a training sweep table (one row per configuration, seed and evaluation
            point), e.g. ``pandas.read_parquet("DIR/results.parquet")``.
        by: the setting column whose values make the series (or a list of columns). Every
            other setting must be constant within a series: filter the table first.
        value: ``"error"`` (F(w) - F*), ``"loss"`` or ``"accuracy"``; default: the error
            where F* is known in every row, else the loss.
        title: the figure's title; by default the quantity and what was simulated, in
            words: the settings constant over the table (variant, P, K, the law or the
            learners' own laws, speeds or measured durations, latencies, m, rule, lr,
            model).
        log_time: draw simulated time on a log axis (True), a linear one (False) or
            (None, default) a log axis where the series' final times differ by more
            than 10x.

    Returns:
        The figure, 12 inches wide: two panels side by side, ``value`` vs iterations
        (server updates; for ``k-avg``, J rounds of K local steps, local steps J K) and vs
        simulated time (seed-mean time of each evaluation point). Each series is the
        mean over the seeds that did not diverge, with a shaded min-max band over them, in
        its own colour, line style and marker; a series whose seeds all diverged shows
        each seed dotted up to its divergence. The legend gives each series' seeds and
        diverged seeds. Error and loss axes are logarithmic.

    Raises:
        PssimError: a missing column, an unknown ``by`` or ``value``, or a setting that
            varies within a series.
        PssimTypeError: ``log_time`` is not True, False or None.

    Example:
        >>> table = pandas.read_parquet("sweep/results.parquet")  # doctest: +SKIP
        >>> fig = curves_figure(table[table["batch_size"] == 1], "k")  # doctest: +SKIP
    """
    log_time = check_log_time(log_time)
    curves = mean_curves(table, by, value=value)
    by = _names(by)
    value = str(curves["quantity"].iloc[0])
    extra_columns = _between_series(table, by)
    groups = list(curves.groupby(by, dropna=False, sort=False))
    # the legend sits below both panels, never over the data: one row per 3 entries
    columns = 3
    legend_rows = -(-(len(groups) + 1) // columns)
    fig, (ax_j, ax_t) = plt.subplots(
        1,
        2,
        figsize=(FIGURE_WIDTHS["curves"], 4.9 + 0.22 * legend_rows),
        sharey=True,
        layout="constrained",
    )
    log = value != "accuracy"
    banded = False
    finals, k_avg = [], False
    for i, (_, curve) in enumerate(groups):
        style = series_style(i)
        keys = {c: curve[c].iloc[0] for c in by}
        rows = _series_rows(table, keys)
        extra = {c: rows[c].iloc[0] for c in extra_columns if rows[c].nunique(dropna=False) == 1}
        seeds, diverged = int(curve["seeds"].iloc[0]), int(curve["diverged_seeds"].iloc[0])
        label = _series_label(keys, extra, seeds, diverged)
        steps = _steps(rows)
        k_avg = k_avg or steps > 1
        if diverged == seeds:
            _diverged_seeds(ax_j, ax_t, rows, value, log, style, label, steps)
            continue
        finals.append(float(curve["time"].max()))
        mean, low, high = (
            _positive(curve[c].to_numpy(float), log) for c in ("mean", "low", "high")
        )
        every = markevery(i, len(groups), mean.size)
        update = curve["update"].to_numpy() * steps
        for ax, x in ((ax_j, update), (ax_t, curve["time"].to_numpy())):
            mean_band(ax, x, mean, low, high, style, every, label if ax is ax_t else None)
        banded = banded or seeds - diverged > 1
    for ax in (ax_j, ax_t):
        if log:
            ax.set_yscale("log")
        ax.grid(True, which="both", alpha=0.3)
    ax_j.set_xlabel(STEPS_LABEL if k_avg else ITERATIONS_LABEL)
    set_time_axis(ax_t, log_time_wanted(log_time, finals))
    ax_j.set_ylabel(VALUE_LABELS[value] + (", mean over seeds" if value != "accuracy" else ""))
    ax_j.set_title("vs iterations")
    ax_t.set_title("vs simulated wall-clock time")
    handles, labels = ax_t.get_legend_handles_labels()
    if banded:
        band = band_handle()
        handles, labels = [*handles, band], [*labels, band.get_label()]
    fig.legend(
        handles, labels, loc="outside lower center", ncols=min(columns, len(labels)), fontsize=8
    )
    if title is None:
        head = f"{VALUE_LABELS[value].split(' ')[0].capitalize()} by {_short(by)}"
        title = figure_title("curves", head, table_settings(table), skip=[*by, "seeds"])
    fig.suptitle(title, fontsize=TITLE_SIZE)
    return fig


def _steps(rows: pd.DataFrame) -> int:
    """Model steps per counted iteration of a series (K for k-avg, else 1)."""
    if "variant" not in rows.columns or "k" not in rows.columns or rows.empty:
        return 1
    return steps_per_iteration(rows["variant"].iloc[0], rows["k"].iloc[0])


def _series_rows(table: pd.DataFrame, keys: dict) -> pd.DataFrame:
    """The rows of the series with these ``by`` values (NaN keys match missing values)."""
    mask = np.ones(len(table), dtype=bool)
    for column, key in keys.items():
        col = table[column]
        mask &= col.isna().to_numpy() if pd.isna(key) else (col == key).fillna(False).to_numpy()
    return table[mask]


def _positive(values: np.ndarray, log: bool) -> np.ndarray:
    """Values for a log axis: at least the smallest positive float (an error can be 0)."""
    return np.maximum(values, np.finfo(float).tiny) if log else values


def _diverged_seeds(
    ax_j, ax_t, rows: pd.DataFrame, value: str, log: bool, style, label, steps: int = 1
):
    """Thin dotted per-seed curves of a series whose seeds all diverged (non-finite points
    after the divergence are not drawn); ``steps`` model steps per iteration."""
    for s, (_, seed_rows) in enumerate(rows.sort_values("update").groupby("seed", sort=True)):
        y = _positive(seed_rows[value].to_numpy(float), log)
        every = markevery(s, rows["seed"].nunique(), int(np.isfinite(y).sum()))
        for ax, x in ((ax_j, seed_rows["update"] * steps), (ax_t, seed_rows["time"])):
            ax.plot(
                x.to_numpy(float),
                y,
                color=style["color"],
                marker=style["marker"],
                ls=":",
                lw=1.0,
                ms=4,
                mfc="none",
                markevery=every,
                label=label if (ax is ax_t and s == 0) else None,
            )
