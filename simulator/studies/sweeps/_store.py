"""The sweep store: a folder with the sweep's spec, its results and the list of what it wrote.

``DIR/sweep.toml`` keeps the spec of the last sweep run there; ``DIR/results.parquet/`` is a
folder of Parquet files, one per finished task, each holding some replicates (the same for
each) of the configurations it ran; ``DIR/manifest.jsonl`` lists every part file with its
SHA-256 (see :mod:`simulator.studies.sweeps._manifest`); ``DIR/store.json`` keeps the store's
identity (the digest of the sweep that created it), which every part and manifest line
carries. The store's unit is a configuration's replicate seed, keyed by the configuration's
key (its spec without the seed count): a sweep runs only the units it asks for that the
store does not hold, so a sweep grows (more seeds, more grid values) or shrinks in its own
folder, and another sweep of the same kind that shares a configuration with it may run
there too (:mod:`simulator.studies.sweeps._claim`); ``sweep.toml`` then becomes the new
sweep's, and every stored row is kept: :meth:`SweepStore.read` of a sweep reads the units it
asks for, ``pandas.read_parquet("DIR/results.parquet")`` every stored row.

A part is written under a hidden temporary name, listed, then renamed into place, so it is
either whole and listed or absent: a sweep killed at any instant (even ``kill -9``) leaves
only whole files, and the rerun skips the units they hold. A lock file keeps two sweeps
from writing one folder at once.

The store reads only what it wrote: the parts listed in the manifest whose bytes still
match, each unit once. Every run of a sweep (under the lock) moves anything else in
``results.parquet/`` (a foreign file, a copied part, another store's part, a folder, a
truncated or altered part) to ``DIR/ignored/``, never deleting it, reports it in one line,
and reruns the units of a damaged part. After a run, ``results.parquet/`` holds only
verified parts, so ``pandas.read_parquet("DIR/results.parquet")`` (or dask, pyarrow) reads
the store's rows and nothing else; readers ignore hidden files (the temporary ones).
:meth:`SweepStore.frame` (``load_sweep``) verifies the parts every time it reads, and
moves nothing. A store of an earlier pssim version is adopted without running anything
again (:mod:`simulator.studies.sweeps._adopt`).

A full disk or a folder that stops taking files ends the sweep in one line
(:class:`~simulator.studies.sweeps._faults.SweepFault`) naming the folder; every task
stored before it is kept, and rerunning the sweep resumes it.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import itertools
import os
from collections.abc import Iterator, Sequence
from pathlib import Path

import pandas as pd

from simulator._files import shown_path
from simulator.errors import PssimError, SpecError, shown
from simulator.studies.sweeps._adopt import rewrite_legacy
from simulator.studies.sweeps._claim import claim, stored_sweep
from simulator.studies.sweeps._faults import SweepFault
from simulator.studies.sweeps._files import (
    STORE_NAME,
    append_line,
    fsync,
    parquet,
    read_store_id,
    temp_path,
    write_atomic,
    write_store_id,
)
from simulator.studies.sweeps._manifest import (
    LEGACY_METADATA_KEY,
    MANIFEST_NAME,
    METADATA_KEY,
    REASONS,
    Entry,
    Expected,
    part_name,
    read_manifest,
)
from simulator.studies.sweeps._scan import scan
from simulator.studies.sweeps._spec import SweepSpec
from simulator.studies.sweeps._units import stored_count

__all__ = ["IGNORED_NAME", "MANIFEST_NAME", "RESULTS_NAME", "SPEC_NAME", "STORE_NAME", "SweepStore"]

#: The results dataset inside a sweep folder.
RESULTS_NAME = "results.parquet"
#: The spec of the last sweep run in a sweep folder.
SPEC_NAME = "sweep.toml"
#: Where files found in the results folder that the sweep did not write are moved.
IGNORED_NAME = "ignored"
_LOCK_NAME = ".lock"
#: Names listed in a one-line report; the rest are counted.
_SHOWN = 5
#: Errors that more room, not more rights, would fix.
_FULL = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG}


class SweepStore:
    """The folder of a sweep: its spec, its finished results and its lock.

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
        self._expected: Expected | None = None
        self._sweep_open: SweepSpec | None = None
        self._finished: dict[str, set[int]] = {}

    # -- claiming the folder -------------------------------------------------------------
    @contextlib.contextmanager
    def open(self, sweep: SweepSpec) -> Iterator[SweepStore]:
        """Claim the folder for ``sweep``: create it, refuse one that holds a sweep it does
        not accept (:meth:`check`) or that another process is writing, move aside what
        the store did not write, adopt the parts of an earlier pssim version, make
        ``sweep.toml`` the sweep's, and keep the folder locked until the block ends. A
        folder created here is removed if the block fails before anything is stored.

        Raises:
            SpecError: the folder is unusable, holds another sweep or is locked.
            SweepFault: the folder stopped taking files (disk full...).
        """
        created = not os.path.lexists(self.root)
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
            try:
                self._claim(sweep)
                yield self
            except BaseException:
                if created:  # a folder this call made and stored nothing in is not left
                    self._remove_if_unused()
                raise
            finally:
                self._expected = self._sweep_open = None

    def check(self, sweep: SweepSpec) -> None:
        """Refuse a folder that holds a sweep that ``sweep`` may not join (another kind,
        or no configuration in common), or results without a spec (reads only;
        :meth:`open` checks again under the lock)."""
        claim(self.root, self.spec_path, self.results, self.manifest, sweep)

    def _claim(self, sweep: SweepSpec) -> None:
        """Under the lock: the store's identity first, then the parts (adopted under the
        spec that wrote them), then ``sweep.toml``."""
        found = claim(self.root, self.spec_path, self.results, self.manifest, sweep)
        try:
            identity = read_store_id(self.root)
            if identity is None:
                identity = (found.stored or sweep).digest()
                write_store_id(self.root, identity)
            earlier = [found.stored] if found.stored is not None else []
            self._expected = Expected(sweep, store=identity, earlier=earlier)
            self._sweep_open = sweep
            self._remove_partial()
            self._reconcile()
            if found.write:
                write_atomic(
                    self.spec_path,
                    lambda tmp: tmp.write_text(sweep.to_toml(), encoding="utf-8"),
                )
        except OSError as err:
            raise self._fault(err) from err

    def _remove_partial(self) -> None:
        """Temporary files of a killed run (never read: hidden names)."""
        leftovers = [*self.results.glob(".*.tmp")]
        for name in (SPEC_NAME, MANIFEST_NAME, STORE_NAME):
            leftovers += self.root.glob(f".{Path(name).stem}-*.tmp")
        for path in leftovers:
            with contextlib.suppress(OSError):
                path.unlink()

    def _reconcile(self) -> None:
        """Keep the verified parts, list them, rewrite those of an earlier version, and
        move everything else aside."""
        assert self._expected is not None
        found = scan(self.results, self.manifest, self._expected, load=False)
        if found.legacy:
            rewrite_legacy(self.results, self.manifest, found, self._write_temp)
        elif found.rewrite:
            lines = "".join(entry.line() for entry, _ in found.kept)
            write_atomic(self.manifest, lambda tmp: tmp.write_text(lines, encoding="utf-8"))
        for name, _ in found.ignored:
            self._move_aside(name)
        self.ignored, self._moved = found.ignored, True
        self._finished = found.finished()

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

    def _remove_if_unused(self) -> None:
        """Remove the folder's own files, and the folder, when nothing is stored in it (a
        new folder whose sweep could not start or was stopped before its first part)."""
        with contextlib.suppress(OSError):
            if any(self.results.iterdir()) or self.manifest.stat().st_size:
                return
        for name in (SPEC_NAME, STORE_NAME, MANIFEST_NAME, _LOCK_NAME):
            with contextlib.suppress(OSError):
                (self.root / name).unlink()
        for folder in (self.results, self.root):
            with contextlib.suppress(OSError):
                folder.rmdir()

    # -- reading -------------------------------------------------------------------------
    def finished(self) -> dict[str, set[int]]:
        """The stored replicates (indices into a configuration's seeds) by configuration
        key: every verified part, asked for by this sweep or not."""
        if self._expected is not None:
            return {key: set(replicates) for key, replicates in self._finished.items()}
        return scan(self.results, self.manifest, self._reading(), load=False).finished()

    def frame(self, sweep: SweepSpec | None = None) -> pd.DataFrame:
        """The rows of the units ``sweep`` asks for as one DataFrame, sorted by
        configuration, seed and, for training, update (see :meth:`read`)."""
        return self.read(sweep)

    def read(self, sweep: SweepSpec | None = None) -> pd.DataFrame:
        """The rows of the units ``sweep`` asks for, from the parts the store wrote, each
        once; its ``seeds`` column is the sweep's seed count. What else the results folder
        holds is left in place and listed in :attr:`ignored`; stored rows the sweep does
        not ask for are not read.

        Args:
            sweep: the sweep (default: the folder's ``sweep.toml``).
        """
        pa, _ = parquet()
        expected = self._reading(sweep)
        asked = expected.asked
        found = scan(
            self.results,
            self.manifest,
            expected,
            load=lambda entry: any(c in asked for c in entry.configs),
        )
        self.ignored, self._moved = found.ignored, False
        tables = [table for _, table in found.kept if table is not None]
        if not tables:
            return pd.DataFrame()
        frame = pa.concat_tables(tables, promote_options="none").to_pandas()
        base = frame["config"].map({key: b for key, (b, _) in asked.items()})
        count = frame["config"].map({key: n for key, (_, n) in asked.items()})
        keep = base.notna() & (frame["seed"] >= base) & (frame["seed"] < base + count)
        frame = frame[keep.to_numpy()]
        frame = frame.assign(seeds=count[keep].to_numpy(dtype="int64"))
        keys = [c for c in ("config", "seed", "update") if c in frame]
        return frame.sort_values(keys, kind="stable").reset_index(drop=True)

    def _reading(self, sweep: SweepSpec | None = None) -> Expected:
        """What the parts hold, read for ``sweep`` (default: the stored sweep)."""
        if self._expected is not None and (sweep is None or sweep is self._sweep_open):
            return self._expected
        try:
            stored = stored_sweep(self.spec_path, self.root)
        except PssimError:
            if sweep is None:
                raise
            stored = None
        sweep = sweep if sweep is not None else stored
        assert sweep is not None
        identity = read_store_id(self.root) or (stored or sweep).digest()
        earlier = [stored] if stored is not None else []
        return Expected(sweep, store=identity, earlier=earlier)

    # -- writing -------------------------------------------------------------------------
    def progress(self) -> str:
        """``"2 of 4 configurations (6 of 12 seeds) are stored"`` (while the store is
        open)."""
        asked = self._expected.asked if self._expected is not None else {}
        full, stored, units = stored_count(asked, self._finished)
        return f"{full} of {len(asked)} configurations ({stored} of {units} seeds) are stored"

    def count(self, sweep: SweepSpec) -> tuple[int, int]:
        """Configurations of ``sweep`` with every seed stored, and its stored units, as
        the manifest lists them (no part is read: for a summary after an interrupt)."""
        expected = self._reading(sweep)
        listed = read_manifest(self.manifest)
        finished: dict[str, set[int]] = {}
        for entry in listed[0] if listed else []:
            present = os.path.lexists(self.results / entry.part)
            converted = expected.convert(entry) if entry.replicates is None else (entry, None)
            if present and converted and entry.store == expected.store:
                for key, replicate in converted[0].units:
                    finished.setdefault(key, set()).add(replicate)
        full, stored, _ = stored_count(expected.asked, finished)
        return full, stored

    def accepts(self, table) -> bool:
        """Whether ``table`` has the columns of the sweep's rows (a worker with another
        pssim version returns others)."""
        assert self._expected is not None
        return table.schema.remove_metadata().equals(self._expected.schema)

    def write_part(self, configs: Sequence[str], replicates: Sequence[int], table) -> Path:
        """Write one task's rows (a pyarrow Table of ``replicates`` of the configurations
        ``configs``) as its own file: written under a hidden name, listed in the manifest,
        renamed into place (only inside :meth:`open`).

        Raises:
            SweepFault: the folder stopped taking files; the stored parts are kept.
        """
        if self._expected is None:
            raise RuntimeError("write_part needs the store opened by SweepStore.open")
        name = part_name(configs, replicates)
        path = self.results / name
        tmp = None
        try:
            tmp, entry = self._write_temp(name, configs, replicates, table)
            self._append(entry)
            os.replace(tmp, path)
            fsync(self.results)
        except OSError as err:
            raise self._fault(err) from err
        finally:
            if tmp is not None:
                with contextlib.suppress(FileNotFoundError):
                    tmp.unlink()
        for key in configs:
            self._finished.setdefault(key, set()).update(replicates)
        return path

    def _append(self, entry: Entry) -> None:
        """Append ``entry`` to the manifest and flush it to the disk."""
        append_line(self.manifest, entry.line())

    def _write_temp(self, name: str, configs, replicates, table) -> tuple[Path, Entry]:
        """Write ``table`` (with the store's identity) under a hidden name beside the
        part ``name``, flushed to the disk: its path and its manifest entry."""
        _, pq = parquet()
        expected = self._expected
        assert expected is not None
        metadata = dict(table.schema.metadata or {})
        metadata.pop(LEGACY_METADATA_KEY, None)
        metadata[METADATA_KEY] = expected.store.encode()
        table = table.replace_schema_metadata(metadata)
        tmp = temp_path(self.results / name)
        try:
            pq.write_table(table, tmp)
            fsync(tmp)
            entry = Entry.of(
                tmp.read_bytes(),
                part=name,
                rows=table.num_rows,
                configs=configs,
                replicates=replicates,
                expected=expected,
            )
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
            raise
        return tmp, entry

    def _fault(self, err: OSError) -> SweepFault:
        """One line for a write that failed: where, why, what is kept and what to do."""
        cause = os.strerror(err.errno) if err.errno else f"{type(err).__name__}: {err}"
        fix = "free space there" if err.errno in _FULL else "make it writable"
        return SweepFault(
            f"cannot write the sweep's results in {self.results}: {cause}; "
            f"{self.progress()}: {fix} and rerun the same sweep to resume",
            errno=err.errno,
        )
