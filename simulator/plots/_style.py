"""Shared look of the figures: axis labels with units, series styles, table checks.

Series differ by colour, line style and marker together, so curves that coincide stay
visible in greyscale and when drawn on top of each other.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.patches import Patch

from simulator.errors import PssimTypeError, shown

#: The unit of every simulated time: the time unit the compute-time law is written in.
TIME_UNIT = "units of the compute-time law"
#: The label of every simulated-time axis.
TIME_LABEL = f"simulated time ({TIME_UNIT})"
#: The label of a logarithmic simulated-time axis.
LOG_TIME_LABEL = f"simulated time ({TIME_UNIT}; log scale)"
#: Ratio of the longest to the shortest time scale beyond which time is drawn on a log axis.
LOG_TIME_RATIO = 10.0
#: The iterations axis, and the same where K-AVG (rounds of K local steps) is among the
#: series: its rounds are counted in local steps, so one step of the model is one unit.
ITERATIONS_LABEL = "iterations (server updates)"
STEPS_LABEL = "iterations: server updates; k-avg: local steps (rounds x K)"
#: What the shaded band around a mean curve spans.
BAND_LABEL = "shaded: min-max over seeds"
#: Axis label of each quantity a training curve follows.
VALUE_LABELS = {"error": "error F(w) - F*", "loss": "loss F(w)", "accuracy": "accuracy"}
#: Short names of setting columns in legends and titles (the paper's symbols).
SHORT_NAMES = {
    "num_learners": "P",
    "k": "K",
    "batch_size": "m",
    "updates": "J",
    "time_budget": "T",
}
#: About this many markers per curve, staggered between series so none sit on top.
MARKERS_PER_CURVE = 8

MARKERS = ("o", "s", "^", "D", "v", "P", "X", "<", ">", "*")
LINESTYLES = ("-", "--", "-.", ":", (0, (5, 1, 1, 1, 1, 1)), (0, (1, 2)))


def series_style(i: int) -> dict:
    """Colour, line style and marker of the i-th series (all three differ between series)."""
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    return {
        "color": colors[i % len(colors)],
        "linestyle": LINESTYLES[i % len(LINESTYLES)],
        "marker": MARKERS[i % len(MARKERS)],
    }


def markevery(i: int, n_series: int, n_points: int) -> tuple[int, int]:
    """(first, step) of the markers of series i: ~8 per curve, offset between series."""
    step = max(1, n_points // MARKERS_PER_CURVE)
    return (i * step) // max(1, n_series) % step, step


def mean_band(ax, x, mean, low, high, style: dict, every, label: str | None) -> None:
    """A mean curve (hollow markers at ``every``) over a shaded low-high band."""
    ax.plot(x, mean, **style, lw=1.5, ms=5, mfc="none", markevery=every, label=label)
    ax.fill_between(x, low, high, color=style["color"], alpha=0.15, lw=0)


def setting_text(column: str, value: object) -> str:
    """One setting as ``P=8``, ``m=16``, ``X ~ exp:1`` or ``lr=0.01`` (an unset one, null
    or NaN in a table, as ``none``; names as the config files write them)."""
    if column == "law":
        return f"X ~ {value}"
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        value = "none"
    if isinstance(value, float) and value.is_integer() and column != "lr":
        value = int(value)
    return f"{SHORT_NAMES.get(column, column.replace('_', '-'))}={value}"


def check_log_time(log_time: object) -> bool | None:
    """``log_time`` after checking it is True, False or None (automatic)."""
    if log_time is None or isinstance(log_time, (bool, np.bool_)):
        return None if log_time is None else bool(log_time)
    raise PssimTypeError(
        f"`log_time` must be True, False or None (automatic); got {shown(log_time)}",
        param="log_time",
    )


def log_time_wanted(log_time: bool | None, scales: Iterable[float]) -> bool:
    """Whether to draw time on a log axis: as asked, or (``log_time`` None) where the
    longest of the positive finite time ``scales`` (e.g. each series' final time) exceeds
    the shortest by more than :data:`LOG_TIME_RATIO`."""
    if log_time is not None:
        return log_time
    values = [float(v) for v in scales if math.isfinite(float(v)) and float(v) > 0]
    return len(values) > 1 and max(values) > LOG_TIME_RATIO * min(values)


def set_time_axis(ax, log: bool) -> None:
    """Label ``ax``'s x axis as simulated time, on a log scale if ``log`` (time 0 is then
    left out, not clipped)."""
    if log:
        ax.set_xscale("log", nonpositive="mask")
    ax.set_xlabel(LOG_TIME_LABEL if log else TIME_LABEL)


def steps_per_iteration(variant: object, k: object) -> int:
    """Model steps per counted iteration: K for K-AVG (a round is K local steps), else 1."""
    if str(variant) == "k-avg" and k is not None and np.isfinite(float(k)):
        return int(k)
    return 1


def band_handle() -> Patch:
    """Legend entry that says what the shaded bands are."""
    return Patch(facecolor="0.6", alpha=0.35, edgecolor="none", label=BAND_LABEL)


def unique_in_order(values: Iterable) -> list:
    """Distinct values in order of first appearance."""
    return list(dict.fromkeys(values))


def describe(values: Iterable) -> str:
    """One value as text, or several joined with '/' (e.g. for a title)."""
    return "/".join(str(v) for v in unique_in_order(values))


def check_runs(runs: object, attributes: Iterable[str], *, name: str = "runs") -> list:
    """``runs`` as a list, after checking it is a sequence (not a string) of objects that
    have every one of ``attributes``; else one line naming ``name``.

    Example:
        >>> check_runs([1], ["variant"])  # doctest: +SKIP
        PssimTypeError: `runs` must be a sequence of runs with variant; item 0 is 1
    """
    wanted = list(attributes)
    rule = f"`{name}` must be a sequence of runs with {', '.join(wanted)}"
    if isinstance(runs, (str, bytes)) or not isinstance(runs, Iterable):
        raise PssimTypeError(f"{rule}; got {shown(runs)}", param=name)
    items = list(runs)
    for i, run in enumerate(items):
        missing = [a for a in wanted if not hasattr(run, a)]
        if missing:
            raise PssimTypeError(
                f"{rule}; item {i} ({shown(run)}) has no {', '.join(missing)}", param=name
            )
    return items
