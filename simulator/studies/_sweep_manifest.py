"""The manifest of a sweep store: the part files the sweep wrote, and which of them to trust.

``DIR/manifest.jsonl`` has one JSON line per part file: its name, SHA-256, size, row
count, configuration digests, the sweep's digest and a fingerprint of the row schema. The
store appends (and fsyncs) the line before it renames the part into ``results.parquet/``,
so every part a reader can see is listed; a line cut short by a kill is skipped, and a
later line for a part replaces an earlier one.

:func:`scan` sorts what ``results.parquet/`` holds into the parts to read (listed, whole,
of this sweep, each configuration once) and the rest, with a reason: ``foreign`` (not
written by this sweep: another file, a copied part, another sweep's part, a folder),
``damaged`` (a listed part whose bytes changed: truncated, emptied, bit-flipped),
``outdated`` (a listed part with the columns of another pssim version) or ``duplicate``
(configurations already read from another part). Names starting with ``.``
or ``_`` are skipped, as Parquet readers skip them. A store written before manifests
existed (no manifest) has its parts adopted when each one has the sweep's schema, only the
sweep's configurations, each with all its seeds once.
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

from simulator.studies._sweep_rows import schema
from simulator.studies._sweep_spec import SweepSpec

__all__ = ["MANIFEST_NAME", "METADATA_KEY", "Entry", "Expected", "Scan", "part_name", "scan"]

#: The manifest inside a sweep folder.
MANIFEST_NAME = "manifest.jsonl"
#: Parquet key-value metadata of a part: the digest of the sweep that wrote it.
METADATA_KEY = b"pssim.sweep"
#: Why a file is not read, as the one-line report says it.
REASONS = {
    "foreign": "not written by this sweep",
    "damaged": "damaged since it was written: its configurations run again",
    "duplicate": "a second copy of stored configurations",
    "outdated": "rows of another pssim version: its configurations are rerun",
}


def part_name(configs: Iterable[str]) -> str:
    """The file name of the part holding ``configs`` (digests)."""
    digest = hashlib.sha256(",".join(sorted(configs)).encode()).hexdigest()[:16]
    return f"part-{digest}.parquet"


def schema_fingerprint(kind: str) -> str:
    """A short hash of the column names and types of a sweep kind's rows."""
    columns = ";".join(f"{field.name}:{field.type}" for field in schema(kind))
    return hashlib.sha256(columns.encode()).hexdigest()[:16]


@dataclasses.dataclass(frozen=True)
class Entry:
    """One manifest line: a part file as the sweep wrote it."""

    part: str
    sha256: str
    bytes: int
    rows: int
    configs: tuple[str, ...]
    sweep: str
    schema: str

    def line(self) -> str:
        """The entry as one JSON line (with its newline)."""
        return json.dumps({**dataclasses.asdict(self), "configs": list(self.configs)}) + "\n"

    @classmethod
    def parse(cls, line: str) -> Entry | None:
        """The entry of a manifest line, or None for a line that is not one."""
        try:
            data = json.loads(line)
            entry = cls(**{**data, "configs": tuple(data["configs"])})
        except (ValueError, TypeError, KeyError, RecursionError):
            return None
        text = (entry.part, entry.sha256, entry.sweep, entry.schema, *entry.configs)
        numbers = (entry.bytes, entry.rows)
        if not all(isinstance(s, str) for s in text) or not all(
            isinstance(n, int) and not isinstance(n, bool) for n in numbers
        ):
            return None
        return entry

    @classmethod
    def of(cls, data: bytes, *, part: str, rows: int, configs, expected: Expected) -> Entry:
        """The entry of a part whose file holds ``data``."""
        return cls(
            part=part,
            sha256=hashlib.sha256(data).hexdigest(),
            bytes=len(data),
            rows=rows,
            configs=tuple(sorted(configs)),
            sweep=expected.digest,
            schema=expected.fingerprint,
        )


