"""Time to a target level: the level, the first time a mean curve reaches it, and both over
the configurations of a training sweep table.

The paper compares variants by the simulated wall-clock time to a common error level. The
level is on the error F(w) - F* where F* is known, else on the loss. By default it is the
level every curve reaches after its start (the worst of their best values), and if that is
no better than the start (a curve that never improves), the level the two best curves
reach; never the starting value, so a time to target is never 0 for every curve.

A training sweep table (``pssim sweep``, read back with ``pandas.read_parquet``) has one row
per configuration, replicate seed and evaluation point: the spec fields as columns
(:data:`SETTING_COLUMNS`), ``seed``, ``update``, ``time``, ``loss``, ``error``,
``accuracy``, ``diverged`` and more. :func:`mean_curves` averages it over the seeds that
did not diverge, one curve per value of the ``by`` columns; :func:`time_to_target_table`
turns those curves into times to a target level.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence

import numpy as np
import pandas as pd

from simulator.errors import PssimError, PssimTypeError, shown
from simulator.results.tables import check_table
from simulator.spec import TIMING_FIELDS, TRAINING_FIELDS

__all__ = [
    "SETTING_COLUMNS",
    "check_constant",
    "default_level",
    "first_time_at",
    "mean_curves",
    "setting_column",
    "time_to_target_table",
]

#: The configuration columns of a sweep table (spec fields under their Python names, the
#: spec's ``seed`` as ``base_seed``); those present must be constant within a series.
SETTING_COLUMNS = tuple(
    "base_seed" if field == "seed" else field for field in TIMING_FIELDS + TRAINING_FIELDS
)


def _finite_number(value: object) -> bool:
    """A real number (not a bool) that a float holds finitely."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        return False
    try:
        return math.isfinite(float(value))
    except OverflowError:  # an int beyond the float range
        return False


def setting_column(field: str) -> str:
    """The sweep-table column of a spec field (the spec's base ``seed`` is ``base_seed``)."""
    return "base_seed" if field == "seed" else field


#: Columns measured per run or evaluation point: never a series key.
_MEASURED = (
    "config",
    "seed",
    "update",
    "time",
    "loss",
    "error",
    "accuracy",
    "diverged",
    "diverged_at",
    "f_star",
    "theory",
    "relation",
    "source",
)
_CURVE_NEEDS = ("seed", "update", "time", "loss", "diverged")
_WHAT = "a training sweep table"
#: The quantities a mean curve can follow; times to target exist for the first two.
_VALUES = ("error", "loss", "accuracy")


def default_level(curves: Sequence[tuple[np.ndarray, np.ndarray]]) -> float | None:
    """The default target level of several mean curves.

    Args:
        curves: per variant (or configuration), ``(update, value)``, each (E,), ``value``
            the seed-mean error (or loss) at the evaluation points; update 0 is the start.

    Returns:
        The level, or None when fewer than two curves improve on their start.

    Example:
        >>> u = np.array([0, 10, 20])
        >>> default_level([(u, np.array([1.0, 0.5, 0.2])), (u, np.array([1.0, 0.7, 0.4]))])
        0.4
    """
    bests, starts = [], []
    for update, value in curves:
        after = value[update > 0]
        if after.size and np.isfinite(after).any():
            bests.append(float(np.nanmin(after)))
            starts.append(float(value[0]))
    if not bests:
        return None
    start = min(starts)
    worst_best = max(bests)
    if worst_best < start:
        return worst_best
    reached = sorted(b for b in bests if b < start)
    return reached[1] if len(reached) >= 2 else None


def first_time_at(
    update: np.ndarray, time: np.ndarray, value: np.ndarray, level: float
) -> float | None:
    """First simulated time after the start at which ``value <= level`` (None if never).

    Example:
        >>> u = np.array([0, 10, 20])
        >>> first_time_at(u, 2.0 * u, np.array([1.0, 0.5, 0.2]), 0.5)
        20.0
    """
    hit = np.flatnonzero((update > 0) & (value <= level))
    return None if hit.size == 0 else float(time[hit[0]])


