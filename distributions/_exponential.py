"""Exponential and shifted-exponential compute times (Dutta et al. 2018, section 4)."""

from __future__ import annotations

import dataclasses

import numpy as np

from ._base import Aging, ComputeTimeLaw
from ._checks import check_real
from ._order_stats import exponential_order_statistic_mean

__all__ = ["Exponential", "ShiftedExponential"]


@dataclasses.dataclass(frozen=True)
class Exponential(ComputeTimeLaw):
    """Exponential law, density ``rate * exp(-rate * x)`` for ``x >= 0``; memoryless.

    Attributes:
        rate: events per simulated time unit, ``> 0`` (mean ``1 / rate``).

    Example:
        >>> Exponential(2.0).mean()
        0.5
        >>> Exponential(1.0).order_statistic_mean(2, 2)  # H_2 = 1 + 1/2
        1.5
    """

    rate: float

    def __post_init__(self) -> None:
        object.__setattr__(self, "rate", check_real("Exponential.rate", self.rate, "> 0"))
        self._check_range()

    def mean(self) -> float:
        return 1.0 / self.rate

    def var(self) -> float:
        return (1.0 / self.rate) * (1.0 / self.rate)

    @property
    def aging(self) -> Aging:
        return "both"

    @property
    def spec(self) -> str:
        return f"exp:{self.rate!r}"

    def _sample(self, shape: tuple[int, ...], rng: np.random.Generator) -> np.ndarray:
        return rng.exponential(1.0 / self.rate, size=shape)

    def _cdf(self, x: np.ndarray) -> np.ndarray:
        return -np.expm1(-self.rate * np.maximum(x, 0.0))

    def _sf(self, x: np.ndarray) -> np.ndarray:
        return np.exp(-self.rate * np.maximum(x, 0.0))

    def _ppf(self, q: np.ndarray) -> np.ndarray:
        return -np.log1p(-q) / self.rate

    def _isf(self, q: np.ndarray) -> np.ndarray:
        return -np.log(q) / self.rate

    def _order_statistic_mean(self, k: int, n: int) -> float:
        # (H_n - H_{n-k}) / rate (Dutta et al. 2018, Lemma 3 with exponential times).
        return exponential_order_statistic_mean(k, n, self.rate)

    def _sum_law(self, k: int) -> ComputeTimeLaw:
        from ._gamma import Gamma

        return Gamma(float(k), self.rate)


@dataclasses.dataclass(frozen=True)
class ShiftedExponential(ComputeTimeLaw):
    """``shift + Exponential(rate)``: a minimum time plus a memoryless delay.

    The paper's ``1 + exp(1)`` is ``ShiftedExponential(1.0, 1.0)``.

    Attributes:
        shift: minimum compute time (simulated time), ``>= 0``.
        rate: rate of the exponential part, ``> 0``.

    Example:
        >>> ShiftedExponential(1.0, 2.0).mean()
        1.5
    """

    shift: float
    rate: float

    def __post_init__(self) -> None:
        shift = check_real("ShiftedExponential.shift", self.shift, ">= 0")
        object.__setattr__(self, "shift", shift)
        object.__setattr__(self, "rate", check_real("ShiftedExponential.rate", self.rate, "> 0"))
        self._check_range()

    def mean(self) -> float:
        return self.shift + 1.0 / self.rate

    def var(self) -> float:
        return (1.0 / self.rate) * (1.0 / self.rate)

    @property
    def aging(self) -> Aging:
        """``"nltu"`` (``"both"`` when ``shift == 0``, the plain exponential)."""
        return "both" if self.shift == 0.0 else "nltu"

    @property
    def spec(self) -> str:
        return f"shifted-exp:{self.shift!r},{self.rate!r}"

    def _sample(self, shape: tuple[int, ...], rng: np.random.Generator) -> np.ndarray:
        return self.shift + rng.exponential(1.0 / self.rate, size=shape)

    def _cdf(self, x: np.ndarray) -> np.ndarray:
        return -np.expm1(-self.rate * np.maximum(x - self.shift, 0.0))

    def _sf(self, x: np.ndarray) -> np.ndarray:
        return np.exp(-self.rate * np.maximum(x - self.shift, 0.0))

    def _ppf(self, q: np.ndarray) -> np.ndarray:
        return self.shift - np.log1p(-q) / self.rate

    def _isf(self, q: np.ndarray) -> np.ndarray:
        return self.shift - np.log(q) / self.rate

    def _order_statistic_mean(self, k: int, n: int) -> float:
        return self.shift + exponential_order_statistic_mean(k, n, self.rate)

    def _sum_law(self, k: int) -> ComputeTimeLaw:
        import scipy.stats

        from ._scipy_law import ScipyLaw

        return ScipyLaw(scipy.stats.gamma(float(k), loc=k * self.shift, scale=1.0 / self.rate))
