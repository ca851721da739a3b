"""How a K policy reaches the SimPy engine: a callable ``decide(b, trace_so_far) -> K``
called when batch b - 1 has closed (``trace_so_far()`` builds the trace up to it), with
``k_max``, the row width of the trace (the largest K it may return).

The ``schedule`` policy is built here from the spec; the ``loss`` and ``theory`` policies
read the training loss and come from :mod:`simulator.studies.adaptive`.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable
from typing import Protocol

from simulator._spec_policy import (
    POLICY_VARIANTS,
    policy_applies,
    refuse_loss_policy,
    schedule_pairs,
)
from simulator.errors import PssimError
from simulator.spec import ExperimentSpec
from simulator.trace import Trace

__all__ = ["KPolicy", "ScheduledK", "engine_policy"]


class KPolicy(Protocol):
    """What the engine calls: K for batch ``b``, given the trace so far."""

    k_max: int

    def __call__(self, b: int, trace_so_far: Callable[[], Trace]) -> int: ...


class ScheduledK:
    """K by update from ``"UPDATE:K,..."`` (the K of the last entry at or before b)."""

    def __init__(self, schedule: str) -> None:
        pairs = schedule_pairs(schedule)
        self._updates = [u for u, _ in pairs]
        self._ks = [k for _, k in pairs]
        self.k_max = max(self._ks)

    def __call__(self, b: int, trace_so_far: Callable[[], Trace] | None = None) -> int:
        return self._ks[bisect.bisect_right(self._updates, b) - 1]


def engine_policy(spec: ExperimentSpec, policy: KPolicy | None) -> KPolicy | None:
    """The policy a run of ``spec`` follows: ``policy`` when given, the spec's schedule,
    or None (K fixed). ``loss`` and ``theory`` need a policy given by the caller."""
    if policy is not None:
        if spec.variant not in POLICY_VARIANTS:
            raise PssimError(
                f"a K policy applies to the variants {', '.join(POLICY_VARIANTS)}; got "
                f"variant {spec.variant!r}",
                param="k_policy",
            )
        return policy
    refuse_loss_policy(
        spec,
        " as the run goes, so it runs with training (pssim compare or train, "
        "simulator.compare or cosimulate), not timing alone; use k_policy 'schedule' here",
    )
    return ScheduledK(spec.k_schedule) if policy_applies(spec) else None
