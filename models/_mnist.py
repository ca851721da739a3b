"""MNIST from the original IDX files (LeCun et al.), plain or gzip-compressed."""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np

from ._checks import DataError, check_memory, shown
from ._dataset import Dataset
from ._files import existing_dir, is_gzip, open_maybe_gzip, read_at_most, regular_file

IMAGES_MAGIC = 2051  # 0x00000803: unsigned bytes, 3 dimensions
LABELS_MAGIC = 2049  # 0x00000801: unsigned bytes, 1 dimension
SPLITS = {"train": "train", "test": "t10k"}


def _find(directory: Path, stem: str) -> Path | None:
    for name in (stem, stem + ".gz"):
        if regular_file(directory / name, "mnist") is not None:
            return directory / name
    return None


def _dims(head: bytes, path: Path, magic: int, ndim: int) -> tuple[int, ...]:
    """Checks the magic number and sizes of an IDX header; returns its dimensions."""
    if len(head) < 4 + 4 * ndim:
        raise DataError(
            f"`mnist` file {path.name} is truncated: expected at least {4 + 4 * ndim} bytes, "
            f"got {len(head)}"
        )
    found = int.from_bytes(head[:4], "big")
    if found != magic:
        kind = "images" if magic == IMAGES_MAGIC else "labels"
        raise DataError(
            f"`mnist` file {path.name} must start with magic number {magic} (IDX {kind}); "
            f"got {found}"
        )
    dims = tuple(int.from_bytes(head[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    if dims[0] < 1 or any(s < 1 for s in dims[1:]):
        raise DataError(f"`mnist` file {path.name} header must give sizes >= 1; got {dims}")
    return dims


def _read_idx(path: Path, magic: int, ndim: int) -> tuple[tuple[int, ...], bytes]:
    """Reads an IDX file (plain or gzip); returns its dimensions and its data bytes.

    The header is read first; the body is refused before it is read when the declared
    sizes, at 9 bytes per value (the uint8 data and two float32 copies), exceed
    ``memory_budget()``, and at most the declared size + 1 byte is ever decompressed.
    """
    head_size = 4 + 4 * ndim
    with open_maybe_gzip(path, "mnist") as stream:
        head = read_at_most(stream, head_size)
        dims = _dims(head, path, magic, ndim)
        size = math.prod(dims)
        check_memory(f"`mnist` file {path.name} header sizes {dims}", 9 * size)
        body = read_at_most(stream, size + 1)
    expected, got = head_size + size, head_size + len(body)
    if got < expected:
        raise DataError(
            f"`mnist` file {path.name} is truncated: expected {expected} bytes, got {got}"
        )
    if got > expected:
        if is_gzip(path, "mnist"):
            raise DataError(
                f"`mnist` file {path.name} decompresses to more than the {expected} bytes "
                "its header declares"
            )
        raise DataError(
            f"`mnist` file {path.name} has trailing data: expected {expected} bytes, "
            f"got {path.stat().st_size}"
        )
    return dims, body


def _read_pair(images_path: Path, labels_path: Path) -> tuple[np.ndarray, np.ndarray, tuple]:
    (n, rows, cols), data = _read_idx(images_path, IMAGES_MAGIC, 3)
    images = np.frombuffer(data, dtype=np.uint8).reshape(n, rows * cols)
    (n_labels,), data = _read_idx(labels_path, LABELS_MAGIC, 1)
    if n_labels != n:
        raise DataError(
            f"`mnist` files {images_path.name} and {labels_path.name} disagree: "
            f"{n} images but {n_labels} labels"
        )
    labels = np.frombuffer(data, dtype=np.uint8)
    if labels.max() > 9:
        raise DataError(
            f"`mnist` file {labels_path.name} labels must lie in 0..9; got {int(labels.max())}"
        )
    return images, labels, (rows, cols, 1)


def load_mnist(directory: str | os.PathLike, split: str = "auto") -> Dataset:
    """Loads MNIST from the original IDX files.

    Looks in ``directory`` for ``train-images-idx3-ubyte``, ``train-labels-idx1-ubyte``,
    ``t10k-images-idx3-ubyte`` and ``t10k-labels-idx1-ubyte``, each possibly with a ``.gz``
    suffix (gzip is recognised by its magic bytes whatever the name). Magic numbers, sizes,
    lengths and labels are checked; nothing is downloaded. Header sizes needing more than
    ``memory_budget()`` (half the physical memory, at 9 bytes per pixel) are refused before
    the data is read, and a gzip stream is never decompressed past the size its header
    declares (+ 1 byte, to detect trailing data).

    Args:
        directory: folder holding the files.
        split: "train" (60000 images), "test" (the t10k files, 10000 images) or "auto"
            (train when both train files are present, else test).

    Returns:
        A classification ``Dataset`` with 10 classes: x (N, 784) float32 in [0, 1]
        (pixels / 255, rows flattened), y (N,) int32, image_shape (28, 28, 1).

    Raises:
        ValueError: one line naming the missing, truncated or corrupt file, e.g.
            "`mnist` file t10k-images-idx3-ubyte.gz is truncated: expected 7840016 bytes,
            got 1000".

    Example:
        >>> ds = load_mnist("data/mnist")  # doctest: +SKIP
        >>> ds.x.shape, ds.image_shape  # doctest: +SKIP
        ((10000, 784), (28, 28, 1))
    """
    if split not in ("auto", *SPLITS):
        raise DataError(f"`split` must be one of auto, train, test; got {shown(split)}")
    path = existing_dir(directory, "directory")
    found = {
        key: (
            _find(path, f"{prefix}-images-idx3-ubyte"),
            _find(path, f"{prefix}-labels-idx1-ubyte"),
        )
        for key, prefix in SPLITS.items()
    }
    if split == "auto":
        split = "train" if all(found["train"]) else "test"
        if not all(found["test"]) and not all(found["train"]) and any(found["train"]):
            split = "train"
    images_path, labels_path = found[split]
    if images_path is None or labels_path is None:
        prefix = SPLITS[split]
        missing = [
            name
            for name, p in zip(
                (f"{prefix}-images-idx3-ubyte", f"{prefix}-labels-idx1-ubyte"),
                found[split],
                strict=True,
            )
            if p is None
        ]
        raise DataError(
            f"`mnist` directory must hold {' and '.join(missing)} (optionally .gz); "
            f"got {str(directory)!r}"
        )
    images, labels, image_shape = _read_pair(images_path, labels_path)
    x = images.astype(np.float32) / np.float32(255.0)
    return Dataset(
        "mnist" if split == "train" else "mnist-t10k",
        x,
        labels.astype(np.int32),
        num_classes=10,
        image_shape=image_shape,
        task="classification",
    )
