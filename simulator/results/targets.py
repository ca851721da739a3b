"""Time to a target, per seed and per configuration of a training sweep table, and the
tables' seed-mean curves.

The paper compares variants by the simulated wall-clock time to a common error level. Here
a seed reaches the level at the first evaluation point after its start from which its curve
stays at or below it, for the rest of its run or for a stated window (a curve that dips
below and comes back has not reached it); the seeds that reach it give a mean time and a
bootstrap 95% interval, and those that never do (or diverge) are counted, not averaged.
The level is on the error F(w) - F* where F* is known, else on the loss; or on the accuracy
(at or above it); or a fraction of the initial value. By default it is a level every
configuration's seeds reach and stay under (see :func:`default_level`).

A training sweep table (``pssim sweep``, read back with ``pandas.read_parquet``) has one row
per configuration, replicate seed and evaluation point: the spec fields as columns
(:data:`SETTING_COLUMNS`), ``seed``, ``update``, ``time``, ``loss``, ``error``,
``accuracy``, ``diverged`` and more. :func:`seed_times_to_target` gives each seed's time,
:func:`time_to_target_table` their summary per value of the ``by`` columns, and
:func:`mean_curves` the seed-mean curves.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np
import pandas as pd

from simulator.results._columns import (
    CURVE_NEEDS,
    SETTING_COLUMNS,
    VALUES,
    WHAT,
    by_list,
    check_constant,
    setting_column,
    value_of,
)
from simulator.results._passage import default_level, first_time_at
from simulator.results._seed_table import curve_frame, quantity_of, seed_groups, target_level
from simulator.results._target_args import check_targets
from simulator.results.tables import check_table

__all__ = [
    "SETTING_COLUMNS",
    "check_constant",
    "default_level",
    "first_time_at",
    "mean_curves",
    "seed_times_to_target",
    "setting_column",
    "time_to_target_table",
]


def _curves(
    table: pd.DataFrame, by: list[str], value: str
) -> Iterator[tuple[dict, pd.DataFrame, int, int]]:
    """Per group of ``by`` (sorted): its keys, its seed-mean curve, seeds, diverged seeds.

    The curve has columns update, time, mean, low, high over the seeds that did not
    diverge, at the evaluation points all of them have; NaN where every seed diverged.
    """
    frame = curve_frame(table, by, value)
    group = frame["group"].to_numpy()
    first_rows = np.unique(group, return_index=True)[1]  # a row of each group, in order
    seed_diverged = frame.groupby(["group", "seed"])["diverged"].transform("any").to_numpy()
    per_seed = frame.groupby(["group", "seed"])["diverged"].any().groupby(level="group")
    seeds, diverged = per_seed.size(), per_seed.sum()
    kept = frame[~seed_diverged]
    n_kept = kept.groupby("group")["seed"].nunique()
    stats = kept.groupby(["group", "update"], sort=True).agg(
        time=("time", "mean"),
        mean=("value", "mean"),
        low=("value", "min"),
        high=("value", "max"),
        n=("seed", "nunique"),
    )
    wanted = n_kept.reindex(stats.index.get_level_values("group")).to_numpy()
    stats = stats[stats["n"].to_numpy() == wanted]  # points every kept seed has
    curves = dict(tuple(stats.reset_index(level="update").groupby(level="group")))
    updates = dict(tuple(frame.groupby("group")["update"]))
    for g, first in enumerate(first_rows):
        keys = {c: table[c].iloc[first] for c in by}
        if g in curves:
            c = curves[g]
            curve = pd.DataFrame(
                {col: c[col].to_numpy() for col in ("update", "time", "mean", "low", "high")}
            )
        else:  # every seed diverged
            update = np.unique(updates[g].to_numpy()).astype(np.int64)
            nan = np.full(update.shape, np.nan)
            curve = pd.DataFrame(
                {"update": update, "time": nan, "mean": nan, "low": nan, "high": nan}
            )
        yield keys, curve, int(seeds[g]), int(diverged[g])


def mean_curves(table: pd.DataFrame, by: str | Sequence[str], *, value: str | None = None):
    """Seed-mean curves of a training sweep table, one per value of the ``by`` columns.

    Args:
        table: a training sweep table (one row per configuration, seed and evaluation
            point), e.g. ``pandas.read_parquet("DIR/results.parquet")``.
        by: the setting column (or columns) whose values make the curves, e.g. ``"k"``.
            Every other setting column must be constant within a curve.
        value: ``"error"`` (F(w) - F*), ``"loss"`` or ``"accuracy"``; default: the error
            where F* is known in every row, else the loss.

    Returns:
        A DataFrame with the ``by`` columns, ``update``, ``time`` (seed-mean simulated time
        of that evaluation point), ``mean``, ``low`` and ``high`` (mean, min and max of
        ``value`` over the seeds that did not diverge), ``seeds`` (replicate seeds of the
        curve), ``diverged_seeds`` and ``quantity`` (``value``): one row per curve and
        evaluation point that every kept seed has, curves in sorted order of ``by``. A curve
        whose seeds all diverged keeps its evaluation points with NaN values and times.

    Raises:
        PssimError: a missing column, an unknown ``by`` or ``value``, a setting that varies
            within a curve, duplicated rows.

    Example:
        >>> curves = mean_curves(pd.read_parquet("sweep/results.parquet"), "k")  # doctest: +SKIP
    """
    table = check_table(table, CURVE_NEEDS, WHAT)
    by = by_list(table, by)
    value = value_of(table, value, VALUES)
    check_constant(table, by)
    frames = []
    for keys, curve, seeds, diverged in _curves(table, by, value):
        frame = pd.DataFrame({c: [v] * len(curve) for c, v in keys.items()})
        frame = pd.concat([frame, curve], axis=1)
        frame["seeds"], frame["diverged_seeds"], frame["quantity"] = seeds, diverged, value
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)


def _seed_times(table, by, value, targets):
    """(groups, each group's TargetTimes, level, quantity) after every check."""
    table = check_table(table, CURVE_NEEDS, WHAT)
    by = by_list(table, by)
    choice = check_targets(**targets)
    quantity = quantity_of(table, choice, value)
    check_constant(table, by)
    groups = seed_groups(table, by, quantity, window=choice.window is not None)
    level = target_level(table, groups, choice, quantity)
    return groups, [g.times(level, choice) for g in groups], level, quantity


def seed_times_to_target(
    table: pd.DataFrame,
    by: str | Sequence[str],
    *,
    target: float | None = None,
    target_accuracy: float | None = None,
    target_fraction: float | None = None,
    window: float | None = None,
    value: str | None = None,
) -> pd.DataFrame:
    """Each seed's simulated time to a target, per configuration of a training sweep table.

    A seed reaches the target at the first evaluation point after its start (update > 0)
    from which its error (loss, accuracy) stays at or below the level (at or above, for an
    accuracy) for the rest of its run, or for ``window`` time units; not where it first
    touches it. Give at most one of ``target``, ``target_accuracy`` and
    ``target_fraction``; with none, the level is :func:`default_level` over every group's
    seeds that did not diverge (a level all of them reach and stay under), if one exists.

    Args:
        table: a training sweep table, e.g. ``pandas.read_parquet("DIR/results.parquet")``.
        by: the setting column (or columns), e.g. ``["k", "batch_size"]``; every other
            setting column must be constant within a combination.
        target: the level of the error F(w) - F* (of the loss where F* is unknown, or as
            ``value`` says): a finite number.
        target_accuracy: instead, an accuracy in (0, 1] on the column ``accuracy`` (reached
            at or above it; ``value`` is then left out).
        target_fraction: instead, a fraction in (0, 1) of the initial value: the level is
            the fraction times the mean of the quantity over all the table's rows at update
            0, one level for every group.
        window: simulated time units (> 0, finite): a seed must stay at the target at every
            evaluation point in ``[t, min(t + window, end of its run)]``; default: to the
            end of its run. The last evaluation point alone is no stay: a seed that first
            gets there at its last point has not reached it.
        value: ``"error"`` (F(w) - F*) or ``"loss"``; default: the error where F* is known
            in every row, else the loss.

    Returns:
        A DataFrame, one row per combination of ``by`` (sorted) and seed (sorted), with the
        ``by`` columns, ``seed``, ``time`` (simulated time units; NaN unless reached),
        ``status`` (``"reached"``, ``"never"``: did not diverge and never stays at the
        target, or ``"diverged"``: left out whatever it reached), ``target`` (the level;
        NaN when no default exists, and then every seed that did not diverge is
        ``"never"``) and ``target_on`` (``"error"``, ``"loss"`` or ``"accuracy"``).

    Raises:
        PssimError: a missing column (``accuracy`` for ``target_accuracy``); two targets
            (naming both); a target, fraction, accuracy or window out of range; no finite
            value at update 0 for a fraction; an unknown ``by`` or ``value``; a setting
            that varies within a combination; duplicated rows; with a window, times that
            decrease within a seed's run. PssimTypeError: a value that is not a number.

    Example:
        >>> table = pd.read_parquet("sweep/results.parquet")  # doctest: +SKIP
        >>> seed_times_to_target(table, "k", target_fraction=0.1)  # doctest: +SKIP
    """
    targets = {"target": target, "target_accuracy": target_accuracy}
    targets |= {"target_fraction": target_fraction, "window": window}
    groups, times, level, quantity = _seed_times(table, by, value, targets)
    frames = []
    for group, seeds in zip(groups, times, strict=True):
        n = len(group.seed_ids)
        frame = pd.DataFrame({c: [v] * n for c, v in group.keys.items()})
        frame["seed"] = group.seed_ids
        frame["time"] = seeds.times
        frame["status"] = list(seeds.status)
        frames.append(frame)
    out = pd.concat(frames, ignore_index=True)
    out["target"] = np.nan if level is None else float(level)
    out["target_on"] = quantity
    return out


def time_to_target_table(
    table: pd.DataFrame,
    by: str | Sequence[str],
    *,
    target: float | None = None,
    target_accuracy: float | None = None,
    target_fraction: float | None = None,
    window: float | None = None,
    value: str | None = None,
) -> pd.DataFrame:
    """Simulated time to a target per configuration of a training sweep table, with a 95%
    interval and the seeds that never reach it.

    Each seed's time is as :func:`seed_times_to_target` finds it: the first evaluation
    point after the start from which the seed stays at or below the level (at or above an
    accuracy) for the rest of its run or for ``window``. Per combination of the ``by``
    columns, the time to target is the mean over the seeds that reached it, and its
    interval the bootstrap 95% percentile interval of that mean (``scipy.stats.bootstrap``,
    9999 resamples from a fixed seed: the same table gives the same interval). Seeds that
    never reach the target are counted, not averaged; diverged seeds are left out.

    Args:
        table: a training sweep table, e.g. ``pandas.read_parquet("DIR/results.parquet")``.
        by: the setting column (or columns), e.g. ``["k", "batch_size"]``; every other
            setting column must be constant within a combination.
        target: the level of the error F(w) - F* (of the loss where F* is unknown, or as
            ``value`` says): a finite number.
        target_accuracy: instead, an accuracy in (0, 1] on the column ``accuracy`` (reached
            at or above it; ``value`` is then left out).
        target_fraction: instead, a fraction in (0, 1) of the initial value: the level is
            the fraction times the mean of the quantity over all the table's rows at update
            0, one level for every group.
        window: simulated time units (> 0, finite): a seed must stay at the target at every
            evaluation point in ``[t, min(t + window, end of its run)]``; default: to the
            end of its run. The last evaluation point alone is no stay: a seed that first
            gets there at its last point has not reached it.
        value: ``"error"`` (F(w) - F*) or ``"loss"``; default: the error where F* is known
            in every row, else the loss.

    Returns:
        A DataFrame, one row per combination of ``by`` (sorted), with the ``by`` columns,
        ``time_to_target`` (simulated time units: the mean over the seeds that reached the
        target; NaN if none did or there is no target), ``ci95_low`` and ``ci95_high``
        (its interval; NaN with fewer than two reached seeds; both the time when every
        seed took the same), ``reached`` (True when at least one seed reached the target
        and every seed that did not diverge did), ``target`` (the level; NaN when no
        default exists), ``target_on`` (``"error"``, ``"loss"`` or ``"accuracy"``),
        ``seeds``, ``reached_seeds``, ``never_seeds`` and ``diverged_seeds`` (counts).

    Raises:
        PssimError, PssimTypeError: as :func:`seed_times_to_target`.

    Example:
        >>> table = pd.read_parquet("sweep/results.parquet")  # doctest: +SKIP
        >>> time_to_target_table(table, ["k", "batch_size"], target=0.05)  # doctest: +SKIP
        >>> time_to_target_table(table, "k", target_accuracy=0.9, window=50.0)  # doctest: +SKIP
    """
    targets = {"target": target, "target_accuracy": target_accuracy}
    targets |= {"target_fraction": target_fraction, "window": window}
    groups, times, level, quantity = _seed_times(table, by, value, targets)
    rows = []
    for group, seeds in zip(groups, times, strict=True):
        low, high = seeds.ci95
        rows.append(
            {
                **group.keys,
                "time_to_target": seeds.mean,
                "ci95_low": low,
                "ci95_high": high,
                "reached": seeds.reached,
                "target": np.nan if level is None else float(level),
                "target_on": quantity,
                "seeds": seeds.seeds,
                "reached_seeds": seeds.reached_seeds,
                "never_seeds": seeds.never_seeds,
                "diverged_seeds": seeds.diverged_seeds,
            }
        )
    out = pd.DataFrame(rows)
    floats = ("time_to_target", "ci95_low", "ci95_high", "target")
    return out.astype({**dict.fromkeys(floats, float), "reached": bool})
