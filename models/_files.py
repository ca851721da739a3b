"""File helpers for the loaders: path checks and bounded reads of possibly gzip-compressed data."""

from __future__ import annotations

import contextlib
import gzip
import os
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from ._checks import DataError, memory_budget

GZIP_MAGIC = b"\x1f\x8b"
_CHUNK = 1 << 22  # bytes read per call (4 MiB): memory follows the data, not a declared size


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


def is_gzip(path: Path, what: str) -> bool:
    """Whether ``path`` starts with the gzip magic bytes 1f 8b (content, not suffix).

    Raises:
        ValueError: the file cannot be read.
    """
    try:
        with path.open("rb") as handle:
            return handle.read(2) == GZIP_MAGIC
    except OSError as err:
        raise DataError(f"`{what}` file {path.name} cannot be read: {err.strerror}") from None


@contextlib.contextmanager
def open_maybe_gzip(path: Path, what: str) -> Iterator[BinaryIO]:
    """Opens ``path`` for reading, decompressing on the fly when it holds gzip data.

    Read errors and corrupt or truncated gzip streams, raised while the stream is read inside
    the ``with`` block, become one-line ``DataError``s naming the file.

    Raises:
        ValueError: "`mnist` file x.gz is not a valid gzip file: <reason>" or
            "`mnist` file x cannot be read: <reason>".
    """
    packed = is_gzip(path, what)
    try:
        with path.open("rb") as raw:
            if packed:
                with gzip.GzipFile(fileobj=raw, mode="rb") as stream:
                    yield stream  # type: ignore[misc]
            else:
                yield raw
    except (EOFError, zlib.error, gzip.BadGzipFile) as err:
        reason = str(err) or type(err).__name__
        raise DataError(f"`{what}` file {path.name} is not a valid gzip file: {reason}") from None
    except OSError as err:
        reason = err.strerror or str(err) or type(err).__name__
        raise DataError(f"`{what}` file {path.name} cannot be read: {reason}") from None


def read_at_most(stream: BinaryIO, limit: int) -> bytes:
    """Reads up to ``limit`` bytes (fewer at end of stream), in chunks of 4 MiB.

    Never asks the stream for more than ``limit`` bytes, so a gzip stream is decompressed
    only that far (a stream that inflates without bound costs at most ``limit`` bytes).
    """
    parts: list[bytes] = []
    left = limit
    while left > 0:
        chunk = stream.read(min(left, _CHUNK))
        if not chunk:
            break
        parts.append(chunk)
        left -= len(chunk)
    return b"".join(parts)


def read_maybe_gzip(path: Path, what: str) -> bytes:
    """Reads a file, decompressing it when it starts with the gzip magic bytes 1f 8b.

    Compression is detected from the content, not the suffix, so a ``.gz`` name holding raw
    bytes and a plain name holding gzip data both work. At most ``memory_budget()`` bytes
    (half the physical memory) are read or decompressed.

    Args:
        path: the file.
        what: parameter name used in error messages (e.g. "cifar10").

    Returns:
        The (decompressed) content.

    Raises:
        ValueError: the file cannot be read, is a corrupt or truncated gzip stream, or holds
            more than the memory budget.
    """
    budget, how = memory_budget()
    with open_maybe_gzip(path, what) as stream:
        data = read_at_most(stream, budget + 1)
    if len(data) > budget:
        raise DataError(
            f"`{what}` file {path.name} must hold at most {budget} bytes ({how}); got more"
        )
    return data
