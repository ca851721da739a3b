"""The abstract compute-time law every concrete law implements."""

from __future__ import annotations

import abc
import dataclasses
import math
import numbers
import sys
from collections.abc import Iterable
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike

from ._checks import (
    LawError,
    LawTypeError,
    check_count,
    check_int,
    check_rng,
    check_shape,
    fmt,
)
from ._order_stats import quantile_order_statistic_mean, tail_makes_infinite
from ._text import shown

__all__ = ["MAX_TIME", "TAIL_PROB", "Aging", "ComputeTimeLaw"]

MAX_TIME = math.sqrt(sys.float_info.max)
"""Largest accepted mean and upper quantile of a law (simulated time), about 1.34e154.

The square of such a time is still a finite float (variances, squared deviations), and so
is the sum of up to ~1e154 of them (cumulative times of a run)."""

TAIL_PROB = 1e-12
"""Upper-tail probability at which a law's quantile ``isf(TAIL_PROB)`` is checked against
:data:`MAX_TIME`: a draw exceeds it (let alone overflows to ``inf``) with probability at
most 1e-12."""

Aging = Literal["nltu", "nstu", "both"] | None
"""Aging class (Dutta et al. 2018, Definition 3): ``"nltu"`` new-longer-than-used,
``P(X > u + t | X > t) <= P(X > u)``; ``"nstu"`` new-shorter-than-used (``>=``); ``"both"``
memoryless (exponential); ``None`` neither or unknown."""


def _as_float_array(name: str, x: ArrayLike) -> np.ndarray:
    """``x`` as a float64 array after checking it holds real numbers (none NaN for ``x``).

    Raises:
        LawTypeError: not a number or an array of numbers (strings, None, bools, complex
            numbers, ragged nesting).
        LawError: a NaN, or an integer beyond the float range.
    """
    try:
        arr = np.asarray(x)
    except (ValueError, TypeError):  # ragged nesting
        arr = np.asarray(None)
    if arr.dtype == object and arr.size and all(isinstance(v, numbers.Integral) for v in arr.flat):
        big = max((int(v) for v in arr.flat), key=abs)
        raise LawError(f"`{name}` must be finite floats; got {shown(big)}")
    if arr.dtype.kind not in "iuf":
        got = fmt(x) if isinstance(x, (str, bool, type(None))) else type(x).__name__
        raise LawTypeError(f"`{name}` must be a number or an array of numbers; got {got}")
    arr = arr.astype(np.float64, copy=False)
    bad = np.isnan(arr)
    if np.any(bad) and name == "x":  # a NaN probability is refused with the [0, 1] rule
        where = "" if arr.ndim == 0 else f" at index {int(np.flatnonzero(bad.ravel())[0])}"
        raise LawError(f"`{name}` must not be NaN; got nan{where}")
    return arr


def _check_probs(q: np.ndarray) -> None:
    bad = ~((q >= 0.0) & (q <= 1.0))
    if np.any(bad):
        raise LawError(f"`q` must be in [0, 1]; got {fmt(float(q[bad].flat[0]))}")


