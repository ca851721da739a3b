"""The sweep store: a folder with the sweep's spec and a Parquet dataset of its results.

``DIR/sweep.toml`` keeps the sweep's own spec; ``DIR/results.parquet/`` is a folder of
Parquet files, one per finished task, each holding every row of the configurations it ran
(all their seeds). A file is written under a hidden temporary name and renamed into place,
so it is either whole or absent: a sweep killed at any instant (even ``kill -9``) leaves
only whole files, and the rerun skips the configurations they hold. Readers
(``pandas.read_parquet``, ``dask.dataframe.read_parquet``, pyarrow) ignore hidden files.
A lock file keeps two sweeps from writing one folder at once.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import uuid
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import pandas as pd

from simulator.errors import PssimError, SpecError
from simulator.studies._sweep_spec import SweepSpec, read_sweep_file

__all__ = ["RESULTS_NAME", "SPEC_NAME", "SweepStore"]

#: The results dataset inside a sweep folder.
RESULTS_NAME = "results.parquet"
#: The sweep's own spec inside a sweep folder.
SPEC_NAME = "sweep.toml"
_LOCK_NAME = ".lock"


def _parquet():
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:  # pragma: no cover - pyarrow is a dependency
        raise PssimError("sweeps need pyarrow: pip install pyarrow") from None
    return pa, pq


class SweepStore:
    """The folder of one sweep: its spec, its finished results and its lock.

    Args:
        root: the sweep folder (``--out DIR``); created if missing.
    """

    def __init__(self, root: str | os.PathLike) -> None:
        if not isinstance(root, (str, os.PathLike)) or not str(root).strip():
            raise SpecError(f"`out` must name a folder; got {root!r}", param="out")
        self.root = Path(root)
        self.results = self.root / RESULTS_NAME
        self.spec_path = self.root / SPEC_NAME

    # -- claiming the folder -------------------------------------------------------------
    @contextlib.contextmanager
    def open(self, sweep: SweepSpec) -> Iterator[SweepStore]:
        """Claim the folder for ``sweep``: create it, refuse one that holds another sweep or
        that another process is writing, and keep it locked until the block ends."""
        try:
            self.results.mkdir(parents=True, exist_ok=True)
            lock = open(self.root / _LOCK_NAME, "a")
        except OSError as err:
            raise SpecError(
                f"`out` must be a folder pssim can write; got {str(self.root)!r} "
                f"({err.strerror or type(err).__name__})",
                param="out",
            ) from None
        with lock:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise SpecError(
                    f"`out` {str(self.root)!r} is being written by another pssim sweep "
                    "process; wait for it or choose another folder",
                    param="out",
                ) from None
            self._claim(sweep)
            self._remove_partial()
            yield self

    def check(self, sweep: SweepSpec) -> None:
        """Refuse a folder that holds another sweep, or results without a spec (reads
        only; :meth:`open` checks again under the lock)."""
        if self.spec_path.exists():
            try:
                stored = read_sweep_file(self.spec_path)
            except PssimError as err:
                raise SpecError(
                    f"`out` {str(self.root)!r} holds an unreadable {SPEC_NAME} ({err}); "
                    "choose another folder",
                    param="out",
                ) from None
            if stored != sweep:
                raise SpecError(
                    f"`out` {str(self.root)!r} holds another sweep (spec {stored.digest()}, "
                    f"this one {sweep.digest()}); rerun its own {SPEC_NAME} there, or choose "
                    "another folder",
                    param="out",
                )
        elif self.root.exists() and (not self.root.is_dir() or any(self._foreign())):
            raise SpecError(
                f"`out` must be a new or empty folder, or a sweep's folder (with {SPEC_NAME}); "
                f"got {str(self.root)!r}",
                param="out",
            )

    def _foreign(self) -> Iterator[Path]:
        """What a folder holds besides an unfinished sweep's own files (its lock, an empty
        results folder)."""
        for path in self.root.iterdir():
            if path.name == _LOCK_NAME:
                continue
            if path == self.results and path.is_dir() and not any(path.iterdir()):
                continue
            yield path

    def _claim(self, sweep: SweepSpec) -> None:
        self.check(sweep)
        if not self.spec_path.exists():
            _write_atomic(
                self.spec_path, lambda tmp: tmp.write_text(sweep.to_toml(), encoding="utf-8")
            )

    def _remove_partial(self) -> None:
        """Temporary files of a killed run (never read: hidden names)."""
        for path in self.results.glob(".*.tmp"):
            with contextlib.suppress(OSError):
                path.unlink()

    # -- reading -------------------------------------------------------------------------
    def part_files(self) -> list[Path]:
        """The finished task files, sorted by name."""
        return sorted(self.results.glob("part-*.parquet"))

    def finished_configs(self) -> set[str]:
        """Digests of the configurations whose rows are in the store."""
        _, pq = _parquet()
        done: set[str] = set()
        for path in self.part_files():
            column = pq.read_table(path, columns=["config"]).column("config")
            done.update(column.unique().to_pylist())
        return done

    def frame(self) -> pd.DataFrame:
        """Every stored row as one DataFrame (what ``pandas.read_parquet`` of the dataset
        gives), sorted by configuration, seed and, for training, update."""
        if not self.part_files():
            return pd.DataFrame()
        frame = pd.read_parquet(self.results)
        keys = [c for c in ("config", "seed", "update") if c in frame]
        return frame.sort_values(keys, kind="stable").reset_index(drop=True)

    # -- writing -------------------------------------------------------------------------
    def write_part(self, configs: Sequence[str], table) -> Path:
        """Write one task's rows (a pyarrow Table) atomically as its own file."""
        _, pq = _parquet()
        name = hashlib.sha256(",".join(sorted(configs)).encode()).hexdigest()[:16]
        path = self.results / f"part-{name}.parquet"
        _write_atomic(path, lambda tmp: pq.write_table(table, tmp))
        return path


def _write_atomic(path: Path, write: Callable[[Path], None]) -> None:
    """``write`` a hidden temporary file beside ``path``, fsync it, rename it to ``path``."""
    tmp = path.with_name(f".{path.stem}-{uuid.uuid4().hex[:8]}.tmp")
    try:
        write(tmp)
        _fsync(tmp)
        os.replace(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
