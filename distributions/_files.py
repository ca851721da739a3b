"""Reading a user's file: only a regular file under a size cap, in one bounded read.

A FIFO, a device (``/dev/zero``, ``/dev/urandom``), a socket or a folder is refused from its
``stat`` before anything opens it (opening a FIFO for reading waits for a writer), and so is
a file larger than :data:`MAX_FILE_BYTES`; the read itself stops one byte past the cap, so a
file that grows after the check cannot exhaust memory either.
"""

from __future__ import annotations

import os
import stat

from ._checks import LawError, LawTypeError

__all__ = ["MAX_FILE_BYTES", "as_path", "read_regular"]

#: Largest file read, in bytes (256 MiB: about 30 million durations as ``.npy``).
MAX_FILE_BYTES = 256 * 2**20

_KINDS = (
    (stat.S_ISDIR, "a folder"),
    (stat.S_ISFIFO, "a FIFO"),
    (stat.S_ISCHR, "a device"),
    (stat.S_ISBLK, "a device"),
    (stat.S_ISSOCK, "a socket"),
)


def as_path(name: str, path: object) -> str:
    """``path`` as a ``str`` after checking it is a ``str`` or an ``os.PathLike`` of one.

    Raises:
        LawTypeError: "`Empirical.path` must be a path (str or os.PathLike); got 123 (int)".
    """
    text = os.fspath(path) if isinstance(path, os.PathLike) else path
    if not isinstance(text, str) or not text:
        shown = repr(path) if isinstance(path, (str, int, float, type(None))) else "a value"
        raise LawTypeError(
            f"`{name}` must be a path (str or os.PathLike); got {shown[:80]} "
            f"({type(path).__name__})"
        )
    return text


def read_regular(name: str, path: str) -> bytes:
    """The bytes of ``path``, a regular file (symbolic links followed) of at most
    :data:`MAX_FILE_BYTES` bytes.

    Raises:
        LawError: one line naming ``name`` and the file: missing, not a regular file (a
            FIFO, a device, a folder...), over the cap, or unreadable.
    """
    try:
        info = os.stat(path)
    except FileNotFoundError:
        raise LawError(f"`{name}` must be an existing file; got {path!r}") from None
    except OSError as err:
        raise LawError(f"`{name}` cannot be read: {err.strerror}; got {path!r}") from None
    if not stat.S_ISREG(info.st_mode):
        kind = next((text for test, text in _KINDS if test(info.st_mode)), "not a file")
        raise LawError(f"`{name}` must be a regular file; got {kind} at {path!r}")
    cap = MAX_FILE_BYTES
    if info.st_size > cap:
        raise LawError(f"`{name}` must be at most {cap} bytes; got {info.st_size} in {path!r}")
    try:
        with open(path, "rb") as handle:
            data = handle.read(cap + 1)
    except OSError as err:
        raise LawError(f"`{name}` cannot be read: {err.strerror}; got {path!r}") from None
    if len(data) > cap:
        raise LawError(f"`{name}` must be at most {cap} bytes; got more in {path!r}")
    return data
