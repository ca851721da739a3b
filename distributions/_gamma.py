"""Gamma compute times, e.g. the sum of exponential stages (Erlang)."""

from __future__ import annotations

import dataclasses

import numpy as np
import scipy.special

from ._base import Aging, ComputeTimeLaw
from ._checks import check_real

__all__ = ["Gamma"]


@dataclasses.dataclass(frozen=True)
class Gamma(ComputeTimeLaw):
    """Gamma law with density ``rate^a x^(a-1) exp(-rate x) / Γ(a)`` for ``x >= 0``.

    ``Gamma(k, rate)`` with integer ``k`` is the Erlang law of ``k`` exponential stages, the
    time for ``k`` exponential mini-batches in a row (Dutta et al. 2018, K-batch-sync).

    Attributes:
        shape: ``a > 0``.
        rate: ``> 0`` per simulated time unit (mean ``shape / rate``).

    Example:
        >>> Gamma(2.0, 4.0).mean()
        0.5
        >>> Gamma(2.0, 4.0).sum_law(3)
        Gamma(shape=6.0, rate=4.0)
    """

    shape: float
    rate: float

    def __post_init__(self) -> None:
        object.__setattr__(self, "shape", check_real("Gamma.shape", self.shape, "> 0"))
        object.__setattr__(self, "rate", check_real("Gamma.rate", self.rate, "> 0"))
        self._check_range()

    def mean(self) -> float:
        return self.shape / self.rate

    def var(self) -> float:
        return self.shape / self.rate / self.rate

    @property
    def aging(self) -> Aging:
        """``"nltu"`` for ``shape > 1`` (increasing hazard), ``"nstu"`` for ``shape < 1``,
        ``"both"`` for ``shape == 1`` (exponential)."""
        if self.shape == 1.0:
            return "both"
        return "nltu" if self.shape > 1.0 else "nstu"

    @property
    def spec(self) -> str:
        return f"gamma:{self.shape!r},{self.rate!r}"

    def _sample(self, shape: tuple[int, ...], rng: np.random.Generator) -> np.ndarray:
        return rng.gamma(self.shape, 1.0 / self.rate, size=shape)

    def _cdf(self, x: np.ndarray) -> np.ndarray:
        return scipy.special.gammainc(self.shape, self.rate * np.maximum(x, 0.0))

    def _sf(self, x: np.ndarray) -> np.ndarray:
        return scipy.special.gammaincc(self.shape, self.rate * np.maximum(x, 0.0))

    def _ppf(self, q: np.ndarray) -> np.ndarray:
        return scipy.special.gammaincinv(self.shape, q) / self.rate

    def _isf(self, q: np.ndarray) -> np.ndarray:
        return scipy.special.gammainccinv(self.shape, q) / self.rate

    def _sum_law(self, k: int) -> ComputeTimeLaw:
        return Gamma(k * self.shape, self.rate)
