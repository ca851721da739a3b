"""Shared fixtures for the models tests: JAX on the CPU, the MNIST folder, file writers."""

from __future__ import annotations

import gzip
import os
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

# Exact float comparisons below assume CPU float32 matmuls (no TF32); a user who sets
# JAX_PLATFORMS explicitly keeps their choice.
os.environ.setdefault("JAX_PLATFORMS", "cpu")


def idx_images(images: np.ndarray, magic: int = 2051) -> bytes:
    """IDX bytes for (n, rows, cols) uint8 images."""
    n, rows, cols = images.shape
    head = b"".join(v.to_bytes(4, "big") for v in (magic, n, rows, cols))
    return head + images.astype(np.uint8).tobytes()


def idx_labels(labels: np.ndarray, magic: int = 2049) -> bytes:
    """IDX bytes for (n,) uint8 labels."""
    return (
        magic.to_bytes(4, "big")
        + len(labels).to_bytes(4, "big")
        + labels.astype(np.uint8).tobytes()
    )


@pytest.fixture
def write_mnist(tmp_path: Path):
    """Returns ``write(images=None, labels=None, prefix="t10k", gz=True, ...)`` -> folder.

    Default content: 6 random 4x5 images with labels 0..5. ``edit_images`` / ``edit_labels``
    map the uncompressed IDX bytes to what is written (to corrupt them).
    """

    def write(
        images: np.ndarray | None = None,
        labels: np.ndarray | None = None,
        prefix: str = "t10k",
        gz: bool = True,
        edit_images: Callable[[bytes], bytes] = lambda b: b,
        edit_labels: Callable[[bytes], bytes] = lambda b: b,
    ) -> Path:
        if images is None:
            images = np.random.default_rng(0).integers(0, 256, size=(6, 4, 5), dtype=np.uint8)
        if labels is None:
            labels = np.arange(len(images)) % 10
        contents = {
            f"{prefix}-images-idx3-ubyte": edit_images(idx_images(images)),
            f"{prefix}-labels-idx1-ubyte": edit_labels(idx_labels(labels)),
        }
        for name, data in contents.items():
            if gz:
                (tmp_path / f"{name}.gz").write_bytes(gzip.compress(data))
            else:
                (tmp_path / name).write_bytes(data)
        return tmp_path

    return write


@pytest.fixture
def write_cifar(tmp_path: Path):
    """Returns ``write(name, planes, labels)`` writing a CIFAR-10 binary batch file.

    ``planes`` is (n, 3, 32, 32) uint8 (R, G, B planes); returns the folder.
    """

    def write(name: str, planes: np.ndarray, labels: np.ndarray) -> Path:
        n = len(labels)
        records = np.concatenate(
            [labels.astype(np.uint8)[:, None], planes.astype(np.uint8).reshape(n, -1)], axis=1
        )
        (tmp_path / name).write_bytes(records.tobytes())
        return tmp_path

    return write
