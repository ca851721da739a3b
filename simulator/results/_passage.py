"""A seed's time to target: the first evaluation point after the start from which its curve
stays at or below the level (at or above, for an accuracy) for the rest of its run or for a
window; the seeds' times summarised as a mean with a bootstrap interval; the default level.

A seed is ``"reached"``, ``"never"`` (it did not diverge and never stays there) or
``"diverged"`` (it leaves the means, whatever it reached before).
"""

from __future__ import annotations

import dataclasses
import functools
import math
from collections.abc import Sequence

import numpy as np

from simulator.results._bootstrap import bootstrap_mean_ci95

__all__ = [
    "DIVERGED",
    "NEVER",
    "REACHED",
    "TargetTimes",
    "default_level",
    "first_time_at",
    "stay_time",
    "target_times",
]

REACHED, NEVER, DIVERGED = "reached", "never", "diverged"


def first_time_at(
    update: np.ndarray, time: np.ndarray, value: np.ndarray, level: float
) -> float | None:
    """First simulated time after the start at which ``value <= level`` (None if never):
    the first touch, which :func:`stay_time` improves on.

    Example:
        >>> u = np.array([0, 10, 20])
        >>> first_time_at(u, 2.0 * u, np.array([1.0, 0.5, 0.2]), 0.5)
        20.0
    """
    hit = np.flatnonzero((update > 0) & (value <= level))
    return None if hit.size == 0 else float(time[hit[0]])


def stay_time(
    update: np.ndarray,
    time: np.ndarray,
    value: np.ndarray,
    level: float,
    *,
    window: float | None = None,
    above: bool = False,
) -> float | None:
    """The first time after the start from which one seed's curve stays at the level.

    Args:
        update: (E,) the evaluation points' update counts, increasing (0 is the start).
        time: (E,) their simulated times, non-decreasing.
        value: (E,) the seed's error, loss or accuracy there (NaN counts as not there).
        level: the target.
        window: simulated time units: stay at every point in ``[t, min(t + window, end)]``;
            None: at every point from ``t`` to the end of the run. Either way ``t`` is not
            the last point: a stay needs a later point to show it.
        above: ``value >= level`` (an accuracy) instead of ``value <= level``.

    Returns:
        ``time`` at the first point with ``update > 0`` that stays, or None.

    Example:
        >>> u = np.array([0, 10, 20, 30, 40])
        >>> stay_time(u, 2.0 * u, np.array([1.0, 0.4, 0.8, 0.3, 0.2]), 0.5)
        60.0
    """
    with np.errstate(invalid="ignore"):
        there = value >= level if above else value <= level
    if window is None:
        stays = np.logical_and.accumulate(there[::-1])[::-1]
    else:
        missed = np.concatenate(([0], np.cumsum(~there)))
        end = np.searchsorted(time, time + window, side="right")  # past the window's points
        stays = missed[end] == missed[: there.size]
    stays[-1:] = False  # the last point alone shows no stay: a later point must
    hit = np.flatnonzero(stays & (update > 0))
    return None if hit.size == 0 else float(time[hit[0]])


@dataclasses.dataclass(frozen=True, eq=False)
class TargetTimes:
    """The seeds' times to a target and their summary.

    Attributes:
        times: (S,) simulated time at which each seed reached the target (NaN unless its
            status is ``"reached"``).
        status: (S,) ``"reached"``, ``"never"`` or ``"diverged"``.
    """

    times: np.ndarray
    status: tuple[str, ...]

    @property
    def seeds(self) -> int:
        return len(self.status)

    @property
    def reached_seeds(self) -> int:
        return self.status.count(REACHED)

    @property
    def never_seeds(self) -> int:
        return self.status.count(NEVER)

    @property
    def diverged_seeds(self) -> int:
        return self.status.count(DIVERGED)

    @property
    def reached(self) -> bool:
        """At least one seed reached the target and none that did not diverge failed to."""
        return self.reached_seeds > 0 and self.never_seeds == 0

    @property
    def mean(self) -> float:
        """Mean time over the seeds that reached the target (NaN if none did)."""
        hit = self.times[np.isfinite(self.times)]
        return float(np.mean(hit)) if hit.size else math.nan

    @functools.cached_property
    def ci95(self) -> tuple[float, float]:
        """Bootstrap 95% interval of :attr:`mean` (NaN with fewer than two reached seeds)."""
        return bootstrap_mean_ci95(self.times[np.isfinite(self.times)])


def target_times(
    seeds: Sequence[tuple[np.ndarray, np.ndarray, np.ndarray]],
    diverged: Sequence[bool],
    level: float | None,
    *,
    window: float | None = None,
    above: bool = False,
) -> TargetTimes:
    """Each seed's :func:`stay_time` and status.

    Args:
        seeds: per seed, ``(update, time, value)`` as :func:`stay_time` takes them.
        diverged: (S,) whether each seed diverged (its status, whatever its curve).
        level: the target; None (no target exists): every seed that did not diverge is
            ``"never"``.
        window, above: as :func:`stay_time`.
    """
    times, status = [], []
    for (update, time, value), gone in zip(seeds, diverged, strict=True):
        t = None
        if not gone and level is not None:
            t = stay_time(update, time, value, level, window=window, above=above)
        times.append(math.nan if t is None else t)
        status.append(DIVERGED if gone else NEVER if t is None else REACHED)
    return TargetTimes(np.asarray(times, dtype=np.float64), tuple(status))


def _tail_max(update: np.ndarray, value: np.ndarray) -> float:
    """Largest value over the last quarter (at least two, where there are) of the points
    after the start: a seed stays under it from where that tail begins, and a stay needs a
    point after its first (:func:`stay_time`)."""
    after = value[update > 0]
    if after.size == 0:
        return math.nan
    return float(np.max(after[-max(2, math.ceil(after.size / 4)) :]))


def default_level(groups: Sequence[Sequence[tuple[np.ndarray, np.ndarray]]]) -> float | None:
    """The default target: a level every group reaches and stays under.

    The largest, over the groups and their seeds, of the maximum over the last quarter of
    that seed's evaluation points after the start (at least one point): every seed is then
    at or below it from its last quarter on. There is none when that level is not below
    every group's initial value (its seeds' mean at their first point), nor when a seed
    has no point after the start or a NaN in its last quarter.

    Args:
        groups: per group (variant or configuration), the curves of its seeds that did not
            diverge, each ``(update, value)`` (E,), sorted by update, update 0 the start; a
            group without any (every seed diverged) is left out.

    Returns:
        The level, or None.

    Example:
        >>> u = np.array([0, 10, 20, 30, 40])
        >>> fast = [(u, np.array([1.0, 0.4, 0.3, 0.2, 0.25]))]
        >>> slow = [(u, np.array([1.0, 0.8, 0.5, 0.4, 0.45])), (u, 0.5 + 0.5 ** (u / 10))]
        >>> default_level([fast, slow])  # the last quarters' maxima: 0.25; 0.45, 0.5625
        0.5625
    """
    tails, starts = [], []
    for seeds in groups:
        if not len(seeds):
            continue
        tails += [_tail_max(np.asarray(u), np.asarray(v)) for u, v in seeds]
        starts.append(float(np.mean([np.asarray(v)[0] for _, v in seeds])))
    if not tails or not np.isfinite(tails).all():
        return None
    level = max(tails)
    return level if all(level < start for start in starts) else None
