"""The 8x8 handwritten digits embedded as package data (UCI / scikit-learn, CC BY 4.0)."""

from __future__ import annotations

import gzip
import io
from importlib import resources

import numpy as np

from ._dataset import Dataset

DIGITS_FILE = "digits.csv.gz"


def load_digits() -> Dataset:
    """Loads the 1797 embedded 8x8 handwritten digits (no file or network access needed).

    The CSV holds one image per row: 64 pixel values 0..16 (row-major) then the label.
    Source: the UCI "Optical Recognition of Handwritten Digits" test set as shipped with
    scikit-learn, CC BY 4.0.

    Returns:
        A classification ``Dataset`` with 10 classes: x (1797, 64) float32 in [0, 1]
        (pixels / 16), y (1797,) int32, image_shape (8, 8, 1); evaluated on itself.

    Example:
        >>> ds = load_digits()
        >>> ds.x.shape, ds.num_classes
        ((1797, 64), 10)
    """
    blob = resources.files(__package__).joinpath("data", DIGITS_FILE).read_bytes()
    table = np.loadtxt(io.StringIO(gzip.decompress(blob).decode("ascii")), delimiter=",")
    x = (table[:, :64] / 16.0).astype(np.float32)
    y = table[:, 64].astype(np.int32)
    return Dataset("digits", x, y, num_classes=10, image_shape=(8, 8, 1), task="classification")
