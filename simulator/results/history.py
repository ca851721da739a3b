"""History: replay results as one tidy table, saved and compared across variants.

One row per (configuration, seed, evaluation point), with the simulated time, the loss on
the evaluation set, the error ``loss - F*`` of Dutta et al. 2018 (Definition 2) where F* is
known, the accuracy where the model has one, and whether the seed diverged. Summaries (mean
curves, final loss, time to reach a loss) average over the seeds that did not diverge.
"""

from __future__ import annotations

import contextlib
import math
import numbers
import os
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import pandas as pd

from simulator._files import as_path, check_regular_file, shown_path
from simulator._tempfiles import remove_stale, temp_path
from simulator.errors import PssimError, PssimTypeError, shown

#: Largest results table read back (2 GiB: tens of millions of rows as CSV).
MAX_TABLE_BYTES = 2 << 30


class ReplayResult(Protocol):
    """What a History reads of a replay: the fields of
    :class:`simulator.training.replayer.ReplayResult` it tables (a structural type, so
    that results, and plots reading a History, never import the replay or JAX).
    ``diagnostics``, ``p0`` and ``f_star`` are read when present."""

    variant: str
    k: int
    num_learners: int
    batch_size: int
    rule: str
    seeds: np.ndarray  # (S,)
    eval_update: np.ndarray  # (E,)
    eval_time: np.ndarray  # (S, E)
    loss: np.ndarray  # (S, E)
    accuracy: np.ndarray | None  # (S, E)
    diverged_at: np.ndarray  # (S,)


__all__ = ["COLUMNS", "DIAGNOSTIC_COLUMNS", "History", "diagnostic_values"]

#: Columns of :meth:`History.to_frame`, in order.
COLUMNS = (
    "variant",
    "k",
    "learners",
    "batch_size",
    "rule",
    "seed",
    "update",
    "time",
    "loss",
    "error",
    "accuracy",
    "diverged",
    "diverged_at",
)
#: Optional float columns, present when a replay recorded diagnostics (see
#: ``ReplayResult.diagnostics``); ``hessian_top_max`` is the running maximum of
#: ``hessian_top`` (the smoothness L seen along the path); ``p0`` is per seed (Lemma 8's p0,
#: estimated) and comes last.
DIAGNOSTIC_COLUMNS = (
    "grad_norm2",
    "diversity",
    "staleness_gap",
    "gap_ratio",
    "gamma",
    "read_grad_ratio",
    "stale_dist2",
    "lr_applied",
    "fresh_share",
    "fresh_updates",
    "hessian_top",
    "hessian_top_max",
    "p0",
)
_CONFIG = ("k", "learners", "batch_size", "rule")
_DTYPES = {
    "variant": str,
    "k": np.int64,
    "learners": np.int64,
    "batch_size": np.int64,
    "rule": str,
    "seed": np.int64,
    "update": np.int64,
    "time": np.float64,
    "loss": np.float64,
    "error": np.float64,
    "accuracy": np.float64,
    "diverged": bool,
    "diverged_at": np.int64,
}
_SUFFIXES = (".parquet", ".csv")


def _frame_of(result: ReplayResult) -> pd.DataFrame:
    s, e = result.loss.shape
    acc = result.accuracy if result.accuracy is not None else np.full((s, e), np.nan)
    f_star = getattr(result, "f_star", None)
    error = result.loss - (np.nan if f_star is None else f_star)
    extra = diagnostic_values(result)
    return pd.DataFrame(
        {
            "variant": result.variant,
            "k": result.k,
            "learners": result.num_learners,
            "batch_size": result.batch_size,
            "rule": result.rule,
            "seed": np.repeat(result.seeds, e),
            "update": np.tile(result.eval_update, s),
            "time": result.eval_time.ravel(),
            "loss": result.loss.ravel(),
            "error": error.ravel(),
            "accuracy": acc.ravel(),
            "diverged": np.repeat(result.diverged_at >= 0, e),
            "diverged_at": np.repeat(result.diverged_at, e),
            **extra,
        }
    )


def diagnostic_values(result: ReplayResult) -> dict[str, np.ndarray]:
    """A replay's diagnostics as (S * E,) float columns, seed-major like its table rows.

    Returns:
        :data:`DIAGNOSTIC_COLUMNS` -> values (``p0`` repeated over each seed's evaluation
        points); empty for a replay without diagnostics.
    """
    diagnostics = getattr(result, "diagnostics", None) or {}
    out = {name: np.asarray(diagnostics[name], dtype=float).ravel() for name in diagnostics}
    if getattr(result, "p0", None) is not None:
        out["p0"] = np.repeat(np.asarray(result.p0, dtype=float), result.loss.shape[1])
    return out


