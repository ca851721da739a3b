"""Replicated timing runs summarised beside the theory (what ``pssim runtime`` prints).

With J updates a run reports the time of the J-th update; with a ``time_budget`` T it
reports the number of updates completed by T, beside the renewal estimate T J / E[T_J]
(every expected runtime of the closed forms is linear in J, so the long-run rate of
updates is J / E[T_J]).
"""

from __future__ import annotations

import dataclasses

import numpy as np
from tqdm.auto import tqdm

from simulator._spec_policy import policy_applies
from simulator._staleness_auto import refuse_auto
from simulator.results.stats import mean_ci95
from simulator.spec import ExperimentSpec
from simulator.studies._common import as_spec, bar_disabled, spec_theory
from simulator.theory.runtime import Prediction
from simulator.timing._memory import check_timing_memory
from simulator.timing._stats import RunStatistics, run_statistics
from simulator.timing.engine import simulate_spec
from simulator.timing.wraps import ReplayWraps, tasks_per_learner
from simulator.trace import Trace, summarize_staleness

__all__ = ["RuntimeSummary", "budget_count_theory", "runtime_study"]

#: How a runtime relation turns into one for the number of updates by T (a faster run
#: completes more updates): bounds swap, and a count is only asymptotic (renewal).
_COUNT_RELATION = {
    "exact": "asymptotic",
    "asymptotic": "asymptotic",
    "upper-bound": "lower-bound",
    "lower-bound": "upper-bound",
    "none": "none",
}


#: J of the runtime whose rate J / E[T_J] predicts the count by a budget: long, so terms
#: that do not grow with J (a first free read, the fastest learner's first push of a
#: bound's fixed durations) weigh nothing.
RATE_UPDATES = 10_000


