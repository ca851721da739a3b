"""The SimPy engine's cluster features against closed forms, each at 99.9% confidence.

Rates are long-run (renewal-reward) results; each run is long enough that the start-up
transient (every learner up and in a stationary chain state at 0) is far below the
interval's half-width. Intervals: Student t over seeds (independent runs).
"""

from __future__ import annotations

import math

import numpy as np
from scipy import integrate, stats

from simulator import ExperimentSpec, simulate

SEEDS = range(8)
Z = stats.t.ppf(0.9995, len(SEEDS) - 1)  # two-sided 99.9%


def _rates(**fields) -> np.ndarray:
    """Updates per unit time of each seed."""
    spec = ExperimentSpec(**fields)
    return np.array([t.num_updates / t.end_time for t in (simulate(spec, seed=s) for s in SEEDS)])


def _within(sample: np.ndarray, value: float) -> None:
    half = Z * sample.std(ddof=1) / math.sqrt(sample.size)
    assert abs(sample.mean() - value) <= half, (sample.mean(), value, half)


def test_async_with_exponential_failures_runs_at_the_availability_weighted_rate():
    # exponential compute (rate 1): tasks lost at a failure cost nothing in law, so each
    # learner pushes at rate 1 while up: P A with A = E[up] / (E[up] + E[down])
    rates = _rates(
        variant="async",
        num_learners=4,
        law="exp:1",
        failure="exp:0.05",
        repair="exp:0.5",
        updates=20_000,
    )
    _within(rates, 4 * 20 / 22)


def test_async_with_deterministic_tasks_and_exponential_failures():
    # tasks of 1 and failures at rate f: while up a learner completes tasks at rate
    # f L(f) / (1 - L(f)) with L(f) = E[exp(-f X)] = exp(-f); times availability 10 / 11
    f = 0.1
    up_rate = f * math.exp(-f) / (1 - math.exp(-f))
    rates = _rates(
        variant="async",
        num_learners=4,
        law="deterministic:1",
        failure=f"exp:{f}",
        repair="exp:1",
        updates=20_000,
    )
    _within(rates, 4 * up_rate * 10 / 11)


def test_markov_slowdowns_give_the_stationary_mean_duration():
    # pi_slow = 0.2 / (0.2 + 0.3) = 0.4; mean work rate 0.6 + 0.4 / 4 = 0.7 per learner
    for shared in (False, True):
        rates = _rates(
            variant="async",
            num_learners=4,
            law="exp:1",
            slowdown=(0.2, 0.3, 4.0),
            slowdown_shared=shared,
            updates=20_000,
        )
        _within(rates, 4 * 0.7)


def test_sync_with_a_deadline_matches_its_order_statistic_integral():
    # T = X_{K:P} if it is <= D, else D if X_{1:P} <= D, else X_{1:P}:
    # E[T] = int_0^D P(X_{K:P} > t) dt + int_D^inf P(X_{1:P} > t) dt
    p, k, d = 8, 6, 1.0

    def kth_survival(t, kk):
        return stats.binom.cdf(kk - 1, p, 1 - math.exp(-t))  # fewer than kk done by t

    expected = (
        integrate.quad(kth_survival, 0, d, args=(k,))[0]
        + integrate.quad(kth_survival, d, math.inf, args=(1,))[0]
    )
    spec = ExperimentSpec(variant="k-sync", num_learners=p, k=k, law="exp:1", deadline=d)
    rounds = np.concatenate(
        [
            np.diff(simulate(spec.replace(updates=4000), seed=s).update_time, prepend=0.0)
            for s in SEEDS
        ]
    )  # i.i.d. rounds
    half = 3.29 * rounds.std(ddof=1) / math.sqrt(rounds.size)
    assert abs(rounds.mean() - expected) <= half, (rounds.mean(), expected, half)
