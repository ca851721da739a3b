"""Results: the tidy results table (History), the statistics helpers of the studies, and
times to a target level over sweep tables."""

from simulator.results.history import COLUMNS, History
from simulator.results.stats import mean_ci95, seed_list
from simulator.results.targets import mean_curves, seed_times_to_target, time_to_target_table

__all__ = [
    "COLUMNS",
    "History",
    "mean_ci95",
    "mean_curves",
    "seed_list",
    "seed_times_to_target",
    "time_to_target_table",
]
