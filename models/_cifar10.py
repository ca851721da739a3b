"""CIFAR-10 from the binary version of the data set (never unpickled)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ._checks import DataError, shown
from ._dataset import Dataset
from ._files import existing_dir, read_maybe_gzip, regular_file

SIDE = 32
PIXELS = SIDE * SIDE * 3
RECORD = 1 + PIXELS  # one label byte, then the R, G and B planes, row-major
TRAIN_FILES = tuple(f"data_batch_{i}.bin" for i in range(1, 6))
TEST_FILE = "test_batch.bin"
#: Luma weights for R, G, B used by Dutta et al. 2018 (supplement section 9).
GREY_WEIGHTS = np.array([0.2989, 0.5870, 0.114], dtype=np.float64)


def _features(planes: np.ndarray, grayscale: bool) -> np.ndarray:
    """(n, 3, 32, 32) uint8 planes -> (n, 1024) grey or (n, 3072) HWC float32 in [0, 1]."""
    if grayscale:
        grey = sum(w * planes[:, c].astype(np.float64) for c, w in enumerate(GREY_WEIGHTS))
        return (grey / 255.0).reshape(-1, SIDE * SIDE).astype(np.float32)
    hwc = planes.transpose(0, 2, 3, 1).reshape(-1, PIXELS)
    return hwc.astype(np.float32) / np.float32(255.0)


def _read_batch(path: Path, grayscale: bool) -> tuple[np.ndarray, np.ndarray]:
    """Reads one binary batch file; returns features (n, d) float32 and labels (n,) uint8."""
    data = read_maybe_gzip(path, "cifar10")
    if len(data) == 0 or len(data) % RECORD:
        raise DataError(
            f"`cifar10` file {path.name} length must be a positive multiple of {RECORD} bytes "
            f"(1 label + {PIXELS} pixels per image); got {len(data)}"
        )
    records = np.frombuffer(data, dtype=np.uint8).reshape(-1, RECORD)
    labels = records[:, 0]
    if labels.max() > 9:
        raise DataError(
            f"`cifar10` file {path.name} labels must lie in 0..9; got {int(labels.max())}"
        )
    return _features(records[:, 1:].reshape(-1, 3, SIDE, SIDE), grayscale), labels


def load_cifar10(directory: str | os.PathLike, grayscale: bool = True) -> Dataset:
    """Loads CIFAR-10 from its binary files.

    Reads ``data_batch_1.bin`` .. ``data_batch_5.bin`` (those present, in order) or, when
    none is present, ``test_batch.bin``, from ``directory`` or from its
    ``cifar-10-batches-bin`` subfolder. Each record is 1 label byte followed by 3072 pixel
    bytes: the 32x32 R plane, then G, then B.

    Args:
        directory: folder holding the ``.bin`` files.
        grayscale: combine the channels as 0.2989 R + 0.5870 G + 0.114 B (Dutta et al. 2018,
            supplement section 9) into 1024 features; else keep 3072 features in HWC order.

    Returns:
        A classification ``Dataset`` with 10 classes, x float32 in [0, 1] (pixel / 255),
        shape (N, 1024) with image_shape (32, 32, 1), or (N, 3072) with (32, 32, 3).

    Raises:
        ValueError: missing directory or files, a length that is not a multiple of 3073, or
            a label outside 0..9.

    Example:
        >>> ds = load_cifar10("data/cifar-10-batches-bin")  # doctest: +SKIP
        >>> ds.x.shape  # doctest: +SKIP
        (50000, 1024)
    """
    if not isinstance(grayscale, bool):
        raise DataError(f"`grayscale` must be a bool; got {shown(grayscale)}")
    path = existing_dir(directory, "directory")

    def present(name: str) -> bool:
        return regular_file(path / name, "cifar10") is not None

    if not any(present(f) for f in (*TRAIN_FILES, TEST_FILE)):
        nested = path / "cifar-10-batches-bin"
        if nested.is_dir():
            path = nested
    files = [path / f for f in TRAIN_FILES if present(f)]
    split = "train"
    if not files:
        files = [path / TEST_FILE] if present(TEST_FILE) else []
        split = "test"
    if not files:
        raise DataError(
            "`cifar10` directory must hold data_batch_1.bin .. data_batch_5.bin or "
            f"test_batch.bin (the binary version); got {str(directory)!r}"
        )
    parts = [_read_batch(f, grayscale) for f in files]
    x = np.concatenate([p for p, _ in parts])
    labels = np.concatenate([lab for _, lab in parts]).astype(np.int32)
    shape = (SIDE, SIDE, 1 if grayscale else 3)
    name = "cifar10" if grayscale else "cifar10-rgb"
    if split == "test":
        name += "-test"
    return Dataset(name, x, labels, num_classes=10, image_shape=shape, task="classification")
