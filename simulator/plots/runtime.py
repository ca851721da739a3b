"""Runtime figures of Dutta et al. 2018: speedup vs P (figure 5) and runtime vs K (figure 6).

Both draw a table made by :mod:`simulator.studies.runtime_tables` (one row per seed) or a
timing sweep table (``pssim sweep``, read with ``pandas.read_parquet``) and never simulate,
so a table loaded from CSV or Parquet redraws the same figure. Simulated points are means
with Student-t 95% confidence intervals over seeds; theory is a line.
"""

from __future__ import annotations

import re
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import FormatStrFormatter, LogLocator

from simulator._checks import VARIANTS
from simulator.errors import PssimError
from simulator.plots._notes import missing_note, note_handle, value_list
from simulator.plots._style import (
    TIME_LABEL,
    describe,
    series_style,
    unique_in_order,
)
from simulator.plots._titles import FIGURE_WIDTHS, TITLE_SIZE, figure_title, table_settings
from simulator.results.stats import mean_ci95
from simulator.results.tables import check_table
from simulator.results.targets import check_constant

__all__ = ["RELATION_STYLES", "runtime_vs_k_figure", "speedup_figure"]

#: Line style of a theory line by its relation to the truth: solid where exact or
#: asymptotic, dashed for an upper bound, dotted for a lower bound.
RELATION_STYLES = {"exact": "-", "asymptotic": "-", "upper-bound": "--", "lower-bound": ":"}

_SPEEDUP_NEEDS = ("law", "num_learners", "updates", "seed", "speedup", "theory", "relation")
#: Horizontal shift between the simulated points of neighbouring series: in K (figure 6),
#: in log2 P (figure 5).
_DODGE = 0.08

_RUNTIME_NEEDS = ("law", "num_learners", "updates", "variant", "k", "seed", "time", "theory")
#: Columns of a timing sweep table that the speedup figure reads.
_SWEEP_SPEEDUP_NEEDS = (
    "variant",
    "law",
    "num_learners",
    "updates",
    "seed",
    "time",
    "speedup_theory",
    "speedup_relation",
)
#: How sync and async rows pair, and the columns a pair gives (as speedup_table's).
_PAIR = ["law", "num_learners", "updates", "seed"]
_SPEEDUP_COLUMNS = ("t_sync", "t_async", "speedup", "theory", "relation", "source")


def _law_labels(table: pd.DataFrame) -> pd.Series:
    """The ``law`` column, with ``durations=FILE`` for measured durations and ``laws=...``
    where learners have their own laws (law None)."""
    law = table["law"].astype(object)
    if "durations" in table.columns:
        names = table["durations"].map(lambda d: Path(str(d)).name, na_action="ignore")
        law = law.where(law.notna() | names.isna(), "durations=" + names.astype(str))
    if "laws" not in table.columns:
        return law.where(law.notna(), "heterogeneous")
    return law.where(law.notna(), "laws=" + table["laws"].astype(str))


def _speedup_rows(table: pd.DataFrame) -> pd.DataFrame:
    """A timing sweep table's sync and async rows, paired into speedup_table's columns.

    Rows pair by law, P, J and seed (both variants ran on the same seed, so on the same
    compute times); ``speedup`` = time_sync / time_async, ``theory`` and ``relation``
    are Theorem 1's (``speedup_theory``, ``speedup_relation``).
    """
    table = check_table(table, _SWEEP_SPEEDUP_NEEDS, "a timing sweep table")
    rows = table[table["variant"].isin(["sync", "async"])].copy()
    missing = [v for v in ("sync", "async") if v not in set(rows["variant"])]
    if missing:
        raise PssimError(
            f"`table` must have rows of variant sync and async to pair; none of "
            f"{' or '.join(missing)} among {describe(table['variant'])}",
            param="table",
        )
    rows["law"] = _law_labels(rows)
    check_constant(rows, ["variant", "law", "num_learners", "updates"], by_param=None)
    sync, asyn = (
        rows[rows["variant"] == v].set_index(_PAIR).sort_index() for v in ("sync", "async")
    )
    unpaired = sync.index.symmetric_difference(asyn.index)
    if len(unpaired):
        key = ", ".join(f"{c}={v}" for c, v in zip(_PAIR, unpaired[0], strict=True))
        raise PssimError(
            "`table` must pair every sync row with an async row of the same law, "
            f"num_learners, updates and seed; unpaired: {key}",
            param="table",
        )
    asyn = asyn.reindex(sync.index)
    out = pd.DataFrame(
        {
            "t_sync": sync["time"].to_numpy(dtype=float),
            "t_async": asyn["time"].to_numpy(dtype=float),
        },
        index=sync.index,
    ).reset_index()
    out["speedup"] = out["t_sync"] / out["t_async"]
    out["theory"] = sync["speedup_theory"].to_numpy(dtype=float)
    out["relation"] = sync["speedup_relation"].fillna("none").to_numpy()
    # where Theorem 1 gives nothing, the runtime theory's reason (replayed durations,
    # communication) is the reason
    why = sync["source"].fillna("") if "source" in sync.columns else ""
    runtime_none = sync["relation"].eq("none") if "relation" in sync.columns else False
    out["source"] = np.where(
        (out["relation"].to_numpy() == "none") & np.asarray(runtime_none, dtype=bool),
        np.asarray(why, dtype=object),
        "Theorem 1",
    )
    order = unique_in_order(rows["law"])
    out["_order"] = out["law"].map(order.index)
    return out.sort_values(["_order", "num_learners", "seed"], kind="stable").drop(
        columns="_order"
    )[["law", "num_learners", "updates", "seed", *_SPEEDUP_COLUMNS]]


