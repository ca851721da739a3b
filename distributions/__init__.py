"""Compute-time laws for parameter-server SGD and the means of their order statistics.

Every law is a frozen dataclass validated on construction, with ``sample`` (keyword-only
``rng``, a ``numpy.random.Generator``), ``mean``, ``var``, ``cdf``, ``sf``, ``ppf``, ``isf``,
``order_statistic_mean(k, n)`` (``E[X_{k:n}]``, Dutta et al. 2018), an ``aging`` label
(Definition 3), ``sum_law(k)`` and a ``spec`` string that :func:`parse_law` reads back.
All times are in simulated time units. This package imports only numpy and scipy.

A spec string's values may be arithmetic in the mini-batch size ``m`` and the number of
learners ``P`` (``shifted-exp:0.5*m,1`` is Dutta et al.'s ``X ~ 0.5 m + exp(1)``,
``deterministic:0.002*P`` a server time growing with P); :func:`parse_law` resolves them
with the ``m`` and ``P`` it is given, and :func:`law_symbols` says which a spec uses.

Numeric extremes are refused on construction with a ``LawError``: where the mean is finite in
theory it must lie in ``(0, MAX_TIME]``, and the ``1 - TAIL_PROB`` quantile must be at most
``MAX_TIME`` (the square root of the largest float, about 1.34e154; ``TAIL_PROB = 1e-12``),
so draws, their squares and their running sums stay finite.

Example:
    >>> import numpy as np
    >>> from distributions import parse_law
    >>> law = parse_law("pareto:2,1")
    >>> law.sample(3, rng=np.random.default_rng(0)).shape
    (3,)
    >>> round(law.order_statistic_mean(4, 4), 6)
    3.657143
"""

from ._base import MAX_TIME, TAIL_PROB, ComputeTimeLaw
from ._checks import LawError, LawTypeError
from ._deterministic import Deterministic
from ._empirical import Empirical
from ._exponential import Exponential, ShiftedExponential
from ._gamma import Gamma
from ._hyperexp import HyperExponential
from ._lognormal import LogNormal
from ._pareto import Pareto
from ._parse import law_from, law_symbols, parse_law
from ._scipy_law import ScipyLaw
from ._weibull import Weibull

__all__ = [
    "MAX_TIME",
    "TAIL_PROB",
    "ComputeTimeLaw",
    "Deterministic",
    "Empirical",
    "Exponential",
    "Gamma",
    "HyperExponential",
    "LawError",
    "LawTypeError",
    "LogNormal",
    "Pareto",
    "ScipyLaw",
    "ShiftedExponential",
    "Weibull",
    "law_from",
    "law_symbols",
    "parse_law",
]
