"""MNIST IDX loader: the real t10k files and corrupted copies of IDX data."""

from __future__ import annotations

import gzip
import re
import shutil
from pathlib import Path

import numpy as np
import pytest

from models import DataError, load_mnist


@pytest.fixture(scope="module")
def mnist(mnist_dir: Path):
    return load_mnist(mnist_dir)


def test_real_t10k_files_load(mnist) -> None:
    assert mnist.x.shape == (10_000, 784)
    assert mnist.x.dtype == np.float32 and mnist.y.dtype == np.int32
    assert mnist.x.min() == 0.0 and mnist.x.max() == 1.0
    assert mnist.image_shape == (28, 28, 1)
    assert mnist.num_classes == 10 and mnist.task == "classification"
    counts = np.bincount(mnist.y, minlength=10)
    assert counts.shape == (10,) and np.all((counts >= 800) & (counts <= 1200)), counts
    assert mnist.y[0] == 7
    assert mnist.x_eval.shape == (10_000, 784)  # N <= 10000: evaluated on itself


def test_real_first_image_is_a_centred_digit(mnist) -> None:
    image = mnist.x[0].reshape(28, 28)
    assert image[:4].sum() == 0 and image[:, :3].sum() == 0  # empty border
    assert 50 < (image > 0.5).sum() < 300  # some stroke pixels, not all


def test_real_split_options(mnist_dir: Path) -> None:
    assert load_mnist(mnist_dir, split="test").y[0] == 7
    with pytest.raises(ValueError, match=r"^`mnist` directory must hold train-images-idx3-ubyte"):
        load_mnist(mnist_dir, split="train")
    with pytest.raises(ValueError, match=r"^`split` must be one of auto, train, test; got 'x'$"):
        load_mnist(mnist_dir, split="x")


def test_real_images_truncated_copy(mnist_dir: Path, tmp_path: Path) -> None:
    raw = gzip.decompress((mnist_dir / "t10k-images-idx3-ubyte.gz").read_bytes())
    (tmp_path / "t10k-images-idx3-ubyte.gz").write_bytes(gzip.compress(raw[:1000]))
    shutil.copy(mnist_dir / "t10k-labels-idx1-ubyte.gz", tmp_path)
    expected = (
        "`mnist` file t10k-images-idx3-ubyte.gz is truncated: expected 7840016 bytes, got 1000"
    )
    with pytest.raises(ValueError, match=f"^{re.escape(expected)}$"):
        load_mnist(tmp_path)


