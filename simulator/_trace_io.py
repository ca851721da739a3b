"""Reading and writing a trace's arrays as an ``.npz`` file (see :mod:`simulator.trace`)."""

from __future__ import annotations

import os
import zipfile
from pathlib import Path

import numpy as np

from simulator._checks import MEMORY_BUDGET
from simulator._tempfiles import remove_stale, temp_path
from simulator.errors import PssimError, PssimTypeError, shown

__all__ = ["read_npz", "write_npz"]

#: Scalar fields of a trace, with their types.
META_FIELDS = {"variant": str, "num_learners": int, "k": int, "seed": int, "local_steps": int}


def write_npz(path: str | os.PathLike, arrays: dict, meta: dict) -> Path:
    """Write ``arrays`` and ``meta`` to a ``.npz`` file (suffix added if missing), through a
    temporary file; returns the path."""
    if isinstance(path, bytes) or not isinstance(path, (str, os.PathLike)) or not str(path):
        raise PssimTypeError(
            f"`path` must be a path (str or os.PathLike); got {shown(path)}", param="path"
        )
    path = Path(path)
    if path.suffix != ".npz":
        path = path.with_suffix(".npz")
    if not path.parent.is_dir():
        raise PssimError(
            f"`path` must be in an existing folder; got {shown(str(path))}", param="path"
        )
    remove_stale(path.parent)
    tmp = temp_path(path, keep_suffix=True)  # savez would append .npz to another suffix
    try:
        np.savez_compressed(tmp, **arrays, **{k: np.asarray(v) for k, v in meta.items()})
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def read_npz(
    path: str | os.PathLike, required: tuple[str, ...], optional: tuple[str, ...]
) -> tuple[dict, dict]:
    """(meta, arrays) of a file written by :func:`write_npz`: every ``required`` array and
    the ``optional`` ones it holds.

    Only a regular file is read (a FIFO or a device is refused before it is opened), and
    only if its arrays, inflated, fit in half the physical memory (checked from the zip
    directory before any array is read).
    """
    if not isinstance(path, (str, os.PathLike)) or not os.fspath(path):
        raise PssimTypeError(
            f"`path` must be a path (str or os.PathLike); got {shown(path)}", param="path"
        )
    path = Path(path)
    if not path.is_file():
        raise PssimError(f"`trace path` must be an existing .npz file; got {str(path)!r}")
    try:
        with np.load(path, allow_pickle=False) as data:
            size = sum(info.file_size for info in data.zip.infolist())
            if size > MEMORY_BUDGET:
                raise PssimError(
                    f"`trace path` arrays must fit in half the physical memory; {path} "
                    f"holds {size} bytes",
                    param="path",
                )
            arrays = {f: data[f] for f in required}
            arrays.update({f: data[f] for f in optional if f in data.files})
            meta = {name: kind(data[name]) for name, kind in META_FIELDS.items()}
    except (KeyError, OSError, ValueError, AttributeError, zipfile.BadZipFile) as err:
        if isinstance(err, PssimError):
            raise
        raise PssimError(f"`trace path` must be a trace saved by pssim; {path}: {err}") from None
    return meta, arrays