def _one_panel(table: pd.DataFrame) -> None:
    """Refuse a runtime table of several laws or several P: one figure is one panel."""
    for column in ("law", "num_learners"):
        values = unique_in_order(_law_labels(table) if column == "law" else table[column])
        if len(values) > 1:
            raise PssimError(
                f"`table` must hold one law and one P for runtime_vs_k_figure; column "
                f"{column} has {'/'.join(str(v) for v in values)}: filter it first, e.g. "
                f"table[table[{column!r}] == {values[0]!r}]",
                param="table",
            )


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


def _axes(ax, kind: str):
    if ax is None:
        return plt.subplots(figsize=(FIGURE_WIDTHS[kind], 4.8))
    return ax.figure, ax


def _reason(rows: pd.DataFrame) -> str | None:
    """The theory's reason for rows without theory (their ``source``), if it gives one."""
    if "source" not in rows.columns:
        return None
    reasons = [str(r) for r in unique_in_order(rows["source"].dropna()) if str(r).strip()]
    return "; ".join(reasons) or None


def _missing(name: str, what: str, by: str, label: str, summary, rows: pd.DataFrame):
    """A legend note where ``summary`` (per value of ``by``) has no theory: where, and why
    (``rows``' theory ``source``); None where every point has theory."""
    none = summary[summary["relation"] == "none"]
    if none.empty:
        return None
    if len(none) < len(summary):
        what += f" at {label}={value_list(none[by])}"
    return note_handle(missing_note(name, what, _reason(rows[rows[by].isin(none[by])])))


#: Training settings a timing table carries but its runtimes do not depend on.
_TRAINING = ("rule", "lr", "model")


