"""Figures of training sweeps: curves per swept value and a time-to-target heatmap.

Both draw a training sweep table (``pssim sweep``, ``pandas.read_parquet("DIR/results.parquet")``)
and never simulate. :func:`curves_figure` gives Dutta et al.'s figures 11-14 (error vs
iterations and vs simulated time for several K or several mini-batch sizes);
:func:`target_heatmap_figure` shows how K and m together set the time to a target error.
"""

from __future__ import annotations

import math
import textwrap
from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.colors import LogNorm, to_rgb
from matplotlib.figure import Figure
from matplotlib.patches import Patch, Rectangle
from matplotlib.ticker import LogLocator

from simulator.errors import PssimError, PssimTypeError
from simulator.plots._style import (
    SHORT_NAMES,
    TIME_LABEL,
    VALUE_LABELS,
    band_handle,
    markevery,
    mean_band,
    series_style,
    setting_text,
)
from simulator.results.targets import (
    SETTING_COLUMNS,
    check_constant,
    mean_curves,
    time_to_target_table,
)

__all__ = ["curves_figure", "target_heatmap_figure"]

#: Settings a default title names, in this order, where constant over the table.
_TITLE_SETTINGS = (
    "variant",
    "num_learners",
    "k",
    "law",
    "batch_size",
    "updates",
    "time_budget",
    "rule",
    "lr",
    "model",
)
#: Axis names of the usual swept columns in the heatmap.
_AXIS_NAMES = {
    "k": "K (gradients per update)",
    "batch_size": "mini-batch size m",
    "num_learners": "number of learners P",
    "lr": "learning rate",
}
#: Fill of cells whose curve never reaches the target, and of combinations not in the table.
_NEVER = {"facecolor": "0.88", "edgecolor": "0.45", "hatch": "///"}
_ABSENT = {"facecolor": "white", "edgecolor": "0.75"}


def _names(by: str | Sequence[str]) -> list[str]:
    return [by] if isinstance(by, str) else list(by)


def _constant_settings(table: pd.DataFrame, skip: Sequence[str]) -> dict:
    """The settings of :data:`_TITLE_SETTINGS` that hold one value over the whole table."""
    out = {}
    for column in _TITLE_SETTINGS:
        if column in table.columns and column not in skip and table[column].nunique() == 1:
            if table[column].notna().all():
                out[column] = table[column].iloc[0]
    if "model" in out and "data" in table.columns and table["data"].nunique() == 1:
        out["model"] = f"{out['model']} on {table['data'].iloc[0]}"
    return out


