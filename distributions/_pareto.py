"""Pareto (type I) compute times: a heavy power-law tail (Dutta et al. 2018, Figures 5-6)."""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from ._base import Aging, ComputeTimeLaw
from ._checks import check_real
from ._order_stats import pareto_order_statistic_mean

__all__ = ["Pareto"]


@dataclasses.dataclass(frozen=True)
class Pareto(ComputeTimeLaw):
    """Pareto law, ``P(X > x) = (scale / x) ** shape`` for ``x >= scale``.

    The paper's ``Pareto(2, 1)`` is ``Pareto(shape=2.0, scale=1.0)``. The mean is infinite
    for ``shape <= 1`` and the variance for ``shape <= 2``.

    Attributes:
        shape: tail index ``a > 0``.
        scale: minimum compute time (simulated time), ``> 0``.

    Aging: ``None``. The Pareto law is neither new-longer- nor new-shorter-than-used in the
    sense of Dutta et al. 2018, Definition 3, which asks the inequality for all ``t, u >= 0``:
    with ``t = u = scale``, ``P(X > 2 scale | X > scale) = 2**-shape < 1 = P(X > scale)``
    (the NLTU direction), while for ``t, u >> scale`` the conditional survival tends to 1
    and exceeds ``P(X > u)`` (the NSTU direction). Its residual life past ``scale`` is NSTU.

    Example:
        >>> Pareto(2.0, 1.0).mean()
        2.0
        >>> Pareto(0.5, 1.0).order_statistic_mean(2, 2)
        inf
    """

    shape: float
    scale: float

    def __post_init__(self) -> None:
        object.__setattr__(self, "shape", check_real("Pareto.shape", self.shape, "> 0"))
        object.__setattr__(self, "scale", check_real("Pareto.scale", self.scale, "> 0"))
        self._check_range()

    def _mean_is_infinite(self) -> bool:
        return self.shape <= 1.0

    def mean(self) -> float:
        a = self.shape
        return a * self.scale / (a - 1.0) if a > 1.0 else math.inf

    def var(self) -> float:
        a = self.shape
        if a <= 2.0:
            return math.inf
        return self.scale * self.scale * a / ((a - 1.0) * (a - 1.0) * (a - 2.0))

    @property
    def aging(self) -> Aging:
        return None

    @property
    def spec(self) -> str:
        return f"pareto:{self.shape!r},{self.scale!r}"

    def _sample(self, shape: tuple[int, ...], rng: np.random.Generator) -> np.ndarray:
        # scale * exp(E / a) with E ~ Exp(1); same as scale * (1 + rng.pareto(a)) (Lomax).
        return self.scale * np.exp(rng.standard_exponential(size=shape) / self.shape)

    def _cdf(self, x: np.ndarray) -> np.ndarray:
        return -np.expm1(self.shape * np.log(self.scale / np.maximum(x, self.scale)))

    def _sf(self, x: np.ndarray) -> np.ndarray:
        return (self.scale / np.maximum(x, self.scale)) ** self.shape

    def _ppf(self, q: np.ndarray) -> np.ndarray:
        return self.scale * np.exp(-np.log1p(-q) / self.shape)

    def _isf(self, q: np.ndarray) -> np.ndarray:
        return self.scale * np.power(q, -1.0 / self.shape)

    def _order_statistic_mean(self, k: int, n: int) -> float:
        # scale Γ(n+1)Γ(n-k+1-1/a) / (Γ(n-k+1)Γ(n+1-1/a)); finite iff (n-k+1) a > 1.
        return pareto_order_statistic_mean(k, n, self.shape, self.scale)
