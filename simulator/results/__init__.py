"""Results: the tidy results table (History) and the statistics helpers of the studies."""

from simulator.results.history import COLUMNS, History
from simulator.results.stats import mean_ci95, seed_list

__all__ = ["COLUMNS", "History", "mean_ci95", "seed_list"]