def _typed(frame: pd.DataFrame, what: str = "`frame` must be a History table") -> pd.DataFrame:
    """The table's columns in order, with their types; ``what`` starts the messages."""
    param = what.split("`")[1]
    if not isinstance(frame, pd.DataFrame):
        raise PssimTypeError(f"{what}; got {type(frame).__name__}", param=param)
    missing = [c for c in COLUMNS if c not in frame.columns]
    if missing:
        raise PssimError(f"{what}; missing columns {', '.join(missing)}", param=param)
    extra = [c for c in DIAGNOSTIC_COLUMNS if c in frame.columns]
    frame = frame.loc[:, list(COLUMNS) + extra].reset_index(drop=True)
    types = {c: (object if t is str else t) for c, t in _DTYPES.items()}
    for column, kind in (types | dict.fromkeys(extra, np.float64)).items():
        try:
            frame[column] = frame[column].astype(kind)
        except (ValueError, TypeError, OverflowError):
            name = getattr(kind, "__name__", str(kind))
            raise PssimError(
                f"{what}; column {column} must hold {name} values", param=param
            ) from None
    return frame


class History:
    """Loss curves of one or more replays, as a tidy table.

    Args:
        *results: :class:`~simulator.training.replayer.ReplayResult` objects (any configurations).

    Example:
        >>> history = History(replay(traces, model, data, batch_size=1, rule=FixedRate(0.01)))
        ...  # doctest: +SKIP
        >>> history.mean_curve("k-async")["loss"]  # doctest: +SKIP
    """

    def __init__(self, *results: ReplayResult) -> None:
        for r in results:
            if not all(hasattr(r, a) for a in ("eval_update", "loss", "diverged_at", "seeds")):
                raise PssimTypeError(
                    f"`results` must be ReplayResult objects; got {type(r).__name__}",
                    param="results",
                )
        frames = [_frame_of(r) for r in results]
        empty = pd.DataFrame({c: pd.Series(dtype=object) for c in COLUMNS})
        self._frame = _typed(pd.concat(frames, ignore_index=True) if frames else empty)

    @classmethod
    def from_frame(cls, frame: pd.DataFrame) -> History:
        """A History over a table with the columns of :data:`COLUMNS`.

        Raises:
            PssimError: not a DataFrame, a missing column, or values of another type.
        """
        history = cls()
        history._frame = _typed(frame)
        return history

    def to_frame(self) -> pd.DataFrame:
        """A copy of the table: columns :data:`COLUMNS`, one row per seed and eval point.

        Replays that recorded diagnostics add the :data:`DIAGNOSTIC_COLUMNS` (NaN in rows
        of replays without them).

        ``error`` is ``loss - F*`` (NaN where F* is unknown); ``accuracy`` is NaN for models
        without one; ``diverged`` is per seed; ``time`` is in simulated time units.
        """
        return self._frame.copy()

    def __len__(self) -> int:
        return len(self._frame)

    def variants(self) -> list[str]:
        """The variants present, in order of appearance."""
        return list(dict.fromkeys(self._frame["variant"]))

    # ------------------------------------------------------------------ persistence
    def save(self, path: str | os.PathLike) -> Path:
        """Writes the table to ``.parquet`` or ``.csv`` (by suffix), atomically.

        The table goes to a temporary file beside ``path`` that is then renamed, so a
        failure never leaves a half-written file.

        Raises:
            PssimTypeError: ``path`` is not a path.
            PssimError: another suffix, or the file cannot be written (a missing or
                read-only folder, a full disk), naming ``path``.
        """
        path = as_path(path, "path")
        suffix = _suffix(path)
        remove_stale(path.parent)
        tmp = temp_path(path)
        try:
            if suffix == ".parquet":
                self._frame.to_parquet(tmp, index=False)
            else:
                self._frame.to_csv(tmp, index=False)
            os.replace(tmp, path)
        except OSError as err:
            reason = err.strerror or str(err) or type(err).__name__
            raise PssimError(
                f"`path` cannot be written: {shown_path(path)} ({reason})", param="path"
            ) from None
        finally:
            with contextlib.suppress(OSError):
                tmp.unlink(missing_ok=True)
        return path

    @classmethod
    def load(cls, path: str | os.PathLike) -> History:
        """Reads a table written by :meth:`save`.

        Raises:
            PssimTypeError: ``path`` is not a path.
            PssimError: another suffix; not an existing regular file of at most
                :data:`MAX_TABLE_BYTES`; or not a table that
                :meth:`save` wrote (unreadable, missing columns, values of another type).
        """
        path = check_regular_file(
            path, param="path", kind="results table", max_bytes=MAX_TABLE_BYTES
        )
        suffix = _suffix(path)
        what = "`path` must be a table written by History.save"
        try:
            if suffix == ".parquet":
                frame = pd.read_parquet(path)
            else:
                frame = pd.read_csv(path, keep_default_na=False, na_values=["", "NaN", "nan"])
        except pd.errors.EmptyDataError:
            raise PssimError(f"{what}; got an empty file", param="path") from None
        except (ValueError, OSError, TypeError) as err:
            reason = str(err).splitlines()[0][:120] if str(err) else type(err).__name__
            raise PssimError(f"{what}; got {type(err).__name__}: {reason}", param="path") from None
        history = cls()
        history._frame = _typed(frame, what)
        return history

    # ------------------------------------------------------------------ summaries
    def _select(self, variant: str, filters: dict[str, Any]) -> pd.DataFrame:
        known = ", ".join(self.variants()) or "none: the History is empty"
        if not isinstance(variant, str) or variant not in self.variants():
            raise PssimError(
                f"`variant` must be one of {known}; got {shown(variant)}", param="variant"
            )
        frame = self._frame[self._frame["variant"] == variant]
        for name, value in filters.items():
            if name not in _CONFIG:
                raise PssimError(
                    f"filter must be one of {', '.join(_CONFIG)}; got {shown(name)}", param=name
                )
            if value is not None and not isinstance(value, (str, numbers.Integral)):
                raise PssimTypeError(
                    f"`{name}` must be a value of the column {name} or None; got {shown(value)}",
                    param=name,
                )
            if value is not None:
                frame = frame[frame[name] == value]
        configs = frame.loc[:, list(_CONFIG)].drop_duplicates()
        if len(configs) != 1:
            found = (
                "; ".join(
                    ", ".join(f"{c}={v}" for c, v in row.items())
                    for row in configs.to_dict("records")
                )
                or "none"
            )
            raise PssimError(
                f"`variant` {variant!r} must select exactly one configuration (pass k, learners, "
                f"batch_size or rule); got {found}"
            )
        return frame

    def mean_curve(
        self,
        variant: str,
        *,
        k: int | None = None,
        learners: int | None = None,
        batch_size: int | None = None,
        rule: str | None = None,
    ) -> dict[str, np.ndarray]:
        """Seed-mean curve of one configuration.

        Returns:
            dict of (E,) arrays: ``update``; ``time`` (mean over all seeds, simulated time);
            ``loss``, ``error``, ``accuracy`` (means over the seeds that did not diverge, NaN
            where all did); and ``seeds``, the number of seeds averaged.
        """
        frame = self._select(
            variant, dict(k=k, learners=learners, batch_size=batch_size, rule=rule)
        )
        time = frame.groupby("update", sort=True)["time"].mean()
        ok = frame[~frame["diverged"]]
        means = ok.groupby("update", sort=True)[["loss", "error", "accuracy"]].mean()
        means = means.reindex(time.index)
        return {
            "update": time.index.to_numpy(dtype=np.int64),
            "time": time.to_numpy(dtype=np.float64),
            "loss": means["loss"].to_numpy(dtype=np.float64),
            "error": means["error"].to_numpy(dtype=np.float64),
            "accuracy": means["accuracy"].to_numpy(dtype=np.float64),
            "seeds": np.full(len(time), ok["seed"].nunique(), dtype=np.int64),
        }

    def final_loss(self, variant: str, **filters: Any) -> float:
        """Mean loss at the last evaluation point over seeds that did not diverge (NaN if none)."""
        return float(self.mean_curve(variant, **filters)["loss"][-1])

    def time_to_loss(self, variant: str, target: float, **filters: Any) -> float | None:
        """Simulated time at which the seed-mean loss curve first is <= ``target``.

        A quick look at one curve: its first touch, which a noisy curve can reach and
        leave. For a time each seed stays at the target, with an interval and the seeds
        that never get there, use :func:`~simulator.results.targets.time_to_target_table`
        on :meth:`to_frame`.

        Returns:
            The mean (over seeds) time of that evaluation point, or None if never reached.
        """
        if isinstance(target, bool) or not isinstance(target, numbers.Real):
            raise PssimTypeError(
                f"`target` must be a finite number; got {shown(target)}", param="target"
            )
        try:
            finite = math.isfinite(float(target))
        except OverflowError:  # an int beyond the float range
            finite = False
        if not finite:
            raise PssimError(
                f"`target` must be a finite number; got {shown(target)}", param="target"
            )
        curve = self.mean_curve(variant, **filters)
        hit = np.flatnonzero(curve["loss"] <= target)
        return float(curve["time"][hit[0]]) if hit.size else None

    def diverged_seeds(self, variant: str, **filters: Any) -> list[int]:
        """Seeds of the configuration that diverged, sorted."""
        frame = self._select(variant, filters)
        return sorted(int(s) for s in frame.loc[frame["diverged"], "seed"].unique())


def _suffix(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix not in _SUFFIXES:
        got = shown_path(path)
        raise PssimError(f"`path` must end in .parquet or .csv; got {got}", param="path")
    return suffix
