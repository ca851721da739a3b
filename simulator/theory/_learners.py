"""Independent, non-identical learners: their scaled laws and order statistics.

Learner l computes one mini-batch in ``X_l = Y_l / s_l``, with ``Y_l`` drawn from its law
and ``s_l`` its speed (the timing engine's convention). The K-th order statistic of
independent non-identical ``X_1, ..., X_P`` has the survival function

    P(X_{K:P} > t) = P(N(t) <= K - 1),  N(t) = #{l : X_l <= t},

where N(t) is Poisson-binomial with success probabilities ``F_l(t)`` (David & Nagaraja,
*Order Statistics*, 3rd ed., section 5.2), so ``E[X_{K:P}] = ∫_0^∞ P(N(t) <= K - 1) dt``.
"""

from __future__ import annotations

import dataclasses
import math
import warnings
from collections.abc import Sequence

import numpy as np
import scipy.integrate

from distributions import Deterministic, Empirical, Exponential, law_from
from simulator.errors import PssimError

__all__ = ["MAX_WORK", "IntegralTooLarge", "Learner", "kth_order_mean", "learners_from"]

#: Probabilities at which each continuous law's quantiles split the integral.
_SPLIT_LEVELS = (1e-6, 0.01, 0.5, 0.99)
_TAIL_LEVELS = (1e-6, 1e-9)
#: Relative tolerance of the quadrature, and the error above which it warns.
_RTOL = 1e-10
_WARN_REL = 1e-7
#: Points of ``t`` evaluated at once (bounds the (points, states) work array to ~64 MB).
_CHUNK_VALUES = 8_000_000
#: Largest P * min(K, P - K + 2) integrated (each of the few thousand points of t costs
#: that many multiply-adds: several seconds at the limit).
MAX_WORK = 2_000_000


class IntegralTooLarge(PssimError):
    """``E[X_{K:P}]`` of more non-identical learners than :data:`MAX_WORK` allows."""


@dataclasses.dataclass(frozen=True)
class Learner:
    """One learner's compute time ``X = Y / speed`` (simulated time units).

    Attributes:
        law: the law of ``Y`` (a ComputeTimeLaw).
        speed: ``s > 0``; the learner's durations are divided by it.
    """

    law: object
    speed: float = 1.0

    def cdf(self, t: np.ndarray) -> np.ndarray:
        """``P(X <= t)``, elementwise."""
        return np.asarray(self.law.cdf(np.asarray(t) * self.speed), dtype=np.float64)

    def sf(self, t: np.ndarray) -> np.ndarray:
        """``P(X > t)``, elementwise, accurate in the upper tail."""
        return np.asarray(self.law.sf(np.asarray(t) * self.speed), dtype=np.float64)

    def ppf(self, q: float) -> float:
        return float(self.law.ppf(q)) / self.speed

    def isf(self, q: float) -> float:
        return float(self.law.isf(q)) / self.speed

    def mean(self) -> float:
        """``E[X] = E[Y] / s``; ``inf`` where infinite."""
        return float(self.law.mean()) / self.speed

    @property
    def lower(self) -> float:
        """The lower end of the support of X (``P(X < lower) = 0``)."""
        return self.ppf(0.0)

    @property
    def exponential_rate(self) -> float | None:
        """The rate of X where its law is exponential in any form (memoryless: aging
        ``"both"``, e.g. ``gamma:1,r``, ``weibull:1,s``), else None."""
        if getattr(self.law, "aging", None) == "both":
            return self.speed / float(self.law.mean())
        return None

    @property
    def constant(self) -> float | None:
        """The value of X where it is deterministic, else None."""
        if isinstance(self.law, Deterministic):
            return self.law.value / self.speed
        if isinstance(self.law, Empirical) and np.all(self.law.values == self.law.values[0]):
            return float(self.law.values[0]) / self.speed
        return None

    @property
    def atoms(self) -> np.ndarray | None:
        """The support points of a discrete X (sorted), None for a continuous one."""
        if isinstance(self.law, Deterministic):
            return np.array([self.law.value / self.speed])
        if isinstance(self.law, Empirical):
            return np.unique(self.law.values) / self.speed
        return None

    @property
    def aging(self) -> str | None:
        """The law's aging class (Dutta et al. 2018, Definition 3); scaling keeps it."""
        return getattr(self.law, "aging", None)

    def scaled_sum(self, k: int) -> Learner | None:
        """The learner whose time is the sum of ``k`` of this one's draws, where the sum
        has a closed-form law (``law.sum_law``), else None."""
        own = Exponential(1.0 / float(self.law.mean())) if self.exponential_rate else self.law
        total = own.sum_law(k)
        return None if total is None else Learner(total, self.speed)


