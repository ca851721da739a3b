"""A constant compute time (Perrone et al.'s ``gamma max(M/P, M_T)``, a fixed latency)."""

from __future__ import annotations

import dataclasses

import numpy as np

from ._base import Aging, ComputeTimeLaw
from ._checks import check_real

__all__ = ["Deterministic"]


@dataclasses.dataclass(frozen=True)
class Deterministic(ComputeTimeLaw):
    """A compute time that is always ``value``: a point mass (an atom of probability 1).

    Every learner then finishes at the same instant, so the engines' tie rules decide who
    is counted (learner order; see :mod:`simulator.timing`). Draws consume no random
    numbers. ``E[X_{k:n}] = value`` for every k and n, so Lemma 3's K-sync runtime is
    exactly ``J * value``.

    Attributes:
        value: the compute time (simulated time), ``> 0``.

    Example:
        >>> law = Deterministic(0.5)
        >>> law.mean(), law.var(), law.order_statistic_mean(3, 8)
        (0.5, 0.0, 0.5)
        >>> law.spec
        'deterministic:0.5'
    """

    value: float

    def __post_init__(self) -> None:
        value = check_real("Deterministic.value", self.value, "> 0")
        object.__setattr__(self, "value", value)
        self._check_range()

    def mean(self) -> float:
        return self.value

    def var(self) -> float:
        return 0.0

    @property
    def aging(self) -> Aging:
        """``"nltu"``: ``P(X > u + t | X > t) = 1{u + t < value} <= P(X > u)``."""
        return "nltu"

    @property
    def spec(self) -> str:
        return f"deterministic:{self.value!r}"

    def _sample(self, shape: tuple[int, ...], rng: np.random.Generator) -> np.ndarray:
        return np.full(shape, self.value)

    def _cdf(self, x: np.ndarray) -> np.ndarray:
        return np.where(x >= self.value, 1.0, 0.0)

    def _sf(self, x: np.ndarray) -> np.ndarray:
        return np.where(x >= self.value, 0.0, 1.0)

    def _ppf(self, q: np.ndarray) -> np.ndarray:
        # inf{x >= 0 : F(x) >= q} is value for q in (0, 1]; value at q = 0 too (the support)
        return np.full(np.shape(q), self.value)

    def _isf(self, q: np.ndarray) -> np.ndarray:
        return np.full(np.shape(q), self.value)

    def _order_statistic_mean(self, k: int, n: int) -> float:
        return self.value

    def _sum_law(self, k: int) -> ComputeTimeLaw:
        return Deterministic(k * self.value)
