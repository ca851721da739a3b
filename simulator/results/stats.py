"""Statistics shared by the studies and the figures: Student-t intervals and seed lists."""

from __future__ import annotations

import math

import numpy as np
from scipy import stats

from simulator._checks import MAX_SEEDS, check_count, check_seed
from simulator.errors import PssimError, PssimTypeError

__all__ = ["finite_sample", "mean_ci95", "seed_list"]


def finite_sample(name: str, values: object) -> np.ndarray:
    """``values`` as a 1-D float64 array after checking it holds at least one finite number.

    A single number counts as a sample of one.

    Raises:
        PssimTypeError: not a number or an array of numbers (strings, None, bools, ragged
            nesting, ints beyond the float range).
        PssimError: empty, more than one dimension, or a NaN or infinite value.
    """
    try:
        arr = np.asarray(values)
    except (ValueError, TypeError):  # ragged nesting
        arr = np.asarray(None)
    if arr.dtype == bool or arr.dtype.kind not in "iuf":
        shown = repr(values)[:40] if isinstance(values, (str, type(None))) else "a value"
        if arr.dtype == object and not isinstance(values, (str, type(None))):
            shown = "an array of other objects"
        raise PssimTypeError(
            f"`{name}` must be a number or an array of numbers; got {shown}", param=name
        )
    if arr.ndim > 1:
        raise PssimError(f"`{name}` must be one-dimensional; got shape {arr.shape}", param=name)
    arr = np.atleast_1d(arr).astype(np.float64)
    if arr.size == 0:
        raise PssimError(f"`{name}` must hold at least one value; got 0", param=name)
    bad = ~np.isfinite(arr)
    if np.any(bad):
        i = int(np.flatnonzero(bad)[0])
        where = f" at index {i}" if np.ndim(values) else ""
        raise PssimError(f"`{name}` must be finite; got {arr[i]}{where}", param=name)
    return arr


def mean_ci95(x: object) -> tuple[float, float | None]:
    """Mean of ``x`` and the half-width of its Student-t 95% interval (None for one value).

    A sample whose sums overflow (values near the float limit, 1e308) is averaged scaled
    by its largest magnitude, so its mean and interval stay finite.

    Args:
        x: (n,) finite numbers (a single number is a sample of one), n >= 1.

    Returns:
        ``(mean, half)``: the interval is ``mean +- half``; ``half`` is None when n = 1.

    Raises:
        PssimError: an empty sample, a NaN or infinite value, or not numbers.

    Example:
        >>> mean, half = mean_ci95([1.0, 2.0, 3.0])
        >>> mean, round(half, 4)
        (2.0, 2.4841)
    """
    arr = finite_sample("x", x)
    with np.errstate(over="ignore", invalid="ignore"):
        mean = float(np.mean(arr))
        spread = float(np.std(arr, ddof=1)) if arr.size > 1 else 0.0
    if not (math.isfinite(mean) and math.isfinite(spread)):  # sums beyond the float range
        scale = float(np.max(np.abs(arr)))
        mean = float(np.mean(arr / scale)) * scale
        spread = float(np.std(arr / scale, ddof=1)) * scale if arr.size > 1 else 0.0
    if arr.size < 2:
        return mean, None
    return mean, float(stats.t.ppf(0.975, arr.size - 1) * spread / math.sqrt(arr.size))


def seed_list(seeds: int, base: int = 0) -> list[int]:
    """The replicate seeds ``base, base + 1, ..., base + seeds - 1`` (checked: at most
    ``MAX_SEEDS`` of them, all < 2**63)."""
    seeds = check_count("seeds", seeds, maximum=MAX_SEEDS)
    base = check_seed("seed", base)
    check_seed("seed", base + seeds - 1)
    return list(range(base, base + seeds))
