"""Checks shared by everything that reads a result table (figures, target tables)."""

from __future__ import annotations

from collections.abc import Iterable

import pandas as pd

from simulator.errors import PssimError, PssimTypeError

__all__ = ["check_table"]


def check_table(table: object, columns: Iterable[str], what: str) -> pd.DataFrame:
    """Check that ``table`` is a non-empty DataFrame with ``columns``; return it.

    ``what`` names the table in the messages (e.g. ``"speedup_table"``).
    """
    if not isinstance(table, pd.DataFrame):
        raise PssimTypeError(
            f"`table` must be a pandas DataFrame from {what}; got {type(table).__name__}",
            param="table",
        )
    missing = [c for c in columns if c not in table.columns]
    if missing:
        raise PssimError(
            f"`table` must have the columns of {what}; missing {', '.join(missing)}",
            param="table",
        )
    if table.empty:
        raise PssimError(f"`table` must have at least one row; got an empty {what}", param="table")
    return table
