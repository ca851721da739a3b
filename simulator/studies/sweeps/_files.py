"""Files of a sweep store written so that a kill at any instant leaves each whole or absent.

A file is written under a hidden temporary name beside its place (readers skip hidden
names; the next run of the sweep removes leftovers), flushed to the disk, then renamed
into place. The store's identity lives in ``DIR/store.json``.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import uuid
from collections.abc import Callable
from pathlib import Path

from simulator._files import shown_path
from simulator.errors import PssimError, SpecError

__all__ = [
    "STORE_NAME",
    "append_line",
    "fsync",
    "parquet",
    "read_store_id",
    "temp_path",
    "write_atomic",
    "write_store_id",
]

#: The store's identity inside a sweep folder: the digest of the sweep that created it.
STORE_NAME = "store.json"
_IDENTITY = re.compile(r"[0-9a-f]{16}")
#: The largest ``store.json`` read (it holds one short line).
_MAX_STORE_BYTES = 4096


def parquet():
    """pyarrow and pyarrow.parquet."""
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:  # pragma: no cover - pyarrow is a dependency
        raise PssimError("sweeps need pyarrow: pip install pyarrow") from None
    return pa, pq


def temp_path(path: Path) -> Path:
    """A hidden temporary name beside ``path`` (readers skip it; a rerun removes it)."""
    return path.with_name(f".{path.stem}-{uuid.uuid4().hex[:8]}.tmp")


def write_atomic(path: Path, write: Callable[[Path], None]) -> None:
    """``write`` a hidden temporary file beside ``path``, fsync it, rename it to ``path``."""
    tmp = temp_path(path)
    try:
        write(tmp)
        fsync(tmp)
        os.replace(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


def fsync(path: Path) -> None:
    """Flush a file, or a folder's entries, to the disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def append_line(path: Path, line: str) -> None:
    """Append ``line`` to ``path`` (created if missing) and flush it to the disk."""
    data = line.encode()
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o666)
    try:
        while data:
            data = data[os.write(fd, data) :]
        os.fsync(fd)
    finally:
        os.close(fd)


def read_store_id(root: Path) -> str | None:
    """The identity kept in ``root/store.json`` (None: no such file, a store of an
    earlier version or a new folder).

    Raises:
        SpecError: the file is there but is not one pssim wrote (param ``out``).
    """
    path = root / STORE_NAME
    try:
        with open(path, "rb") as file:
            text = file.read(_MAX_STORE_BYTES + 1)
        value = json.loads(text.decode("utf-8")).get("store")
    except FileNotFoundError:
        return None
    except (OSError, ValueError, AttributeError):
        value = None
    if not isinstance(value, str) or not _IDENTITY.fullmatch(value):
        raise SpecError(
            f"`out` {shown_path(root)} holds an unreadable {STORE_NAME}; choose another folder",
            param="out",
        )
    return value


def write_store_id(root: Path, identity: str) -> None:
    """Keep ``identity`` in ``root/store.json`` (atomically)."""
    text = json.dumps({"store": identity}) + "\n"
    write_atomic(root / STORE_NAME, lambda tmp: tmp.write_text(text, encoding="utf-8"))
