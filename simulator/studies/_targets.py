"""Time to a target level: moved to :mod:`simulator.results.targets` (re-exported here)."""

from simulator.results.targets import default_level, first_time_at

__all__ = ["default_level", "first_time_at"]