def _title(kind: str, head: str, table: pd.DataFrame, skip) -> str:
    """The title: ``head``, then the timing settings constant over the table in words
    (m only where the law is written in m)."""
    settings = table_settings(table)
    law = str(settings.get("law", ""))
    in_m = re.search(r"(?<![A-Za-z_])m(?![A-Za-z_])", law.partition(":")[2])
    skip = [*skip, *_TRAINING, *(() if in_m else ("batch_size",))]
    return figure_title(kind, head, settings, skip=skip)


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
            ratio ``speedup`` = T_sync / T_async and Theorem 1's ``theory``; or a timing
            sweep table with rows of variants ``sync`` and ``async``, paired by law, P, J
            and seed (``speedup`` = time_sync / time_async, theory ``speedup_theory``).
        ax: draw into this matplotlib Axes instead of a new figure.
        title: the title; by default one naming J, the number of seeds and what else
            was simulated, in words (the settings constant over the table).

    Returns:
        The figure, 7.4 inches wide. One series per law, each with its own colour, marker
        and line style: points are the mean ratio over seeds with its 95% interval
        (shifted sideways a little per law so equal values stay apart), the line is
        Theorem 1 (P E[X_{P:P}] / E[X]) at the same P; where it gives none, a legend line
        says so and why. Both axes are logarithmic.

    Example:
        >>> from simulator.studies.runtime_tables import speedup_table
        >>> fig = speedup_figure(speedup_table(["exp:1"], [1, 2, 4], updates=50, seeds=2))
    """
    settings = table  # a sweep table's settings, before its rows are paired
    if (
        isinstance(table, pd.DataFrame)
        and "speedup" not in table.columns
        and "variant" in table.columns
    ):
        table = _speedup_rows(table)
    table = check_table(table, _SPEEDUP_NEEDS, "speedup_table")
    fig, ax = _axes(ax, "speedup")
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
        group = table[table["law"] == law]
        note = _missing(law, "no Theorem 1 line", "num_learners", "P", rows, group)
        handles += [note] if note else []
    ps = sorted(int(v) for v in table["num_learners"].unique())
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xticks(ps, [str(v) for v in ps])
    ax.minorticks_off()
    # plain numbers at 1, 2, 5 x 10^n: a speedup axis spans about a decade or two
    ax.yaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    ax.yaxis.set_major_formatter(FormatStrFormatter("%g"))
    ax.set_xlabel("number of learners P")
    ax.set_ylabel("speedup E[T_sync] / E[T_async] (ratio)")
    if title is None:
        head = f"Async over sync speedup (J={describe(table['updates'])}, {_seeds_text(table)})"
        skip = ("variant", "k", "num_learners", "law", "laws", "durations", "updates", "seeds")
        title = _title("speedup", head, settings, skip)
    ax.set_title(title, fontsize=TITLE_SIZE)
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(handles=handles, fontsize=7)
    fig.tight_layout()
    return fig


def runtime_vs_k_figure(table: pd.DataFrame, *, ax=None, title: str | None = None) -> Figure:
    """Figure 6: expected runtime of J updates vs K for several variants.

    Args:
        table: a :func:`~simulator.studies.runtime_tables.runtime_vs_k_table` (or the same
            columns loaded from CSV or Parquet), or a timing sweep table: one row per
            (variant, K, seed) with the simulated ``time`` and the ``theory`` mean and its
            ``relation``. One law and one P: filter a sweep of several first. Any other
            setting column must be constant per variant and K.
        ax: draw into this matplotlib Axes instead of a new figure.
        title: the title; by default what was simulated, in words: the law (or the
            learners' own laws, speeds or measured durations), P, latencies, and the
            number of seeds.

    Returns:
        The figure, 7.4 inches wide. One colour and marker per variant: filled markers are
        the simulated mean over seeds with its 95% interval (shifted sideways a little per
        variant so equal values stay apart); the theory line carries the same marker,
        hollow, and its line style says how theory relates to the truth (see
        :data:`RELATION_STYLES`). Where two variants share a theory (k-sync and k-async
        under exponential laws) both hollow markers stay visible. No line where no theory
        exists: a legend line says so, at which K, and why (the theory's ``source``).
        Times are in simulated time units.

    Example:
        >>> from simulator.studies.runtime_tables import runtime_vs_k_table
        >>> table = runtime_vs_k_table("exp:1", num_learners=4, updates=50, seeds=2)
        >>> fig = runtime_vs_k_figure(table)
    """
    table = check_table(table, _RUNTIME_NEEDS, "runtime_vs_k_table")
    _one_panel(table)
    check_constant(table, ["variant", "k"], by_param=None)
    fig, ax = _axes(ax, "runtime")
    # in the order of VARIANTS, so a variant keeps its colour across figures
    order = {v: i for i, v in enumerate(("sync", "async", *VARIANTS))}
    variants = sorted(unique_in_order(table["variant"]), key=lambda v: order.get(v, len(order)))
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
        group = table[table["variant"] == variant]
        note = _missing(variant, "no theory", "k", "K", rows, group)
        handles += [note] if note else []
    ks = sorted(int(v) for v in table["k"].unique())
    ax.set_xticks(ks)
    ax.set_xlabel("K")
    ax.set_ylabel(f"runtime of J={describe(table['updates'])} updates\n{TIME_LABEL}")
    if title is None:
        head = f"Runtime of J={describe(table['updates'])} updates vs K ({_seeds_text(table)})"
        title = _title("runtime", head, table, ("variant", "k", "updates", "seeds"))
    ax.set_title(title, fontsize=TITLE_SIZE)
    ax.grid(True, alpha=0.3)
    ax.legend(handles=handles, fontsize=7, ncols=2 if len(variants) > 3 else 1)
    fig.tight_layout()
    return fig
