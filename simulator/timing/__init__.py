"""Timing: the SimPy reference engine that turns a variant and compute-time laws into a Trace.

This is the only package of the project that imports simpy.
"""

from simulator.timing.engine import simulate

__all__ = ["simulate"]
