"""Adaptive synchrony: K chosen as training goes, by co-simulation of timing and training.

The SimPy engine calls a policy when an update closes (:mod:`simulator.timing._k_policy`);
every ``k_every`` updates the ``loss`` and ``theory`` policies replay the trace so far
(the same replay, keys and mini-batches as the final one, so the loss they read is the
loss the run reports at that update), read the error there and set the K of the updates
that follow. The engine's state (learners in flight, their read versions, queued pushes)
simply carries on; the final trace is replayed once, as any other. With a policy that
never changes K the trace, and so the curves, are those of one run with that K (tested).

- ``loss`` (AdaSync; Dutta, Wang & Joshi, "Slow and Stale Gradients Can Win the Race",
  IEEE JSAIT 2021, arXiv 2003.10579, the method of gradually increasing synchrony): with
  F the error F(w) - F* (the loss where F* is unknown) and F_0 its value at w_0,
  K-async and K-batch-async take K_t = K_0 sqrt(F_0 / F_t); K-sync and K-batch-sync solve
  K_t^2 / (P - K_t) = K_0^2 / (P - K_0) * F_0 / F_t (the K that minimises the paper's
  error-runtime bound with E[X_{K:P}] of exponential learners). K is rounded, kept in
  [1, P] and never lowered. The rule's text could not be read from the paper itself; it
  is taken from two public reproductions and re-derived from the bound (see the note in
  :func:`adasync_k`).
- ``theory``: from the error e_t now, the K whose predicted time to e_t / 2 is smallest:
  Lemma 2 (Dutta et al. 2018) gives the iterations, e_{j+n} - f_K = (1 - eta c)^n
  (e_j - f_K) with floor f_K = eta L sigma^2 / (2 c K m), and Lemma 3 the time per
  iteration E[T(K)] (the runtime theory of the spec's learners; a short simulation where
  no closed form applies), with the measured constants L, c, sigma^2
  (:func:`simulator.training.constants.problem_constants`). Where the Hessian's c is not
  positive (a softmax's biases leave a flat direction: c = 0 on MNIST), c is the one for
  which Lemma 2, with the K in force, takes the error e_s of the last decision to e_t in
  its n updates (floor neglected where no such c exists), and K stays where the error did
  not fall. Where
  no K reaches e_t / 2 (below every floor) it takes P, the lowest floor.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from collections.abc import Callable
from typing import Any

import numpy as np
import scipy.optimize

from simulator._spec_policy import (
    READS_LOSS,
    THEORY_VARIANTS,
    default_k_every,
    k_row_width,
    policy_applies,
)
from simulator.errors import PssimError
from simulator.spec import ExperimentSpec
from simulator.studies._common import spec_theory
from simulator.timing.engine import simulate_spec
from simulator.trace import Trace

__all__ = [
    "Decision",
    "LossPolicy",
    "TheoryPolicy",
    "adasync_k",
    "cosimulate",
    "iteration_times",
    "padded",
]

#: The theory policy aims at the error times this ratio, from each decision to the next.
THEORY_LEVEL_RATIO = 0.5
#: A Hessian's c below this times L is read as 0 (rounding of a flat direction).
C_ROUNDING = 1e-9
#: Updates of the short simulation that estimates a K's time per update without theory.
_TIMING_UPDATES = 400


@dataclasses.dataclass(frozen=True)
class Decision:
    """One decision of a policy: at ``update`` (simulated ``time``), it read ``value``
    (the error, or the loss where F* is unknown) and set ``k`` for the updates that follow."""

    update: int
    time: float
    value: float
    k: int


def adasync_k(variant: str, k0: int, p: int, f0: float, ft: float) -> int:
    """AdaSync's K for error ``ft`` after ``f0`` at the start (see the module docstring),
    rounded and kept in [1, P].

    Note: for K-async the error-runtime bound 2 F E[T] / (eta t) + L eta sigma^2 / (K m)
    with E[T] = K mu / P is smallest at K proportional to F^(-1/2); for K-sync,
    E[T] = mu (H_P - H_{P-K}) has dE[T]/dK = mu / (P - K), giving K^2 / (P - K)
    proportional to 1 / F.

    Example:
        >>> adasync_k("k-async", 1, 8, 1.0, 0.25)
        2
    """
    if not (math.isfinite(ft) and math.isfinite(f0)) or f0 <= 0:
        return k0
    if ft <= 0:
        return p
    ratio = f0 / ft
    if variant in ("k-async", "k-batch-async"):
        k = k0 * math.sqrt(ratio)
    elif k0 >= p:
        k = p
    else:  # K^2 + A K - A P = 0, A = K0^2 / (P - K0) * F0 / Ft
        a = k0 * k0 / (p - k0) * ratio
        k = (-a + math.sqrt(a * a + 4 * a * p)) / 2
    return int(min(p, max(1, round(k))))


class _Observed:
    """Shared part of the policies: when to decide, what was read, what was chosen."""

    def __init__(self, spec: ExperimentSpec, observe: Callable[[Trace], tuple[float, float]]):
        self.k_max = k_row_width(spec.k_policy, spec.canonical[1], spec.num_learners, None)
        self.every = spec.k_every or default_k_every(spec.updates)
        self.k = spec.canonical[1]
        self.variant, self.p = spec.canonical[0], spec.num_learners
        self._observe = observe
        self.decisions: list[Decision] = []

    def __call__(self, b: int, trace_so_far: Callable[[], Trace]) -> int:
        if b % self.every:
            return self.k
        trace = trace_so_far()  # updates 0..b-1
        initial, value = self._observe(trace)
        if math.isfinite(value):
            self.k = self.choose(initial, value, b)
        self.decisions.append(Decision(b, trace.end_time, value, self.k))
        return self.k

    def choose(self, initial: float, value: float, update: int) -> int:
        """K after reading ``value`` at ``update`` (``initial``: the value at w_0)."""
        raise NotImplementedError


class LossPolicy(_Observed):
    """AdaSync (see the module docstring); K never decreases."""

    def __init__(self, spec, observe):
        super().__init__(spec, observe)
        self.k0 = self.k

    def choose(self, initial: float, value: float, update: int) -> int:
        return max(self.k, adasync_k(self.variant, self.k0, self.p, initial, value))


@functools.lru_cache(maxsize=32)
def iteration_times(spec: ExperimentSpec) -> tuple[np.ndarray, list[str]]:
    """(P,) expected time of one update for K = 1..P with the spec's learners (Lemma 3 or
    the runtime theory of :func:`simulator.studies._common.spec_theory`; the mean update
    time of a short simulation where it has none), and each one's source."""
    fixed = spec.replace(k_policy=None, k_every=None, k_schedule=None, eval_every=None)
    times, sources = [], []
    for k in range(1, spec.num_learners + 1):
        one = fixed.replace(k=k, updates=1)
        prediction = spec_theory(one)
        if prediction.mean is not None and prediction.relation == "exact":
            times.append(prediction.mean)
            sources.append(prediction.relation)
            continue
        trace = simulate_spec(fixed.replace(k=k, updates=_TIMING_UPDATES), spec.seed)
        times.append(trace.end_time / trace.num_updates)
        sources.append("simulated")
    return np.array(times), sources


