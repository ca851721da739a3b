"""Timing: turns a variant and compute-time laws into a Trace.

Two engines give the same trace, array for array: the SimPy reference engine (every feature)
and the fast paths of :mod:`simulator.timing.fast` (no communication delays); ``simulate``
picks the fast path where it applies. A spec with a ``time_budget`` runs every update
within it; :func:`budget_updates` gives the updates all its seeds complete. Measured
durations replayed in order say how far each learner ran through its worker's rows
(:func:`replay_wraps`). This is the only package of the project that imports simpy.
"""

from simulator.timing._budget import budget_updates
from simulator.timing.engine import simulate
from simulator.timing.wraps import ReplayWraps, replay_wraps, tasks_per_learner

__all__ = ["ReplayWraps", "budget_updates", "replay_wraps", "simulate", "tasks_per_learner"]
