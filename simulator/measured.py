"""Measured compute durations of a real cluster: a tidy table of (worker, step, duration).

A file (CSV, optionally gzipped, or Parquet) has one row per computation: columns
``worker`` (any integers or strings, such as host names), ``step`` (integers, increasing
within a worker, not necessarily contiguous: logs often sample steps), ``duration``
(finite, > 0, in the time unit of the simulation, e.g. seconds) and optionally
``censored`` (true where the computation was cut off, e.g. a straggler that a K-sync round
cancelled: its true duration is at least the recorded one). Other columns are ignored.

Workers are taken in sorted order of their ids (numbers numerically, otherwise as
strings), and each worker's rows in increasing step order. The file is identified by the
SHA-256 of its bytes, so a spec or a sweep that uses it stays valid when the file moves.

pssim ships one measured cluster (64 GPUs of an LLM training job, 43 sampled steps; see
``simulator/data/README.md`` and its Apache-2.0 licence beside it): the name ``llm-se``
stands for it wherever a durations file is taken.

Example:
    >>> measured = read_durations("cluster.csv")  # doctest: +SKIP
    >>> measured.num_workers, measured.durations[0][:3]  # doctest: +SKIP
    (64, array([3.623037, 3.687448, 4.080575]))
"""

from __future__ import annotations

import dataclasses
import gzip
import hashlib
import io
import os
from pathlib import Path

import numpy as np
import pandas as pd

from simulator._files import read_bytes_file
from simulator._parquet_bytes import read_parquet_bytes
from simulator.errors import PssimError, shown

__all__ = [
    "MAX_DURATIONS_BYTES",
    "SHIPPED",
    "MeasuredDurations",
    "durations_path",
    "read_durations",
]

#: Largest durations file read: 256 MiB (about 10 million CSV rows).
MAX_DURATIONS_BYTES = 256 << 20
#: Columns every durations file must have.
REQUIRED = ("worker", "step", "duration")
#: Measured clusters shipped with pssim: name -> file in ``simulator/data``.
SHIPPED = {"llm-se": "llm-SE-compute.csv"}
_PARQUET_MAGIC = b"PAR1"
_GZIP_MAGIC = b"\x1f\x8b"
_TRUE = {"true", "1", "yes", "t", "y"}
_FALSE = {"false", "0", "no", "f", "n", ""}


@dataclasses.dataclass(frozen=True, eq=False)
class MeasuredDurations:
    """Per-worker measured durations, workers sorted by id, each worker's rows by step.

    Attributes:
        workers: (W,) the worker ids in sorted order.
        steps: W arrays of int64 step ids, increasing.
        durations: W arrays of float64 durations (> 0), aligned with ``steps``.
        censored: W bool arrays, True where the computation was cut off.
        source: the file's name, for messages and outputs.
        sha256: hex SHA-256 of the file's bytes (its identity).
    """

    workers: tuple
    steps: tuple[np.ndarray, ...]
    durations: tuple[np.ndarray, ...]
    censored: tuple[np.ndarray, ...]
    source: str
    sha256: str

    @property
    def num_workers(self) -> int:
        """Number of workers W."""
        return len(self.workers)

    @property
    def num_rows(self) -> int:
        """Number of measured computations."""
        return sum(len(d) for d in self.durations)

    @property
    def any_censored(self) -> bool:
        """Whether any computation was cut off."""
        return any(c.any() for c in self.censored)

    def frame(self) -> pd.DataFrame:
        """The table as a DataFrame: worker, step, duration, censored (sorted)."""
        return pd.DataFrame(
            {
                "worker": np.repeat(np.array(self.workers, dtype=object), self._lengths()),
                "step": np.concatenate(self.steps),
                "duration": np.concatenate(self.durations),
                "censored": np.concatenate(self.censored),
            }
        )

    def _lengths(self) -> list[int]:
        return [len(d) for d in self.durations]

    def __eq__(self, other: object) -> bool:
        return isinstance(other, MeasuredDurations) and other.sha256 == self.sha256

    def __hash__(self) -> int:
        return hash(self.sha256)


