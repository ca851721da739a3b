"""A training sweep table cut into seeds: the rows of each group of ``by`` and seed, sorted
by update, and each seed's time to a target (the work behind
:func:`~simulator.results.targets.seed_times_to_target`)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd

from simulator.errors import PssimError, shown
from simulator.results._columns import VALUES, key_text, value_of
from simulator.results._passage import TargetTimes, default_level, target_times
from simulator.results._target_args import TargetChoice

__all__ = ["SeedGroup", "curve_frame", "quantity_of", "seed_groups", "target_level"]


def curve_frame(table: pd.DataFrame, by: list[str], value: str) -> pd.DataFrame:
    """The columns a curve needs, with ``group`` (the ``by`` group's number, in sorted
    order); refuses a seed with two rows at one update."""
    frame = pd.DataFrame(
        {
            "group": table.groupby(by, dropna=False, sort=True).ngroup().to_numpy(),
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
            f"({key_text({c: row[c] for c in by})}): drop the duplicates "
            "(e.g. table.drop_duplicates())",
            param="table",
        )
    return frame


def quantity_of(table: pd.DataFrame, choice: TargetChoice, value: object) -> str:
    """The column the target is on: ``accuracy`` for an accuracy target (which takes no
    ``value``), else ``value`` checked (default: the error where F* is known, else loss)."""
    if choice.kind != "target_accuracy":
        return value_of(table, value, VALUES[:2])
    if value is not None:
        raise PssimError(
            "`value` must be left out with `target_accuracy` (the accuracy is the quantity); "
            f"got {shown(value)}",
            param="value",
        )
    if "accuracy" not in table.columns:
        raise PssimError(
            "`target_accuracy` needs the column accuracy in `table`; it has none",
            param="target_accuracy",
        )
    if not np.isfinite(table["accuracy"].to_numpy(dtype=float)).any():
        raise PssimError(
            "`target_accuracy` needs accuracy values in `table`; its accuracy column is NaN "
            "in every row (a model without accuracy)",
            param="target_accuracy",
        )
    return "accuracy"


@dataclasses.dataclass(frozen=True, eq=False)
class SeedGroup:
    """One group of ``by``: its keys, its seeds (as the table names them, sorted), and per
    seed ``(update, time, value)`` sorted by update and whether it diverged."""

    keys: dict
    seed_ids: list
    curves: list[tuple[np.ndarray, np.ndarray, np.ndarray]]
    diverged: list[bool]

    def kept(self) -> list[tuple[np.ndarray, np.ndarray]]:
        """``(update, value)`` of the seeds that did not diverge."""
        return [
            (u, v) for (u, _, v), gone in zip(self.curves, self.diverged, strict=True) if not gone
        ]

    def times(self, level: float | None, choice: TargetChoice) -> TargetTimes:
        """Each seed's time to ``level`` under ``choice``'s rule."""
        return target_times(
            self.curves, self.diverged, level, window=choice.window, above=choice.above
        )


def seed_groups(
    table: pd.DataFrame, by: list[str], quantity: str, *, window: bool
) -> list[SeedGroup]:
    """The groups of ``by`` in sorted order, each cut into its seeds.

    With ``window``, a seed's times must not decrease with its updates (the window is
    measured on them).
    """
    frame = curve_frame(table, by, quantity)
    frame["row"] = np.arange(len(frame))
    frame = frame.sort_values(["group", "seed", "update"], kind="stable")
    group = frame["group"].to_numpy()
    seed_code = pd.factorize(frame["seed"])[0]
    starts = np.flatnonzero(
        np.r_[True, (group[1:] != group[:-1]) | (seed_code[1:] != seed_code[:-1])]
    )
    ends = np.r_[starts[1:], len(frame)]
    update = frame["update"].to_numpy()
    time = frame["time"].to_numpy()
    value = frame["value"].to_numpy()
    diverged = frame["diverged"].to_numpy()
    rows = frame["row"].to_numpy()
    seeds = frame["seed"].to_numpy()
    groups: list[SeedGroup] = []
    for a, b in zip(starts, ends, strict=True):
        if not groups or group[a] != group[a - 1]:
            first = table.iloc[rows[a]]
            groups.append(SeedGroup({c: first[c] for c in by}, [], [], []))
        gone = bool(diverged[a:b].any())
        t = time[a:b]
        if window and not gone and np.any(np.diff(t) < 0):
            where = key_text({**groups[-1].keys, "seed": seeds[a]})
            raise PssimError(
                f"`table` times must not decrease with update within a seed's run ({where}): "
                "a window is measured on them",
                param="table",
            )
        g = groups[-1]
        g.seed_ids.append(seeds[a])
        g.curves.append((update[a:b], t, value[a:b]))
        g.diverged.append(gone)
    return groups


def target_level(
    table: pd.DataFrame, groups: list[SeedGroup], choice: TargetChoice, quantity: str
) -> float | None:
    """The level: the one given, the fraction of the table's mean initial value, or the
    default (:func:`~simulator.results._passage.default_level` over the groups' seeds that
    did not diverge; None when there is none)."""
    if choice.kind in ("target", "target_accuracy"):
        return choice.value
    if choice.kind is None:
        return default_level([g.kept() for g in groups])
    start = table.loc[table["update"].to_numpy() == 0, quantity].to_numpy(dtype=float)
    return choice.fraction_level(start, quantity, "`table`")
