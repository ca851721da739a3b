"""Log-normal compute times: ``log X`` is normal."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import scipy.special

from ._base import Aging, ComputeTimeLaw
from ._checks import check_real, exp_or_inf

__all__ = ["LogNormal"]


@dataclasses.dataclass(frozen=True)
class LogNormal(ComputeTimeLaw):
    """Log-normal law: ``log X ~ Normal(mu, sigma^2)``.

    Its hazard rises then falls, so it is neither new-longer- nor new-shorter-than-used in
    general (``aging`` is ``None``).

    Attributes:
        mu: mean of ``log X`` (log of simulated time), any finite number.
        sigma: standard deviation of ``log X``, ``> 0``.

    Example:
        >>> LogNormal(0.0, 1.0).ppf(0.5)  # the median exp(mu)
        np.float64(1.0)
    """

    mu: float
    sigma: float

    def __post_init__(self) -> None:
        object.__setattr__(self, "mu", check_real("LogNormal.mu", self.mu))
        object.__setattr__(self, "sigma", check_real("LogNormal.sigma", self.sigma, "> 0"))
        self._check_range()

    def mean(self) -> float:
        return exp_or_inf(self.mu + 0.5 * self.sigma * self.sigma)

    def var(self) -> float:
        # (exp(sigma²) - 1) exp(2 mu + sigma²)
        s2 = self.sigma * self.sigma
        if s2 > 709.0:
            return math.inf
        return math.expm1(s2) * exp_or_inf(2.0 * self.mu + s2)

    @property
    def aging(self) -> Aging:
        return None

    @property
    def spec(self) -> str:
        return f"lognormal:{self.mu!r},{self.sigma!r}"

    def _sample(self, shape: tuple[int, ...], rng: np.random.Generator) -> np.ndarray:
        return rng.lognormal(self.mu, self.sigma, size=shape)

    def _z(self, x: np.ndarray) -> np.ndarray:
        return (np.log(np.maximum(x, 0.0)) - self.mu) / self.sigma

    def _cdf(self, x: np.ndarray) -> np.ndarray:
        return scipy.special.ndtr(self._z(x))

    def _sf(self, x: np.ndarray) -> np.ndarray:
        return scipy.special.ndtr(-self._z(x))

    def _ppf(self, q: np.ndarray) -> np.ndarray:
        return np.exp(self.mu + self.sigma * scipy.special.ndtri(q))

    def _isf(self, q: np.ndarray) -> np.ndarray:
        return np.exp(self.mu - self.sigma * scipy.special.ndtri(q))
