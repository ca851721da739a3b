"""Reading measured durations from ``.npy``, ``.csv`` or ``.txt`` files."""

from __future__ import annotations

import io
import os
import re
from pathlib import Path

import numpy as np

from ._checks import LawError
from ._files import as_path, read_regular

__all__ = ["read_durations"]

_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")
_TEXT_SUFFIXES = (".csv", ".txt")


def _fail(path: str, rule: str, got: str) -> LawError:
    return LawError(f"`Empirical.path` {rule}; got {got} in {path!r}")


def _read_npy(data: bytes, shown: str) -> np.ndarray:
    try:
        arr = np.load(io.BytesIO(data), allow_pickle=False)
    except (ValueError, OSError, EOFError) as exc:
        raise _fail(shown, "must be a readable .npy file of numbers", type(exc).__name__) from None
    if not isinstance(arr, np.ndarray):
        raise _fail(shown, "must hold one array", type(arr).__name__)
    if arr.dtype == np.bool_ or not (
        np.issubdtype(arr.dtype, np.integer) or np.issubdtype(arr.dtype, np.floating)
    ):
        raise _fail(shown, "must hold real numbers", f"dtype {arr.dtype}")
    if arr.ndim == 2 and arr.shape[1] == 1:
        arr = arr[:, 0]
    if arr.ndim != 1:
        raise _fail(shown, "must hold a 1-D array (or one column)", f"shape {arr.shape}")
    return arr.astype(np.float64)


def _is_header(line: str) -> bool:
    """A header has no field that reads as a number (``nan`` and ``inf`` count as numbers)."""
    for field in re.split(r"[,;\t ]+", line):
        try:
            float(field)
        except ValueError:
            continue
        return False
    return True


def _read_text(data: bytes, shown: str) -> np.ndarray:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _fail(shown, "must be a readable UTF-8 text file", type(exc).__name__) from None
    values: list[float] = []
    first = True
    for lineno, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip().rstrip(",").strip()
        if not line:
            continue
        if _NUMBER.fullmatch(line):
            values.append(float(line))
        elif first and _is_header(line):
            pass
        else:
            raise _fail(shown, f"line {lineno} must be one finite number", repr(raw.strip()))
        first = False
    return np.asarray(values, dtype=np.float64)


def read_durations(path: str | os.PathLike[str]) -> np.ndarray:
    """Read a 1-D float64 array of durations from ``path``.

    ``.npy``: a 1-D numeric array (or an ``(m, 1)`` column). ``.csv``/``.txt``: one number per
    line, an optional non-numeric header line first, blank lines skipped.

    Args:
        path: the file.

    Returns:
        (m,) float64 array, ``m >= 1`` (sign and finiteness are checked by ``Empirical``).

    Raises:
        TypeError: ``path`` is not a ``str`` or an ``os.PathLike``.
        ValueError: missing file, not a regular file (a FIFO, a device...), larger than
            ``_files.MAX_FILE_BYTES``, unknown suffix, unreadable or empty file,
            non-numeric content, more than one column.
    """
    shown = as_path("Empirical.path", path)
    suffix = Path(shown).suffix.lower()
    if suffix != ".npy" and suffix not in _TEXT_SUFFIXES:
        raise _fail(shown, "must end in .npy, .csv or .txt", repr(Path(shown).suffix))
    data = read_regular("Empirical.path", shown)
    values = _read_npy(data, shown) if suffix == ".npy" else _read_text(data, shown)
    if values.size == 0:
        raise _fail(shown, "must hold at least 1 value", "0")
    return values
