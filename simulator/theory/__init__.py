"""Theory shown beside every simulation: runtime predictions (order statistics, Lemmas 3-5,
Theorems 1-2), each saying whether it is exact, a bound or asymptotic."""

from simulator.theory.runtime import (
    RELATIONS,
    Prediction,
    async_staleness,
    batch_speedup,
    expected_runtime,
    predictions,
    sync_async_speedup,
)

__all__ = [
    "RELATIONS",
    "Prediction",
    "async_staleness",
    "batch_speedup",
    "expected_runtime",
    "predictions",
    "sync_async_speedup",
]
