"""File helpers for the loaders: path checks and bounded reads of possibly gzip-compressed data."""

from __future__ import annotations

import contextlib
import gzip
import os
import stat
import zipfile
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

import numpy as np

from ._checks import DataError, DataTypeError, memory_budget, shown

GZIP_MAGIC = b"\x1f\x8b"
_CHUNK = 1 << 22  # bytes read per call (4 MiB): memory follows the data, not a declared size


_KINDS = (
    (stat.S_ISDIR, "a folder"),
    (stat.S_ISFIFO, "a FIFO"),
    (stat.S_ISCHR, "a device"),
    (stat.S_ISBLK, "a device"),
    (stat.S_ISSOCK, "a socket"),
)


def as_path(name: str, value: object) -> Path:
    """``value`` as a ``Path`` after checking it is a ``str`` or an ``os.PathLike`` of one.

    Raises:
        TypeError: "`directory` must be a path (str or os.PathLike); got None (NoneType)".
    """
    text = os.fspath(value) if isinstance(value, os.PathLike) else value
    if not isinstance(text, str) or not text:
        raise DataTypeError(
            f"`{name}` must be a path (str or os.PathLike); got {shown(value)} "
            f"({type(value).__name__})"
        )
    return Path(text)


def _kind(mode: int) -> str:
    return next((text for test, text in _KINDS if test(mode)), "not a regular file")


def existing_dir(directory: str | os.PathLike, name: str = "data") -> Path:
    """Returns ``directory`` as a ``Path`` after checking that it is an existing directory.

    Args:
        directory: the folder.
        name: how messages call it: ``"data"`` (a data spec, shown as "`data` path") or
            the Python argument (``"directory"``).

    Raises:
        TypeError: not a path.
        ValueError: "`data` path must be an existing directory; got 'nope/'".
    """
    shown_name = "`data` path" if name == "data" else f"`{name}`"
    path = as_path(name, directory)
    if not path.is_dir():
        typed = os.fspath(directory)  # as typed: Path() drops a trailing slash
        raise DataError(f"{shown_name} must be an existing directory; got {shown(typed, 160)}")
    return path


def existing_file(file: str | os.PathLike) -> Path:
    """Returns ``file`` as a ``Path`` after checking that it is an existing regular file.

    A FIFO, a device or a folder is refused from its ``stat``, before anything opens it.

    Raises:
        ValueError: "`data` path must be an existing file; got 'x.npz'" or "`data` path
            must be a regular file; got a FIFO at 'x.npz'".
    """
    path = as_path("data", file)
    typed = shown(os.fspath(file), 160)
    try:
        mode = path.stat().st_mode
    except OSError:
        raise DataError(f"`data` path must be an existing file; got {typed}") from None
    if not stat.S_ISREG(mode):
        raise DataError(f"`data` path must be a regular file; got {_kind(mode)} at {typed}")
    return path


def regular_file(path: Path, what: str) -> Path | None:
    """``path`` if it is a regular file (links followed), None if nothing is there.

    Raises:
        ValueError: something else is there: "`mnist` file t10k-images-idx3-ubyte.gz must
            be a regular file; got a FIFO".
    """
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        return None
    except OSError as err:
        raise DataError(f"`{what}` file {path.name} cannot be read: {err.strerror}") from None
    if not stat.S_ISREG(mode):
        raise DataError(f"`{what}` file {path.name} must be a regular file; got {_kind(mode)}")
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


def read_npz(path: Path) -> dict[str, np.ndarray]:
    """The arrays of an npz file, after checking the file and the arrays' total (inflated)
    size against the memory budget, from the zip directory, before reading any array."""
    budget, how = memory_budget()
    size = path.stat().st_size
    if size > budget:
        raise DataError(
            f"`data` npz file {path.name} must hold at most {budget} bytes ({how}); got {size}"
        )
    try:
        with np.load(path, allow_pickle=False) as archive:
            inflated = sum(info.file_size for info in archive.zip.infolist())
            if inflated > budget:
                raise DataError(
                    f"`data` npz file {path.name} must hold at most {budget} bytes of arrays "
                    f"({how}); got {inflated}"
                )
            return {key: archive[key] for key in archive.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as err:
        if isinstance(err, DataError):
            raise
        raise DataError(f"`data` npz file {path.name} cannot be read: {err}") from None
