"""Adopting parts a sweep store did not list as this version lists them: parts found
without a manifest, and parts of an earlier pssim version.

A store without a manifest (one written before manifests existed, or whose manifest was
lost) has each part checked before it is listed: the sweep's schema, no other store's
identity, only configurations the sweep knows (by key, or by the spec digest of an earlier
version), each with the same replicates once; a copy under another name is left out.
Parts of an earlier version name their configurations by spec digest (the seed count
included) in their rows: :func:`rewrite_legacy` rewrites them with keys under their new
names, so that every part of the store is keyed alike.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from pathlib import Path

from simulator.studies.sweeps._files import fsync, write_atomic
from simulator.studies.sweeps._manifest import (
    LEGACY_METADATA_KEY,
    METADATA_KEY,
    Entry,
    Expected,
    Scan,
    mapped,
    part_name,
    read_regular,
    read_table,
)

__all__ = ["adopt", "rewrite_legacy", "units_held"]


def adopt(results: Path, names: list[str], expected: Expected, out: Scan, *, load) -> None:
    """Adopt the parts of a store without a manifest: parts under their own name first,
    so that a copy is the one left out."""
    found = []
    for name in names:
        data = read_regular(results / name) if name.startswith("part-") else None
        table = read_table(data) if data is not None else None
        held = units_held(table, expected) if table is not None else None
        if held is None:
            found.append((True, name, data, None, None, None))
            continue
        configs, replicates, mapping = held
        own = part_name(mapping or configs, None if mapping else replicates)
        found.append((name != own, name, data, table, held, None))
    for _, name, data, table, held, _ in sorted(found, key=lambda f: f[:2]):
        if held is None:
            out.ignored.append((name, "foreign"))
            continue
        configs, replicates, mapping = held
        entry = Entry.of(
            data,
            part=name,
            rows=table.num_rows,
            configs=configs,
            replicates=replicates,
            expected=expected,
        )
        wanted = load(entry) if callable(load) else load
        if not out.keep(entry, mapped(table, mapping) if wanted else None, mapping):
            out.ignored.append((name, "duplicate"))


def units_held(table, expected: Expected) -> tuple[tuple[str, ...], tuple[int, ...], dict] | None:
    """The keys, replicates and (for an earlier version's part) digest -> key map of a
    part found without a manifest; None when it is not a part of the store: another
    store's, other columns, configurations the sweep does not know, replicates missing,
    extra or repeated."""
    metadata = table.schema.metadata or {}
    stored = metadata.get(METADATA_KEY, metadata.get(LEGACY_METADATA_KEY))
    if stored not in (None, expected.store.encode()):
        return None
    if not table.schema.remove_metadata().equals(expected.schema):
        return None
    keys = ["config", "seed"] + (["update"] if expected.kind == "training" else [])
    frame = table.select(keys).to_pandas()
    if frame.empty or frame.isna().any(axis=None) or frame.duplicated().any():
        return None
    if expected.kind == "training" and frame.groupby(["config", "seed"]).size().nunique() > 1:
        return None
    configs = sorted(set(frame["config"]))
    if all(c in expected.asked for c in configs):
        base = frame["config"].map({c: expected.asked[c][0] for c in configs})
        frame = frame.assign(replicate=frame["seed"] - base)
        mapping = None
    elif all(c in expected.legacy for c in configs):  # every seed, as earlier versions did
        base = frame["config"].map({c: expected.legacy[c][1] for c in configs})
        frame = frame.assign(replicate=frame["seed"] - base)
        counts = {expected.legacy[c][2] for c in configs}
        mapping = {c: expected.legacy[c][0] for c in configs}
        if len(counts) != 1 or len(set(mapping.values())) < len(mapping):
            return None
    else:
        return None
    sets = frame.groupby("config")["replicate"].agg(frozenset)
    replicates = sets.iloc[0]
    if any(s != replicates for s in sets) or min(replicates) < 0:
        return None
    if mapping is not None and replicates != frozenset(range(counts.pop())):
        return None
    keys_of = tuple(mapping[c] for c in configs) if mapping else tuple(configs)
    return keys_of, tuple(sorted(replicates)), mapping


def rewrite_legacy(results: Path, manifest: Path, found: Scan, write_temp) -> None:
    """Rewrite the kept parts of an earlier version (``found.legacy``) with keys: each
    written under its new name (``write_temp(name, configs, replicates, table)`` -> its
    temporary path and entry), the manifest listing them replaced at once, then each
    renamed into place and the earlier file removed (a kill in between leaves at worst an
    unlisted file, moved aside by the next run, and units to run again)."""
    entries, moves = [], []
    try:
        for entry, _ in found.kept:
            mapping = found.legacy.get(entry.part)
            if mapping is None:
                entries.append(entry)
                continue
            data = read_regular(results / entry.part, entry.bytes)
            table = read_table(data, mapping) if data is not None else None
            if table is None or hashlib.sha256(data).hexdigest() != entry.sha256:
                continue  # changed since the scan: its units run again
            name = part_name(entry.configs, entry.replicates)
            tmp, new = write_temp(name, entry.configs, entry.replicates, table)
            entries.append(new)
            moves.append((tmp, name, entry.part))
        lines = "".join(entry.line() for entry in entries)
        write_atomic(manifest, lambda tmp: tmp.write_text(lines, encoding="utf-8"))
        for tmp, name, _ in moves:
            os.replace(tmp, results / name)
        fsync(results)
        for _, name, old in moves:
            if old != name:
                (results / old).unlink()
    finally:
        for tmp, _, _ in moves:
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
