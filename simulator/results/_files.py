"""Paths the results layer reads and writes: checked types, regular files under a cap."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from simulator.errors import PssimError, PssimTypeError

__all__ = ["MAX_TABLE_BYTES", "as_path", "regular_file"]

#: Largest results table read back (2 GiB: tens of millions of rows as CSV).
MAX_TABLE_BYTES = 2 * 2**30

_KINDS = (
    (stat.S_ISDIR, "a folder"),
    (stat.S_ISFIFO, "a FIFO"),
    (stat.S_ISCHR, "a device"),
    (stat.S_ISBLK, "a device"),
    (stat.S_ISSOCK, "a socket"),
)


def shown(path: object) -> str:
    """A path for a message: its repr, cut to 160 characters."""
    text = repr(os.fspath(path)) if isinstance(path, (str, os.PathLike)) else repr(path)
    return text if len(text) <= 160 else f"{text[:160]}... ({len(text)} characters)"


def as_path(name: str, value: object) -> Path:
    """``value`` as a ``Path`` after checking it is a ``str`` or an ``os.PathLike`` of one.

    Raises:
        PssimTypeError: "`path` must be a path (str or os.PathLike); got 123 (int)".
    """
    text = os.fspath(value) if isinstance(value, os.PathLike) else value
    if not isinstance(text, str) or not text:
        what = repr(value)[:40] if isinstance(value, (str, int, float, type(None))) else "a value"
        raise PssimTypeError(
            f"`{name}` must be a path (str or os.PathLike); got {what} ({type(value).__name__})",
            param=name,
        )
    return Path(text)


def regular_file(name: str, path: Path, cap: int) -> Path:
    """``path`` after checking, from its ``stat`` (nothing is opened), that it is an
    existing regular file of at most ``cap`` bytes (symbolic links followed).

    Raises:
        PssimError: missing, a FIFO, a device, a folder..., or over the cap.
    """
    try:
        info = path.stat()
    except FileNotFoundError:
        raise PssimError(
            f"`{name}` must be an existing file; got {shown(path)}", param=name
        ) from None
    except OSError as err:
        raise PssimError(
            f"`{name}` cannot be read: {shown(path)} ({err.strerror})", param=name
        ) from None
    if not stat.S_ISREG(info.st_mode):
        kind = next((text for test, text in _KINDS if test(info.st_mode)), "not a regular file")
        raise PssimError(
            f"`{name}` must be a regular file; got {kind} at {shown(path)}", param=name
        )
    if info.st_size > cap:
        raise PssimError(
            f"`{name}` must be at most {cap} bytes; got {info.st_size} in {shown(path)}",
            param=name,
        )
    return path
