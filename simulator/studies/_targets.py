"""Time to a target level: moved to :mod:`simulator.results` (re-exported here)."""

from simulator.results._passage import TargetTimes, target_times
from simulator.results._target_args import TARGET_KINDS, TargetChoice, check_targets, rule_text
from simulator.results.targets import default_level, first_time_at

__all__ = [
    "TARGET_KINDS",
    "TargetChoice",
    "TargetTimes",
    "check_targets",
    "default_level",
    "first_time_at",
    "rule_text",
    "target_times",
]
