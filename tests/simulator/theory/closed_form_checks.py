"""Helpers of the runtime-theory tests: a 99.9% check of a Monte Carlo mean against a
closed form, and learners built from law strings."""

from __future__ import annotations

import math

import numpy as np
from scipy import stats

from distributions import parse_law
from simulator.theory._learners import Learner

Z = stats.norm.ppf(1 - 0.001 / 2)  # 99.9% two-sided


def within(sample: np.ndarray, value: float) -> None:
    """The sample's mean is within Z standard errors of ``value``."""
    se = sample.std(ddof=1) / math.sqrt(sample.size)
    assert abs(sample.mean() - value) <= Z * se, (sample.mean(), value, se)


def learners(*laws: str, speeds=None) -> list[Learner]:
    """One Learner per law string, with ``speeds`` (all 1 by default)."""
    speeds = speeds or [1.0] * len(laws)
    return [Learner(parse_law(x), s) for x, s in zip(laws, speeds, strict=True)]