class ComputeTimeLaw(abc.ABC):
    """Law of a learner's compute time for one mini-batch (simulated time units, ``>= 0``).

    Concrete laws are frozen dataclasses validated on construction, ending with the shared
    range check (see :data:`MAX_TIME`: a mean finite in theory must lie in ``(0, MAX_TIME]``
    and the ``1 - 1e-12`` quantile must be at most ``MAX_TIME``). Public methods check
    their inputs and delegate to private ``_sample``, ``_cdf``, ``_sf``, ``_ppf``, ``_isf``
    and ``_order_statistic_mean`` hooks that subclasses implement.

    Example:
        >>> import numpy as np
        >>> from distributions import Exponential
        >>> law = Exponential(2.0)
        >>> law.sample((2, 3), rng=np.random.default_rng(0)).shape
        (2, 3)
        >>> law.order_statistic_mean(1, 2)  # E[min of 2] = 1 / (2 * rate)
        0.25
    """

    # --------------------------------------------------------------------------- range check
    def _check_range(self) -> None:
        """Refuse numeric extremes; every concrete law calls this last in ``__post_init__``.

        Rules (times in simulated time units, :data:`MAX_TIME` ≈ 1.34e154):

        - where the mean is finite in theory, ``0 < mean() <= MAX_TIME`` (an overflowed,
          underflowed or zero mean is refused: runtimes divide by it);
        - ``isf(TAIL_PROB) <= MAX_TIME``, the ``1 - 1e-12`` quantile, so that draws, their
          squares and their running sums stay finite. Laws with a legitimately infinite mean
          (e.g. Pareto with ``shape <= 1``) pass when their draws stay in this range.

        Raises:
            LawError: "`Exponential.rate` must give a mean E[X] <= 1.34e+154 (the square
                root of the largest float); got inf (rate=1e-310)".
        """
        names, detail = self._range_context()
        bound = f"{MAX_TIME:.3g} (the square root of the largest float)"
        with np.errstate(all="ignore"):
            if not self._mean_is_infinite():
                mean = float(self.mean())
                if not mean > 0.0:
                    raise LawError(f"{names} must give a mean E[X] > 0; got {fmt(mean)} ({detail})")
                if not mean <= MAX_TIME:
                    raise LawError(
                        f"{names} must give a mean E[X] <= {bound}; got {fmt(mean)} ({detail})"
                    )
            top = float(self.isf(TAIL_PROB))
        if not top <= MAX_TIME:
            raise LawError(
                f"{names} must give a 1 - {TAIL_PROB:g} quantile <= {bound}; "
                f"got {fmt(top)} ({detail})"
            )

    def _mean_is_infinite(self) -> bool:
        """Whether ``E[X]`` diverges in theory (a heavy tail), not merely by overflow."""
        return False

    def _range_context(self) -> tuple[str, str]:
        """(parameters as shown in range messages, their values), e.g. ("`Exponential.rate`",
        "rate=2.0")."""
        cls = type(self).__name__
        fields = [f.name for f in dataclasses.fields(self)]  # type: ignore[arg-type]
        names = ", ".join(f"`{cls}.{name}`" for name in fields)
        return names, ", ".join(f"{name}={fmt(getattr(self, name))}" for name in fields)

    # ----------------------------------------------------------------------------- sampling
    def sample(self, shape: int | tuple[int, ...], *, rng: np.random.Generator) -> np.ndarray:
        """Draw iid compute times.

        Draws are sequential-consistent: the first ``m`` values of a draw of ``n >= m``
        values from a fresh Generator equal a draw of ``m`` values from the same seed.

        Args:
            shape: output shape (an int or a tuple of ints).
            rng: the random number generator (keyword-only).

        Returns:
            float64 array of the given shape, every entry ``>= 0`` (simulated time).
        """
        dims = check_shape(shape)
        check_rng(rng)
        with np.errstate(over="ignore", under="ignore", divide="ignore"):
            out = np.asarray(self._sample(dims, rng), dtype=np.float64)
        return out.reshape(dims)

    def sample_block(self, n: int, *, rng: np.random.Generator) -> np.ndarray:
        """``sample((n,), rng=rng)`` without argument checks, for engines drawing many blocks.

        The caller guarantees ``n`` is an int >= 1 and ``rng`` a numpy Generator.

        Returns:
            (n,) float64 array, the same values ``sample((n,), rng=rng)`` would give.
        """
        with np.errstate(over="ignore", under="ignore", divide="ignore"):
            return np.asarray(self._sample((n,), rng), dtype=np.float64).reshape(n)

    def sample_rows(self, out: np.ndarray, rngs: Iterable[np.random.Generator]) -> np.ndarray:
        """Row i of ``out`` gets ``sample_block(n, rng=rngs[i])``: one block per Generator,
        all under one ``np.errstate`` (engines drawing the blocks of many learners).

        Args:
            out: (m, n) float64, written in place; ``rngs`` gives at least m Generators.

        Returns:
            ``out``.
        """
        n = out.shape[1]
        with np.errstate(over="ignore", under="ignore", divide="ignore"):
            for row, rng in zip(out, rngs):  # noqa: B905 (rngs may be lazy)
                row[...] = self._sample((n,), rng)
        return out

    # --------------------------------------------------------------------------- moments
    @abc.abstractmethod
    def mean(self) -> float:
        """``E[X]`` (simulated time); ``math.inf`` where infinite."""

    @abc.abstractmethod
    def var(self) -> float:
        """``Var[X]`` (simulated time squared); ``math.inf`` where infinite."""

    # ------------------------------------------------------------------ distribution functions
    def cdf(self, x: ArrayLike) -> np.ndarray:
        """``P(X <= x)``, elementwise; same shape as ``x`` (0 below the support).

        Raises:
            TypeError: ``x`` is not a number or an array of numbers.
            ValueError: an entry of ``x`` is NaN or an integer beyond the float range.
        """
        with np.errstate(over="ignore", under="ignore", divide="ignore"):
            return np.asarray(self._cdf(_as_float_array("x", x)), dtype=np.float64)[()]

    def sf(self, x: ArrayLike) -> np.ndarray:
        """``P(X > x) = 1 - cdf(x)``, elementwise, accurate in the upper tail.

        Raises:
            TypeError, ValueError: as :meth:`cdf`.
        """
        with np.errstate(over="ignore", under="ignore", divide="ignore"):
            return np.asarray(self._sf(_as_float_array("x", x)), dtype=np.float64)[()]

    def ppf(self, q: ArrayLike) -> np.ndarray:
        """Quantile function, the inverse of ``cdf``, elementwise; ``ppf(1)`` may be ``inf``.

        Raises:
            ValueError: an entry of ``q`` is outside ``[0, 1]`` or NaN.
        """
        qa = _as_float_array("q", q)
        _check_probs(qa)
        with np.errstate(over="ignore", under="ignore", divide="ignore"):
            return np.asarray(self._ppf(qa), dtype=np.float64)[()]

    def isf(self, q: ArrayLike) -> np.ndarray:
        """Inverse survival function, ``isf(q) = ppf(1 - q)``, accurate for small ``q``.

        Raises:
            ValueError: an entry of ``q`` is outside ``[0, 1]`` or NaN.
        """
        qa = _as_float_array("q", q)
        _check_probs(qa)
        with np.errstate(over="ignore", under="ignore", divide="ignore"):
            return np.asarray(self._isf(qa), dtype=np.float64)[()]

    # -------------------------------------------------------------------- order statistics
    def order_statistic_mean(self, k: int, n: int) -> float:
        """``E[X_{k:n}]``, the mean of the k-th smallest of ``n`` iid draws.

        Closed forms where they exist (exponential, shifted exponential, Pareto), otherwise
        numerical integration of the quantile function against the Beta(k, n-k+1) density.
        Used by Dutta et al. 2018, Lemma 3 (K-sync runtime ``J E[X_{K:P}]``) and Theorem 1.

        Args:
            k: rank, ``1 <= k <= n``.
            n: number of iid draws, ``n >= 1``.

        Returns:
            The mean in simulated time; ``math.inf`` where it diverges (never NaN).

        Raises:
            TypeError: ``k`` or ``n`` is not an integer (bools rejected).
            ValueError: ``n < 1`` or ``k`` outside ``[1, n]``.
        """
        n = check_count("n", n)
        k = check_int("k", k, 1, n)
        with np.errstate(over="ignore", under="ignore", divide="ignore"):
            return float(self._order_statistic_mean(k, n))

    def _order_statistic_mean(self, k: int, n: int) -> float:
        if not math.isfinite(self.mean()) and tail_makes_infinite(self._isf, k, n):
            return math.inf
        return quantile_order_statistic_mean(self._ppf, self._isf, k, n)

    # ----------------------------------------------------------------- labels and sums
    @property
    def aging(self) -> Aging:
        """Aging class, Dutta et al. 2018 Definition 3: ``"nltu"``, ``"nstu"``, ``"both"``
        (memoryless) or ``None`` (neither, or unknown)."""
        return None

    @property
    @abc.abstractmethod
    def spec(self) -> str:
        """Canonical spec string; ``parse_law(law.spec) == law`` (see :func:`parse_law`)."""

    def sum_law(self, k: int) -> ComputeTimeLaw | None:
        """Law of the sum of ``k`` iid draws where it has a closed form, else ``None``.

        ``k = 1`` returns ``self``. Exponential(rate) gives Gamma(k, rate); a shifted
        exponential gives a Gamma shifted by ``k * shift``; Gamma(a, rate) gives
        Gamma(k a, rate). Used for K-batch-sync (Dutta et al. 2018, Lemma 4's Erlang sums).

        Raises:
            TypeError: ``k`` is not an integer.
            ValueError: ``k < 1``.
        """
        k = check_count("k", k)
        return self if k == 1 else self._sum_law(k)

    def _sum_law(self, k: int) -> ComputeTimeLaw | None:
        return None

    def __str__(self) -> str:
        return self.spec

    # ------------------------------------------------------------------------ hooks
    @abc.abstractmethod
    def _sample(self, shape: tuple[int, ...], rng: np.random.Generator) -> np.ndarray: ...

    @abc.abstractmethod
    def _cdf(self, x: np.ndarray) -> np.ndarray: ...

    def _sf(self, x: np.ndarray) -> np.ndarray:
        return 1.0 - self._cdf(x)

    @abc.abstractmethod
    def _ppf(self, q: np.ndarray) -> np.ndarray: ...

    def _isf(self, q: np.ndarray) -> np.ndarray:
        return self._ppf(1.0 - np.asarray(q, dtype=np.float64))
