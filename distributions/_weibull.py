"""Weibull compute times: a hazard rising (shape > 1) or falling (shape < 1) as a power."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import scipy.special

from ._base import Aging, ComputeTimeLaw
from ._checks import check_real, exp_or_inf

__all__ = ["Weibull"]


@dataclasses.dataclass(frozen=True)
class Weibull(ComputeTimeLaw):
    """Weibull law, ``P(X > x) = exp(-(x / scale) ** shape)`` for ``x >= 0``.

    Attributes:
        shape: ``k > 0``; ``k = 1`` is exponential with mean ``scale``.
        scale: ``> 0`` (simulated time).

    Example:
        >>> Weibull(1.0, 2.0).mean()
        2.0
    """

    shape: float
    scale: float

    def __post_init__(self) -> None:
        object.__setattr__(self, "shape", check_real("Weibull.shape", self.shape, "> 0"))
        object.__setattr__(self, "scale", check_real("Weibull.scale", self.scale, "> 0"))
        self._check_range()

    def mean(self) -> float:
        # scale Γ(1 + 1/k)
        g1 = float(scipy.special.gammaln(1.0 + 1.0 / self.shape))
        return exp_or_inf(math.log(self.scale) + g1)

    def var(self) -> float:
        # scale² (Γ(1 + 2/k) - Γ(1 + 1/k)²), computed as Γ(1 + 2/k) (1 - exp(2 g1 - g2)).
        g1 = float(scipy.special.gammaln(1.0 + 1.0 / self.shape))
        g2 = float(scipy.special.gammaln(1.0 + 2.0 / self.shape))
        rel = -math.expm1(2.0 * g1 - g2)
        if rel <= 0.0:  # shape so large that the variance is below rounding
            return 0.0
        return exp_or_inf(2.0 * math.log(self.scale) + g2 + math.log(rel))

    @property
    def aging(self) -> Aging:
        """``"nltu"`` for ``shape > 1``, ``"nstu"`` for ``shape < 1``, ``"both"`` at 1."""
        if self.shape == 1.0:
            return "both"
        return "nltu" if self.shape > 1.0 else "nstu"

    @property
    def spec(self) -> str:
        return f"weibull:{self.shape!r},{self.scale!r}"

    def _sample(self, shape: tuple[int, ...], rng: np.random.Generator) -> np.ndarray:
        return self.scale * rng.weibull(self.shape, size=shape)

    def _z(self, x: np.ndarray) -> np.ndarray:
        return (np.maximum(x, 0.0) / self.scale) ** self.shape

    def _cdf(self, x: np.ndarray) -> np.ndarray:
        return -np.expm1(-self._z(x))

    def _sf(self, x: np.ndarray) -> np.ndarray:
        return np.exp(-self._z(x))

    def _ppf(self, q: np.ndarray) -> np.ndarray:
        return self.scale * np.power(-np.log1p(-q), 1.0 / self.shape)

    def _isf(self, q: np.ndarray) -> np.ndarray:
        return self.scale * np.power(-np.log(q), 1.0 / self.shape)
