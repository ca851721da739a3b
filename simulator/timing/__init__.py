"""Timing: turns a variant and compute-time laws into a Trace.

Two engines give the same trace, array for array: the SimPy reference engine (every feature)
and the fast paths of :mod:`simulator.timing.fast` (no communication delays); ``simulate``
picks the fast path where it applies. This is the only package of the project that imports
simpy.
"""

from simulator.timing.engine import simulate

__all__ = ["simulate"]
