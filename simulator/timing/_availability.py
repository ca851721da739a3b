"""When each learner is down: its failures and repairs as a sequence of [down, up) periods.

A learner alternates up and down from time 0, up first: its up periods are draws of the
``failure`` law (time to failure) and its down periods draws of the ``repair`` law, from its
own streams (independent of the compute durations and of what the learner does: an
alternating renewal process in simulated time). An availability file gives the periods
instead, learner by learner. Either way a learner's periods are sorted and disjoint.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence

import numpy as np

from simulator.timing._draws import learner_streams

__all__ = ["FAILURE_SALT", "REPAIR_SALT", "down_periods"]

#: Stream salts of the up and down draws (compute durations use 0, latencies 1-2, service 3).
FAILURE_SALT, REPAIR_SALT = 4, 5


def _renewal_periods(
    up: Callable[[], float], down: Callable[[], float]
) -> Iterator[tuple[float, float]]:
    """The [down, up) periods of an alternating renewal process that starts up at 0."""
    t = 0.0
    while True:
        fail = t + up()
        t = fail + down()
        yield fail, t


def _file_periods(intervals: np.ndarray) -> Iterator[tuple[float, float]]:
    yield from np.asarray(intervals, dtype=np.float64).reshape(-1, 2).tolist()


def down_periods(spec, seed: int) -> list[Iterator[tuple[float, float]]] | None:
    """Per learner, an iterator of its (down, up) periods in time order; None without
    failures (neither ``failure`` nor ``availability`` in the spec)."""
    p = spec.num_learners
    availability = getattr(spec, "availability", None)
    if availability is not None:
        return [_file_periods(iv) for iv in availability.intervals(p)]
    failure = getattr(spec, "failure", None)
    if failure is None:
        return None
    ones: Sequence[float] = [1.0] * p
    ups = learner_streams([failure] * p, ones, seed, FAILURE_SALT)
    downs = learner_streams([spec.repair] * p, ones, seed, REPAIR_SALT)
    return [_renewal_periods(u, d) for u, d in zip(ups, downs, strict=True)]
