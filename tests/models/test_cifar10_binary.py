"""CIFAR-10 binary loader on small files written in the documented record format."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from models import load_cifar10

RNG = np.random.default_rng(7)
PLANES = RNG.integers(0, 256, size=(5, 3, 32, 32), dtype=np.uint8)
LABELS = np.array([0, 9, 3, 3, 1])


def test_grayscale_weights_on_known_pixels(write_cifar) -> None:
    planes = PLANES.copy()
    planes[0, :, 0, 0] = (255, 0, 0)  # pure red
    planes[0, :, 0, 1] = (0, 255, 0)
    planes[0, :, 0, 2] = (0, 0, 255)
    planes[0, :, 31, 31] = (255, 255, 255)
    planes[1, :, 5, 7] = (100, 50, 200)
    ds = load_cifar10(write_cifar("test_batch.bin", planes, LABELS))
    assert ds.x.shape == (5, 1024) and ds.image_shape == (32, 32, 1)
    assert ds.x.dtype == np.float32 and ds.name == "cifar10-test"
    x = ds.x.astype(np.float64)
    np.testing.assert_allclose(x[0, :3], [0.2989, 0.5870, 0.114], rtol=1e-6)
    np.testing.assert_allclose(x[0, 31 * 32 + 31], 0.2989 + 0.5870 + 0.114, rtol=1e-6)
    expected = (0.2989 * 100 + 0.5870 * 50 + 0.114 * 200) / 255
    np.testing.assert_allclose(x[1, 5 * 32 + 7], expected, rtol=1e-6)
    r, g, b = planes.astype(np.float64).transpose(1, 0, 2, 3)
    full = ((0.2989 * r + 0.5870 * g + 0.114 * b) / 255).reshape(5, 1024)
    np.testing.assert_allclose(x, full, rtol=1e-6, atol=1e-7)
    np.testing.assert_array_equal(ds.y, LABELS)


def test_rgb_layout_is_hwc(write_cifar) -> None:
    ds = load_cifar10(write_cifar("test_batch.bin", PLANES, LABELS), grayscale=False)
    assert ds.x.shape == (5, 3072) and ds.image_shape == (32, 32, 3)
    assert ds.name == "cifar10-rgb-test"
    images = ds.x.reshape(5, 32, 32, 3)
    n, row, col = 2, 1, 2
    for channel in range(3):
        assert images[n, row, col, channel] == np.float32(PLANES[n, channel, row, col]) / 255
        assert ds.x[n, (row * 32 + col) * 3 + channel] == images[n, row, col, channel]
    np.testing.assert_array_equal(
        images, PLANES.transpose(0, 2, 3, 1).astype(np.float32) / np.float32(255)
    )
    assert 0.0 <= ds.x.min() and ds.x.max() <= 1.0


def test_train_batches_are_concatenated_and_preferred(write_cifar) -> None:
    write_cifar("test_batch.bin", PLANES[:1], LABELS[:1])
    write_cifar("data_batch_2.bin", PLANES[3:], LABELS[3:])
    folder = write_cifar("data_batch_1.bin", PLANES[:3], LABELS[:3])
    ds = load_cifar10(folder)
    assert ds.name == "cifar10" and ds.num_examples == 5
    np.testing.assert_array_equal(ds.y, LABELS)  # batch 1 then batch 2


def test_nested_release_folder(tmp_path: Path, write_cifar) -> None:
    write_cifar("test_batch.bin", PLANES, LABELS)
    nested = tmp_path / "release" / "cifar-10-batches-bin"
    nested.mkdir(parents=True)
    (tmp_path / "test_batch.bin").rename(nested / "test_batch.bin")
    assert load_cifar10(tmp_path / "release").num_examples == 5


def test_bad_length(write_cifar) -> None:
    folder = write_cifar("test_batch.bin", PLANES[:2], LABELS[:2])
    path = folder / "test_batch.bin"
    path.write_bytes(path.read_bytes() + b"\x00" * 5)
    expected = (
        "`cifar10` file test_batch.bin length must be a positive multiple of 3073 bytes "
        "(1 label + 3072 pixels per image); got 6151"
    )
    with pytest.raises(ValueError, match=f"^{re.escape(expected)}$"):
        load_cifar10(folder)
    path.write_bytes(b"")
    with pytest.raises(ValueError, match=r"multiple of 3073 bytes .*; got 0$"):
        load_cifar10(folder)


def test_bad_label(write_cifar) -> None:
    folder = write_cifar("data_batch_1.bin", PLANES[:2], np.array([1, 10]))
    with pytest.raises(
        ValueError, match=r"^`cifar10` file data_batch_1.bin labels must lie in 0..9; got 10$"
    ):
        load_cifar10(folder)


def test_missing_directory_or_files(tmp_path: Path) -> None:
    with pytest.raises(
        ValueError, match=r"^`directory` must be an existing directory; got 'no/such/dir'$"
    ):
        load_cifar10("no/such/dir")
    (tmp_path / "data_batch_1").write_bytes(b"python pickle version, not binary")
    with pytest.raises(ValueError, match=r"^`cifar10` directory must hold data_batch_1.bin"):
        load_cifar10(tmp_path)
    with pytest.raises(ValueError, match=r"^`grayscale` must be a bool; got 'yes'$"):
        load_cifar10(tmp_path, grayscale="yes")