class Expected:
    """What the parts of a sweep hold: its digest, row schema and seeds by configuration."""

    def __init__(self, sweep: SweepSpec) -> None:
        self.digest = sweep.digest()
        self.kind = sweep.kind
        self.schema = schema(sweep.kind)
        self.fingerprint = schema_fingerprint(sweep.kind)
        self.seeds = {c.digest(): frozenset(c.seed_list) for c in sweep.configurations()}


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
        kept: the parts to read, each with its entry and (when loaded) its pyarrow Table.
        ignored: ``(name, reason)`` of every other entry of the folder, sorted (reasons:
            the keys of :data:`REASONS`).
        rewrite: the manifest must be rewritten to list exactly ``kept`` (lines dropped,
            parts adopted, or no manifest yet).
    """

    kept: list[tuple[Entry, Any]] = dataclasses.field(default_factory=list)
    ignored: list[tuple[str, str]] = dataclasses.field(default_factory=list)
    rewrite: bool = False

    @property
    def configs(self) -> set[str]:
        """The configurations the kept parts hold."""
        return {c for entry, _ in self.kept for c in entry.configs}


def scan(results: Path, manifest: Path, expected: Expected, *, load: bool) -> Scan:
    """Sort the entries of ``results`` (listed first, then read the manifest: a part
    renamed in meanwhile is listed already); tables are read only when ``load``."""
    try:
        names = sorted(p.name for p in results.iterdir() if not p.name.startswith((".", "_")))
    except FileNotFoundError:
        names = []
    listed = read_manifest(manifest)
    out = Scan(rewrite=listed is None or not listed[1])
    left = set(names)
    for entry in listed[0] if listed is not None else []:
        if entry.part not in left or entry.sweep != expected.digest:
            out.rewrite = True  # a part never renamed into place (or another sweep's line)
            continue
        left.discard(entry.part)
        data = _read_regular(results / entry.part, entry.bytes)
        whole = data is not None and hashlib.sha256(data).hexdigest() == entry.sha256
        table = _table(data) if whole and load else None
        if not whole or (load and table is None):
            reason = "damaged"
        elif entry.schema != expected.fingerprint:
            reason = "outdated"
        elif out.configs & set(entry.configs):
            reason = "duplicate"
        else:
            out.kept.append((entry, table))
            continue
        out.ignored.append((entry.part, reason))
        out.rewrite = True
    if listed is None:
        _adopt(results, sorted(left), expected, out, load=load)
    else:
        out.ignored.extend((name, "foreign") for name in sorted(left))
    out.ignored.sort()
    return out


def _adopt(results: Path, names: list[str], expected: Expected, out: Scan, *, load: bool):
    """Adopt the parts of a store written before manifests: parts under their own name
    first, so that a copy is the one left out."""
    found = []
    for name in names:
        data = _read_regular(results / name) if name.startswith("part-") else None
        table = _table(data) if data is not None else None
        reason = _foreign_reason(table, expected) if table is not None else "foreign"
        configs = () if reason else tuple(sorted(set(table.column("config").to_pylist())))
        found.append((name != part_name(configs), name, data, table, configs, reason))
    for _, name, data, table, configs, reason in sorted(found, key=lambda f: f[:2]):
        if not reason and out.configs & set(configs):
            reason = "duplicate"
        if reason:
            out.ignored.append((name, reason))
            continue
        entry = Entry.of(data, part=name, rows=table.num_rows, configs=configs, expected=expected)
        out.kept.append((entry, table if load else None))


def _foreign_reason(table, expected: Expected) -> str:
    """Why ``table`` is not a part of the sweep (``""``: it is one)."""
    metadata = table.schema.metadata or {}
    if metadata.get(METADATA_KEY, expected.digest.encode()) != expected.digest.encode():
        return "foreign"
    if not table.schema.remove_metadata().equals(expected.schema):
        return "foreign"
    keys = ["config", "seed"] + (["update"] if expected.kind == "training" else [])
    frame = table.select(keys).to_pandas()
    if frame.isna().any(axis=None) or frame.duplicated().any():
        return "foreign"
    seeds = frame.groupby("config")["seed"].agg(frozenset)
    if any(expected.seeds.get(config) != found for config, found in seeds.items()):
        return "foreign"  # another sweep's configuration, or seeds missing or extra
    if expected.kind == "training" and frame.groupby(["config", "seed"]).size().nunique() > 1:
        return "foreign"
    return ""


def _read_regular(path: Path, size: int | None = None) -> bytes | None:
    """The bytes of ``path`` if it is a regular file (not a link) of ``size`` bytes."""
    try:
        info = os.lstat(path)
        if not stat.S_ISREG(info.st_mode) or (size is not None and info.st_size != size):
            return None
        return path.read_bytes()
    except OSError:
        return None


def _table(data: bytes):
    """The pyarrow Table of Parquet ``data``, or None when it is not one."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        return pq.read_table(pa.BufferReader(data))
    except (pa.ArrowException, OSError, ValueError):
        return None
