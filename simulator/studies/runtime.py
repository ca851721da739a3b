"""Replicated timing runs summarised beside the theory (what ``pssim runtime`` prints)."""

from __future__ import annotations

import dataclasses

import numpy as np
from tqdm.auto import tqdm

from distributions import law_from
from simulator._checks import check_count, resolve_variant
from simulator.results.stats import mean_ci95, seed_list
from simulator.theory.runtime import Prediction, expected_runtime
from simulator.timing.engine import simulate
from simulator.trace import Trace, summarize_staleness

__all__ = ["RuntimeSummary", "runtime_study"]


@dataclasses.dataclass(frozen=True)
class RuntimeSummary:
    """Simulated time of the J-th update over seeds, beside its theory.

    Attributes:
        variant, learners, k, distribution, iterations, seeds: the configuration
            (``variant`` as the user named it; ``k`` resolved).
        times: (S,) time of the J-th update per seed (simulated time units).
        theory: the prediction for the expected time.
        staleness: pooled over seeds: mean, max and p0 (fraction of fresh contributions).
        first_trace: the trace of the first seed (for timelines).
    """

    variant: str
    learners: int
    k: int
    distribution: str
    iterations: int
    seeds: int
    times: np.ndarray
    theory: Prediction
    staleness: dict
    first_trace: Trace

    @property
    def mean(self) -> float:
        return float(np.mean(self.times))

    @property
    def std(self) -> float:
        return float(np.std(self.times, ddof=1)) if self.seeds > 1 else 0.0

    def ci95(self) -> tuple[float, float] | None:
        """Student-t 95% confidence interval of the mean; None with a single seed."""
        mean, half = mean_ci95(self.times)
        return None if half is None else (mean - half, mean + half)

    def relative_gap(self) -> float | None:
        """(simulated - theory) / theory, None without a theory value."""
        if self.theory.mean is None:
            return None
        return (self.mean - self.theory.mean) / self.theory.mean

    def to_json(self) -> dict:
        """The ``pssim runtime --json`` object."""
        ci = self.ci95()
        return {
            "variant": self.variant,
            "learners": self.learners,
            "k": self.k,
            "distribution": self.distribution,
            "iterations": self.iterations,
            "seeds": self.seeds,
            "simulated": {
                "mean": self.mean,
                "std": self.std,
                "ci95": None if ci is None else [ci[0], ci[1]],
            },
            "theory": {
                "mean": self.theory.mean,
                "relation": self.theory.relation,
                "source": self.theory.source,
            },
            "staleness": self.staleness,
        }


def runtime_study(
    variant: str,
    *,
    num_learners: int,
    k: int | None,
    law,
    iterations: int,
    seeds: int = 10,
    seed: int = 0,
    progress: bool = False,
) -> RuntimeSummary:
    """Simulate ``seeds`` replications of J updates and compare with theory.

    Example:
        >>> s = runtime_study("async", num_learners=4, k=None, law="exp:1", iterations=200,
        ...                   seeds=3)
        >>> s.theory.relation
        'exact'
    """
    canonical, k = resolve_variant(variant, num_learners, k)
    law = law_from(law)
    iterations = check_count("J", iterations)
    seeds_ = seed_list(seeds, seed)
    theory = expected_runtime(
        canonical, num_learners=num_learners, k=k, law=law, updates=iterations
    )
    times, stale, first = [], [], None
    bar = tqdm(
        seeds_,
        desc=f"{variant} P={num_learners} K={k}",
        disable=not progress,
        delay=1.0,
        leave=False,
        unit="seed",
    )
    for s in bar:
        trace = simulate(
            canonical, num_learners=num_learners, k=k, law=law, updates=iterations, seed=s
        )
        first = first or trace
        times.append(trace.end_time)
        stale.append(trace.staleness()[trace.mask])
    staleness = summarize_staleness(np.concatenate(stale))
    return RuntimeSummary(
        variant=variant,
        learners=num_learners,
        k=k,
        distribution=law.spec,
        iterations=iterations,
        seeds=len(seeds_),
        times=np.asarray(times),
        theory=theory,
        staleness=staleness,
        first_trace=first,
    )