def _by_list(table: pd.DataFrame, by: object) -> list[str]:
    """``by`` (a column name or a sequence of them) as a checked list."""
    names = [by] if isinstance(by, str) else by
    if not isinstance(names, (list, tuple)) or not names:
        raise PssimTypeError(
            f"`by` must be a column name or a non-empty list of them; got {shown(by)}", param="by"
        )
    settings = ", ".join(c for c in SETTING_COLUMNS if c in table.columns)
    for name in names:
        if not isinstance(name, str):
            raise PssimTypeError(f"`by` must hold column names; got {shown(name)}", param="by")
        if name not in table.columns or name in _MEASURED:
            raise PssimError(
                f"`by` must name setting columns of the table ({settings}); got {shown(name)}",
                param="by",
            )
    if len(set(names)) != len(names):
        raise PssimError(f"`by` must not repeat a column; got {list(names)!r}", param="by")
    return list(names)


def _key_text(keys: dict) -> str:
    return ", ".join(f"{c}={v}" for c, v in keys.items())


def check_constant(table: pd.DataFrame, by: Sequence[str], *, by_param: str | None = "by") -> None:
    """Refuse a table whose settings vary within a group of the ``by`` columns.

    Every :data:`SETTING_COLUMNS` column present, other than ``by``, must hold one value
    per group (``updates`` may vary when a time budget set it), and so must ``config``:
    otherwise means over a group would mix configurations.

    Args:
        table: a sweep table.
        by: the columns that define the groups (series, cells).
        by_param: the argument the caller's user named ``by`` with, suggested as a way out;
            None to suggest only filtering.

    Raises:
        PssimError: naming the first column that varies, its values and the group.
    """
    by = list(by)
    skip = set(by)
    if "time_budget" in table.columns:
        budget = pd.to_numeric(table["time_budget"], errors="coerce").to_numpy(dtype=float)
        if np.isfinite(budget).any():
            skip.add("updates")  # J is what the budget allowed, seed by seed
    columns = [c for c in (*SETTING_COLUMNS, "config") if c in table.columns and c not in skip]
    if not columns:
        return
    if by and not (table.groupby(by, dropna=False)[columns].nunique(dropna=False) > 1).any(
        axis=None
    ):
        return
    groups = table.groupby(by, dropna=False, sort=False) if by else [((), table)]
    for key, group in groups:
        for column in columns:
            if group[column].nunique(dropna=False) < 2:
                continue
            values = list(dict.fromkeys(None if pd.isna(v) else v for v in group[column]))
            shown = "/".join(str(v) for v in values[:6]) + ("/..." if len(values) > 6 else "")
            where = f" within {_key_text(dict(zip(by, key, strict=True)))}" if by else ""
            way = f" or add {column!r} to `{by_param}`" if by_param else ""
            raise PssimError(
                f"`table` mixes several values of {column} ({shown}){where}: filter it to one "
                f"(e.g. table[table[{column!r}] == {values[0]!r}]){way}",
                param="table",
            )


def _value_of(table: pd.DataFrame, value: object, allowed: Sequence[str]) -> str:
    """The quantity to follow: ``value`` checked, or error where F* is known, else loss."""
    if value is None:
        if "error" not in table.columns:
            return "loss"
        loss = table["loss"].to_numpy(dtype=float)
        error = table["error"].to_numpy(dtype=float)
        known = np.isfinite(error) | ~np.isfinite(loss)
        return "error" if np.isfinite(error).any() and known.all() else "loss"
    if value not in allowed:
        raise PssimError(
            f"`value` must be one of {', '.join(allowed)}; got {shown(value)}", param="value"
        )
    if value not in table.columns:
        raise PssimError(f"`table` must have the column {value} for value={value!r}", param="value")
    if not np.isfinite(table[value].to_numpy(dtype=float)).any():
        why = "F* is unknown for these models; use value='loss'" if value == "error" else ""
        raise PssimError(
            f"`value` {value!r} is NaN in every row of `table`" + (f": {why}" if why else ""),
            param="value",
        )
    return value


