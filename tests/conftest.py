"""Fixtures shared by every test folder: the real MNIST test files; a private compilation
cache, so that no test writes to the user's cache folder."""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from pathlib import Path

import pytest

# The replay's persistent compilation cache (simulator.training._cache) goes to a folder of
# this test session (one per xdist worker), inherited by the processes the tests start.
_CACHE_DIR = tempfile.mkdtemp(prefix="pssim-test-jax-cache-")
os.environ["PSSIM_COMPILE_CACHE"] = _CACHE_DIR
atexit.register(shutil.rmtree, _CACHE_DIR, ignore_errors=True)

#: Environment variable naming a folder with the MNIST t10k IDX files.
MNIST_ENV = "PSSIM_MNIST"
#: Where the files are looked for when the variable is unset: beside the checkout.
MNIST_FALLBACK = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "mnist"


def find_mnist() -> Path | None:
    """The MNIST folder from $PSSIM_MNIST, else ../shared/data/mnist; None when absent."""
    folder = Path(os.environ.get(MNIST_ENV) or MNIST_FALLBACK)
    return folder if (folder / "t10k-images-idx3-ubyte.gz").is_file() else None


@pytest.fixture(scope="session")
def mnist_dir() -> Path:
    """The folder with the real t10k IDX files, or a skip that says where it looked."""
    folder = find_mnist()
    if folder is None:
        pytest.skip(
            f"MNIST t10k files not found: set {MNIST_ENV} to their folder "
            "(default: ../shared/data/mnist beside the checkout)"
        )
    return folder
