"""The time-to-target heatmap of a training sweep: how two swept settings (K and the
mini-batch size m, say) together set the simulated time to a target error.

It draws a training sweep table (``pssim sweep``,
``pandas.read_parquet("DIR/results.parquet")``) and never simulates. Rows and columns come
in the order given (the sweep's grid order), else sorted.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.colors import LogNorm, to_rgb
from matplotlib.figure import Figure
from matplotlib.patches import Patch, Rectangle
from matplotlib.ticker import LogLocator

from simulator.errors import PssimError, PssimTypeError, shown
from simulator.plots._style import TIME_LABEL, VALUE_LABELS
from simulator.plots._titles import FIGURE_WIDTHS, TITLE_SIZE, figure_title, table_settings
from simulator.results.targets import SETTING_COLUMNS, check_constant, time_to_target_table

__all__ = ["target_heatmap_figure"]

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


def _axis_values(values: pd.Series, first: Sequence = ()) -> list:
    """Distinct values: those of ``first`` that occur, in its order, then the others sorted
    (numbers numerically), missing values last."""
    present = list(dict.fromkeys(v for v in values if not pd.isna(v)))
    given = [v for v in dict.fromkeys(first) if v in present]
    rest = [v for v in present if v not in given]
    try:
        rest.sort()
    except TypeError:
        rest.sort(key=str)
    return given + rest + ([None] if values.isna().any() else [])


def _check_order(order: object, x: str, y: str) -> dict[str, list]:
    """``order`` as column -> list of values, after checking it orders only x or y."""
    if order is None:
        return {}
    rule = "`order` must be a mapping of x or y to a list of values"
    if not isinstance(order, Mapping):
        raise PssimTypeError(f"{rule}; got {shown(order)}", param="order")
    out = {}
    for column, values in order.items():
        if column not in (x, y):
            raise PssimError(
                f"`order` may only order x ({x!r}) or y ({y!r}); got {shown(column)}",
                param="order",
            )
        if isinstance(values, (str, bytes, Mapping)) or not isinstance(values, Sequence):
            raise PssimTypeError(f"{rule}; {column!r} maps to {shown(values)}", param="order")
        out[column] = list(values)
    return out


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
    order: Mapping[str, Sequence] | None = None,
) -> Figure:
    """Heatmap of the simulated time to a target level over two swept settings.

    Each (x, y) cell is :func:`~simulator.results.targets.time_to_target_table`'s: the
    mean over the seeds that reach the target and stay there of their simulated times,
    its bootstrap 95% interval, and the seeds that never reach it or diverge, counted.

    Args:
        table: a training sweep table, e.g. ``pandas.read_parquet("DIR/results.parquet")``.
        x: the setting column along the horizontal axis, e.g. ``"k"``.
        y: the setting column along the vertical axis, e.g. ``"batch_size"``. Every other
            setting must be constant within a cell.
        target: the level; default: the one
            :func:`~simulator.results.targets.time_to_target_table` picks (a level every
            cell's seeds reach and stay under, where one exists).
        value: ``"error"`` (F(w) - F*) or ``"loss"``; default: the error where F* is known
            in every row, else the loss.
        title: the title; by default the target level, what it is a level of, and what
            was simulated, in words (the settings constant over the table).
        order: the order of the values along x and y, e.g. a sweep's grid
            ``{"k": [8, 1, 4], "batch_size": [16, 1]}`` (column -> values; values it
            leaves out follow it, sorted); default: sorted. Either way the first value
            sits next to the origin, as on an axis: x from the left, y from the bottom.

    Returns:
        The figure, 8.5 inches wide whatever the grid: cells coloured by time to target
        (colour bar in simulated time units) and annotated with it, its 95% interval and
        the seeds that never reach it or diverged (e.g. "1/3 never"); cells where no seed
        reaches the target hatched grey and labelled "never"; combinations absent from
        the table left white and labelled "no run".

    Raises:
        PssimError: as :func:`~simulator.results.targets.time_to_target_table`; ``x`` equal
            to ``y``; ``order`` naming a column other than ``x`` and ``y``.
        PssimTypeError: ``order`` is not a mapping of column names to lists.

    Example:
        >>> table = pandas.read_parquet("sweep/results.parquet")  # doctest: +SKIP
        >>> fig = target_heatmap_figure(table, "k", "batch_size")  # doctest: +SKIP
    """
    for name, column in (("x", x), ("y", y)):
        if not isinstance(column, str):
            raise PssimTypeError(f"`{name}` must be a column name; got {column!r}", param=name)
    if x == y:
        raise PssimError(f"`x` and `y` must be different columns; got {x!r} twice", param="y")
    order = _check_order(order, x, y)
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
    xs, ys = _axis_values(cells[x], order.get(x, ())), _axis_values(cells[y], order.get(y, ()))
    grid = np.full((len(ys), len(xs)), np.nan)
    records = cells.to_dict("records")
    for r in records:
        grid[_index(ys, r[y]), _index(xs, r[x])] = r["time_to_target"]
    height = min(9.0, 2.6 + 0.7 * len(ys))
    fig, ax = plt.subplots(figsize=(FIGURE_WIDTHS["heatmap"], max(height, 4.4)))
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
        t = float(r["time_to_target"])
        if math.isfinite(t):  # at least one seed reached it: the mean over those that did
            rgb = to_rgb(image.cmap(image.norm(t)))
            luminance = 0.299 * rgb[0] + 0.587 * rgb[1] + 0.114 * rgb[2]
            color = "black" if luminance > 0.5 else "white"
            text = "\n".join([_time_text(t), *_cell_notes(r)])
            ax.text(j, i, text, ha="center", va="center", fontsize=size, color=color)
        else:
            ax.add_patch(Rectangle((j - 0.5, i - 0.5), 1, 1, lw=0.8, **_NEVER))
            box = {"facecolor": _NEVER["facecolor"], "edgecolor": "none", "pad": 1.5}
            text = "\n".join(["never", *_cell_notes(r)])
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
        bar.set_label(f"time to target{scale}, mean over seeds that reach it\n{TIME_LABEL}")
    if not np.isfinite(cells["time_to_target"].to_numpy(dtype=float)).all():
        ax.legend(
            handles=[Patch(label="never reaches the target", **_NEVER)],
            loc="upper left",
            bbox_to_anchor=(0.0, -0.13),
            fontsize=8,
            frameon=False,
        )
    if title is None:
        head = _target_text(cells, target is not None)
        title = figure_title("heatmap", head, table_settings(table), skip=[x, y])
    ax.set_title(title, fontsize=TITLE_SIZE)
    fig.tight_layout()
    return fig


def _cell_notes(r: dict) -> list[str]:
    """A cell's interval and the seeds that never reach the target or diverged."""
    notes = []
    low, high = float(r.get("ci95_low", math.nan)), float(r.get("ci95_high", math.nan))
    if math.isfinite(low) and math.isfinite(high) and high > low:
        notes.append(f"[{_time_text(low)}, {_time_text(high)}]")
    never, seeds = int(r.get("never_seeds", 0) or 0), int(r["seeds"])
    if never and math.isfinite(float(r["time_to_target"])):
        notes.append(f"{never}/{seeds} never")
    if r["diverged_seeds"]:
        notes.append(f"{int(r['diverged_seeds'])}/{seeds} diverged")
    return notes


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
