"""The sweep store: a folder with the sweep's spec, its results and the list of what it wrote.

``DIR/sweep.toml`` keeps the sweep's own spec; ``DIR/results.parquet/`` is a folder of
Parquet files, one per finished task, each holding every row of the configurations it ran
(all their seeds); ``DIR/manifest.jsonl`` lists every part file with its SHA-256 (see
:mod:`simulator.studies._sweep_manifest`). A part is written under a hidden temporary
name, listed, then renamed into place, so it is either whole and listed or absent: a sweep
killed at any instant (even ``kill -9``) leaves only whole files, and the rerun skips the
configurations they hold. A lock file keeps two sweeps from writing one folder at once.

The store reads only what it wrote: the parts listed in the manifest whose bytes still
match, each configuration once. Every run of the sweep (under the lock) moves anything else
in ``results.parquet/`` (a foreign file, a copied part, another sweep's part, a folder, a
truncated or altered part) to ``DIR/ignored/``, never deleting it, reports it in one line,
and reruns the configurations of a damaged part. After a run, ``results.parquet/`` holds
only verified parts, so ``pandas.read_parquet("DIR/results.parquet")`` (or dask, pyarrow)
reads the sweep's rows and nothing else; readers ignore hidden files (the temporary ones).
:meth:`SweepStore.frame` (``load_sweep``) verifies the parts every time it reads, and
moves nothing. A store written before the manifest existed is adopted: each part is checked
(the sweep's schema, only its configurations, each with all its seeds once) and listed.

A full disk or a folder that stops taking files ends the sweep in one line
(:class:`~simulator.studies._sweep_faults.SweepFault`) naming the folder; every task
stored before it is kept, and rerunning the sweep resumes it.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import itertools
import os
import uuid
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import pandas as pd

from simulator._files import shown_path
from simulator.errors import PssimError, SpecError, shown
from simulator.studies._sweep_durations import moved_durations
from simulator.studies._sweep_faults import SweepFault
from simulator.studies._sweep_manifest import (
    MANIFEST_NAME,
    METADATA_KEY,
    REASONS,
    Entry,
    Expected,
    part_name,
    scan,
)
from simulator.studies._sweep_spec import SweepSpec, read_sweep_file

__all__ = ["IGNORED_NAME", "MANIFEST_NAME", "RESULTS_NAME", "SPEC_NAME", "SweepStore"]

#: The results dataset inside a sweep folder.
RESULTS_NAME = "results.parquet"
#: The sweep's own spec inside a sweep folder.
SPEC_NAME = "sweep.toml"
#: Where files found in the results folder that the sweep did not write are moved.
IGNORED_NAME = "ignored"
_LOCK_NAME = ".lock"
#: Names listed in a one-line report; the rest are counted.
_SHOWN = 5
#: Errors that more room, not more rights, would fix.
_FULL = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG}


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

    Attributes:
        ignored: ``(file name, reason)`` of what the last :meth:`open` moved out of the
            results folder, or what the last :meth:`read` left unread.
    """

    def __init__(self, root: str | os.PathLike) -> None:
        if not isinstance(root, (str, os.PathLike)) or not str(root).strip():
            raise SpecError(f"`out` must name a folder; got {shown(root)}", param="out")
        self.root = Path(root)
        self.results = self.root / RESULTS_NAME
        self.spec_path = self.root / SPEC_NAME
        self.manifest = self.root / MANIFEST_NAME
        self.ignored_dir = self.root / IGNORED_NAME
        self.ignored: list[tuple[str, str]] = []
        self._moved = False
        self._moved_durations = False  # the stored sweep names durations files since moved
        self._expected: Expected | None = None
        self._done: set[str] = set()

    # -- claiming the folder -------------------------------------------------------------
    @contextlib.contextmanager
    def open(self, sweep: SweepSpec) -> Iterator[SweepStore]:
        """Claim the folder for ``sweep``: create it, refuse one that holds another sweep or
        that another process is writing, move aside what the sweep did not write, and keep
        it locked until the block ends.

        Raises:
            SpecError: the folder is unusable, holds another sweep or is locked.
            SweepFault: the folder stopped taking files (disk full...).
        """
        try:
            self.results.mkdir(parents=True, exist_ok=True)
            lock = open(self.root / _LOCK_NAME, "a")
        except OSError as err:
            raise SpecError(
                f"`out` must be a folder pssim can write; got {shown_path(self.root)} "
                f"({err.strerror or type(err).__name__})",
                param="out",
            ) from None
        with lock:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise SpecError(
                    f"`out` {shown_path(self.root)} is being written by another pssim sweep "
                    "process; wait for it or choose another folder",
                    param="out",
                ) from None
            self._expected = Expected(sweep)
            try:
                self._claim(sweep)
                self._remove_partial()
                self._reconcile()
                yield self
            finally:
                self._expected = None

    def check(self, sweep: SweepSpec) -> None:
        """Refuse a folder that holds another sweep, or results without a spec (reads
        only; :meth:`open` checks again under the lock)."""
        if self.spec_path.exists():
            stored = self._stored_spec(sweep)
            if stored != sweep:
                raise SpecError(
                    f"`out` {shown_path(self.root)} holds another sweep (spec {stored.digest()}, "
                    f"this one {sweep.digest()}); rerun its own {SPEC_NAME} there, or choose "
                    "another folder",
                    param="out",
                )
        elif self.root.exists() and (not self.root.is_dir() or any(self._foreign())):
            raise SpecError(
                f"`out` must be a new or empty folder, or a sweep's folder (with {SPEC_NAME}); "
                f"got {shown_path(self.root)}",
                param="out",
            )

    def _stored_spec(self, sweep: SweepSpec | None = None) -> SweepSpec:
        try:
            return read_sweep_file(self.spec_path)
        except PssimError as err:
            if sweep is not None and err.param == "durations":  # moved since: same sweep?
                if moved_durations(self.spec_path, sweep):
                    self._moved_durations = True
                    return sweep
            raise SpecError(
                f"`out` {shown_path(self.root)} holds an unreadable {SPEC_NAME} ({err}); "
                "choose another folder",
                param="out",
            ) from None

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
        self._moved_durations = False
        self.check(sweep)
        if not self.spec_path.exists() or self._moved_durations:  # where the files are now
            try:
                _write_atomic(
                    self.spec_path,
                    lambda tmp: tmp.write_text(sweep.to_toml(), encoding="utf-8"),
                )
            except OSError as err:
                raise self._fault(err) from err

    def _remove_partial(self) -> None:
        """Temporary files of a killed run (never read: hidden names)."""
        leftovers = [*self.results.glob(".*.tmp")]
        for stem in (Path(SPEC_NAME).stem, Path(MANIFEST_NAME).stem):
            leftovers += self.root.glob(f".{stem}-*.tmp")
        for path in leftovers:
            with contextlib.suppress(OSError):
                path.unlink()

    def _reconcile(self) -> None:
        """Keep the verified parts, list them, and move everything else aside."""
        assert self._expected is not None
        found = scan(self.results, self.manifest, self._expected, load=False)
        try:
            if found.rewrite:
                lines = "".join(entry.line() for entry, _ in found.kept)
                _write_atomic(self.manifest, lambda tmp: tmp.write_text(lines, encoding="utf-8"))
            for name, _ in found.ignored:
                self._move_aside(name)
        except OSError as err:
            raise self._fault(err) from err
        self.ignored, self._moved = found.ignored, True
        self._done = found.configs

    def _move_aside(self, name: str) -> None:
        """Move ``results/name`` into the ignored folder, under a free name."""
        self.ignored_dir.mkdir(exist_ok=True)
        stem, dot, suffix = name.partition(".")
        for n in itertools.count(1):
            target = self.ignored_dir / (name if n == 1 else f"{stem}-{n}{dot}{suffix}")
            if not os.path.lexists(target):  # a rename would replace a file there
                os.rename(self.results / name, target)
                return

    def note(self) -> str | None:
        """One line on what :attr:`ignored` holds (None when nothing was ignored)."""
        if not self.ignored:
            return None
        shown = [f"{name} ({REASONS[reason]})" for name, reason in self.ignored[:_SHOWN]]
        if len(self.ignored) > _SHOWN:
            shown.append(f"and {len(self.ignored) - _SHOWN} more")
        files = "file" if len(self.ignored) == 1 else "files"
        where = f"{len(self.ignored)} {files} in {self.results}"
        moved = f", moved to {self.ignored_dir}" if self._moved else ""
        return f"ignored {where}{moved}: {', '.join(shown)}"

    # -- reading -------------------------------------------------------------------------
    def finished_configs(self) -> set[str]:
        """Digests of the configurations whose rows are in the store (verified parts)."""
        if self._expected is not None:
            return set(self._done)
        return scan(self.results, self.manifest, self._sweep(), load=False).configs

    def frame(self, sweep: SweepSpec | None = None) -> pd.DataFrame:
        """Every stored row as one DataFrame, sorted by configuration, seed and, for
        training, update: the verified parts only (see :meth:`read`)."""
        return self.read(sweep)

    def read(self, sweep: SweepSpec | None = None) -> pd.DataFrame:
        """The rows of the parts this sweep wrote, each configuration once; what else the
        results folder holds is left in place and listed in :attr:`ignored`.

        Args:
            sweep: the sweep (default: the folder's ``sweep.toml``).
        """
        pa, _ = _parquet()
        expected = Expected(sweep) if sweep is not None else self._sweep()
        found = scan(self.results, self.manifest, expected, load=True)
        self.ignored, self._moved = found.ignored, False
        tables = [table for _, table in found.kept]
        if not tables:
            return pd.DataFrame()
        frame = pa.concat_tables(tables, promote_options="none").to_pandas()
        keys = [c for c in ("config", "seed", "update") if c in frame]
        return frame.sort_values(keys, kind="stable").reset_index(drop=True)

    def _sweep(self) -> Expected:
        if self._expected is not None:
            return self._expected
        return Expected(self._stored_spec())

    # -- writing -------------------------------------------------------------------------
    def progress(self) -> str:
        """``"2 of 4 configurations are stored"`` (while the store is open)."""
        total = len(self._expected.seeds) if self._expected is not None else 0
        return f"{len(self._done)} of {total} configurations are stored"

    def accepts(self, table) -> bool:
        """Whether ``table`` has the columns of the sweep's rows (a worker with another
        pssim version returns others)."""
        assert self._expected is not None
        return table.schema.remove_metadata().equals(self._expected.schema)

    def write_part(self, configs: Sequence[str], table) -> Path:
        """Write one task's rows (a pyarrow Table) as its own file: written under a hidden
        name, listed in the manifest, renamed into place (only inside :meth:`open`).

        Raises:
            SweepFault: the folder stopped taking files; the stored parts are kept.
        """
        _, pq = _parquet()
        expected = self._expected
        if expected is None:
            raise RuntimeError("write_part needs the store opened by SweepStore.open")
        name = part_name(configs)
        path = self.results / name
        metadata = {**(table.schema.metadata or {}), METADATA_KEY: expected.digest.encode()}
        table = table.replace_schema_metadata(metadata)
        tmp = _temp_path(path)
        try:
            pq.write_table(table, tmp)
            _fsync(tmp)
            data = tmp.read_bytes()
            self._append(
                Entry.of(data, part=name, rows=table.num_rows, configs=configs, expected=expected)
            )
            os.replace(tmp, path)
            _fsync(self.results)
        except OSError as err:
            raise self._fault(err) from err
        finally:
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
        self._done.update(configs)
        return path

    def _append(self, entry: Entry) -> None:
        """Append ``entry`` to the manifest and flush it to the disk."""
        data = entry.line().encode()
        fd = os.open(self.manifest, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o666)
        try:
            while data:
                data = data[os.write(fd, data) :]
            os.fsync(fd)
        finally:
            os.close(fd)

    def _fault(self, err: OSError) -> SweepFault:
        """One line for a write that failed: where, why, what is kept and what to do."""
        cause = os.strerror(err.errno) if err.errno else f"{type(err).__name__}: {err}"
        fix = "free space there" if err.errno in _FULL else "make it writable"
        return SweepFault(
            f"cannot write the sweep's results in {self.results}: {cause}; "
            f"{self.progress()}: {fix} and rerun the same sweep to resume",
            errno=err.errno,
        )


def _temp_path(path: Path) -> Path:
    """A hidden temporary name beside ``path`` (readers skip it; a rerun removes it)."""
    return path.with_name(f".{path.stem}-{uuid.uuid4().hex[:8]}.tmp")


def _write_atomic(path: Path, write: Callable[[Path], None]) -> None:
    """``write`` a hidden temporary file beside ``path``, fsync it, rename it to ``path``."""
    tmp = _temp_path(path)
    try:
        write(tmp)
        _fsync(tmp)
        os.replace(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


def _fsync(path: Path) -> None:
    """Flush a file, or a folder's entries, to the disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