def test_real_compressed_stream_cut_short(mnist_dir: Path, tmp_path: Path) -> None:
    blob = (mnist_dir / "t10k-labels-idx1-ubyte.gz").read_bytes()
    shutil.copy(mnist_dir / "t10k-images-idx3-ubyte.gz", tmp_path)
    (tmp_path / "t10k-labels-idx1-ubyte.gz").write_bytes(blob[: len(blob) // 2])
    with pytest.raises(
        ValueError, match=r"^`mnist` file t10k-labels-idx1-ubyte.gz is not a valid gzip file: "
    ):
        load_mnist(tmp_path)


@pytest.mark.parametrize("gz", [True, False])
def test_small_files_roundtrip(write_mnist, gz: bool) -> None:
    images = np.arange(6 * 4 * 5).reshape(6, 4, 5).astype(np.uint8) * 2
    ds = load_mnist(write_mnist(images=images, labels=np.array([3, 1, 4, 1, 5, 9]), gz=gz))
    assert ds.image_shape == (4, 5, 1)  # header sizes are honoured
    np.testing.assert_array_equal(ds.x, images.reshape(6, 20) / np.float32(255))
    np.testing.assert_array_equal(ds.y, [3, 1, 4, 1, 5, 9])


def test_gzip_detected_by_content_not_suffix(write_mnist) -> None:
    folder = write_mnist(gz=True)
    for path in folder.glob("*.gz"):
        path.rename(path.with_suffix(""))  # gzip data under a plain name
    assert load_mnist(folder).num_examples == 6


def test_train_files_preferred(write_mnist) -> None:
    write_mnist(prefix="t10k")
    images = np.zeros((3, 2, 2), np.uint8)
    folder = write_mnist(images=images, labels=np.array([0, 1, 2]), prefix="train", gz=False)
    assert load_mnist(folder).num_examples == 3
    assert load_mnist(folder, split="test").num_examples == 6


def _set_word(position: int, value: int):
    def edit(data: bytes) -> bytes:
        return data[: 4 * position] + value.to_bytes(4, "big") + data[4 * position + 4 :]

    return edit


@pytest.mark.parametrize("gz", [True, False])
@pytest.mark.parametrize(
    ("edit_images", "edit_labels", "message"),
    [
        (
            _set_word(0, 2049),
            None,
            "`mnist` file t10k-images-idx3-ubyte{sfx} must start with magic number 2051 "
            "(IDX images); got 2049",
        ),
        (
            None,
            _set_word(0, 2051),
            "`mnist` file t10k-labels-idx1-ubyte{sfx} must start with magic number 2049 "
            "(IDX labels); got 2051",
        ),
        (
            lambda b: b[:-7],
            None,
            "`mnist` file t10k-images-idx3-ubyte{sfx} is truncated: expected 136 bytes, got 129",
        ),
        (
            lambda b: b[:10],
            None,
            "`mnist` file t10k-images-idx3-ubyte{sfx} is truncated: expected at least 16 bytes, "
            "got 10",
        ),
        (
            lambda b: b + b"junk",
            None,
            (
                "`mnist` file t10k-images-idx3-ubyte has trailing data: expected 136 bytes, "
                "got 140",
                "`mnist` file t10k-images-idx3-ubyte.gz decompresses to more than the 136 bytes "
                "its header declares",
            ),
        ),
        (
            None,
            lambda b: b + b"\x00",
            (
                "`mnist` file t10k-labels-idx1-ubyte has trailing data: expected 14 bytes, got 15",
                "`mnist` file t10k-labels-idx1-ubyte.gz decompresses to more than the 14 bytes "
                "its header declares",
            ),
        ),
        (
            _set_word(2, 0),
            None,
            "`mnist` file t10k-images-idx3-ubyte{sfx} header must give sizes >= 1; got (6, 0, 5)",
        ),
        (
            None,
            lambda b: _set_word(1, 5)(b)[:-1],
            "`mnist` files t10k-images-idx3-ubyte{sfx} and t10k-labels-idx1-ubyte{sfx} "
            "disagree: 6 images but 5 labels",
        ),
        (
            None,
            lambda b: b[:-1] + bytes([12]),
            "`mnist` file t10k-labels-idx1-ubyte{sfx} labels must lie in 0..9; got 12",
        ),
    ],
)
def test_corrupt_files_raise_one_clear_line(
    write_mnist, gz: bool, edit_images, edit_labels, message: str | tuple[str, str]
) -> None:
    folder = write_mnist(
        gz=gz,
        edit_images=edit_images or (lambda b: b),
        edit_labels=edit_labels or (lambda b: b),
    )
    if isinstance(message, tuple):  # (plain file, gzip file): gzip is read only so far
        message = message[gz]
    expected = message.format(sfx=".gz" if gz else "")
    with pytest.raises(ValueError, match=f"^{re.escape(expected)}$"):
        load_mnist(folder)


def test_damaged_gzip_raises_value_error(write_mnist) -> None:
    folder = write_mnist(images=np.zeros((50, 28, 28), np.uint8), labels=np.zeros(50, int))
    path = folder / "t10k-images-idx3-ubyte.gz"
    blob = bytearray(path.read_bytes())
    blob[len(blob) // 2] ^= 0xFF
    blob[-6] ^= 0xFF  # damage the stored CRC too, so the error cannot go unnoticed
    path.write_bytes(bytes(blob))
    # The damaged stream may fail its checks or inflate past the declared size: both refuse.
    with pytest.raises(
        ValueError,
        match=r"^`mnist` file t10k-images-idx3-ubyte.gz (is not a valid gzip file: "
        r"|decompresses to more than the 39216 bytes its header declares$)",
    ):
        load_mnist(folder)


def test_bounded_read_still_checks_the_gzip_crc(write_mnist) -> None:
    folder = write_mnist()
    path = folder / "t10k-images-idx3-ubyte.gz"
    blob = bytearray(path.read_bytes())
    blob[-6] ^= 0xFF  # the stored CRC-32 only: the data inflates to exactly the declared size
    path.write_bytes(bytes(blob))
    with pytest.raises(
        DataError, match=r"^`mnist` file t10k-images-idx3-ubyte.gz is not a valid gzip file: CRC"
    ):
        load_mnist(folder)


def test_missing_directory_and_files(tmp_path: Path, write_mnist) -> None:
    with pytest.raises(
        ValueError, match=r"^`directory` must be an existing directory; got 'nope/'$"
    ):
        load_mnist("nope/")
    with pytest.raises(ValueError, match="must hold t10k-images-idx3-ubyte and t10k-labels"):
        load_mnist(tmp_path)
    folder = write_mnist()
    (folder / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(ValueError, match=r"must hold t10k-labels-idx1-ubyte \(optionally .gz\)"):
        load_mnist(folder)
