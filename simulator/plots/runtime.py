"""Runtime figures of Dutta et al. 2018: speedup vs P (figure 5) and runtime vs K (figure 6).

Both draw a table made by :mod:`simulator.studies.runtime_tables` (one row per seed) and
never simulate, so a table loaded from CSV or Parquet redraws the same figure. Simulated
points are means with Student-t 95% confidence intervals over seeds; theory is a line.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from simulator.plots._style import (
    TIME_LABEL,
    check_table,
    describe,
    series_style,
    unique_in_order,
)
from simulator.results.stats import mean_ci95

__all__ = ["RELATION_STYLES", "runtime_vs_k_figure", "speedup_figure"]

#: Line style of a theory line by its relation to the truth: solid where exact or
#: asymptotic, dashed for an upper bound, dotted for a lower bound.
RELATION_STYLES = {"exact": "-", "asymptotic": "-", "upper-bound": "--", "lower-bound": ":"}

_SPEEDUP_NEEDS = ("law", "num_learners", "updates", "seed", "speedup", "theory", "relation")
#: Horizontal shift between the simulated points of neighbouring series: in K (figure 6),
#: in log2 P (figure 5).
_DODGE = 0.08

_RUNTIME_NEEDS = ("law", "num_learners", "updates", "variant", "k", "seed", "time", "theory")


def _summary(frame: pd.DataFrame, by: str, value: str) -> pd.DataFrame:
    """Per value of ``by`` (sorted): mean and 95% half-width of ``value``, first theory."""
    rows = []
    for key, group in frame.groupby(by, sort=True):
        mean, half = mean_ci95(group[value].to_numpy(dtype=float))
        theory = group["theory"].to_numpy(dtype=float)
        relation = group["relation"].iloc[0] if "relation" in group else "exact"
        rows.append(
            {
                by: key,
                "mean": mean,
                "half": 0.0 if half is None else half,
                "theory": theory[0],
                "relation": relation if np.isfinite(theory[0]) else "none",
            }
        )
    return pd.DataFrame(rows)


def _seeds_text(table: pd.DataFrame) -> str:
    n = table["seed"].nunique()
    return f"{n} seed" if n == 1 else f"{n} seeds"


def _sim_label(name: str, table: pd.DataFrame) -> str:
    if table["seed"].nunique() < 2:
        return f"{name}: simulated (1 seed, no interval)"
    return f"{name}: simulated mean, 95% CI"


def _axes(ax):
    if ax is None:
        return plt.subplots(figsize=(7.4, 4.8))
    return ax.figure, ax


def _simulated(ax, x, rows: pd.DataFrame, style: dict, label: str):
    """Simulated means with their 95% intervals: filled markers, no line."""
    return ax.errorbar(
        x,
        rows["mean"],
        yerr=rows["half"],
        fmt=style["marker"],
        linestyle="none",
        color=style["color"],
        capsize=3,
        ms=5,
        label=label,
    )


def speedup_figure(table: pd.DataFrame, *, ax=None, title: str | None = None) -> Figure:
    """Figure 5: E[T_sync] / E[T_async] vs P, simulated on paired seeds beside Theorem 1.

    Args:
        table: a :func:`~simulator.studies.runtime_tables.speedup_table` (or the same
            columns loaded from CSV or Parquet): one row per (law, P, seed) with the paired
            ratio ``speedup`` = T_sync / T_async and Theorem 1's ``theory``.
        ax: draw into this matplotlib Axes instead of a new figure.
        title: the title; by default one naming J and the number of seeds.

    Returns:
        The figure. One series per law, each with its own colour, marker and line style:
        points are the mean ratio over seeds with its 95% interval (shifted sideways a
        little per law so equal values stay apart), the line is Theorem 1
        (P E[X_{P:P}] / E[X]) at the same P. Both axes are logarithmic.

    Example:
        >>> from simulator.studies.runtime_tables import speedup_table
        >>> fig = speedup_figure(speedup_table(["exp:1"], [1, 2, 4], updates=50, seeds=2))
    """
    table = check_table(table, _SPEEDUP_NEEDS, "speedup_table")
    fig, ax = _axes(ax)
    laws = unique_in_order(table["law"])
    handles = []
    for i, law in enumerate(laws):
        style = series_style(i)
        rows = _summary(table[table["law"] == law], "num_learners", "speedup")
        p = rows["num_learners"].to_numpy()
        known = rows[rows["relation"] != "none"]
        if not known.empty:
            handles += ax.plot(
                known["num_learners"],
                known["theory"],
                color=style["color"],
                linestyle=style["linestyle"],
                lw=1.4,
                label=f"{law}: Theorem 1 ({describe(known['relation'])})",
            )
        # equal points (all laws give 1 at P = 1) sit side by side, not on top
        shift = 2.0 ** (_DODGE * (i - (len(laws) - 1) / 2))
        handles.append(_simulated(ax, p * shift, rows, style, _sim_label(law, table)))
    ps = sorted(int(v) for v in table["num_learners"].unique())
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xticks(ps, [str(v) for v in ps])
    ax.minorticks_off()
    ax.set_xlabel("number of learners P")
    ax.set_ylabel("speedup E[T_sync] / E[T_async] (ratio)")
    if title is None:
        title = f"Async over sync speedup (J={describe(table['updates'])}, {_seeds_text(table)})"
    ax.set_title(title)
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(handles=handles, fontsize=7)
    fig.tight_layout()
    return fig


def runtime_vs_k_figure(table: pd.DataFrame, *, ax=None, title: str | None = None) -> Figure:
    """Figure 6: expected runtime of J updates vs K for several variants.

    Args:
        table: a :func:`~simulator.studies.runtime_tables.runtime_vs_k_table` (or the same
            columns loaded from CSV or Parquet): one row per (variant, K, seed) with the
            simulated ``time`` and the ``theory`` mean and its ``relation``.
        ax: draw into this matplotlib Axes instead of a new figure.
        title: the title; by default one naming the law, P and the number of seeds.

    Returns:
        The figure. One colour and marker per variant: filled markers are the simulated
        mean over seeds with its 95% interval (shifted sideways a little per variant so
        equal values stay apart); the theory line carries the same marker,
        hollow, and its line style says how theory relates to the truth (see
        :data:`RELATION_STYLES`). Where two variants share a theory (k-sync and k-async
        under exponential laws) both hollow markers stay visible. No line where no theory
        exists. Times are in simulated time units.

    Example:
        >>> from simulator.studies.runtime_tables import runtime_vs_k_table
        >>> table = runtime_vs_k_table("exp:1", num_learners=4, updates=50, seeds=2)
        >>> fig = runtime_vs_k_figure(table)
    """
    table = check_table(table, _RUNTIME_NEEDS, "runtime_vs_k_table")
    fig, ax = _axes(ax)
    variants = unique_in_order(table["variant"])
    handles = []
    for i, variant in enumerate(variants):
        style = series_style(i)
        rows = _summary(table[table["variant"] == variant], "k", "time")
        dodge = _DODGE * (i - (len(variants) - 1) / 2)
        sim = _simulated(ax, rows["k"] + dodge, rows, style, _sim_label(variant, table))
        for relation, linestyle in RELATION_STYLES.items():
            pts = rows[rows["relation"] == relation]
            if pts.empty:
                continue
            (line,) = ax.plot(
                pts["k"],
                pts["theory"],
                linestyle=linestyle,
                color=style["color"],
                lw=1.2,
                marker=style["marker"],
                ms=9 - 1.5 * (i % 3),
                mfc="none",
                mew=1.2,
                label=f"{variant}: theory ({relation})",
            )
            handles.append(line)
        handles.append(sim)
    ks = sorted(int(v) for v in table["k"].unique())
    ax.set_xticks(ks)
    ax.set_xlabel("K")
    ax.set_ylabel(f"runtime of J={describe(table['updates'])} updates\n{TIME_LABEL}")
    if title is None:
        title = (
            f"X ~ {describe(table['law'])}, P = {describe(table['num_learners'])}, "
            f"{_seeds_text(table)}"
        )
    ax.set_title(title)
    ax.grid(True, alpha=0.3)
    ax.legend(handles=handles, fontsize=7, ncols=2 if len(variants) > 3 else 1)
    fig.tight_layout()
    return fig
