"""Runtime theory of clusters beyond the papers: failures, slowdowns, deadlines, links.

Pure functions of the learners (:class:`~simulator.theory._learners.Learner`: a law and a
speed) and of the feature's parameters; each returns a
:class:`~simulator.theory._prediction.Prediction` whose relation says how it holds
(``exact``, ``asymptotic``, ``lower-bound`` or ``none`` with the reason). Times are in
simulated time units, bandwidths in bytes per simulated time unit.

- Failures (async and K-batch-async, no communication): learner l completes
  ``A r_l`` tasks per unit time in the long run (:func:`failure_task_rate`), so
  ``E[T_J] ~ J K / sum_l A r_l``. An availability file with exponential compute times
  gives the exact inhomogeneous-Poisson form (:func:`availability_runtime`).
- Markov-modulated slowdown: a learner that always computes does so at the mean speed
  ``pi_fast + pi_slow / FACTOR`` (:func:`slowdown_speed`).
- Deadline D on a round: ``T = min(X_{K:P}, max(D, X_{1:P}))`` (:func:`deadline_round`).

The links (bandwidths, server shards, the ring all-reduce) are in
:mod:`simulator.theory.links`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import scipy.integrate
from scipy import special, stats

from distributions import (
    Deterministic,
    Empirical,
    Exponential,
    Gamma,
    HyperExponential,
    ShiftedExponential,
)
from simulator._checks import check_positive
from simulator.theory._learners import (
    MAX_WORK,
    IntegralTooLarge,
    Learner,
    _fewer_than,
    _states,
    kth_order_mean,
)
from simulator.theory._prediction import Prediction

__all__ = [
    "availability",
    "availability_runtime",
    "deadline_round",
    "deadline_runtime",
    "empirical_availability",
    "failure_runtime",
    "failure_task_rate",
    "is_renewal",
    "slowdown_runtime",
    "slowdown_speed",
]

#: Quantile levels that split a continuous law's integrals into smooth pieces.
_LEVELS = (1e-6, 0.01, 0.5, 0.99)
_TAILS = (1e-6, 1e-9)
_RTOL = 1e-10


def _none(reason: str) -> Prediction:
    return Prediction(None, "none", reason)


def is_renewal(variant: str, k: int) -> bool:
    """Whether no learner ever waits (K-batch-async, and K-async with K = 1)."""
    return variant == "k-batch-async" or (variant == "k-async" and k == 1)


def _identical(learners: Sequence[Learner]) -> bool:
    return all(x == learners[0] for x in learners)


# ------------------------------------------------------------------------------ integrals
def _cuts(learners: Sequence[Learner], shift: float = 0.0) -> list[float]:
    """Points where the learners' laws change regime: lower ends, atoms, quantiles."""
    out = []
    for x in dict.fromkeys(learners):
        atoms = x.atoms
        if atoms is not None:
            out.extend(atoms)
        else:
            out.append(x.lower)
            out.extend(x.ppf(q) for q in _LEVELS)
            out.extend(x.isf(q) for q in _TAILS)
    return [c + shift for c in out if math.isfinite(c)]


def _integral(fn, lo: float, hi: float, cuts: Sequence[float], discrete: bool = False) -> float:
    """``∫_lo^hi fn(t) dt`` of a vectorised ``fn`` that is smooth between ``cuts`` (``hi``
    may be inf); a finite sum when ``fn`` is constant on [cut, next cut) (``discrete``,
    ``hi`` finite)."""
    pts = np.unique([lo, *(c for c in cuts if lo < c < hi)])
    ends = np.append(pts[1:], hi)
    if discrete:  # hi finite
        return math.fsum(fn(pts) * (ends - pts))
    scale = max(float(np.median(pts)), 1e-300)
    res = scipy.integrate.tanhsinh(fn, pts, ends, rtol=_RTOL, atol=_RTOL * 1e-3 * scale)
    return math.fsum(np.atleast_1d(res.integral))


def _order_mean(learners: Sequence[Learner], k: int) -> float:
    """``E[X_{K:P}]`` of the learners (identical ones through their law's closed forms)."""
    if _identical(learners) and learners[0].speed == 1.0:
        return float(learners[0].law.order_statistic_mean(k, len(learners)))
    return kth_order_mean(learners, k)