@dataclasses.dataclass(frozen=True)
class RuntimeSummary:
    """Simulated time of the J-th update over seeds, beside its theory; with a time
    budget, the number of updates each seed completes by the budget.

    Attributes:
        spec: the experiment (variant as the user named it, K, law, J or the time budget,
            seeds, ...).
        k: K resolved (P for ``sync``, 1 for ``async``).
        times: (S,) time of the J-th update per seed (simulated time units); with a time
            budget, of each seed's last update within it.
        theory: the prediction for the expected time (:func:`spec_theory`: ``none``
            where no form applies, e.g. with latencies or a service time alone; ``none``
            with a time budget, where ``count_theory`` applies).
        staleness: pooled over seeds: mean, max and p0 (fraction of fresh contributions).
        first_trace: the trace of the first seed (for timelines); None when the study
            was asked not to keep it (then no seed builds arrays it does not read).
        counts: (S,) int, updates completed by the time budget per seed; None without one.
        count_theory: the expected number of updates by the budget (renewal,
            :func:`budget_count_theory`); None without a budget.
        durations: with measured ``durations``, the file, its mode and how far each
            learner ran through its worker's rows over the seeds (under replay, which
            learners went on from their worker's first row; ``durations.notes()`` says
            it in words); None without durations.
    """

    spec: ExperimentSpec
    k: int
    times: np.ndarray
    theory: Prediction
    staleness: dict
    first_trace: Trace | None
    counts: np.ndarray | None = None
    count_theory: Prediction | None = None
    durations: ReplayWraps | None = None

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

    @property
    def time_budget(self) -> float | None:
        """The simulated-time budget T (None: J updates per seed)."""
        return self.spec.time_budget

    def count_ci95(self) -> tuple[float, float] | None:
        """Student-t 95% interval of the mean number of updates by the budget (None with
        a single seed or without a budget)."""
        if self.counts is None:
            return None
        mean, half = mean_ci95(self.counts)
        return None if half is None else (mean - half, mean + half)

    def count_gap(self) -> float | None:
        """(mean count - theory) / theory, None without a budget or a theory value."""
        th = self.count_theory
        if self.counts is None or th is None or th.mean is None:
            return None
        return (float(np.mean(self.counts)) - th.mean) / th.mean

    def relative_gap(self) -> float | None:
        """(simulated - theory) / theory, None without a theory value."""
        if self.theory.mean is None:
            return None
        return (self.mean - self.theory.mean) / self.theory.mean

    def to_json(self) -> dict:
        """The ``pssim runtime --json`` object: the whole spec, simulated and theory; with
        a time budget also ``time_budget`` and ``updates_within_budget`` (per seed, mean,
        std, 95% CI and the renewal theory); with measured durations ``durations`` (the
        file, its SHA-256, mode, censored rows, and under replay the learners that
        wrapped around, after how many steps)."""
        ci = self.ci95()
        out = {
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
        if self.counts is not None:
            counts, cci, th = self.counts, self.count_ci95(), self.count_theory
            out["time_budget"] = self.time_budget
            out["updates_within_budget"] = {
                "mean": float(np.mean(counts)),
                "std": float(np.std(counts, ddof=1)) if counts.size > 1 else None,
                "ci95": None if cci is None else [cci[0], cci[1]],
                "per_seed": [int(c) for c in counts],
                "theory": {"mean": th.mean, "relation": th.relation, "source": th.source},
            }
        if self.durations is not None:
            out["durations"] = self.durations.to_json()
        return out


def budget_count_theory(spec: ExperimentSpec) -> Prediction:
    """Expected number of updates by the spec's time budget T: T J / E[T_J] (renewal).

    The runtimes of the closed forms (Dutta et al. 2018, Lemmas 3-5) are linear in J, so
    J / E[T_J] is the long-run rate of updates and T J / E[T_J] the expected count for a
    long budget (``asymptotic``; a runtime bound gives the opposite bound on the count).
    ``none`` where the runtime has no closed form, and with an availability file (its
    down periods end, so a run has no steady rate).

    Example:
        >>> spec = ExperimentSpec(variant="async", num_learners=4, time_budget=100.0)
        >>> budget_count_theory(spec).mean  # 100 * P / E[X]
        400.0
    """
    budget = spec.time_budget
    if budget is None:
        return Prediction(None, "none", "no time budget")
    if getattr(spec, "availability", None) is not None:  # E[T_J] is not linear in J
        return Prediction(None, "none", "an availability file: no steady rate of updates")
    if policy_applies(spec):  # nor with a K that changes
        return Prediction(None, "none", "K changes during the run: no steady rate of updates")
    per = spec_theory(spec.replace(updates=RATE_UPDATES, eval_every=None))
    if per.mean is None or per.mean <= 0:
        return Prediction(None, "none", f"renewal T J / E[T_J]; runtime: {per.source}")
    return Prediction(
        budget * RATE_UPDATES / per.mean,
        _COUNT_RELATION[per.relation],
        f"renewal T J / E[T_J]; E[T_J] from {per.source}",
    )


def runtime_study(
    spec: ExperimentSpec | None = None,
    *,
    progress: bool = False,
    keep_trace: bool = True,
    **fields,
) -> RuntimeSummary:
    """Simulate the spec's seeds (J updates each) and put the times beside the theory.

    With a ``time_budget`` T each seed runs every update by T, and the summary reports
    the number of updates per seed (``counts``) beside :func:`budget_count_theory`.

    Args:
        spec: the experiment; keyword ``fields`` (ExperimentSpec field names) override it,
            or build one from the defaults when ``spec`` is None.
        progress: show a progress bar on stderr.
        keep_trace: keep the first seed's trace (``first_trace``, for timelines); the
            other seeds, and with ``keep_trace=False`` all of them, are reduced to their
            statistics (K-sync on the fast path then never builds its contributions).

    Example:
        >>> s = runtime_study(variant="async", num_learners=4, updates=200, seeds=3)
        >>> s.theory.relation
        'exact'
    """
    spec = as_spec(spec, fields)
    refuse_auto(spec, "a timing run (no training)")
    k = spec.canonical[1]
    # the first seed's trace is kept for timelines while the others run
    check_timing_memory(spec, kept=1 if keep_trace and spec.seeds > 1 else 0)
    times, first = [], None
    pooled = _PooledStaleness()
    bar = tqdm(
        spec.seed_list,
        desc=f"{spec.variant} P={spec.num_learners} K={k}",
        disable=bar_disabled(progress),
        delay=1.0,
        leave=False,
        unit="seed",
    )
    counts = []
    tasks = np.zeros(spec.num_learners, dtype=np.int64)  # per learner, most over seeds
    for i, s in enumerate(bar):
        if spec.durations is not None or (keep_trace and i == 0):
            trace = simulate_spec(spec, s)
            first = first or (trace if keep_trace else None)
            if spec.durations is not None:
                tasks = np.maximum(tasks, tasks_per_learner(trace))
            run = RunStatistics.of_trace(trace)
            del trace  # not kept while the next seed runs (only the first one is)
        else:
            run = run_statistics(spec, s)
        times.append(run.end_time)
        counts.append(run.num_updates)
        pooled.add(run)
        del run  # its update times are not kept while the next seed runs
    budget = spec.time_budget is not None
    return RuntimeSummary(
        spec=spec,
        k=k,
        times=np.asarray(times),
        theory=spec_theory(spec),
        staleness=pooled.summary(),
        first_trace=first,
        counts=np.asarray(counts) if budget else None,
        count_theory=budget_count_theory(spec) if budget else None,
        durations=None if spec.durations is None else ReplayWraps.from_tasks(spec, tasks),
    )


class _PooledStaleness:
    """:func:`summarize_staleness` of all seeds' contributions, summed seed by seed (no
    array is kept per seed)."""

    def __init__(self) -> None:
        self.count = self.total = self.fresh = self.top = 0

    def add(self, run: RunStatistics) -> None:
        if run.contributions:
            self.count += run.contributions
            self.total += run.staleness_total
            self.fresh += run.fresh
            self.top = max(self.top, run.staleness_max)

    def summary(self) -> dict[str, float]:
        if not self.count:
            return summarize_staleness(np.zeros(0, dtype=np.int64))
        return {"mean": self.total / self.count, "max": self.top, "p0": self.fresh / self.count}
