"""Measured durations in a sweep: each file read once, written so that the stored sweep
reads back from any folder, and recognised when it has moved.

A sweep's ``durations`` (set or swept) is read once, a relative path from the sweep file's
folder, and its configurations share the table. The sweep's identity holds each file's
SHA-256 (:func:`file_identity`), not its path; the ``sweep.toml`` a store keeps names the
files by absolute path (:func:`absolute`), and a store whose files have moved since is
recognised as the same sweep (:func:`moved_durations`): every stored result carries the
digest of its configuration, which holds the content, so a store checks them part by part.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from simulator._spec_durations import DurationsFile, load_durations
from simulator._spec_toml import read_toml
from simulator.errors import PssimError, SpecError
from simulator.spec import read_toml_text

__all__ = ["absolute", "file_identity", "moved_durations", "read_durations"]


def read_durations(
    base: dict[str, Any],
    grid: dict[str, list],
    zips: tuple[dict[str, list], ...],
    folder: str | os.PathLike | None,
) -> None:
    """Read every durations file of a sweep once, in place (a relative path from
    ``folder``, the sweep file's): its configurations share the table instead of reading
    it each. A file that cannot be read is one line naming the table it is in."""

    def read(value: Any, where: str) -> DurationsFile | None:
        if value is None:
            return None
        try:
            return load_durations(value, folder)
        except PssimError as err:
            raise SpecError(f"{where}{err}", param=err.param) from None

    if "durations" in base:
        base["durations"] = read(base["durations"], "")
    for where, table in [("[grid] ", grid), *(("[[zip]] ", z) for z in zips)]:
        if "durations" in table:
            table["durations"] = [read(v, where) for v in table["durations"]]


def absolute(value: Any) -> Any:
    """A read durations value as a path that resolves from any folder (a shipped
    cluster's name as it is)."""
    if value is None or value.shipped:
        return None if value is None else str(value)
    return str(value.path.absolute())


def moved_durations(path: str | os.PathLike, sweep_toml: str) -> bool:
    """Whether the sweep file ``path`` (a store's ``sweep.toml``) is the sweep written as
    ``sweep_toml`` (``SweepSpec.to_toml()``) but for the places of its durations files
    (which moved: their content is in the digest that every stored result carries, so a
    store checks it part by part)."""

    def strip(data: dict[str, Any]) -> dict[str, Any]:
        data = {k: v for k, v in data.items() if k != "durations"}
        for key in ("timing", "grid"):
            if isinstance(data.get(key), dict):
                data[key] = {k: v for k, v in data[key].items() if k != "durations"}
        if isinstance(data.get("zip"), list):
            data["zip"] = [
                {k: v for k, v in z.items() if k != "durations"} if isinstance(z, dict) else z
                for z in data["zip"]
            ]
        return data

    try:
        stored = read_toml(read_toml_text(Path(path)), source=Path(path).name)
    except PssimError:
        return False
    return strip(stored) == strip(read_toml(sweep_toml, source="sweep"))


def file_identity(value: Any) -> Any:
    """A durations value of the sweep as ``sha256:HEX`` of its file (None as None)."""
    return None if value is None else "sha256:" + load_durations(value).measured.sha256
