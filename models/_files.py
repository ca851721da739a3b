"""File helpers for the loaders: path checks and reading possibly gzip-compressed bytes."""

from __future__ import annotations

import gzip
import os
import zlib
from pathlib import Path

from ._checks import DataError

GZIP_MAGIC = b"\x1f\x8b"


def existing_dir(directory: str | os.PathLike) -> Path:
    """Returns ``directory`` as a ``Path`` after checking that it is an existing directory.

    Raises:
        ValueError: "`data` path must be an existing directory; got 'nope/'".
    """
    path = Path(directory)
    if not path.is_dir():
        raise DataError(f"`data` path must be an existing directory; got {str(directory)!r}")
    return path


def existing_file(file: str | os.PathLike) -> Path:
    """Returns ``file`` as a ``Path`` after checking that it is an existing file.

    Raises:
        ValueError: "`data` path must be an existing file; got 'x.npz'".
    """
    path = Path(file)
    if not path.is_file():
        raise DataError(f"`data` path must be an existing file; got {str(file)!r}")
    return path


def read_maybe_gzip(path: Path, what: str) -> bytes:
    """Reads a file, decompressing it when it starts with the gzip magic bytes 1f 8b.

    Compression is detected from the content, not the suffix, so a ``.gz`` name holding raw
    bytes and a plain name holding gzip data both work.

    Args:
        path: the file.
        what: parameter name used in error messages (e.g. "mnist").

    Returns:
        The (decompressed) content.

    Raises:
        ValueError: the file cannot be read or is a corrupt or truncated gzip stream.
    """
    try:
        raw = path.read_bytes()
    except OSError as err:
        raise DataError(f"`{what}` file {path.name} cannot be read: {err.strerror}") from None
    if not raw.startswith(GZIP_MAGIC):
        return raw
    try:
        return gzip.decompress(raw)
    except (OSError, EOFError, zlib.error) as err:
        reason = str(err) or type(err).__name__
        raise DataError(f"`{what}` file {path.name} is not a valid gzip file: {reason}") from None
