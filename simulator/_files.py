"""Reading a user's input file (a config, a sweep file, measured durations): only a regular
file under a size cap, with every failure one line naming the parameter.

``/dev/zero`` would be read until memory runs out and a FIFO would block the ``open``, so
the file is checked with ``stat`` before it is opened, opened without blocking, checked
again on the open descriptor (it may have been swapped), and read up to the cap only.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

from simulator.errors import PssimTypeError, SpecError, shown

__all__ = [
    "MAX_FILE_BYTES",
    "as_path",
    "check_regular_file",
    "read_bytes_file",
    "read_text_file",
    "shown_path",
]

#: Largest input file read (bytes): 1 MiB, far more than any config or sweep file needs.
MAX_FILE_BYTES = 1 << 20
#: Characters of a long path a message keeps (its end).
_KEEP = 80

_KINDS = {
    stat.S_IFDIR: "a folder",
    stat.S_IFCHR: "a device",
    stat.S_IFBLK: "a device",
    stat.S_IFIFO: "a FIFO",
    stat.S_IFSOCK: "a socket",
}


def _size(n: int) -> str:
    """A size cap: ``1 MiB``, ``1.5 MiB``, ``4096 bytes``."""
    if n >= 2**20:
        return f"{n >> 20} MiB" if n % 2**20 == 0 else f"{n / 2**20:.1f} MiB"
    return f"{n} bytes"


def shown_path(path: str | os.PathLike) -> str:
    """A path for a message: whole, or its last characters (the file's name) if long."""
    text = str(path)
    if len(text) <= 2 * _KEEP:
        return repr(text)
    return f"{'…' + text[-_KEEP:]!r} ({len(text)} characters)"


def as_path(path: object, param: str) -> Path:
    """``path`` as a Path after checking it is a str or os.PathLike (one line naming
    ``param`` otherwise)."""
    if isinstance(path, bytes) or not isinstance(path, (str, os.PathLike)) or not str(path):
        raise PssimTypeError(
            f"`{param}` must be a path (str or os.PathLike); got {shown(path)} "
            f"({type(path).__name__})",
            param=param,
        )
    return Path(path)


def _refusal(path: Path, param: str, kind: str, reason: str) -> SpecError:
    return SpecError(
        f"`{param}` must be a readable {kind}; got {shown_path(path)} ({reason})", param=param
    )


def _check_info(info: os.stat_result, path: Path, param: str, kind: str, max_bytes: int) -> None:
    if not stat.S_ISREG(info.st_mode):
        what = _KINDS.get(stat.S_IFMT(info.st_mode), "not a file")
        raise _refusal(path, param, kind, f"{what}, not a regular file")
    if info.st_size > max_bytes:
        reason = f"{info.st_size} bytes; it may hold at most {_size(max_bytes)}"
        raise _refusal(path, param, kind, reason)


def check_regular_file(
    path: str | os.PathLike, *, param: str, kind: str = "file", max_bytes: int = MAX_FILE_BYTES
) -> Path:
    """``path`` after checking, from its ``stat`` alone (nothing is opened), that it is an
    existing regular file of at most ``max_bytes`` bytes: for readers that open the file
    themselves (pandas). Refusals read as in :func:`read_bytes_file`."""
    path = as_path(path, param)
    if "\0" in str(path):
        raise _refusal(path, param, kind, "a NUL character in the path")
    try:
        _check_info(os.stat(path), path, param, kind, max_bytes)
    except OSError as err:
        reason = err.strerror or errno.errorcode.get(err.errno or 0, "unreadable")
        raise _refusal(path, param, kind, reason) from None
    return path


def read_bytes_file(
    path: str | os.PathLike, *, param: str, kind: str = "file", max_bytes: int = MAX_FILE_BYTES
) -> bytes:
    """The bytes of a regular file of at most ``max_bytes`` bytes.

    Args:
        path: the file.
        param: the argument named in messages (the CLI shows its option instead).
        kind: what the file is, for messages (``"TOML file"``).
        max_bytes: the size cap in bytes.

    Raises:
        PssimTypeError: ``path`` is not a str or os.PathLike.
        SpecError: the file is missing or unreadable, not a regular file (a folder, a
            device, a FIFO, a socket) or larger than ``max_bytes``; ``param`` is ``param``.

    Example:
        >>> read_bytes_file("/dev/zero", param="config")  # doctest: +SKIP
        SpecError: `config` must be a readable file; got '/dev/zero' (a device, not a ...
    """
    path = check_regular_file(path, param=param, kind=kind, max_bytes=max_bytes)
    try:  # checked from its stat first: opening a FIFO for reading would block
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
        try:
            _check_info(os.fstat(fd), path, param, kind, max_bytes)  # the file opened
            with os.fdopen(fd, "rb", closefd=False) as file:
                data = file.read(max_bytes + 1)
        finally:
            os.close(fd)
    except OSError as err:
        reason = err.strerror or errno.errorcode.get(err.errno or 0, "unreadable")
        raise _refusal(path, param, kind, reason) from None
    if len(data) > max_bytes:  # it grew since the check
        reason = f"over {max_bytes} bytes; it may hold at most {_size(max_bytes)}"
        raise _refusal(path, param, kind, reason)
    return data


def read_text_file(
    path: str | os.PathLike, *, param: str, kind: str = "file", max_bytes: int = MAX_FILE_BYTES
) -> str:
    """The text of a regular UTF-8 file of at most ``max_bytes`` bytes (see
    :func:`read_bytes_file`); text that is not UTF-8 is one line naming the first bad byte.

    Example:
        >>> read_text_file("exp.toml", param="path", kind="TOML file")  # doctest: +SKIP
        'variant = "async"\n'
    """
    data = read_bytes_file(path, param=param, kind=kind, max_bytes=max_bytes)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as err:
        raise SpecError(
            f"`{param}` must be a readable {kind}; got {shown_path(path)} (not UTF-8: byte "
            f"0x{data[err.start]:02x} at offset {err.start})",
            param=param,
        ) from None
