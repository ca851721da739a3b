"""Replicated timing runs summarised beside the theory (what ``pssim runtime`` prints)."""

from __future__ import annotations

import dataclasses

import numpy as np
from tqdm.auto import tqdm

from simulator.results.stats import mean_ci95
from simulator.spec import ExperimentSpec
from simulator.studies._common import as_spec, bar_disabled, spec_theory
from simulator.theory.runtime import Prediction
from simulator.timing.engine import simulate_spec
from simulator.trace import Trace, summarize_staleness

__all__ = ["RuntimeSummary", "runtime_study"]


@dataclasses.dataclass(frozen=True)
class RuntimeSummary:
    """Simulated time of the J-th update over seeds, beside its theory.

    Attributes:
        spec: the experiment (variant as the user named it, K, law, J, seeds, ...).
        k: K resolved (P for ``sync``, 1 for ``async``).
        times: (S,) time of the J-th update per seed (simulated time units).
        theory: the prediction for the expected time (``none`` for heterogeneous learners
            or with communication costs: the closed forms assume neither).
        staleness: pooled over seeds: mean, max and p0 (fraction of fresh contributions).
        first_trace: the trace of the first seed (for timelines).
    """

    spec: ExperimentSpec
    k: int
    times: np.ndarray
    theory: Prediction
    staleness: dict
    first_trace: Trace

    @property
    def variant(self) -> str:
        return self.spec.variant

    @property
    def mean(self) -> float:
        return float(np.mean(self.times))

    @property
    def std(self) -> float | None:
        """Sample standard deviation over seeds (None for a single seed)."""
        return float(np.std(self.times, ddof=1)) if self.times.size > 1 else None

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
        """The ``pssim runtime --json`` object: the whole spec, simulated and theory."""
        ci = self.ci95()
        return {
            "spec": self.spec.to_dict(),
            "spec_digest": self.spec.digest(),
            "variant": self.spec.variant,
            "learners": self.spec.num_learners,
            "k": self.k,
            "distribution": self.spec.to_dict()["law"],
            "iterations": self.spec.updates,
            "seeds": self.spec.seeds,
            "simulated": {
                "mean": self.mean,
                "std": self.std,
                "ci95": None if ci is None else [ci[0], ci[1]],
                "per_seed": [float(t) for t in self.times],
            },
            "theory": {
                "mean": self.theory.mean,
                "relation": self.theory.relation,
                "source": self.theory.source,
            },
            "staleness": self.staleness,
        }


def runtime_study(
    spec: ExperimentSpec | None = None, *, progress: bool = False, **fields
) -> RuntimeSummary:
    """Simulate the spec's seeds (J updates each) and put the times beside the theory.

    Args:
        spec: the experiment; keyword ``fields`` (ExperimentSpec field names) override it,
            or build one from the defaults when ``spec`` is None.
        progress: show a progress bar on stderr.

    Example:
        >>> s = runtime_study(variant="async", num_learners=4, updates=200, seeds=3)
        >>> s.theory.relation
        'exact'
    """
    spec = as_spec(spec, fields)
    k = spec.canonical[1]
    times, stale, first = [], [], None
    bar = tqdm(
        spec.seed_list,
        desc=f"{spec.variant} P={spec.num_learners} K={k}",
        disable=bar_disabled(progress),
        delay=1.0,
        leave=False,
        unit="seed",
    )
    for s in bar:
        trace = simulate_spec(spec, s)
        first = first or trace
        times.append(trace.end_time)
        stale.append(trace.staleness()[trace.mask])
    return RuntimeSummary(
        spec=spec,
        k=k,
        times=np.asarray(times),
        theory=spec_theory(spec),
        staleness=summarize_staleness(np.concatenate(stale)),
        first_trace=first,
    )
