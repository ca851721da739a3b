"""Time to a target level: the level itself and the first time a mean curve reaches it.

The paper compares variants by the wall-clock time to a common error level. The level is
on the error F(w) - F* where F* is known, else on the loss. By default it is the level
every variant reaches after its start (the worst of their best values), and if that is no
better than the start (a variant that never improves), the level the two best variants
reach; never the starting value, so a time to target is never 0 for every variant.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["default_level", "first_time_at"]


def default_level(curves: Sequence[tuple[np.ndarray, np.ndarray]]) -> float | None:
    """The default target level of several mean curves.

    Args:
        curves: per variant, ``(update, value)``, each (E,), ``value`` the seed-mean error
            (or loss) at the evaluation points; update 0 is the start.

    Returns:
        The level, or None when fewer than two variants improve on their start.
    """
    bests, starts = [], []
    for update, value in curves:
        after = value[update > 0]
        if after.size and np.isfinite(after).any():
            bests.append(float(np.nanmin(after)))
            starts.append(float(value[0]))
    if not bests:
        return None
    start = min(starts)
    worst_best = max(bests)
    if worst_best < start:
        return worst_best
    reached = sorted(b for b in bests if b < start)
    return reached[1] if len(reached) >= 2 else None


def first_time_at(
    update: np.ndarray, time: np.ndarray, value: np.ndarray, level: float
) -> float | None:
    """First simulated time after the start at which ``value <= level`` (None if never)."""
    hit = np.flatnonzero((update > 0) & (value <= level))
    return None if hit.size == 0 else float(time[hit[0]])