def durations_path(value: str | os.PathLike) -> Path:
    """The file a durations value names: a shipped cluster's name (``llm-se``, any case)
    or a path, as given.

    Example:
        >>> durations_path("llm-se").name
        'llm-SE-compute.csv'
    """
    if isinstance(value, str) and value.strip().lower() in SHIPPED:
        return Path(__file__).with_name("data") / SHIPPED[value.strip().lower()]
    return Path(value)


def _gunzip(data: bytes, param: str, source: str) -> bytes:
    """A gzipped file's bytes, inflated up to :data:`MAX_DURATIONS_BYTES` (a larger or
    damaged one is refused)."""
    try:
        with gzip.GzipFile(fileobj=io.BytesIO(data)) as file:
            out = file.read(MAX_DURATIONS_BYTES + 1)
    except (OSError, EOFError):
        raise _refuse(param, source, "must be a readable gzip file") from None
    if len(out) > MAX_DURATIONS_BYTES:
        raise _refuse(param, source, f"must inflate to at most {MAX_DURATIONS_BYTES >> 20} MiB")
    return out


def _refuse(param: str, source: str, rule: str) -> PssimError:
    return PssimError(f"`{param}` file {source!r} {rule}", param=param)


def _table(data: bytes, param: str, source: str) -> pd.DataFrame:
    """The file's rows as a DataFrame of strings or numbers (CSV or Parquet by content)."""
    try:
        if data[:4] == _PARQUET_MAGIC:
            return read_parquet_bytes(data).to_pandas()
        text = io.BytesIO(data)
        return pd.read_csv(text, skipinitialspace=True, dtype=str, keep_default_na=False)
    except pd.errors.EmptyDataError:
        raise _refuse(param, source, "must hold a header and rows; got an empty file") from None
    except (ValueError, OSError, UnicodeDecodeError, pd.errors.ParserError) as err:
        text = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise _refuse(param, source, f"must be a CSV or Parquet table ({shown(text)})") from None
    except Exception as err:  # pyarrow's own errors on a damaged Parquet file
        if type(err).__module__.startswith("pyarrow"):
            raise _refuse(param, source, "must be a readable Parquet file") from None
        raise


def _row(frame: pd.DataFrame, mask: np.ndarray, is_csv: bool) -> str:
    """'row N' of the first True in ``mask`` (the file's line for a CSV: header is line 1)."""
    index = int(np.flatnonzero(mask)[0])
    return f"line {index + 2}" if is_csv else f"row {index + 1}"


def _worker_ids(column: pd.Series) -> np.ndarray:
    """Worker ids: integers when every id is written as a 64-bit integer, else the strings
    as written (``"1.0"`` and ``"1"`` are then two workers, as a log spells them)."""
    text = column.astype(str).str.strip()
    if text.str.fullmatch(r"[+-]?[0-9]{1,18}").all():
        return text.astype(np.int64).to_numpy()
    return text.to_numpy(dtype=object)


def _censored(column: pd.Series, param, source, frame, is_csv) -> np.ndarray:
    if column.dtype == bool:
        return column.to_numpy()
    text = column.astype(str).str.strip().str.lower().replace({"nan": "", "none": ""})
    bad = ~text.isin(_TRUE | _FALSE)
    if bad.any():
        where = _row(frame, bad.to_numpy(), is_csv)
        value = str(column[bad].iloc[0])
        raise _refuse(
            param, source, f"column `censored` must be true or false; {where} has {shown(value)}"
        )
    return text.isin(_TRUE).to_numpy()


