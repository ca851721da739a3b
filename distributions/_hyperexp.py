"""Hyper-exponential compute times: a probabilistic mixture of exponential phases."""

from __future__ import annotations

import dataclasses
import math
import numbers
from typing import Any

import numpy as np
import scipy.special

from ._base import Aging, ComputeTimeLaw
from ._checks import LawError, LawTypeError, check_real, fmt

__all__ = ["HyperExponential"]

_NEWTON_STEPS = 100


def _as_tuple(name: str, values: Any) -> tuple[float, ...]:
    if (
        isinstance(values, (str, bytes, numbers.Number))
        or not hasattr(values, "__len__")
        or (isinstance(values, np.ndarray) and values.ndim != 1)
    ):
        shown = fmt(values) if isinstance(values, (str, numbers.Number)) else type(values).__name__
        raise LawTypeError(f"`{name}` must be a sequence of numbers; got {shown[:80]}")
    items = tuple(check_real(f"{name}[{i}]", v) for i, v in enumerate(values))
    if not items:
        raise LawError(f"`{name}` must have at least 1 entry; got 0")
    return items


@dataclasses.dataclass(frozen=True)
class HyperExponential(ComputeTimeLaw):
    """Mixture of exponentials: with probability ``probs[i]`` the time is ``Exp(rates[i])``.

    ``P(X > x) = sum_i probs[i] exp(-rates[i] x)``. Its hazard decreases, so it is
    new-shorter-than-used (Dutta et al. 2018, after Definition 3); with one phase (or equal
    rates) it is exponential.

    Attributes:
        probs: phase probabilities, each in ``(0, 1]``, summing to 1 within 1e-9.
        rates: phase rates per simulated time unit, each ``> 0``; same length as ``probs``.

    Example:
        >>> law = HyperExponential((0.5, 0.5), (1.0, 3.0))
        >>> round(law.mean(), 6)
        0.666667
    """

    probs: tuple[float, ...]
    rates: tuple[float, ...]

    def __post_init__(self) -> None:
        probs = _as_tuple("HyperExponential.probs", self.probs)
        rates = _as_tuple("HyperExponential.rates", self.rates)
        for i, p in enumerate(probs):
            if not 0.0 < p <= 1.0:
                raise LawError(f"`HyperExponential.probs[{i}]` must be in (0, 1]; got {fmt(p)}")
        for i, r in enumerate(rates):
            check_real(f"HyperExponential.rates[{i}]", r, "> 0")
        if len(rates) != len(probs):
            raise LawError(
                "`HyperExponential.rates` must have as many entries as "
                f"`HyperExponential.probs` ({len(probs)}); got {len(rates)}"
            )
        total = math.fsum(probs)
        if abs(total - 1.0) > 1e-9:
            raise LawError(f"`HyperExponential.probs` must sum to 1; got {fmt(total)}")
        object.__setattr__(self, "probs", probs)
        object.__setattr__(self, "rates", rates)
        weights = np.asarray(probs) / total
        object.__setattr__(self, "_w", weights)
        object.__setattr__(self, "_r", np.asarray(rates))
        object.__setattr__(self, "_cum", np.cumsum(weights))
        self._check_range()

    def mean(self) -> float:
        return math.fsum(w / r for w, r in zip(self._w, self._r, strict=True))

    def var(self) -> float:
        second = math.fsum(2.0 * w / r / r for w, r in zip(self._w, self._r, strict=True))
        mean = self.mean()
        return max(second - mean * mean, 0.0)

    @property
    def aging(self) -> Aging:
        """``"nstu"``; ``"both"`` when all rates are equal (one exponential)."""
        return "both" if len(set(self.rates)) == 1 else "nstu"

    @property
    def spec(self) -> str:
        pairs = ",".join(f"{p!r},{r!r}" for p, r in zip(self.probs, self.rates, strict=True))
        return f"hyperexp:{pairs}"

    def _sample(self, shape: tuple[int, ...], rng: np.random.Generator) -> np.ndarray:
        # One uniform per draw picks the phase and, rescaled within the phase's slice of
        # [0, 1), gives the exponential by inversion: sequential-consistent by construction.
        u = rng.random(size=shape)
        phase = np.minimum(np.searchsorted(self._cum, u, side="right"), len(self._w) - 1)
        low = np.where(phase > 0, self._cum[np.maximum(phase - 1, 0)], 0.0)
        v = np.clip((u - low) / self._w[phase], 0.0, np.nextafter(1.0, 0.0))
        return -np.log1p(-v) / self._r[phase]

    def _log_terms(self, x: np.ndarray) -> np.ndarray:
        """``log(w_i) - r_i x`` with a trailing phase axis."""
        return np.log(self._w) - self._r * np.maximum(x, 0.0)[..., None]

    def _cdf(self, x: np.ndarray) -> np.ndarray:
        xp = np.maximum(x, 0.0)[..., None]
        return np.sum(self._w * -np.expm1(-self._r * xp), axis=-1)

    def _sf(self, x: np.ndarray) -> np.ndarray:
        xp = np.maximum(x, 0.0)
        sf = np.sum(self._w * np.exp(-self._r * xp[..., None]), axis=-1)
        return np.where(xp > 0.0, sf, np.where(np.isnan(x), np.nan, 1.0))

    def _solve_hazard(self, c: np.ndarray) -> np.ndarray:
        """Solve ``-log sf(x) = c`` for ``c >= 0`` (``inf`` gives ``inf``).

        The cumulative hazard is concave (decreasing hazard), so Newton's method started
        left of the root climbs to it monotonically.
        """
        if np.ndim(c) == 0:
            return np.float64(self._solve_hazard_scalar(float(c)))
        c = np.asarray(c, dtype=np.float64)
        finite = np.isfinite(c)
        cf = np.where(finite, c, 0.0)
        logw = np.log(self._w)
        # Each phase alone bounds the root from below: w_i exp(-r_i x) <= sf(x) = exp(-c).
        x = np.max(np.maximum(cf[..., None] + logw, 0.0) / self._r, axis=-1)
        x = np.maximum(x, cf / np.max(self._r))
        for _ in range(_NEWTON_STEPS):
            terms = self._log_terms(x)
            log_sf = scipy.special.logsumexp(terms, axis=-1)
            hazard = np.sum(np.exp(terms - log_sf[..., None]) * self._r, axis=-1)
            step = (cf + log_sf) / hazard
            x = x + np.maximum(step, 0.0)
            if np.all(step <= 1e-15 * x):
                break
        return np.where(finite, x, np.inf)

    def _solve_hazard_scalar(self, c: float) -> float:
        """Scalar twin of :meth:`_solve_hazard` (pure Python: fast inside ``quad``)."""
        if not math.isfinite(c):
            return c
        logw = [math.log(w) for w in self._w]
        rates = [float(r) for r in self._r]
        x = max(c / max(rates), *(max(c + lw, 0.0) / r for lw, r in zip(logw, rates, strict=True)))
        for _ in range(_NEWTON_STEPS):
            terms = [lw - r * x for lw, r in zip(logw, rates, strict=True)]
            top = max(terms)
            parts = [math.exp(t - top) for t in terms]
            total = math.fsum(parts)
            log_sf = top + math.log(total)
            hazard = math.fsum(p * r for p, r in zip(parts, rates, strict=True)) / total
            step = (c + log_sf) / hazard
            x += max(step, 0.0)
            if step <= 1e-15 * x:
                break
        return x

    def _ppf(self, q: np.ndarray) -> np.ndarray:
        return self._solve_hazard(-np.log1p(-np.asarray(q, dtype=np.float64)))

    def _isf(self, q: np.ndarray) -> np.ndarray:
        return self._solve_hazard(-np.log(np.asarray(q, dtype=np.float64)))

    def _sum_law(self, k: int) -> ComputeTimeLaw | None:
        if len(set(self.rates)) == 1:
            from ._gamma import Gamma

            return Gamma(float(k), self.rates[0])
        return None
