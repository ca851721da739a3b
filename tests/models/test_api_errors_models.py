"""The models' public functions answer bad input with a DataError naming the argument (or,
through ``load_dataset``, the ``data`` spec and what it holds), in one line: paths that are
not paths, files that are not regular or too large, huge numbers and ragged arrays."""

from __future__ import annotations

import os
import threading
import zipfile
from pathlib import Path

import numpy as np
import pytest

from models import (
    DataError,
    Dataset,
    DataTypeError,
    build_model,
    check_batch_size,
    check_model_fits,
    cnn,
    from_arrays,
    least_squares,
    least_squares_optimum,
    load_cifar10,
    load_dataset,
    load_mnist,
    mlp,
    softmax_regression,
    synthetic_classes,
    synthetic_least_squares,
)

HUGE = 10**400
TOY = Dataset("toy", np.zeros((4, 2)), np.arange(4) % 2)


def _one_line(err: pytest.ExceptionInfo) -> str:
    text = str(err.value)
    assert "\n" not in text and len(text) < 300, text
    return text


# ------------------------------------------------------------------------ paths
@pytest.mark.parametrize("load", [load_mnist, load_cifar10], ids=["mnist", "cifar10"])
@pytest.mark.parametrize("directory", [None, 123, 1.5, ["d"], object()])
def test_loaders_refuse_what_is_not_a_path(load, directory):
    with pytest.raises(DataTypeError) as err:
        load(directory)
    assert _one_line(err).startswith("`directory` must be a path (str or os.PathLike); got ")


def test_loaders_name_their_argument_and_the_spec_names_data(tmp_path):
    with pytest.raises(DataError) as err:
        load_mnist("nope/")
    assert _one_line(err) == "`directory` must be an existing directory; got 'nope/'"
    with pytest.raises(DataError) as err:
        load_dataset("mnist:nope/")
    assert _one_line(err) == "`data` path must be an existing directory; got 'nope/'"


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_a_fifo_in_place_of_an_mnist_file_is_refused_without_hanging(tmp_path, write_mnist):
    folder = write_mnist()
    (folder / "t10k-images-idx3-ubyte.gz").unlink()
    os.mkfifo(folder / "t10k-images-idx3-ubyte.gz")
    result: dict = {}

    def read():
        try:
            load_mnist(folder)
        except DataError as exc:
            result["error"] = str(exc)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    reader.join(timeout=20)
    if reader.is_alive():
        with open(folder / "t10k-images-idx3-ubyte.gz", "wb"):
            pass
        reader.join(timeout=5)
        pytest.fail("load_mnist blocked on a FIFO")
    assert result["error"] == (
        "`mnist` file t10k-images-idx3-ubyte.gz must be a regular file; got a FIFO"
    )


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_npz_data_must_be_a_regular_file(tmp_path):
    fifo = tmp_path / "data.npz"
    os.mkfifo(fifo)
    with pytest.raises(DataError) as err:
        load_dataset(f"npz:{fifo}")
    assert _one_line(err) == f"`data` path must be a regular file; got a FIFO at {str(fifo)!r}"
    if os.path.exists("/dev/zero"):
        with pytest.raises(DataError) as err:
            load_dataset("npz:/dev/zero")
        assert _one_line(err) == "`data` path must be a regular file; got a device at '/dev/zero'"


def test_npz_data_over_the_size_cap_is_refused_before_reading(tmp_path, monkeypatch):
    import models._files

    path = tmp_path / "big.npz"
    np.savez(path, x=np.ones((50, 3)), y=np.arange(50) % 2)
    monkeypatch.setattr(models._files, "memory_budget", lambda: (256, "a test budget"))
    with pytest.raises(DataError) as err:
        load_dataset(f"npz:{path}")
    assert _one_line(err).startswith("`data` npz file big.npz must hold at most 256 bytes")


def test_npz_arrays_that_inflate_beyond_the_budget_are_refused(tmp_path, monkeypatch):
    import models._files

    path = tmp_path / "bomb.npz"
    np.savez_compressed(path, x=np.zeros((2000, 50)), y=np.zeros(2000, dtype=np.int64))
    assert path.stat().st_size < 10_000  # zeros compress well
    monkeypatch.setattr(models._files, "memory_budget", lambda: (100_000, "a test budget"))
    with pytest.raises(DataError) as err:
        load_dataset(f"npz:{path}")
    assert _one_line(err).startswith(
        "`data` npz file bomb.npz must hold at most 100000 bytes of arrays (a test budget); got "
    )
    with zipfile.ZipFile(path) as archive:  # the check read headers, not the arrays
        assert sum(i.file_size for i in archive.infolist()) > 100_000


# ------------------------------------------------------------ what --data refusals name
def _npz(tmp_path: Path, **arrays) -> str:
    path = tmp_path / "bad.npz"
    np.savez(path, **arrays)
    return f"npz:{path}"


