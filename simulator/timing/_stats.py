"""What a study reads of a run: its update times and its staleness, without the
per-contribution arrays where the engine can skip them.

``pssim runtime`` and timing sweeps report the time of the last update, the number of
updates and the staleness (mean, max, fraction fresh): under K-sync on the fast path every
contribution is fresh, so only the round times are computed; other runs summarise their
trace and drop it.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from simulator.spec import ExperimentSpec
from simulator.timing._draws import compute_blocks
from simulator.timing._fast_rounds import k_sync_times
from simulator.timing._memory import check_timing_memory
from simulator.timing._updates import check_engine
from simulator.timing.engine import simulate_spec
from simulator.timing.fast import NeedsReference, fast_applies
from simulator.trace import Trace

__all__ = ["RunStatistics", "run_statistics"]


@dataclasses.dataclass(frozen=True)
class RunStatistics:
    """A run's update times and staleness totals.

    Attributes:
        update_time: (U,) time of each update (simulated time units).
        contributions: number of contributions (counted pushes).
        staleness_total: sum of their staleness (updates).
        fresh: how many have staleness 0.
        staleness_max: the largest staleness (0 without contributions).
    """

    update_time: np.ndarray
    contributions: int
    staleness_total: int
    fresh: int
    staleness_max: int

    @property
    def num_updates(self) -> int:
        return int(self.update_time.shape[0])

    @property
    def end_time(self) -> float:
        """Time of the last update (0.0 without updates)."""
        return float(self.update_time[-1]) if self.num_updates else 0.0

    @classmethod
    def of_trace(cls, trace: Trace) -> RunStatistics:
        """The statistics of a trace."""
        s = trace.staleness()[trace.mask]
        return cls(
            update_time=trace.update_time,
            contributions=int(s.size),
            staleness_total=int(s.sum()),
            fresh=int(np.count_nonzero(s == 0)),
            staleness_max=int(s.max()) if s.size else 0,
        )


def run_statistics(spec: ExperimentSpec, seed: int, *, engine: str = "auto") -> RunStatistics:
    """The statistics of one seed of ``spec`` (same numbers as its trace's).

    Example:
        >>> spec = ExperimentSpec(variant="sync", num_learners=4, updates=10)
        >>> run_statistics(spec, 0).fresh
        40
    """
    check_engine(engine)
    variant, k = spec.canonical
    rounds_only = (
        variant == "k-sync"
        and engine != "simpy"
        and spec.time_budget is None
        and fast_applies(spec)
    )
    if rounds_only:
        check_timing_memory(spec, engine=engine)
        try:
            times = k_sync_times(compute_blocks(spec, seed), k, spec.updates)
        except NeedsReference:
            pass  # the reference engine's trace below
        else:
            n = times.shape[0] * k
            return RunStatistics(times, n, 0, n, 0)
    return RunStatistics.of_trace(simulate_spec(spec, seed, engine=engine))