# ------------------------------------------------------------------------------- failures
def availability(failure, repair) -> float:
    """``A = E[U] / (E[U] + E[D])``, the long-run fraction of time a learner is up, for up
    times of law ``failure`` and down times of law ``repair`` (alternating renewal)."""
    up, down = float(failure.mean()), float(repair.mean())
    if math.isinf(up):
        return 1.0 if math.isfinite(down) else math.nan
    return up / (up + down)


def _one_minus_laplace(law, s: float) -> float:
    """``1 - E[exp(-s Y)]`` of a law, accurate where it is small (s > 0)."""
    if isinstance(law, Exponential):
        return s / (law.rate + s)
    if isinstance(law, ShiftedExponential):
        return -math.expm1(-math.log1p(s / law.rate) - s * law.shift)
    if isinstance(law, Gamma):
        return -math.expm1(-law.shape * math.log1p(s / law.rate))
    if isinstance(law, HyperExponential):
        return math.fsum(p * s / (r + s) for p, r in zip(law.probs, law.rates, strict=True))
    if isinstance(law, Deterministic):
        return -math.expm1(-s * law.value)
    if isinstance(law, Empirical):
        return float(np.mean(-np.expm1(-s * np.asarray(law.values))))
    one = Learner(law)  # 1 - L(s) = s ∫ exp(-s t) P(Y > t) dt
    cuts = [*_cuts([one]), 1.0 / s, 10.0 / s]
    return s * _integral(lambda t: np.exp(-s * t) * one.sf(t), 0.0, math.inf, cuts)


def failure_task_rate(learner: Learner, failure_rate: float) -> float:
    """Tasks per unit of up time of a learner that computes back to back while up and
    loses the task in flight when it fails, failures at rate ``f`` (exponential up times).

    ``r = f L(f) / (1 - L(f))``, ``L(s) = E[exp(-s X)]``. Derivation: by the memoryless
    property the up time left when a task starts is Exp(f) and independent of the task's
    X (a task starts when an up period does or when the previous task ends), so the task
    completes iff ``X < Exp(f)``, with probability ``P(Exp(f) > X) = E[exp(-f X)] = L``.
    The tasks completed in one up period are then geometric, ``P(N >= n) = L^n``, with
    ``E[N] = L / (1 - L)``, and an up period lasts ``1/f`` on average: ``r = E[N] f``.
    By renewal-reward over the up-down cycles the long-run rate is ``A r`` (any repair
    law). For exponential X of rate mu, ``r = mu``.

    Example:
        >>> from distributions import Deterministic
        >>> round(failure_task_rate(Learner(Deterministic(1.0)), 1.0), 6)  # 1 / (e - 1)
        0.581977
    """
    failure_rate = check_positive("failure_rate", failure_rate)
    s = failure_rate / learner.speed  # X = Y / speed: L_X(f) = L_Y(f / speed)
    miss = _one_minus_laplace(learner.law, s)
    return failure_rate / miss - failure_rate if miss > 0.0 else math.inf


def _rates(learners: Sequence[Learner]) -> list[float] | None:
    rates = [x.exponential_rate for x in learners]
    return None if any(r is None for r in rates) else rates


def failure_runtime(
    variant: str, learners: Sequence[Learner], k: int, updates: int, failure, repair, speed=1.0
) -> Prediction:
    """Expected time of the J-th update with failures and repairs (no communication).

    Async and K-batch-async (no learner ever waits): the J-th update is the (J K)-th push
    and learner l pushes at the long-run rate ``A r_l`` (renewal-reward), so
    ``E[T_J] ~ J K / sum_l A r_l`` (``asymptotic``): ``r_l`` from
    :func:`failure_task_rate` for exponential up times; for other up-time laws only when
    every X is exponential (then ``r_l = speed / E[X_l]`` whatever the up, down and
    slowdown laws: a memoryless task loses nothing at a failure). ``speed`` is a
    slowdown's mean speed (:func:`slowdown_speed`), 1 without one. Other variants: ``none``.
    """
    if not is_renewal(variant, k):
        return _none(f"failures with {variant}: rounds wait for learners that are down")
    a = availability(failure, repair)
    if not a > 0.0:
        return _none("failures: learners are down in the long run (mean repair infinite)")
    rates = _rates(learners)
    if rates is not None:
        total, how = a * speed * math.fsum(rates), "A / E[X_l] (memoryless tasks)"
    elif speed != 1.0:
        return _none("failures with a slowdown: a form for exponential compute times only")
    elif getattr(failure, "aging", None) == "both":  # exponential in any form
        f = 1.0 / float(failure.mean())
        total = a * math.fsum(failure_task_rate(x, f) for x in learners)
        how = "A f L(f) / (1 - L(f))"
    else:
        return _none("failures: non-exponential up times need exponential compute times")
    value = updates * k / total
    return Prediction(value, "asymptotic", f"renewal with failures: J K / sum_l {how}")


