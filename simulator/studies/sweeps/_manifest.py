"""The manifest of a sweep store: the part files the store wrote, and which of them to trust.

``DIR/manifest.jsonl`` has one JSON line per part file: its name, SHA-256, size, row
count, the keys of its configurations, the replicates it holds of each (the same indices
for all: replicate ``i`` is the run of seed ``base seed + i``), the store's identity and a
fingerprint of the row schema. The store appends (and fsyncs) the line before it renames
the part into ``results.parquet/``, so every part a reader can see is listed; a line cut
short by a kill is skipped, and a later line for a part replaces an earlier one.

:func:`scan` sorts what ``results.parquet/`` holds into the parts to keep (listed, whole,
of this store, each (configuration, replicate) once), whichever sweep of the store asked
for them, and the rest, with a reason: ``foreign`` (not written by this store: another
file, a copied part, another store's part, a folder), ``damaged`` (a listed part whose
bytes changed: truncated, emptied, bit-flipped), ``outdated`` (a listed part with the
columns of another pssim version) or ``duplicate`` (units already kept from another part).
Names starting with ``.`` or ``_`` are skipped, as Parquet readers skip them.

Stores of earlier pssim versions are adopted without running anything again: their lines
have no replicates and name configurations by their spec digest (which held the seed
count); such a part holds every seed of its configurations, and the sweeps that may have
written it (:class:`Expected`) map its digests to keys. A store without a manifest has its
parts adopted when each one has the sweep's schema, only the sweep's configurations and,
for each, the same replicates once (:mod:`simulator.studies.sweeps._adopt`; both are
read by :func:`simulator.studies.sweeps._scan.scan`). Parts of an
earlier version are listed in :attr:`Scan.legacy`: the store rewrites them with keys.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import stat
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from simulator._parquet_bytes import read_parquet_bytes
from simulator.studies.sweeps._rows import schema
from simulator.studies.sweeps._spec import SweepSpec
from simulator.studies.sweeps._units import config_key

__all__ = [
    "LEGACY_METADATA_KEY",
    "MANIFEST_NAME",
    "METADATA_KEY",
    "Entry",
    "Expected",
    "Scan",
    "mapped",
    "part_name",
    "read_manifest",
    "read_regular",
    "read_table",
]

#: The manifest inside a sweep folder.
MANIFEST_NAME = "manifest.jsonl"
#: Parquet key-value metadata of a part: the identity of the store that wrote it.
METADATA_KEY = b"pssim.store"
#: The same, as earlier versions wrote it (the digest of the sweep that wrote the part).
LEGACY_METADATA_KEY = b"pssim.sweep"
#: Why a file is not read, as the one-line report says it.
REASONS = {
    "foreign": "not written by this sweep",
    "damaged": "damaged since it was written: its configurations run again",
    "duplicate": "a second copy of stored configurations",
    "outdated": "rows of another pssim version: its configurations are rerun",
}
_FIELDS = {"part", "sha256", "bytes", "rows", "configs", "store", "schema", "replicates"}
_LEGACY_FIELDS = {"part", "sha256", "bytes", "rows", "configs", "sweep", "schema"}


def part_name(configs: Iterable[str], replicates: Iterable[int] | None = None) -> str:
    """The file name of the part holding ``replicates`` of ``configs`` (keys); without
    replicates, the name earlier versions gave a part of ``configs`` (digests)."""
    text = ",".join(sorted(configs))
    if replicates is not None:
        text += ";" + ",".join(str(i) for i in sorted(replicates))
    return f"part-{hashlib.sha256(text.encode()).hexdigest()[:16]}.parquet"


def schema_fingerprint(kind: str) -> str:
    """A short hash of the column names and types of a sweep kind's rows."""
    columns = ";".join(f"{field.name}:{field.type}" for field in schema(kind))
    return hashlib.sha256(columns.encode()).hexdigest()[:16]


def _count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


@dataclasses.dataclass(frozen=True)
class Entry:
    """One manifest line: a part file as the store wrote it (``replicates`` None: a line
    of an earlier version, whose ``configs`` are spec digests)."""

    part: str
    sha256: str
    bytes: int
    rows: int
    configs: tuple[str, ...]
    store: str
    schema: str
    replicates: tuple[int, ...] | None = None

    @property
    def units(self) -> set[tuple[str, int]]:
        """The (configuration key, replicate) pairs the part holds."""
        return {(c, i) for c in self.configs for i in self.replicates or ()}

    def line(self) -> str:
        """The entry as one JSON line (with its newline)."""
        data = {**dataclasses.asdict(self), "configs": list(self.configs)}
        if self.replicates is None:
            del data["replicates"]
            data["sweep"] = data.pop("store")
        else:
            data["replicates"] = list(self.replicates)
        return json.dumps(data) + "\n"

    @classmethod
    def parse(cls, line: str) -> Entry | None:
        """The entry of a manifest line, or None for a line that is not one."""
        try:
            data = json.loads(line)
            legacy = isinstance(data, dict) and "replicates" not in data
            if set(data) != (_LEGACY_FIELDS if legacy else _FIELDS):
                return None
            store = data.pop("sweep" if legacy else "store")
            replicates = None if legacy else tuple(data.pop("replicates"))
            entry = cls(
                **{**data, "configs": tuple(data["configs"])}, store=store, replicates=replicates
            )
        except (ValueError, TypeError, KeyError, RecursionError):
            return None
        text = (entry.part, entry.sha256, entry.store, entry.schema, *entry.configs)
        numbers = (entry.bytes, entry.rows, *(entry.replicates or ()))
        if not all(isinstance(s, str) for s in text) or not all(_count(n) for n in numbers):
            return None
        if entry.replicates is not None and len(set(entry.replicates)) < len(entry.replicates):
            return None
        return entry

    @classmethod
    def of(
        cls, data: bytes, *, part: str, rows: int, configs, replicates, expected: Expected
    ) -> Entry:
        """The entry of a part whose file holds ``data``."""
        return cls(
            part=part,
            sha256=hashlib.sha256(data).hexdigest(),
            bytes=len(data),
            rows=rows,
            configs=tuple(sorted(configs)),
            store=expected.store,
            schema=expected.fingerprint,
            replicates=tuple(sorted(replicates)),
        )


