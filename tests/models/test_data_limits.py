"""Data too large for memory is refused before allocation; gzip is never inflated unbounded."""

from __future__ import annotations

import gzip
import re
import tracemalloc
import zlib
from pathlib import Path

import numpy as np
import pytest

import models._checks
import models._files
from models import (
    DataError,
    least_squares_optimum,
    load_cifar10,
    load_dataset,
    load_mnist,
    synthetic_classes,
    synthetic_least_squares,
)
from models._checks import FALLBACK_BUDGET, memory_budget

BUDGET = (
    r"must fit in the memory budget of [0-9.e+]+ GiB "
    r"\((half the physical memory|a fixed 8 GiB: physical memory unknown)\); got about "
)


def test_memory_budget_is_half_the_physical_memory_or_a_fixed_fallback(monkeypatch) -> None:
    budget, how = memory_budget()
    assert budget > 0 and how in (
        "half the physical memory",
        "a fixed 8 GiB: physical memory unknown",
    )

    def no_sysconf(name: str) -> int:
        raise ValueError(name)

    monkeypatch.setattr(models._checks.os, "sysconf", no_sysconf)
    assert memory_budget() == (FALLBACK_BUDGET, "a fixed 8 GiB: physical memory unknown")
    assert FALLBACK_BUDGET == 8 * 2**30


@pytest.mark.parametrize(
    ("make", "what"),
    [
        (
            lambda: synthetic_classes(10**12, 10**6, 4),
            "`num_examples` x `num_features` = 1000000000000 x 1000000",
        ),
        (
            lambda: synthetic_least_squares(10**12, 10**6),
            "`num_examples` x `dim` = 1000000000000 x 1000000",
        ),
        (
            lambda: load_dataset("synthetic:classes,1000000000000,1000000,4"),
            "`data` synthetic:classes,1000000000000,1000000,4: N x D",
        ),
        (
            lambda: load_dataset("synthetic:least-squares,1000000000000,1000000"),
            "`data` synthetic:least-squares,1000000000000,1000000: N x D",
        ),
    ],
    ids=["classes", "least-squares", "classes-spec", "least-squares-spec"],
)
def test_synthetic_data_too_large_for_memory_is_refused_before_allocation(make, what: str) -> None:
    tracemalloc.start()
    try:
        with pytest.raises(DataError, match=f"^{re.escape(what)}.* {BUDGET}"):
            make()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 1 << 20  # nothing of the requested size was allocated


def test_synthetic_budget_message_is_exact(monkeypatch) -> None:
    monkeypatch.setattr(
        models._checks, "memory_budget", lambda: (2**30, "half the physical memory")
    )
    # 8 (4 N d + 2 N + C d) bytes with N = 10**6, d = 100, C = 4: 3.2e9 bytes, 3 GiB
    message = (
        "`num_examples` x `num_features` = 1000000 x 100 must fit in the memory budget of "
        "1 GiB (half the physical memory); got about 3 GiB"
    )
    with pytest.raises(DataError, match=f"^{re.escape(message)}$"):
        synthetic_classes(10**6, 100, 4)
    assert synthetic_classes(1000, 100, 4).x.shape == (1000, 100)  # small data still loads


def _words(*values: int) -> bytes:
    return b"".join(v.to_bytes(4, "big") for v in values)


def _write_mnist_gz(folder: Path, images_gz: bytes, n: int) -> None:
    """Writes gzip images as given and n matching gzip labels (0, 1, ..., 9, 0, ...)."""
    (folder / "t10k-images-idx3-ubyte.gz").write_bytes(images_gz)
    labels = _words(2049, n) + (np.arange(n) % 10).astype(np.uint8).tobytes()
    (folder / "t10k-labels-idx1-ubyte.gz").write_bytes(gzip.compress(labels))


def test_mnist_gzip_inflating_past_its_header_is_refused_with_bounded_memory(
    tmp_path: Path,
) -> None:
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)  # a gzip container
    zeros = bytes(1 << 20)
    blob = packer.compress(_words(2051, 6, 4, 5) + bytes(6 * 4 * 5))
    for _ in range(64):  # 64 MiB of zeros after the declared 136 bytes
        blob += packer.compress(zeros)
    blob += packer.flush()
    assert len(blob) < 1 << 20
    _write_mnist_gz(tmp_path, blob, 6)
    message = (
        "`mnist` file t10k-images-idx3-ubyte.gz decompresses to more than the 136 bytes its "
        "header declares"
    )
    tracemalloc.start()
    try:
        with pytest.raises(DataError, match=f"^{re.escape(message)}$"):
            load_mnist(tmp_path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 16 << 20, peak  # far below the 64 MiB the stream inflates to


def test_mnist_header_sizes_beyond_the_memory_budget_are_refused_before_reading(
    tmp_path: Path,
) -> None:
    n, rows, cols = 4_000_000_000, 65_535, 65_535
    _write_mnist_gz(tmp_path, gzip.compress(_words(2051, n, rows, cols) + bytes(100)), 6)
    what = f"`mnist` file t10k-images-idx3-ubyte.gz header sizes ({n}, {rows}, {cols})"
    with pytest.raises(DataError, match=f"^{re.escape(what)} {BUDGET}"):
        load_mnist(tmp_path)


def test_cifar_gzip_beyond_the_memory_budget_is_refused(tmp_path: Path, monkeypatch) -> None:
    record = bytes(3073)
    (tmp_path / "test_batch.bin").write_bytes(gzip.compress(record * 4))
    monkeypatch.setattr(
        models._files, "memory_budget", lambda: (3 * 3073, "half the physical memory")
    )
    message = (
        "`cifar10` file test_batch.bin must hold at most 9219 bytes "
        "(half the physical memory); got more"
    )
    with pytest.raises(DataError, match=f"^{re.escape(message)}$"):
        load_cifar10(tmp_path)
    monkeypatch.setattr(
        models._files, "memory_budget", lambda: (4 * 3073, "half the physical memory")
    )
    assert load_cifar10(tmp_path).num_examples == 4


def test_least_squares_optimum_checks_that_x_and_y_pair_up() -> None:
    x, y = np.ones((5, 2)), np.ones(4)
    with pytest.raises(
        DataError, match=r"^`y` must have shape \(5,\) to match the 5 rows of `x`; got \(4,\)$"
    ):
        least_squares_optimum(x, y)
    with pytest.raises(
        DataError, match=r"^`x` must have shape \(N, d\) with N, d >= 1; got \(5,\)$"
    ):
        least_squares_optimum(np.ones(5), np.ones(5))
