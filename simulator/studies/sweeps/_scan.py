"""Sorting a store's files: the parts its manifest lists (read, checked and kept or
ignored with a reason) and, in a store of an earlier version without one, the parts it
adopts (:mod:`simulator.studies.sweeps._adopt`)."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path

from simulator.studies.sweeps._adopt import adopt
from simulator.studies.sweeps._manifest import (
    Entry,
    Expected,
    Scan,
    read_manifest,
    read_regular,
    read_table,
)

__all__ = ["scan"]


def scan(
    results: Path, manifest: Path, expected: Expected, *, load: bool | Callable[[Entry], bool]
) -> Scan:
    """Sort the entries of ``results`` (listed first, then read the manifest: a part
    renamed in meanwhile is listed already); a part's table is read when ``load`` is true
    or returns true for its entry."""
    try:
        names = sorted(p.name for p in results.iterdir() if not p.name.startswith((".", "_")))
    except FileNotFoundError:
        names = []
    listed = read_manifest(manifest)
    out = Scan(rewrite=listed is None or not listed[1])
    left = set(names)
    # this version's lines first: a part rewritten from an earlier one wins over it
    for entry in sorted(listed[0] if listed else [], key=lambda e: e.replicates is None):
        if entry.part not in left or entry.store != expected.store:
            out.rewrite = True  # a part never renamed into place (or another store's line)
            continue
        left.discard(entry.part)
        converted = expected.convert(entry) if entry.replicates is None else (entry, None)
        view, mapping = converted or (entry, None)
        data = read_regular(results / entry.part, entry.bytes)
        whole = data is not None and hashlib.sha256(data).hexdigest() == entry.sha256
        wanted = load(view) if callable(load) else load
        table = read_table(data, mapping) if whole and wanted else None
        if not whole or (wanted and table is None):
            reason = "damaged"
        elif entry.schema != expected.fingerprint or converted is None:
            reason = "outdated"
        elif not out.keep(view, table, mapping):
            reason = "duplicate"
        else:
            continue
        out.ignored.append((entry.part, reason))
        out.rewrite = True
    if listed is None:
        adopt(results, sorted(left), expected, out, load=load)
    else:
        out.ignored.extend((name, "foreign") for name in sorted(left))
    out.ignored.sort()
    return out