class Expected:
    """What the parts of a store hold, read for a sweep.

    Args:
        sweep: the sweep (its kind gives the row schema; its configurations the units it
            asks for: key -> (base seed, seed count)).
        store: the store's identity (default: the sweep's digest, that of a store the
            sweep created).
        earlier: sweeps that may have written parts of an earlier version (the store's
            stored spec): their configurations' digests map to keys.
    """

    def __init__(
        self, sweep: SweepSpec, *, store: str | None = None, earlier: Iterable[SweepSpec] = ()
    ) -> None:
        self.store = store or sweep.digest()
        self.kind = sweep.kind
        self.schema = schema(sweep.kind)
        self.fingerprint = schema_fingerprint(sweep.kind)
        self.asked = {config_key(c): (c.seed, c.seeds) for c in sweep.configurations()}
        self.legacy = {
            c.digest(): (config_key(c), c.seed, c.seeds)
            for s in (sweep, *earlier)
            for c in s.configurations()
        }

    def convert(self, entry: Entry) -> tuple[Entry, dict[str, str]] | None:
        """An earlier version's entry as this version lists it (keys, every replicate) and
        its digest -> key map; None when its configurations are unknown, or do not share
        one seed count."""
        mapped = [self.legacy.get(c) for c in entry.configs]
        if not mapped or None in mapped:
            return None
        counts = {count for _, _, count in mapped}
        keys = tuple(key for key, _, _ in mapped)
        if len(counts) != 1 or len(set(keys)) < len(keys):
            return None
        view = dataclasses.replace(
            entry, configs=tuple(sorted(keys)), replicates=tuple(range(counts.pop()))
        )
        return view, dict(zip(entry.configs, keys, strict=True))


def read_manifest(path: Path) -> tuple[list[Entry], bool] | None:
    """The manifest's entries (the last line of each part, in order) and whether every
    line was whole; None when there is no manifest or it is not a regular file."""
    try:
        if not stat.S_ISREG(os.lstat(path).st_mode):
            return None
        text = path.read_bytes().decode("utf-8", errors="replace")
    except FileNotFoundError:
        return None
    entries: dict[str, Entry] = {}
    clean = text == "" or text.endswith("\n")
    for line in text.splitlines():
        entry = Entry.parse(line)
        if entry is None:
            clean = False
            continue
        if entries.pop(entry.part, None) is not None:
            clean = False
        entries[entry.part] = entry
    return list(entries.values()), clean


@dataclasses.dataclass
class Scan:
    """What a results folder holds.

    Attributes:
        kept: the parts to read, each with its entry (an earlier version's as this version
            lists it) and (when loaded) its pyarrow Table, whose ``config`` column holds
            keys.
        ignored: ``(name, reason)`` of every other entry of the folder, sorted (reasons:
            the keys of :data:`REASONS`).
        rewrite: the manifest must be rewritten to list exactly ``kept`` (lines dropped,
            parts adopted, or no manifest yet).
        legacy: kept parts of an earlier version (their rows name configurations by
            digest): part name -> digest -> key.
    """

    kept: list[tuple[Entry, Any]] = dataclasses.field(default_factory=list)
    ignored: list[tuple[str, str]] = dataclasses.field(default_factory=list)
    rewrite: bool = False
    legacy: dict[str, dict[str, str]] = dataclasses.field(default_factory=dict)
    #: The (configuration key, replicate) pairs the kept parts hold.
    units: set[tuple[str, int]] = dataclasses.field(default_factory=set)

    def keep(self, entry: Entry, table, mapping: dict[str, str] | None = None) -> bool:
        """Keep a part unless it holds units already kept (then False: a duplicate)."""
        units = entry.units
        if self.units & units:
            return False
        self.kept.append((entry, table))
        self.units |= units
        if mapping:
            self.legacy[entry.part] = mapping
        return True

    def finished(self) -> dict[str, set[int]]:
        """The stored replicates, by configuration key."""
        out: dict[str, set[int]] = {}
        for key, replicate in self.units:
            out.setdefault(key, set()).add(replicate)
        return out


def read_regular(path: Path, size: int | None = None) -> bytes | None:
    """The bytes of ``path`` if it is a regular file (not a link) of ``size`` bytes."""
    try:
        info = os.lstat(path)
        if not stat.S_ISREG(info.st_mode) or (size is not None and info.st_size != size):
            return None
        return path.read_bytes()
    except OSError:
        return None


def read_table(data: bytes, mapping: dict[str, str] | None = None):
    """The pyarrow Table of Parquet ``data`` (its ``config`` digests mapped to keys by
    ``mapping``), or None when it is not one."""
    import pyarrow as pa

    try:
        table = read_parquet_bytes(data)
    except (pa.ArrowException, OSError, ValueError):
        return None
    try:
        return mapped(table, mapping)
    except (pa.ArrowException, KeyError, ValueError):
        return None


def mapped(table, mapping: dict[str, str] | None):
    """``table`` with the values of its ``config`` column replaced through ``mapping``."""
    if not mapping:
        return table
    import pyarrow as pa

    column = table.schema.get_field_index("config")
    keys = pa.array([mapping[c] for c in table.column(column).to_pylist()], pa.string())
    return table.set_column(column, table.schema.field(column), keys)
