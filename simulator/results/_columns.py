"""The columns of a training sweep table and the checks of the arguments that name them:
the setting columns, the ``by`` columns of a grouping, the quantity a curve follows."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd

from simulator.errors import PssimError, PssimTypeError, shown
from simulator.spec import TIMING_FIELDS, TRAINING_FIELDS

__all__ = [
    "CURVE_NEEDS",
    "MEASURED",
    "SETTING_COLUMNS",
    "VALUES",
    "WHAT",
    "by_list",
    "check_constant",
    "finite_number",
    "key_text",
    "setting_column",
    "value_of",
]

#: The configuration columns of a sweep table (spec fields under their Python names, the
#: spec's ``seed`` as ``base_seed``); those present must be constant within a series.
SETTING_COLUMNS = tuple(
    "base_seed" if field == "seed" else field for field in TIMING_FIELDS + TRAINING_FIELDS
)


def finite_number(value: object) -> bool:
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
MEASURED = (
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
CURVE_NEEDS = ("seed", "update", "time", "loss", "diverged")
WHAT = "a training sweep table"
#: The quantities a mean curve can follow (a target level is on the first two; an
#: accuracy target on the third).
VALUES = ("error", "loss", "accuracy")


def by_list(table: pd.DataFrame, by: object) -> list[str]:
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
        if name not in table.columns or name in MEASURED:
            raise PssimError(
                f"`by` must name setting columns of the table ({settings}); got {shown(name)}",
                param="by",
            )
    if len(set(names)) != len(names):
        raise PssimError(f"`by` must not repeat a column; got {list(names)!r}", param="by")
    return list(names)


def key_text(keys: dict) -> str:
    return ", ".join(f"{c}={v}" for c, v in keys.items())


def check_constant(table: pd.DataFrame, by: Sequence[str], *, by_param: str | None = "by") -> None:
    """Refuse a table whose settings vary within a group of the ``by`` columns.

    Every :data:`SETTING_COLUMNS` column present, other than ``by``, must hold one value
    per group (``updates`` may vary when a time budget set it, and ``seeds``, the count a
    sweep asked for when it stored a row, when the sweep grew by seeds), and so must
    ``config``: otherwise means over a group would mix configurations.

    Args:
        table: a sweep table.
        by: the columns that define the groups (series, cells).
        by_param: the argument the caller's user named ``by`` with, suggested as a way out;
            None to suggest only filtering.

    Raises:
        PssimError: naming the first column that varies, its values and the group.
    """
    by = list(by)
    skip = {*by, "seeds"}  # a grown sweep's parts hold the counts they were run with
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
            where = f" within {key_text(dict(zip(by, key, strict=True)))}" if by else ""
            way = f" or add {column!r} to `{by_param}`" if by_param else ""
            raise PssimError(
                f"`table` mixes several values of {column} ({shown}){where}: filter it to one "
                f"(e.g. table[table[{column!r}] == {values[0]!r}]){way}",
                param="table",
            )


def value_of(table: pd.DataFrame, value: object, allowed: Sequence[str]) -> str:
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
