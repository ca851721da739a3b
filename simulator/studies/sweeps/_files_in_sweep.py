"""The files a sweep names (``durations``, ``availability``): each read once, written so
that the stored sweep reads back from any folder, and recognised when it has moved.

A sweep's file (set or swept) is read once, a relative path from the sweep file's folder,
and its configurations share what was read. The sweep's identity holds each file's
SHA-256 (:func:`file_identity`), not its path; the ``sweep.toml`` a store keeps names the
files by absolute path (:func:`absolute`), and a store whose files have moved since is
recognised as the same sweep (:func:`moved_files`): every stored result carries the
digest of its configuration, which holds the content, so a store checks them part by part.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from simulator._availability_file import load_availability
from simulator._spec_durations import load_durations
from simulator._spec_toml import read_toml
from simulator.errors import PssimError, SpecError
from simulator.spec import read_toml_text

__all__ = ["FILE_KEYS", "absolute", "file_identity", "moved_files", "read_files"]

#: Each spec field that names a file: how its value is read (value, folder) and the hex
#: SHA-256 of the file read.
_FILES: dict[str, tuple[Callable[..., Any], Callable[[Any], str]]] = {
    "durations": (load_durations, lambda read: read.measured.sha256),
    "availability": (load_availability, lambda read: read.sha256),
}
#: The spec fields that name a file, identified by its content.
FILE_KEYS = tuple(_FILES)


def read_files(
    base: dict[str, Any],
    grid: dict[str, list],
    zips: tuple[dict[str, list], ...],
    folder: str | os.PathLike | None,
) -> None:
    """Read every file of a sweep once, in place (a relative path from ``folder``, the
    sweep file's): its configurations share what was read instead of reading it each. A
    file that cannot be read is one line naming the table it is in."""

    def read(key: str, value: Any, where: str) -> Any:
        if value is None:
            return None
        try:
            return _FILES[key][0](value, folder)
        except PssimError as err:
            raise SpecError(f"{where}{err}", param=err.param) from None

    for key in FILE_KEYS:
        if key in base:
            base[key] = read(key, base[key], "")
        for where, table in [("[grid] ", grid), *(("[[zip]] ", z) for z in zips)]:
            if key in table:
                table[key] = [read(key, v, where) for v in table[key]]


def absolute(value: Any) -> Any:
    """A read file value as a path that resolves from any folder (a shipped cluster's
    name as it is; None as None)."""
    if value is None or getattr(value, "shipped", False):
        return None if value is None else str(value)
    return str(value.path.absolute())


def moved_files(path: str | os.PathLike, sweep_toml: str) -> bool:
    """Whether the sweep file ``path`` (a store's ``sweep.toml``) is the sweep written as
    ``sweep_toml`` (``SweepSpec.to_toml()``) but for the places of its files (which moved:
    their content is in the digest that every stored result carries, so a store checks it
    part by part)."""

    def without_files(table: Any) -> Any:
        if not isinstance(table, dict):
            return table
        return {k: v for k, v in table.items() if k not in FILE_KEYS}

    def strip(data: dict[str, Any]) -> dict[str, Any]:
        data = without_files(data)
        for key in ("timing", "grid"):
            if key in data:
                data[key] = without_files(data[key])
        if isinstance(data.get("zip"), list):
            data["zip"] = [without_files(z) for z in data["zip"]]
        return data

    try:
        stored = read_toml(read_toml_text(Path(path)), source=Path(path).name)
    except PssimError:
        return False
    return strip(stored) == strip(read_toml(sweep_toml, source="sweep"))


def file_identity(key: str, value: Any) -> Any:
    """A ``key`` value of the sweep (a field of :data:`FILE_KEYS`) as ``sha256:HEX`` of its
    file (None as None)."""
    if value is None:
        return None
    load, sha256 = _FILES[key]
    return "sha256:" + sha256(load(value))
