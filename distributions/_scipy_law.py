"""Adapter: any frozen ``scipy.stats`` continuous law with non-negative support."""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import numpy as np
import scipy.stats

from ._base import Aging, ComputeTimeLaw
from ._checks import LawError, LawTypeError
from ._order_stats import tail_makes_infinite

__all__ = ["ScipyLaw", "is_frozen_continuous"]


def is_frozen_continuous(obj: Any) -> bool:
    """Whether ``obj`` is a frozen ``scipy.stats`` continuous distribution, e.g. ``gamma(2)``."""
    return isinstance(getattr(obj, "dist", None), scipy.stats.rv_continuous) and hasattr(
        obj, "kwds"
    )


def _finite_or_inf(value: Any) -> float:
    x = float(value)
    return x if math.isfinite(x) else math.inf


def _describe(frozen: Any) -> str:
    """``NAME(shape=..., loc=..., scale=...)`` from a frozen law's arguments."""
    dist = frozen.dist
    names = [s.strip() for s in (dist.shapes or "").split(",") if s.strip()]
    names += ["loc", "scale"]
    params = {"loc": 0.0, "scale": 1.0}
    params.update({name: value for name, value in zip(names, frozen.args, strict=False)})
    params.update(frozen.kwds)
    ordered = [n for n in names if n in params and not (n == "loc" and params[n] == 0)]
    body = ", ".join(f"{n}={float(params[n])!r}" for n in ordered)
    return f"{dist.name}({body})"


@dataclasses.dataclass(frozen=True, eq=False)
class ScipyLaw(ComputeTimeLaw):
    """Compute times from a frozen ``scipy.stats`` continuous distribution.

    Sampling inverts the cdf (``ppf`` of ``rng.random``), which is sequential-consistent
    whatever scipy's own ``rvs`` does. Order-statistic means are computed numerically; a law
    with an infinite mean gets ``inf`` where its tail makes the order statistic diverge.
    Two adapters are equal when their :attr:`spec` strings are.

    Attributes:
        frozen: e.g. ``scipy.stats.gamma(2.0, scale=0.5)``; support must start at ``>= 0``.

    Example:
        >>> import scipy.stats
        >>> ScipyLaw(scipy.stats.gamma(2.0, scale=0.5)).spec
        'scipy:gamma(a=2.0, scale=0.5)'
    """

    frozen: Any

    def __post_init__(self) -> None:
        frozen = self.frozen
        if not is_frozen_continuous(frozen):
            raise LawTypeError(
                "`ScipyLaw.frozen` must be a frozen scipy.stats continuous distribution; "
                f"got {type(frozen).__name__}"
            )
        params = (*frozen.args, *frozen.kwds.values())
        if any(np.ndim(v) != 0 for v in params):
            raise LawError(
                "`ScipyLaw.frozen` must have scalar parameters; got "
                f"{frozen.dist.name} with args={frozen.args!r}, kwds={frozen.kwds!r}"
            )
        low = float(frozen.support()[0])
        median = float(frozen.ppf(0.5))
        if math.isnan(low) or not math.isfinite(median):
            raise LawError(f"`ScipyLaw.frozen` must have valid parameters; got {_describe(frozen)}")
        if low < 0.0:
            raise LawError(
                f"`ScipyLaw.frozen` support must start at >= 0; got {low!r} for {_describe(frozen)}"
            )
        self._check_range()

    def _mean_is_infinite(self) -> bool:
        # scipy reports an overflowed mean as inf too: judge divergence from the tail.
        return not math.isfinite(self.mean()) and tail_makes_infinite(self._isf, 1, 1)

    def _range_context(self) -> tuple[str, str]:
        return "`ScipyLaw.frozen`", _describe(self.frozen)

    def __repr__(self) -> str:
        return f"ScipyLaw({_describe(self.frozen)})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ScipyLaw):
            return NotImplemented
        return self.spec == other.spec

    def __hash__(self) -> int:
        return hash(self.spec)

    def mean(self) -> float:
        return _finite_or_inf(self.frozen.mean())

    def var(self) -> float:
        if not math.isfinite(self.mean()):
            return math.inf
        return _finite_or_inf(self.frozen.var())

    @property
    def aging(self) -> Aging:
        return None

    @property
    def spec(self) -> str:
        return f"scipy:{_describe(self.frozen)}"

    def _sample(self, shape: tuple[int, ...], rng: np.random.Generator) -> np.ndarray:
        return self.frozen.ppf(rng.random(size=shape))

    def _cdf(self, x: np.ndarray) -> np.ndarray:
        return self.frozen.cdf(x)

    def _sf(self, x: np.ndarray) -> np.ndarray:
        return self.frozen.sf(x)

    def _ppf(self, q: np.ndarray) -> np.ndarray:
        return self.frozen.ppf(q)

    def _isf(self, q: np.ndarray) -> np.ndarray:
        return self.frozen.isf(q)