def _settings_title(head: str, table: pd.DataFrame, skip: Sequence[str]) -> str:
    """``head`` on the first line, the constant settings below (wrapped)."""
    parts = [
        f"rule={v}" if c == "rule" else str(v) if c in ("variant", "model") else setting_text(c, v)
        for c, v in _constant_settings(table, skip).items()
    ]
    return "\n".join([head, *textwrap.wrap(", ".join(parts), 100)])


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
        title: the figure's title; by default the quantity and the settings constant over
            the table (variant, P, K, law, m, rule, lr, model).

    Returns:
        The figure: two panels side by side, ``value`` vs iterations (server updates) and
        vs simulated time (seed-mean time of each evaluation point). Each series is the
        mean over the seeds that did not diverge, with a shaded min-max band over them, in
        its own colour, line style and marker; a series whose seeds all diverged shows
        each seed dotted up to its divergence. The legend gives each series' seeds and
        diverged seeds. Error and loss axes are logarithmic.

    Raises:
        PssimError: a missing column, an unknown ``by`` or ``value``, or a setting that
            varies within a series.

    Example:
        >>> table = pandas.read_parquet("sweep/results.parquet")  # doctest: +SKIP
        >>> fig = curves_figure(table[table["batch_size"] == 1], "k")  # doctest: +SKIP
    """
    curves = mean_curves(table, by, value=value)
    by = _names(by)
    value = str(curves["quantity"].iloc[0])
    extra_columns = _between_series(table, by)
    groups = list(curves.groupby(by, dropna=False, sort=False))
    # the legend sits below both panels, never over the data: one row per 3 entries
    columns = 3
    legend_rows = -(-(len(groups) + 1) // columns)
    fig, (ax_j, ax_t) = plt.subplots(
        1, 2, figsize=(12, 4.9 + 0.22 * legend_rows), sharey=True, layout="constrained"
    )
    log = value != "accuracy"
    banded = False
    for i, (_, curve) in enumerate(groups):
        style = series_style(i)
        keys = {c: curve[c].iloc[0] for c in by}
        rows = _series_rows(table, keys)
        extra = {c: rows[c].iloc[0] for c in extra_columns if rows[c].nunique(dropna=False) == 1}
        seeds, diverged = int(curve["seeds"].iloc[0]), int(curve["diverged_seeds"].iloc[0])
        label = _series_label(keys, extra, seeds, diverged)
        if diverged == seeds:
            _diverged_seeds(ax_j, ax_t, rows, value, log, style, label)
            continue
        mean, low, high = (
            _positive(curve[c].to_numpy(float), log) for c in ("mean", "low", "high")
        )
        every = markevery(i, len(groups), mean.size)
        for ax, x in ((ax_j, curve["update"].to_numpy()), (ax_t, curve["time"].to_numpy())):
            mean_band(ax, x, mean, low, high, style, every, label if ax is ax_t else None)
        banded = banded or seeds - diverged > 1
    for ax in (ax_j, ax_t):
        if log:
            ax.set_yscale("log")
        ax.grid(True, which="both", alpha=0.3)
    ax_j.set_xlabel("iterations (server updates)")
    ax_t.set_xlabel(TIME_LABEL)
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
        title = _settings_title(head, table, by)
    fig.suptitle(title)
    return fig


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


def _diverged_seeds(ax_j, ax_t, rows: pd.DataFrame, value: str, log: bool, style, label):
    """Thin dotted per-seed curves of a series whose seeds all diverged (non-finite points
    after the divergence are not drawn)."""
    for s, (_, seed_rows) in enumerate(rows.sort_values("update").groupby("seed", sort=True)):
        y = _positive(seed_rows[value].to_numpy(float), log)
        every = markevery(s, rows["seed"].nunique(), int(np.isfinite(y).sum()))
        for ax, x in ((ax_j, seed_rows["update"]), (ax_t, seed_rows["time"])):
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


def _axis_values(values: pd.Series) -> list:
    """Distinct values in sorted order (numbers numerically), missing values last."""
    present = list(dict.fromkeys(v for v in values if not pd.isna(v)))
    try:
        present.sort()
    except TypeError:
        present.sort(key=str)
    return present + ([None] if values.isna().any() else [])


def _index(values: list, v) -> int:
    return values.index(None) if pd.isna(v) else values.index(v)


def _tick(v) -> str:
    if v is None:
        return "None"
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v)


def target_heatmap_figure(
    table: pd.DataFrame,
    x: str,
    y: str,
    *,
    target: float | None = None,
    value: str | None = None,
    title: str | None = None,
) -> Figure:
    """Heatmap of the simulated time to a target level over two swept settings.

    For each (x, y) cell, the seed-mean curve over the seeds that did not diverge and the
    first seed-mean simulated time after the start at which it is at or below the target
    (:func:`~simulator.results.targets.time_to_target_table`).

    Args:
        table: a training sweep table, e.g. ``pandas.read_parquet("DIR/results.parquet")``.
        x: the setting column along the horizontal axis, e.g. ``"k"``.
        y: the setting column along the vertical axis, e.g. ``"batch_size"``. Every other
            setting must be constant within a cell.
        target: the level; default: the level every cell's curve reaches after its start
            (:func:`~simulator.results.targets.default_level` over all cells).
        value: ``"error"`` (F(w) - F*) or ``"loss"``; default: the error where F* is known
            in every row, else the loss.
        title: the title; by default the target level, what it is a level of, and the
            constant settings.

    Returns:
        The figure: cells coloured by time to target (colour bar in simulated time units)
        and annotated with it (with the diverged seeds, if any); cells that never reach the
        target hatched grey and labelled "never"; combinations absent from the table left
        white and labelled "no run".

    Raises:
        PssimError: as :func:`~simulator.results.targets.time_to_target_table`; ``x`` equal
            to ``y``.

    Example:
        >>> table = pandas.read_parquet("sweep/results.parquet")  # doctest: +SKIP
        >>> fig = target_heatmap_figure(table, "k", "batch_size")  # doctest: +SKIP
    """
    for name, column in (("x", x), ("y", y)):
        if not isinstance(column, str):
            raise PssimTypeError(f"`{name}` must be a column name; got {column!r}", param=name)
    if x == y:
        raise PssimError(f"`x` and `y` must be different columns; got {x!r} twice", param="y")
    if isinstance(table, pd.DataFrame):
        settings = [c for c in SETTING_COLUMNS if c in table.columns]
        for name, column in (("x", x), ("y", y)):
            if column not in settings:
                raise PssimError(
                    f"`{name}` must name a setting column of the table ({', '.join(settings)}); "
                    f"got {column!r}",
                    param=name,
                )
        check_constant(table, [x, y], by_param=None)  # x and y are the only groups
    cells = time_to_target_table(table, [x, y], target=target, value=value)
    xs, ys = _axis_values(cells[x]), _axis_values(cells[y])
    grid = np.full((len(ys), len(xs)), np.nan)
    records = cells.to_dict("records")
    for r in records:
        grid[_index(ys, r[y]), _index(xs, r[x])] = r["time_to_target"]
    width = min(13.0, 3.2 + 1.05 * len(xs))
    height = min(9.0, 2.6 + 0.7 * len(ys))
    fig, ax = plt.subplots(figsize=(max(width, 6.4), max(height, 4.4)))
    reached = grid[np.isfinite(grid)]
    # a log colour scale where times spread over more than a decade, so no cell dominates
    spread = reached.size and reached.min() > 0 and reached.max() > 10 * reached.min()
    norm = LogNorm(reached.min(), reached.max()) if spread else None
    image = ax.imshow(
        np.ma.masked_invalid(grid), origin="lower", cmap="viridis", aspect="auto", norm=norm
    )
    size = 9 if len(xs) <= 8 else 7
    for r in records:
        i, j = _index(ys, r[y]), _index(xs, r[x])
        div = r["diverged_seeds"]
        note = f"\n{div}/{r['seeds']} diverged" if div else ""
        if r["reached"]:
            rgb = to_rgb(image.cmap(image.norm(r["time_to_target"])))
            luminance = 0.299 * rgb[0] + 0.587 * rgb[1] + 0.114 * rgb[2]
            color = "black" if luminance > 0.5 else "white"
            text = _time_text(r["time_to_target"]) + note
            ax.text(j, i, text, ha="center", va="center", fontsize=size, color=color)
        else:
            ax.add_patch(Rectangle((j - 0.5, i - 0.5), 1, 1, lw=0.8, **_NEVER))
            box = {"facecolor": _NEVER["facecolor"], "edgecolor": "none", "pad": 1.5}
            text = "never" + note
            ax.text(j, i, text, ha="center", va="center", fontsize=size, color="0.15", bbox=box)
    present = {(_index(ys, r[y]), _index(xs, r[x])) for r in records}
    absent = [(i, j) for i in range(len(ys)) for j in range(len(xs)) if (i, j) not in present]
    for i, j in absent:
        ax.add_patch(Rectangle((j - 0.5, i - 0.5), 1, 1, lw=0.8, **_ABSENT))
        ax.text(j, i, "no run", ha="center", va="center", fontsize=size, color="0.5")
    ax.set_xticks(range(len(xs)), [_tick(v) for v in xs])
    ax.set_yticks(range(len(ys)), [_tick(v) for v in ys])
    ax.set_xlim(-0.5, len(xs) - 0.5)
    ax.set_ylim(-0.5, len(ys) - 0.5)
    ax.set_xlabel(_AXIS_NAMES.get(x, x))
    ax.set_ylabel(_AXIS_NAMES.get(y, y))
    ax.tick_params(length=0)
    if reached.size:
        ticks = {"ticks": LogLocator(subs=(1.0, 2.0, 5.0)), "format": "%g"} if spread else {}
        bar = fig.colorbar(image, ax=ax, **ticks)
        if spread:
            bar.minorticks_off()
        scale = " (log scale)" if spread else ""
        bar.set_label(f"time to target{scale}\n{TIME_LABEL}")
    if not cells["reached"].all():
        ax.legend(
            handles=[Patch(label="never reaches the target", **_NEVER)],
            loc="upper left",
            bbox_to_anchor=(0.0, -0.13),
            fontsize=8,
            frameon=False,
        )
    if title is None:
        title = _settings_title(_target_text(cells, target is not None), table, [x, y])
    ax.set_title(title, fontsize=10)
    fig.tight_layout()
    return fig


def _time_text(t: float) -> str:
    """A cell's time: 3 significant digits, whole numbers from 100 on (no exponent)."""
    return f"{t:.0f}" if t >= 100 else f"{t:.3g}"


def _target_text(cells: pd.DataFrame, given: bool) -> str:
    """What the target is: level and quantity (and where a default came from), or why
    there is none."""
    on = str(cells["target_on"].iloc[0])
    level = float(cells["target"].iloc[0])
    if math.isnan(level):
        return (
            f"Time to target: no default {on} level (fewer than two cells improve); pass `target`"
        )
    text = f"Time to {VALUE_LABELS[on]} <= {level:.3g}"
    if not given:
        text += " (default: reached by every cell)" if cells["reached"].all() else " (default)"
    if not cells["reached"].any():
        text += ": no cell reaches it"
    return text