@pytest.mark.parametrize(
    ("arrays", "message"),
    [
        (
            dict(x=np.ones((10, 3)), y=np.ones(9)),
            "`data` npz file bad.npz: array y must have shape (10,) to match the features; "
            "got (9,)",
        ),
        (
            dict(x=np.full((10, 3), np.nan), y=np.arange(10) % 2),
            "`data` npz file bad.npz: array x must be finite; got 30 bad values",
        ),
        (
            dict(x=np.array(["a"] * 10), y=np.arange(10) % 2),
            "`data` npz file bad.npz: array x must hold real numbers; got dtype <U1",
        ),
        (
            dict(x=np.ones((10, 3)), y=np.arange(10) - 3),
            "`data` npz file bad.npz: array y labels must lie in [0, num_classes); "
            "got range [-3, 6]",
        ),
        (
            dict(x=np.ones((10, 3)), y=np.arange(10) % 2, x_eval=np.ones((2, 4)), y_eval=[0, 1]),
            "`data` npz file bad.npz: array x_eval must have 3 columns; got 4",
        ),
    ],
)
def test_npz_refusals_name_the_file_and_its_arrays(tmp_path, arrays, message):
    with pytest.raises(DataError) as err:
        load_dataset(_npz(tmp_path, **arrays))
    assert _one_line(err) == message


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        (
            "synthetic:classes,1000000000000,1000000,4",
            "`data` synthetic:classes,1000000000000,1000000,4: N x D = 1000000000000 x 1000000 "
            "must fit in the memory budget of ",
        ),
        (
            "synthetic:least-squares,1000000000000,1000000",
            "`data` synthetic:least-squares,1000000000000,1000000: N x D = 1000000000000 x "
            "1000000 must fit in the memory budget of ",
        ),
        ("synthetic:classes,0", "`data` synthetic:classes,0: N must be an integer >= 1; got 0"),
        ("synthetic:classes,3,2,4", "`data` synthetic:classes,3,2,4: N must be >= C (4); got 3"),
        (
            "synthetic:least-squares,5,10",
            "`data` synthetic:least-squares,5,10: N must be >= D (10); got 5",
        ),
        ("synthetic:classes,9" + "9" * 400, "`data` synthetic:classes,"),
    ],
)
def test_synthetic_refusals_name_the_spec_and_its_letters(spec, message):
    with pytest.raises(DataError) as err:
        load_dataset(spec)
    assert _one_line(err).startswith(message)


# ------------------------------------------------------------------ other functions
@pytest.mark.parametrize("dataset", [None, "digits", 3, np.zeros((4, 2))])
def test_checks_refuse_what_is_not_a_dataset(dataset):
    with pytest.raises(DataTypeError) as err:
        check_batch_size(dataset, 2)
    assert _one_line(err).startswith("`dataset` must be a Dataset; got ")
    with pytest.raises(DataTypeError) as err:
        check_model_fits(dataset, softmax_regression(2, 2))
    assert _one_line(err).startswith("`dataset` must be a Dataset; got ")


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: synthetic_classes(HUGE, 3, 2), "`num_examples` x `num_features` = "),
        (lambda: synthetic_classes(50, 3, 2, separation=HUGE), "`separation` must be a finite"),
        (lambda: synthetic_least_squares(HUGE, 3), "`num_examples` x `dim` = "),
        (lambda: synthetic_least_squares(50, 3, noise=HUGE), "`noise` must be a finite"),
        (lambda: softmax_regression(3, 2, l2=HUGE), "`l2` must be a finite number"),
        (lambda: least_squares(3, l2=HUGE), "`l2` must be a finite number"),
        (lambda: mlp(3, 2, l2=HUGE), "`l2` must be a finite number"),
        (lambda: cnn((8, 8, 1), 2, l2=HUGE), "`l2` must be a finite number"),
        (lambda: build_model("softmax", TOY, HUGE), "`l2` must be a finite number"),
        (lambda: least_squares_optimum("abc", [1.0]), "`x` must hold real numbers"),
        (lambda: least_squares_optimum([[1.0], [2, 3]], [1.0, 2.0]), "`x` must hold real"),
        (lambda: least_squares_optimum(np.eye(2), ["a", "b"]), "`y` must hold real numbers"),
        (lambda: least_squares_optimum(np.eye(2), [HUGE, 1]), "`y` must hold real numbers"),
        (lambda: from_arrays([[1.0, 2.0], [3.0]], [0, 1]), "`Dataset.x` must hold real"),
        (lambda: from_arrays(np.ones((2, 2)), [[0], [1, 2]]), "`Dataset.y` must hold real"),
        (lambda: Dataset("a", [[1.0, 2.0], [3.0]], [0, 1]), "`Dataset.x` must hold real"),
    ],
)
def test_huge_numbers_and_ragged_arrays_are_refused(make, message):
    with pytest.raises(DataError) as err:
        make()
    assert _one_line(err).startswith(message)