def empirical_availability(intervals: Sequence[np.ndarray], horizon: float) -> np.ndarray:
    """(P,) fraction of ``[0, horizon)`` each learner is up, from its (n_l, 2) down periods
    ``[down, up)`` (an availability file's)."""
    down = [np.clip(iv, 0.0, horizon) for iv in intervals]
    return np.array([1.0 - float(np.sum(d[:, 1] - d[:, 0])) / horizon for d in down])


def _poisson_wait(knots: np.ndarray, intensity: np.ndarray, n: int) -> float:
    """``E[T_n] = ∫_0^∞ P(N(t) < n) dt`` of a Poisson process whose intensity is
    ``intensity[i]`` on ``[knots[i], knots[i+1])`` (the last one from the last knot on).

    ``P(N(t) < n) = Q(n, Λ(t))`` (regularised upper incomplete gamma), and on a piece of
    slope ``λ > 0`` it integrates in closed form: ``∫ Q(n, x) dx = x Q(n, x) - n Q(n+1, x)``
    (and ``∫ P(n, x) dx = x P(n, x) - n P(n+1, x)`` below n, where that has no cancellation).
    """
    widths = np.diff(knots)
    cum = np.concatenate([[0.0], np.cumsum(intensity[:-1] * widths)])
    a, b = cum[:-1], cum[1:]
    lam = intensity[:-1]
    with np.errstate(divide="ignore", invalid="ignore"):
        low = (b - a) - (_h(special.gammainc, n, b) - _h(special.gammainc, n, a))
        high = _h(special.gammaincc, n, b) - _h(special.gammaincc, n, a)
        sloped = np.where(b < n, low, high) / lam
    flat = widths * special.gammaincc(n, a)
    parts = np.where(lam > 0.0, sloped, flat)
    end, last = cum[-1], intensity[-1]
    if last <= 0.0:
        return math.inf
    tail = (n * special.gammaincc(n + 1, end) - end * special.gammaincc(n, end)) / last
    return math.fsum(parts) + float(tail)


def _h(fn, n: int, x):
    return x * fn(n, x) - n * fn(n + 1, x)


def availability_runtime(
    variant: str, learners: Sequence[Learner], k: int, updates: int, intervals
) -> Prediction:
    """Expected time of the J-th update with an availability file (down in ``[down, up)``).

    Exact for async and K-batch-async when every compute time is exponential: learner l
    then pushes as a Poisson process of intensity ``rate_l`` while up and 0 while down (a
    memoryless task loses nothing when cut), the superposition is Poisson of intensity
    ``λ(t) = sum_l rate_l up_l(t)``, and the J-th update is its (J K)-th point:
    ``E[T_J] = ∫ P(Poisson(Λ(t)) < J K) dt``. ``none`` otherwise: past the file's last
    period every learner is up, so no availability-weighted rate holds in the long run,
    and cut tasks of other laws have no closed form.
    """
    if not is_renewal(variant, k):
        return _none(f"availability with {variant}: rounds wait for learners that are down")
    rates = _rates(learners)
    if rates is None:
        return _none("availability file: a form for exponential compute times only")
    times = np.concatenate([iv.ravel() for iv in intervals] + [np.zeros(0)])
    steps = np.concatenate(
        [np.tile([-r, r], len(iv)) for r, iv in zip(rates, intervals, strict=True)] + [np.zeros(0)]
    )
    total = math.fsum(rates)
    order = np.argsort(times, kind="stable")
    knots, first = np.unique(times[order], return_index=True)
    jumps = np.add.reduceat(steps[order], first) if knots.size else np.zeros(0)
    intensity = total + np.cumsum(jumps)
    intensity[intensity < 1e-12 * total] = 0.0
    if knots.size and knots[0] > 0.0:
        knots, intensity = np.concatenate([[0.0], knots]), np.concatenate([[total], intensity])
    elif not knots.size:
        knots, intensity = np.zeros(1), np.array([total])
    intensity[-1] = total  # every learner is up after its last period
    value = _poisson_wait(knots, intensity, updates * k)
    return Prediction(value, "exact", "Poisson pushes of intensity sum_l rate_l up_l(t)")