def _curves(
    table: pd.DataFrame, by: list[str], value: str
) -> Iterator[tuple[dict, pd.DataFrame, int, int]]:
    """Per group of ``by`` (sorted): its keys, its seed-mean curve, seeds, diverged seeds.

    The curve has columns update, time, mean, low, high over the seeds that did not
    diverge, at the evaluation points all of them have; NaN where every seed diverged.
    """
    group = table.groupby(by, dropna=False, sort=True).ngroup().to_numpy()
    frame = pd.DataFrame(
        {
            "group": group,
            "seed": table["seed"].to_numpy(),
            "update": table["update"].to_numpy(dtype=np.int64),
            "time": table["time"].to_numpy(dtype=float),
            "value": table[value].to_numpy(dtype=float),
            "diverged": table["diverged"].to_numpy(dtype=bool),
        }
    )
    dup = frame.duplicated(["group", "seed", "update"]).to_numpy()
    if dup.any():
        row = table[dup].iloc[0]
        raise PssimError(
            f"`table` has several rows for seed {row['seed']} at update {row['update']} "
            f"({_key_text({c: row[c] for c in by})}): drop the duplicates "
            "(e.g. table.drop_duplicates())",
            param="table",
        )
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
    table = check_table(table, _CURVE_NEEDS, _WHAT)
    by = _by_list(table, by)
    value = _value_of(table, value, _VALUES)
    check_constant(table, by)
    frames = []
    for keys, curve, seeds, diverged in _curves(table, by, value):
        frame = pd.DataFrame({c: [v] * len(curve) for c, v in keys.items()})
        frame = pd.concat([frame, curve], axis=1)
        frame["seeds"], frame["diverged_seeds"], frame["quantity"] = seeds, diverged, value
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)


def time_to_target_table(
    table: pd.DataFrame,
    by: str | Sequence[str],
    *,
    target: float | None = None,
    value: str | None = None,
) -> pd.DataFrame:
    """Simulated time to a target level, per configuration of a training sweep table.

    For each combination of the ``by`` columns, the seed-mean curve over the seeds that did
    not diverge (:func:`mean_curves`) and the first evaluation point after the start at
    which it is at or below ``target``; its time is the seed-mean simulated time there.

    Args:
        table: a training sweep table, e.g. ``pandas.read_parquet("DIR/results.parquet")``.
        by: the setting column (or columns), e.g. ``["k", "batch_size"]``; every other
            setting column must be constant within a combination.
        target: the level; default: :func:`default_level` over all the combinations' curves.
        value: ``"error"`` (F(w) - F*) or ``"loss"``; default: the error where F* is known
            in every row, else the loss.

    Returns:
        A DataFrame, one row per combination of ``by`` (sorted), with the ``by`` columns,
        ``time_to_target`` (simulated time units; NaN where the curve never reaches the
        target, every seed diverged, or there is no target), ``reached`` (bool),
        ``target`` (the level; NaN when no default exists because fewer than two curves
        improve on their start), ``target_on`` (``"error"`` or ``"loss"``), ``seeds`` and
        ``diverged_seeds``.

    Raises:
        PssimError: as :func:`mean_curves`; a ``target`` that is not a finite number.

    Example:
        >>> table = pd.read_parquet("sweep/results.parquet")  # doctest: +SKIP
        >>> time_to_target_table(table, ["k", "batch_size"])  # doctest: +SKIP
    """
    table = check_table(table, _CURVE_NEEDS, _WHAT)
    by = _by_list(table, by)
    value = _value_of(table, value, _VALUES[:2])
    if target is not None and not _finite_number(target):
        raise PssimError(f"`target` must be a finite number; got {shown(target)}", param="target")
    check_constant(table, by)
    groups = list(_curves(table, by, value))
    if target is None:
        level = default_level(
            [(c["update"].to_numpy(), c["mean"].to_numpy()) for _, c, *_ in groups]
        )
    else:
        level = float(target)
    rows = []
    for keys, curve, seeds, diverged in groups:
        hit = None
        if level is not None:
            hit = first_time_at(
                curve["update"].to_numpy(),
                curve["time"].to_numpy(),
                curve["mean"].to_numpy(),
                level,
            )
        rows.append(
            {
                **keys,
                "time_to_target": math.nan if hit is None else hit,
                "reached": hit is not None,
                "target": math.nan if level is None else level,
                "target_on": value,
                "seeds": seeds,
                "diverged_seeds": diverged,
            }
        )
    out = pd.DataFrame(rows)
    return out.astype({"time_to_target": float, "target": float, "reached": bool})