def learners_from(laws: Sequence, speeds: Sequence[float] | None = None) -> list[Learner]:
    """Learners from per-learner laws (laws or spec strings) and optional speeds.

    The caller has checked that ``speeds``, when given, has one positive entry per law.
    """
    speeds = [1.0] * len(laws) if speeds is None else [float(s) for s in speeds]
    return [Learner(law_from(law), s) for law, s in zip(laws, speeds, strict=True)]


def _fewer_than(learners: Sequence[Learner], k: int, t: np.ndarray) -> np.ndarray:
    """``P(N(t) <= k - 1)`` at each t (any shape), N(t) Poisson-binomial in the ``F_l(t)``.

    A dynamic programme over learners on the distribution of a count, fed with each law's
    cdf and sf separately: every term is a product or a sum of non-negative numbers, so the
    result keeps its relative accuracy deep in the upper tail, where ``1 - F_l(t)`` is
    below the float spacing of 1 (``scipy.stats.poisson_binom`` takes only the ``F_l`` and
    computes its survival function as ``1 - cdf``). It counts the learners done (states
    0..K-1, the mass reaching K dropped) or, when that is shorter, the learners still busy
    (states 0..P-K and one absorbing state "at least P-K+1", the answer).
    """
    t = np.asarray(t, dtype=np.float64)
    flat = t.ravel()
    out = np.empty(flat.shape)
    size = _states(len(learners), k)
    busy_count = size < k
    step = max(1, _CHUNK_VALUES // size)
    for lo in range(0, flat.size, step):
        x = flat[lo : lo + step]
        dist = np.zeros((x.size, size))
        dist[:, 0] = 1.0
        for learner in learners:
            done, busy = learner.cdf(x)[:, None], learner.sf(x)[:, None]
            up, stay = (busy, done) if busy_count else (done, busy)
            moved = dist[:, :-1] * up
            top = dist[:, -1:].copy()
            dist *= stay
            dist[:, 1:] += moved
            if busy_count:  # "at least P-K+1 busy" absorbs
                dist[:, -1:] += top * up
        out[lo : lo + step] = dist[:, -1] if busy_count else dist.sum(axis=1)
    return out.reshape(t.shape)


def _states(p: int, k: int) -> int:
    """States of the dynamic programme of :func:`_fewer_than`: min(K, P - K + 2)."""
    return min(k, p - k + 2)


def _discrete_mean(learners: Sequence[Learner], k: int, atoms: np.ndarray) -> float:
    """``∫ P(X_{K:P} > t) dt`` exactly when every X is discrete: the survival function is
    constant between consecutive support points (right-continuous)."""
    s = _fewer_than(learners, k, atoms)
    return float(atoms[0] + math.fsum(s[:-1] * np.diff(atoms)))


def _diverges(learners: Sequence[Learner], k: int) -> bool:
    """Whether ``E[X_{K:P}]`` is infinite.

    Finite when K learners have finite means (``X_{K:P}`` is at most the largest of any K
    of them). Otherwise the tail ``P(X_{K:P} > t) ~ c t^(-beta)`` is measured between the
    learners' ``1 - 1e-9`` and ``1 - 1e-12`` quantiles: infinite when ``beta <= 1``.
    """
    if sum(math.isfinite(x.mean()) for x in learners) >= k:
        return False
    t1 = max(x.isf(1e-9) for x in learners)
    t2 = max(x.isf(1e-12) for x in learners)
    s1, s2 = _fewer_than(learners, k, np.array([t1, t2]))
    if not (math.isfinite(t2) and t2 > t1 > 0.0 and s1 > 0.0):
        return True
    if s2 <= 0.0:
        return False
    beta = math.log(s1 / s2) / math.log(t2 / t1)
    return beta <= 1.0 + 1e-3


def kth_order_mean(learners: Sequence[Learner], k: int) -> float:
    """``E[X_{K:P}]``, the mean K-th smallest of independent non-identical compute times.

    ``∫_0^∞ P(N(t) <= K - 1) dt`` (see the module docstring): below the K-th smallest
    lower end of the supports the integrand is 1; above it, ``scipy.integrate.tanhsinh``
    integrates it piece by piece between the learners' support points, their lower ends
    and quantiles (so that every piece is smooth), and from the last one to infinity.
    Where every law is discrete (empirical, deterministic) the integral is a finite sum,
    computed exactly.

    Args:
        learners: the P learners, ``1 <= K <= P``.
        k: the rank K.

    Returns:
        The mean in simulated time; ``math.inf`` where it diverges.

    Raises:
        IntegralTooLarge: ``P min(K, P - K + 2)`` above :data:`MAX_WORK` (the integrand's cost).

    Example:
        >>> from distributions import Exponential
        >>> round(kth_order_mean([Learner(Exponential(1.0)), Learner(Exponential(2.0))], 2), 6)
        1.166667
    """
    p = len(learners)
    if p * _states(p, k) > MAX_WORK:
        raise IntegralTooLarge(
            f"`laws` of {p} non-identical learners with K = {k} are too many to integrate "
            f"E[X_{{K:P}}]: P min(K, P - K + 2) must be <= {MAX_WORK}; got "
            f"{p * _states(p, k)}",
            param="laws",
        )
    start = float(np.sort([x.lower for x in learners])[k - 1])
    atoms = [x.atoms for x in learners]
    if all(a is not None for a in atoms):
        points = np.unique(np.concatenate([[start], *atoms]))
        return _discrete_mean(learners, k, points[points >= start])
    if _diverges(learners, k):
        return math.inf
    # kinks (lower ends) and atoms must be cut points; quantiles only guide the
    # quadrature, so the smallest and largest over the learners at each level suffice
    cuts = [start]
    levels = []
    for x, a in zip(learners, atoms, strict=True):
        if a is not None:
            cuts.extend(a)
        else:
            cuts.append(x.lower)
            levels.append([*(x.ppf(q) for q in _SPLIT_LEVELS), *(x.isf(q) for q in _TAIL_LEVELS)])
    cuts.extend(np.min(levels, axis=0))
    cuts.extend(np.max(levels, axis=0))
    pts = np.unique([c for c in cuts if math.isfinite(c) and c >= start])
    lo, hi = np.append(pts[:-1], pts[-1]), np.append(pts[1:], np.inf)
    # pieces far in a tail integrate to ~0: their absolute tolerance is relative to the
    # scale of the times (the learners' median median)
    scale = float(np.median([x.ppf(0.5) for x in learners]))
    res = scipy.integrate.tanhsinh(
        lambda t: _fewer_than(learners, k, t), lo, hi, rtol=_RTOL, atol=_RTOL * 1e-3 * scale
    )
    parts = np.atleast_1d(np.asarray(res.integral, dtype=np.float64))
    total = start + math.fsum(parts)
    error = float(np.sum(np.nan_to_num(np.atleast_1d(res.error), nan=np.inf)))
    if not np.all(np.atleast_1d(res.success)) and error > _WARN_REL * total:
        warnings.warn(
            f"E[X_{{{k}:{p}}}] of independent learners = {total!r} may be inaccurate "
            f"(estimated absolute error {error:.3g})",
            RuntimeWarning,
            stacklevel=3,
        )
    return float(total)
