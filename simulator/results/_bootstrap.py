"""The bootstrap interval of a mean time to target: reproducible, whatever else is computed."""

from __future__ import annotations

import inspect
import math
import warnings

import numpy as np
from scipy import stats

__all__ = ["CONFIDENCE", "RESAMPLES", "bootstrap_mean_ci95"]

#: Confidence level of the interval.
CONFIDENCE = 0.95
#: Bootstrap resamples per interval (scipy's default).
RESAMPLES = 9999
#: Seed of the resampling: every interval starts from it, so a table's intervals depend only
#: on their own times (not on the other rows, nor on the order they are computed in).
_SEED = 0x5EED
#: The generator's keyword: ``rng`` from scipy 1.15, ``random_state`` before it.
_RNG = "rng" if "rng" in inspect.signature(stats.bootstrap).parameters else "random_state"


def bootstrap_mean_ci95(times: np.ndarray) -> tuple[float, float]:
    """The 95% percentile bootstrap interval of the mean of ``times``.

    ``scipy.stats.bootstrap`` with ``method="percentile"``, :data:`RESAMPLES` resamples and
    a generator seeded with a fixed seed, so the same times always give the same interval.

    Args:
        times: (n,) finite times (simulated time units), e.g. the seeds' times to target.

    Returns:
        ``(low, high)``; NaN for n < 2 (one time has no spread to resample), ``(x, x)`` when
        every time is x.

    Example:
        >>> bootstrap_mean_ci95(np.array([10.0, 30.0]))
        (10.0, 30.0)
    """
    x = np.asarray(times, dtype=np.float64).ravel()
    if x.size < 2:
        return math.nan, math.nan
    if np.all(x == x[0]):
        return float(x[0]), float(x[0])
    with warnings.catch_warnings():  # a few distinct values: scipy warns, the interval stands
        warnings.simplefilter("ignore", stats.DegenerateDataWarning)
        res = stats.bootstrap(
            (x,),
            np.mean,
            method="percentile",
            confidence_level=CONFIDENCE,
            n_resamples=RESAMPLES,
            vectorized=True,
            **{_RNG: np.random.default_rng(_SEED)},
        )
    ci = res.confidence_interval
    return float(ci.low), float(ci.high)