# ------------------------------------------------------------------------------ slowdown
def slowdown_speed(rate_in: float, rate_out: float, factor: float) -> float:
    """Long-run mean speed ``pi_fast + pi_slow / FACTOR`` of a learner that always
    computes, ``pi_slow = rate_in / (rate_in + rate_out)`` (no unit).

    Example:
        >>> slowdown_speed(0.1, 0.3, 4.0)  # 0.75 + 0.25 / 4
        0.8125
    """
    rate_in, rate_out = check_positive("rate_in", rate_in), check_positive("rate_out", rate_out)
    factor = check_positive("factor", factor)
    slow = rate_in / (rate_in + rate_out)
    return (1.0 - slow) + slow / factor


def slowdown_runtime(
    variant: str, k: int, updates: int, learners, slowdown, baseline: Prediction
) -> Prediction:
    """Expected time of the J-th update with a Markov-modulated slowdown.

    Async and K-batch-async: learner l completes ``speed / E[X_l]`` tasks per unit time in
    the long run (renewal-reward, learner always busy), one chain each or one shared:
    ``E[T_J] ~ J K / (speed sum_l 1/E[X_l])`` (``asymptotic``). Round-based variants: a
    slow state only stretches work, so every round is at least its time without slowdown,
    and ``baseline`` (the prediction without it) is a ``lower-bound`` where it is exact or
    one. K-async with K > 1: ``none`` (a waiting learner breaks both arguments).
    """
    speed = slowdown_speed(*slowdown)
    if is_renewal(variant, k):
        total = speed * math.fsum(1.0 / x.mean() for x in learners)
        if not total > 0.0:
            return _none("renewal: every learner's mean is infinite")
        source = "renewal with slowdown: J K / ((pi_fast + pi_slow / FACTOR) sum_l 1/E[X_l])"
        return Prediction(updates * k / total, "asymptotic", source)
    if variant == "k-async":
        return _none("slowdown with K-async (K > 1): learners wait; no renewal form")
    if baseline.relation in ("exact", "lower-bound"):
        return Prediction(baseline.mean, "lower-bound", f"without slowdown: {baseline.source}")
    return _none(f"slowdown with {variant}: {baseline.source} is not a lower bound")


# ------------------------------------------------------------------------------ deadline
def _survival_gap(learners: Sequence[Learner], rank: int):
    """``t -> P(X_{1:P} <= t < X_{rank:P})`` (vectorised).

    Raises:
        IntegralTooLarge: non-identical learners beyond :data:`MAX_WORK` (as for
            ``E[X_{K:P}]``).
    """
    p, one = len(learners), learners[0]
    if _identical(learners):
        return lambda t: stats.binom.cdf(rank - 1, p, one.cdf(t)) - one.sf(t) ** p
    if p * _states(p, rank) > MAX_WORK:
        raise IntegralTooLarge(
            f"`laws` of {p} non-identical learners with K = {rank} are too many to integrate "
            f"a deadline's round: P min(K, P - K + 2) must be <= {MAX_WORK}; got "
            f"{p * _states(p, rank)}",
            param="laws",
        )
    return lambda t: _fewer_than(learners, rank, t) - np.prod([x.sf(t) for x in learners], 0)


