"""Markov-modulated slowdowns: when a learner computes slowly, and how long a task then takes.

A two-state continuous-time Markov chain (fast, slow) moves into the slow state at rate
``rate_in`` and out of it at rate ``rate_out`` (per simulated time unit); it starts in its
stationary distribution (slow with probability pi_slow = rate_in / (rate_in + rate_out)).
While slow, a learner's computation progresses at rate 1 / ``factor``: a task of work x
started at t ends where the integral of the rate from t reaches x. The chain is exogenous
(it does not depend on what the learner does), one per learner or one shared by all.

Long run: a learner that always computes completes work at the mean rate
pi_fast + pi_slow / factor, so its stationary mean duration is
E[X] / (pi_fast + pi_slow / factor) (renewal-reward).
"""

from __future__ import annotations

import bisect

import numpy as np

from simulator.timing._seeds import generator, spawn_words

__all__ = ["SLOWDOWN_SALT", "SlowdownPath", "slowdown_paths"]

#: Stream salt of the chains (compute durations use 0; latencies, service, failures 1-5).
SLOWDOWN_SALT = 6
#: Switches drawn at a time when the path must grow.
_CHUNK = 256


class SlowdownPath:
    """One chain's path: switch times and the state after each, drawn as far as asked.

    Args:
        rate_in, rate_out: rates into and out of the slow state (> 0).
        factor: slowdown while slow (> 0; a task's work goes ``factor`` times slower).
        rng: the chain's own Generator.
    """

    def __init__(self, rate_in: float, rate_out: float, factor: float, rng) -> None:
        self.rate_in, self.rate_out, self.factor = float(rate_in), float(rate_out), float(factor)
        self.rng = rng
        slow = bool(rng.random() < rate_in / (rate_in + rate_out))
        self.times = [0.0]  # segment i is [times[i], times[i + 1]) in state slow[i]
        self.slow = [slow]

    def _grow(self, until: float) -> None:
        """Draw switches until the path covers ``until``."""
        while self.times[-1] <= until:
            # sojourns alternate: out of the current state at its rate
            state = self.slow[-1]
            rates = np.where(
                np.arange(_CHUNK) % 2 == 0,
                self.rate_out if state else self.rate_in,
                self.rate_in if state else self.rate_out,
            )
            stays = self.rng.exponential(1.0, _CHUNK) / rates
            t = self.times[-1] + np.cumsum(stays)
            self.times.extend(t.tolist())
            self.slow.extend([(not state) if i % 2 == 0 else state for i in range(_CHUNK)])

    def is_slow(self, t: float) -> bool:
        """The state at time ``t`` >= 0."""
        self._grow(t)
        return self.slow[bisect.bisect_right(self.times, t) - 1]

    def finish(self, start: float, work: float) -> float:
        """The time a task of ``work`` (its duration at full speed) started at ``start``
        ends."""
        self._grow(start)
        i = bisect.bisect_right(self.times, start) - 1
        t, left = start, work
        while True:
            if i + 1 >= len(self.times):
                self._grow(self.times[-1])
            end = self.times[i + 1]
            rate = 1.0 / self.factor if self.slow[i] else 1.0
            if t + left / rate <= end:
                return t + left / rate
            left -= (end - t) * rate
            t, i = end, i + 1


def slowdown_paths(spec, seed: int) -> list[SlowdownPath] | None:
    """Per learner, its chain's path (the same object for every learner when the chain is
    shared); None without ``slowdown``."""
    slowdown = getattr(spec, "slowdown", None)
    if slowdown is None:
        return None
    p = spec.num_learners
    shared = bool(getattr(spec, "slowdown_shared", False))
    words = spawn_words([seed, SLOWDOWN_SALT], 1 if shared else p)
    paths = [SlowdownPath(*slowdown, generator(w)) for w in words]
    return paths * p if shared else paths