class TheoryPolicy(_Observed):
    """The K with the smallest predicted time to the next error level (module docstring).

    Args:
        constants: a :class:`~simulator.training.constants.ProblemConstants` (L, c > 0,
            sigma2) of the model and data.
    """

    def __init__(self, spec, observe, constants):
        super().__init__(spec, observe)
        self.base_lr, self.m = float(spec.lr), spec.batch_size
        self.lr, self._schedule, self._updates = self.base_lr, spec.lr_schedule, spec.updates
        self.L, self.sigma2 = constants.L, constants.sigma2
        # c within rounding of 0 (a flat direction) is no strong convexity
        self.hessian_c = constants.c if constants.c > C_ROUNDING * constants.L else None
        self.c = self.hessian_c
        self.times, self.sources = iteration_times(spec)
        self._last = (0, None)  # the update and error of the last decision

    def _rate(self, start: int, stop: int) -> float:
        """The mean learning rate of updates [start, stop) (the schedule's, if any)."""
        if self._schedule is None:
            return self.base_lr
        from simulator.training._schedules import lr_factors

        factors = lr_factors(self._schedule, np.arange(start, stop), self._updates, "float64")
        return self.base_lr * float(factors.mean())

    def _shown_c(self, before: float, after: float, n: int, lr: float) -> float:
        """The c for which Lemma 2 with the K in force takes ``before`` to ``after`` in n
        updates: (1 - lr c)^n (before - f) + f = after, f = lr L sigma^2 / (2 c K m)
        (the root in (0, 1/lr); without one, the floor is neglected)."""
        scale = lr * self.L * self.sigma2 / (2 * self.k * self.m)

        def gap(c: float) -> float:
            rho = (1 - lr * c) ** n
            return rho * before + scale / c * (1 - rho) - after

        high = 1 / lr
        if gap(high) < 0:  # gap(0+) = before + n lr scale - after > 0
            return scipy.optimize.brentq(gap, 1e-12 / lr, high, xtol=1e-12 / lr)
        return (1 - (after / before) ** (1 / n)) / lr

    def predicted_times(self, error: float) -> np.ndarray:
        """(P,) predicted time from ``error`` to ``error * THEORY_LEVEL_RATIO`` for each K
        (inf where K's floor is not below the target), with the current ``c``."""
        ks = np.arange(1, self.p + 1)
        floor = self.lr * self.L * self.sigma2 / (2 * self.c * ks * self.m)
        target = error * THEORY_LEVEL_RATIO
        rate = 1 - self.lr * self.c
        out = np.full(self.p, np.inf)
        ok = (target > floor) & (0 < rate) & (rate < 1)
        steps = np.log((target - floor[ok]) / (error - floor[ok])) / np.log(rate)
        out[ok] = np.ceil(np.maximum(steps, 1)) * self.times[ok]
        return out

    def choose(self, initial: float, value: float, update: int) -> int:
        since, before = self._last
        self._last = (update, value)
        if self.hessian_c is None:  # the contraction shown since the last decision
            before = initial if before is None else before
            if not (0 < value < before):
                return self.k
            self.c = self._shown_c(before, value, update - since, self._rate(since, update))
        self.lr = self._rate(update, update + 1)
        times = self.predicted_times(value)
        if not np.isfinite(times).any():
            return self.p
        return int(np.argmin(times)) + 1