def _arrivals(learners: Sequence[Learner], deadline: float) -> np.ndarray:
    """(P+1,) pmf of the number of learners done by ``deadline`` (Poisson-binomial)."""
    done = [float(x.cdf(deadline)) for x in learners]
    if _identical(learners):
        return stats.binom.pmf(np.arange(len(done) + 1), len(done), done[0])
    pmf = np.zeros(len(done) + 1)
    pmf[0] = 1.0
    for q in done:
        pmf[1:] = pmf[1:] * (1.0 - q) + pmf[:-1] * q
        pmf[0] *= 1.0 - q
    return pmf


def _contributions(pmf: np.ndarray, rank: int) -> float:
    """``E[min(rank, N)] + P(N = 0)``: the first arrival closes a round none reached."""
    n = np.arange(pmf.size)
    return math.fsum(pmf * np.minimum(n, rank)) + float(pmf[0])


def deadline_round(
    variant: str, learners: Sequence[Learner], k: int, deadline: float
) -> tuple[float, float, str] | None:
    """(E[T], E[contributions], source) of one round cut by a deadline D, or None.

    A round ends at the K-th arrival, or at D with what has arrived, or at the first
    arrival if none came by D: ``T = min(X_{K:P}, max(D, X_{1:P}))``, so
    ``E[T] = ∫_0^D P(X_{K:P} > t) dt + ∫_D^∞ P(X_{1:P} > t) dt
    = E[X_{1:P}] + ∫_0^D P(X_{1:P} <= t < X_{K:P}) dt`` and the round has
    ``min(K, N(D))`` contributions, 1 if ``N(D) = 0`` (arrivals at D count as arrived).
    K-sync: X the learners' times (independent, any laws). K-AVG: X a learner's sum of K
    draws, rank P, where that sum has a closed-form law. K-batch-sync: the K-th and first
    completions of the P renewal processes: Erlang(K, R) and Exp(R) for exponential
    learners of total rate R, constants for deterministic ones. Other cases: None.
    """
    p, deadline = len(learners), check_positive("deadline", deadline)
    if variant == "k-avg":
        learners = learners if k == 1 else [x.scaled_sum(k) for x in learners]
        if any(x is None for x in learners):
            return None
        variant, k = "k-sync", p
    if variant == "k-sync":
        gap = _survival_gap(learners, k)
        discrete = all(x.atoms is not None for x in learners)
        value = _order_mean(learners, 1) + _integral(gap, 0.0, deadline, _cuts(learners), discrete)
        mean_c = _contributions(_arrivals(learners, deadline), k)
        return value, mean_c, "E[X_{1:P}] + ∫_0^D P(X_{1:P} <= t < X_{K:P}) dt"
    rates, taus = _rates(learners), [x.constant for x in learners]
    if rates is not None:
        r = math.fsum(rates)
        x = r * deadline
        value = x * special.gammaincc(k, x) - k * special.gammaincc(k + 1, x) + k
        value = float(value + math.exp(-x)) / r
        pmf = stats.poisson.pmf(np.arange(k + 1), x)
        pmf[-1] = 1.0 - math.fsum(pmf[:-1])  # N >= K
        return value, _contributions(pmf, k), "Erlang(K, R) cut at D, else Exp(R)"
    if all(t is not None for t in taus):
        from simulator.theory.heterogeneous import _batch_sync_deterministic

        kth, first = _batch_sync_deterministic(taus, k), min(taus)
        done = sum(math.floor(deadline / t) for t in taus)
        mean_c = float(min(k, done) if done else 1)
        return min(kth, max(deadline, first)), mean_c, "min(K-th, max(D, first)) completion"
    return None


def deadline_runtime(
    variant: str, learners: Sequence[Learner], k: int, updates: int, deadline: float
) -> Prediction:
    """``J E[T]`` with the round of :func:`deadline_round` (``exact``: rounds restart every
    learner and are i.i.d.); ``none`` where it has no form."""
    if variant not in ("k-sync", "k-batch-sync", "k-avg"):
        return _none(f"a deadline applies to round-based variants, not {variant}")
    found = deadline_round(variant, learners, k, deadline)
    if found is None:
        what = "K-AVG's sum of K draws" if variant == "k-avg" else "K-batch-sync"
        return _none(f"deadline: no closed form for {what} with these laws")
    value, _, source = found
    return Prediction(updates * value, "exact", f"deadline: J ({source})")
