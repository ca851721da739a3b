"""Empirical compute times: resampling measured durations with replacement."""

from __future__ import annotations

import dataclasses
import os
from typing import Any

import numpy as np
import scipy.special

from ._base import Aging, ComputeTimeLaw
from ._checks import LawError, LawTypeError
from ._empirical_io import read_durations
from ._files import as_path

__all__ = ["Empirical"]


def _as_values(values: Any) -> np.ndarray:
    try:
        arr = np.asarray(values)
    except (ValueError, TypeError, OverflowError):  # ragged nesting, odd objects
        arr = np.asarray(None)
    if arr.dtype == np.bool_ or not (
        np.issubdtype(arr.dtype, np.integer) or np.issubdtype(arr.dtype, np.floating)
    ):
        raise LawTypeError(f"`Empirical.values` must be real numbers; got dtype {arr.dtype}")
    if arr.ndim != 1:
        raise LawError(f"`Empirical.values` must be 1-D; got shape {arr.shape}")
    if arr.size == 0:
        raise LawError("`Empirical.values` must have at least 1 value; got 0")
    arr = arr.astype(np.float64)  # a private copy
    bad = ~np.isfinite(arr)
    if np.any(bad):
        i = int(np.flatnonzero(bad)[0])
        raise LawError(f"`Empirical.values` must be finite; got {float(arr[i])!r} at index {i}")
    if np.any(arr < 0.0):
        i = int(np.flatnonzero(arr < 0.0)[0])
        raise LawError(f"`Empirical.values` must be >= 0; got {float(arr[i])!r} at index {i}")
    arr.flags.writeable = False
    return arr


@dataclasses.dataclass(frozen=True, eq=False)
class Empirical(ComputeTimeLaw):
    """The empirical law of measured durations: each draw picks one uniformly at random.

    Two laws are equal when their values are equal (in order); ``source`` is not compared.

    Attributes:
        values: (m,) measured compute times (simulated time), finite, ``>= 0``, ``m >= 1``;
            stored as a read-only float64 copy.
        source: the file the values came from (see :meth:`from_file`), or ``None``.

    Example:
        >>> law = Empirical([1.0, 2.0, 4.0])
        >>> law.mean(), law.order_statistic_mean(1, 1)
        (2.3333333333333335, 2.3333333333333335)
        >>> law.spec
        'empirical(n=3)'
    """

    values: np.ndarray
    source: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "values", _as_values(self.values))
        if self.source is not None:
            object.__setattr__(self, "source", as_path("Empirical.source", self.source))
        object.__setattr__(self, "_sorted", np.sort(self.values))
        self._check_range()

    @classmethod
    def from_file(cls, path: str | os.PathLike[str]) -> Empirical:
        """Read measured durations from a ``.npy`` file or a one-column ``.csv``/``.txt``.

        A text file holds one number per line; its first line may be a header; blank lines
        are skipped.

        Args:
            path: the file; kept as given in :attr:`source` and in :attr:`spec`.

        Raises:
            TypeError: ``path`` is not a ``str`` or an ``os.PathLike``.
            ValueError: the file is missing, not a regular file (a FIFO, a device...), over
                the size cap (256 MiB), empty, not numeric, not one column, or holds
                negative or non-finite values.
        """
        return cls(read_durations(path), source=os.fspath(path))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Empirical):
            return NotImplemented
        return np.array_equal(self.values, other.values)

    def __hash__(self) -> int:
        return hash(self.values.tobytes())

    def __repr__(self) -> str:
        where = f", source={self.source!r}" if self.source is not None else ""
        return f"Empirical(n={self.values.size}{where})"

    def _range_context(self) -> tuple[str, str]:
        m = self.values.size
        count = f"{m} value" + ("s" if m != 1 else "")
        if self.source is not None:
            return "`Empirical.path`", f"{count} in {self.source!r}"
        return "`Empirical.values`", count

    def mean(self) -> float:
        return float(np.mean(self.values))

    def var(self) -> float:
        """Population variance of the values (the variance of one resampled draw)."""
        return float(np.var(self.values))

    @property
    def aging(self) -> Aging:
        return None

    @property
    def spec(self) -> str:
        """``empirical:PATH`` when read from a file, else ``empirical(n=M)`` (not parseable)."""
        if self.source is not None:
            return f"empirical:{self.source}"
        return f"empirical(n={self.values.size})"

    def _sample(self, shape: tuple[int, ...], rng: np.random.Generator) -> np.ndarray:
        return self.values[rng.integers(0, self.values.size, size=shape)]

    def _cdf(self, x: np.ndarray) -> np.ndarray:
        count = np.searchsorted(self._sorted, x, side="right")
        return np.where(np.isnan(x), np.nan, count / self._sorted.size)

    def _sf(self, x: np.ndarray) -> np.ndarray:
        count = self._sorted.size - np.searchsorted(self._sorted, x, side="right")
        return np.where(np.isnan(x), np.nan, count / self._sorted.size)

    def _ppf(self, q: np.ndarray) -> np.ndarray:
        # Smallest value whose cdf (computed exactly as in _cdf) is >= q.
        m = self._sorted.size
        levels = np.arange(1, m + 1) / m
        idx = np.searchsorted(levels, q, side="left")
        return self._sorted[np.minimum(idx, m - 1)]

    def _isf(self, q: np.ndarray) -> np.ndarray:
        return self._ppf(1.0 - np.asarray(q, dtype=np.float64))

    def _order_statistic_mean(self, k: int, n: int) -> float:
        # E[X_{k:n}] = x_(1) + sum_j (x_(j+1) - x_(j)) P(X_{k:n} > x_(j)), where
        # P(X_{k:n} > x_(j)) = P(Binomial(n, j/m) <= k - 1).
        xs = self._sorted
        m = xs.size
        if m == 1:
            return float(xs[0])
        gaps = np.diff(xs)
        tail = scipy.special.bdtr(k - 1, n, np.arange(1, m) / m)
        return float(xs[0] + np.sum(gaps * tail))