def read_durations(path: str | os.PathLike, *, param: str = "durations") -> MeasuredDurations:
    """Read and check a measured-durations file.

    Args:
        path: a CSV (with a header) or Parquet file with columns ``worker``, ``step``,
            ``duration`` and optionally ``censored``; a regular file of at most
            :data:`MAX_DURATIONS_BYTES`; or the name of a shipped cluster (``llm-se``).
        param: the argument named in messages (the CLI shows its option instead).

    Returns:
        The durations, per worker, with the file's SHA-256.

    Raises:
        PssimError: one line naming the file and, where one is to blame, its row: a
            missing column, a missing, non-finite or non-positive duration, a step that is
            not an integer or repeats within a worker, fewer than two workers, a worker
            with a single step, an empty file.
    """
    if isinstance(path, str):
        path = durations_path(path)
    data = read_bytes_file(
        path, param=param, kind="durations file (CSV or Parquet)", max_bytes=MAX_DURATIONS_BYTES
    )
    source = Path(path).name
    if data[:2] == _GZIP_MAGIC:
        data = _gunzip(data, param, source)
    if Path(path).suffix.lower() == ".parquet" and data[:4] != _PARQUET_MAGIC:
        raise _refuse(param, source, "must be a Parquet file (it ends in .parquet); it is not one")
    is_csv = data[:4] != _PARQUET_MAGIC
    frame = _table(data, param, source)
    frame.columns = [str(c).strip().lower() for c in frame.columns]
    missing = [c for c in REQUIRED if c not in frame.columns]
    if missing:
        have = ", ".join(map(str, frame.columns[:8])) or "none"
        raise _refuse(
            param,
            source,
            f"must have columns worker, step, duration; missing "
            f"{', '.join(missing)} (columns: {shown(have)})",
        )
    if frame.empty:
        raise _refuse(param, source, "must hold at least one row; got only a header")
    frame = frame.reset_index(drop=True)
    blank = frame["worker"].isna() | (frame["worker"].astype(str).str.strip() == "")
    if blank.any():
        raise _refuse(
            param,
            source,
            f"column `worker` must be given; {_row(frame, blank.to_numpy(), is_csv)} has none",
        )
    workers = _worker_ids(frame["worker"])
    steps = pd.to_numeric(frame["step"], errors="coerce")
    bad = steps.isna() | (steps != np.round(steps)) | (steps.abs() > 2**62)
    if bad.any():
        where = _row(frame, bad.to_numpy(), is_csv)
        value = str(frame["step"][bad].iloc[0])
        raise _refuse(param, source, f"column `step` must be integers; {where} has {shown(value)}")
    durations = pd.to_numeric(frame["duration"], errors="coerce").to_numpy(dtype=np.float64)
    bad = ~np.isfinite(durations) | (durations <= 0)
    if bad.any():
        where = _row(frame, bad, is_csv)
        value = str(frame["duration"][bad].iloc[0])
        raise _refuse(
            param,
            source,
            f"column `duration` must be finite numbers > 0; {where} has {shown(value)}",
        )
    censored = (
        _censored(frame["censored"], param, source, frame, is_csv)
        if "censored" in frame.columns
        else np.zeros(len(frame), dtype=bool)
    )
    table = pd.DataFrame(
        {
            "worker": workers,
            "step": steps.astype(np.int64),
            "duration": durations,
            "censored": censored,
        }
    )
    dup = table.duplicated(["worker", "step"]).to_numpy()
    if dup.any():
        where = _row(frame, dup, is_csv)
        raise _refuse(param, source, f"must have one row per worker and step; {where} repeats one")
    table = table.sort_values(["worker", "step"], kind="stable")
    groups = list(table.groupby("worker", sort=True))
    if len(groups) < 2:
        raise _refuse(param, source, f"must hold at least 2 workers; got {len(groups)}")
    for worker, rows in groups:
        if len(rows) < 2:
            raise _refuse(
                param,
                source,
                f"must hold at least 2 steps of every worker; worker {shown(worker)} has 1",
            )
    return MeasuredDurations(
        workers=tuple(w.item() if isinstance(w, np.generic) else w for w, _ in groups),
        steps=tuple(rows["step"].to_numpy() for _, rows in groups),
        durations=tuple(rows["duration"].to_numpy() for _, rows in groups),
        censored=tuple(rows["censored"].to_numpy(dtype=bool) for _, rows in groups),
        source=source,
        sha256=hashlib.sha256(data).hexdigest(),
    )
