"""Runs to a simulated-time budget: every update at a time <= T instead of J updates.

A run of n updates is the prefix of a longer run of the same seed (learner l's n-th task
always takes ``X[l, n]``, and no update depends on how many follow it), so the updates
within a budget T are found by simulating J updates, doubling J until the J-th update
lands after T, and then simulating exactly the n updates at times <= T.
"""

from __future__ import annotations

import math

from simulator.errors import PssimError, SpecError
from simulator.spec import ExperimentSpec
from simulator.timing._memory import check_timing_memory
from simulator.timing._updates import simulate_updates
from simulator.trace import Trace

__all__ = ["budget_updates", "simulate_to_budget", "updates_within"]

#: Updates of the first, pilot run; later runs aim past T from the pilot's pace.
PILOT_UPDATES = 64
#: Margin of a run sized from the pace seen so far (aims 25% past the budget).
AIM = 1.25


def _budget(spec: ExperimentSpec) -> float:
    if not isinstance(spec, ExperimentSpec):
        raise PssimError(f"`spec` must be an ExperimentSpec; got {type(spec).__name__}")
    if spec.time_budget is None:
        raise PssimError("`spec` must have a `time_budget`; got None", param="time_budget")
    return spec.time_budget


def _fixed(spec: ExperimentSpec, updates: int) -> ExperimentSpec:
    """``spec`` as a run of ``updates`` updates (evaluation settings do not time anything)."""
    return spec.replace(updates=updates, eval_every=None)


def updates_within(spec: ExperimentSpec, seed: int, *, engine: str = "auto") -> int:
    """Number of updates of ``seed`` at simulated times <= ``spec.time_budget``.

    Simulates a pilot run, then runs sized from the pace seen so far (at least doubling)
    until the last update lands after the budget.

    Raises:
        SpecError: no update lands within the budget, or counting them would need more
            memory than timing runs may use, checked before the pilot run on the
            updates expected by the budget and before each longer run (``param`` is
            ``time_budget``).
    """
    budget = _budget(spec)
    check_timing_memory(spec, engine=engine)  # the updates expected by the budget
    j = PILOT_UPDATES
    while True:
        check_timing_memory(spec, engine=engine, updates=j)
        times = simulate_updates(_fixed(spec, j), seed, engine=engine).update_time
        if times[-1] > budget:
            break
        pace = times[-1] / j  # mean time per update so far
        aim = math.ceil(AIM * budget / pace) if pace > 0 else 0
        j = max(2 * j, aim)
    n = int(times.searchsorted(budget, side="right"))
    if n == 0:
        raise SpecError(
            f"`time_budget` {budget!r} is shorter than the first update "
            f"(at t={times[0]:.6g}) for seed {seed}",
            param="time_budget",
        )
    return n


def simulate_to_budget(spec: ExperimentSpec, seed: int, *, engine: str = "auto") -> Trace:
    """The trace of every update of ``seed`` at a simulated time <= ``spec.time_budget``.

    Args:
        spec: a validated spec with a ``time_budget`` (T, simulated time units).
        seed: the run's seed.
        engine: as in :func:`simulator.timing.engine.simulate_spec`.

    Returns:
        A trace of n >= 1 updates, all at times <= T; the (n+1)-th update of the same
        seed would come after T. It is the first n updates of any longer run.

    Raises:
        SpecError: the first update comes after T.

    Example:
        >>> spec = ExperimentSpec(variant="async", num_learners=4, time_budget=20.0)
        >>> trace = simulate_to_budget(spec, 0)
        >>> bool(trace.end_time <= 20.0)
        True
    """
    n = updates_within(spec, seed, engine=engine)
    return simulate_updates(_fixed(spec, n), seed, engine=engine)


def budget_updates(spec: ExperimentSpec, *, engine: str = "auto") -> int:
    """J_v: the fewest updates that any of the spec's seeds completes within its budget.

    Every seed of ``spec.seed_list`` can then run J_v updates that all end by
    ``spec.time_budget``, so replicate curves are rectangular and their mean ends within
    the budget (how ``compare`` runs every variant to the same simulated time).

    Raises:
        SpecError: some seed's first update comes after the budget.

    Example:
        >>> spec = ExperimentSpec(variant="sync", num_learners=4, time_budget=30.0, seeds=3)
        >>> budget_updates(spec) >= 1
        True
    """
    _budget(spec)
    return min(updates_within(spec, s, engine=engine) for s in spec.seed_list)
