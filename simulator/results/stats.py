"""Statistics shared by the studies and the figures: Student-t intervals and seed lists."""

from __future__ import annotations

import math

import numpy as np
from scipy import stats

from simulator._checks import check_count, check_seed

__all__ = ["mean_ci95", "seed_list"]


def mean_ci95(x) -> tuple[float, float | None]:
    """Mean of ``x`` and the half-width of its Student-t 95% interval (None for one value)."""
    x = np.asarray(x, dtype=float)
    if x.size < 2:
        return float(x.mean()), None
    return float(x.mean()), float(
        stats.t.ppf(0.975, x.size - 1) * x.std(ddof=1) / math.sqrt(x.size)
    )


def seed_list(seeds: int, base: int = 0) -> list[int]:
    """The replicate seeds ``base, base + 1, ..., base + seeds - 1`` (checked, all < 2**63)."""
    seeds = check_count("seeds", seeds)
    base = check_seed("seed", base)
    check_seed("seed", base + seeds - 1)
    return list(range(base, base + seeds))