def padded(trace: Trace, updates: int) -> Trace:
    """``trace`` followed by placeholder updates up to ``updates`` (learner 0 reading the
    current model, at the last update's time), so that every decision's replay has the
    final replay's shape. The replay is causal: the placeholders change nothing up to the
    trace's last update, which is all a decision reads."""
    u, width = trace.mask.shape
    extra = updates - u
    if extra <= 0:
        return trace
    end = trace.end_time
    rows = np.arange(u, updates)

    def grow(a, fill):
        tail = np.full((extra, width), fill, dtype=a.dtype)
        return np.concatenate([a, tail])

    learner, version = grow(trace.learner, -1), grow(trace.version, -1)
    start, finish, mask = (
        grow(trace.start, np.nan),
        grow(trace.finish, np.nan),
        grow(trace.mask, False),
    )
    learner[u:, 0], version[u:, 0], start[u:, 0], finish[u:, 0] = 0, rows, end, end
    mask[u:, 0] = True
    return dataclasses.replace(
        trace,
        update_time=np.concatenate([trace.update_time, np.full(extra, end)]),
        learner=learner,
        version=version,
        start=start,
        finish=finish,
        mask=mask,
        update_k=np.zeros(0, dtype=np.int64),
    )


def cosimulate(
    spec: ExperimentSpec,
    seed: int,
    *,
    model: Any,
    dataset: Any,
    rule: Any,
    f_star: float | None = None,
    constants: Any = None,
) -> tuple[Trace, list[Decision]]:
    """One seed of a spec whose ``k_policy`` reads the loss (``loss`` or ``theory``):
    the trace, with each update's K, and the policy's decisions.

    Args:
        spec: a validated spec with ``k_policy`` ``loss`` or ``theory`` and a K-variant.
        seed: the run's seed (its durations and its replay keys, as in compare).
        model, dataset, rule: what the replay trains (as :func:`~simulator.training.replay`).
        f_star: F* on the evaluation set (the policies read the error F - F*); None: the
            loss is read instead (``theory`` needs F*).
        constants: the problem constants (``theory``; computed when None).
    """
    from simulator.training import replay

    if spec.k_policy not in READS_LOSS or not policy_applies(spec):
        raise PssimError(
            "`k_policy` must be 'loss' or 'theory' with a K-variant (k-sync, k-batch-sync, "
            f"k-async, k-batch-async) to co-simulate; got {spec.k_policy!r} with variant "
            f"{spec.variant!r}",
            param="k_policy",
        )

    every = spec.k_every or default_k_every(spec.updates)

    def observe(trace: Trace) -> tuple[float, float]:
        u = trace.num_updates  # a multiple of k_every: every decision has one program
        result = replay(
            [padded(trace, spec.updates)],  # J updates: a schedule spans the whole run
            model,
            dataset,
            batch_size=spec.batch_size,
            rule=rule,
            eval_every=every,
            dtype=spec.dtype,
            f_star=f_star,
            divergence_factor=spec.divergence_factor,
            lr_schedule=spec.lr_schedule,
        )
        curve = result.loss[0] if f_star is None else result.error[0]
        return float(curve[0]), float(curve[u // every])

    if spec.k_policy == "loss":
        policy: _Observed = LossPolicy(spec, observe)
    elif spec.variant not in THEORY_VARIANTS:
        raise PssimError(
            "`k_policy` 'theory' predicts with Lemma 2 (K fresh gradients per update), so it "
            f"applies to {', '.join(THEORY_VARIANTS)}; got variant {spec.variant!r}",
            param="k_policy",
        )
    else:
        if f_star is None:
            raise PssimError(
                "`k_policy` 'theory' reads the error F - F*, so it needs F* (a convex model, "
                "or f_star given); got none",
                param="k_policy",
            )
        if constants is None:
            from simulator.training.constants import problem_constants

            constants = problem_constants(model, dataset)
        policy = TheoryPolicy(spec, observe, constants)
    trace = simulate_spec(spec, seed, engine="simpy", policy=policy)
    return trace, policy.decisions
