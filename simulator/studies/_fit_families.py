"""The candidate families of ``pssim fit``: scipy.stats maximum likelihood, pssim laws.

Each family is a scipy.stats distribution with its location fixed at 0 (exponential,
gamma, log-normal, Weibull, Pareto) or free (the shifted exponential's shift), fitted by
the distribution's own ``fit`` (closed forms or scipy's numerical maximum likelihood;
right-censored rows through :class:`scipy.stats.CensoredData`), and turned into the pssim
law of the same name, whose spec string :func:`distributions.parse_law` reads back.

Every family is closed under scaling: if ``Z`` follows the family with parameters
``(shapes, loc, scale)``, ``Z / s`` follows it with ``(shapes, loc / s, scale / s)``. That
is what makes "a speed per worker times one common law" (``speeds`` + ``dist``: learner
l's durations are ``Z / s_l``) a model of the same families.
"""

from __future__ import annotations

import dataclasses
import math
import warnings
from collections.abc import Callable

import numpy as np
import scipy.stats

from distributions import (
    ComputeTimeLaw,
    Exponential,
    Gamma,
    LawError,
    LogNormal,
    Pareto,
    ShiftedExponential,
    Weibull,
)

__all__ = ["FAMILIES", "Family", "FitFailed", "censored_data", "family_named", "scaled"]


class FitFailed(Exception):
    """A candidate could not be fitted (degenerate data, a law pssim refuses); its message
    is the reason shown beside the candidate. Not a user error: the other candidates go on."""


@dataclasses.dataclass(frozen=True)
class Family:
    """One candidate family.

    Attributes:
        name: the pssim law name (``exp``, ``shifted-exp``, ``gamma``, ``lognormal``,
            ``weibull``, ``pareto``).
        dist: the scipy.stats distribution.
        free_loc: whether the location (a shift) is fitted; else it is fixed at 0.
        n_params: free parameters of one law.
        make: the pssim law from scipy's ``(shapes..., loc, scale)``.
        threshold: the index in ``(shapes..., loc, scale)`` of the parameter that is the
            support's lower end (shifted exponential: loc; Pareto: scale), else None.
    """

    name: str
    dist: scipy.stats.rv_continuous
    free_loc: bool
    n_params: int
    make: Callable[[tuple[float, ...]], ComputeTimeLaw]
    threshold: int | None = None

    def fit(self, x: np.ndarray, censored: np.ndarray) -> tuple[float, ...]:
        """Maximum-likelihood parameters ``(shapes..., loc, scale)`` of durations ``x``.

        Args:
            x: (n,) durations > 0 (simulated time).
            censored: (n,) bool, True where the duration is only a lower bound.

        Raises:
            FitFailed: too few or all-equal uncensored durations, or no finite fit.
        """
        observed = x[~censored]
        if observed.size < 2 or np.ptp(observed) == 0.0:
            raise FitFailed("needs two distinct uncensored durations")
        data = censored_data(x, censored)
        fixed = {} if self.free_loc else {"floc": 0.0}
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            try:
                params = tuple(float(v) for v in self.dist.fit(data, **fixed))
                if self.free_loc and params[-2] < 0.0:  # durations are >= 0: shift >= 0
                    params = tuple(float(v) for v in self.dist.fit(data, floc=0.0))
            except (ValueError, RuntimeError, FloatingPointError) as err:
                raise FitFailed(f"scipy's fit failed ({str(err)[:80]})") from None
        if not all(math.isfinite(v) for v in params) or params[-1] <= 0.0:
            raise FitFailed(f"scipy's fit gave {params}")
        return params

    def law(self, params: tuple[float, ...]) -> ComputeTimeLaw:
        """The pssim law of scipy parameters ``params``.

        Raises:
            FitFailed: pssim refuses the law (e.g. a mean beyond its range).
        """
        try:
            return self.make(params)
        except LawError as err:
            raise FitFailed(f"pssim refuses the fitted law: {err}") from None


def _no_shift(name: str, params: tuple[float, ...]) -> None:
    if params[-2] != 0.0:  # pragma: no cover - the location is fixed at 0 when fitting
        raise FitFailed(f"{name} takes no shift; got loc={params[-2]!r}")


def _exp(p):
    _no_shift("exp", p)
    return Exponential(1.0 / p[-1])


def _shifted_exp(p):
    return ShiftedExponential(p[-2], 1.0 / p[-1])


def _gamma(p):
    _no_shift("gamma", p)
    return Gamma(p[0], 1.0 / p[-1])


def _lognormal(p):
    _no_shift("lognormal", p)
    return LogNormal(math.log(p[-1]), p[0])


def _weibull(p):
    _no_shift("weibull", p)
    return Weibull(p[0], p[-1])


def _pareto(p):
    _no_shift("pareto", p)
    return Pareto(p[0], p[-1])


#: The candidates, in the order tables list them: exponential, shifted exponential, gamma,
#: log-normal, Weibull, Pareto.
FAMILIES: tuple[Family, ...] = (
    Family("exp", scipy.stats.expon, False, 1, _exp),
    Family("shifted-exp", scipy.stats.expon, True, 2, _shifted_exp, threshold=0),
    Family("gamma", scipy.stats.gamma, False, 2, _gamma),
    Family("lognormal", scipy.stats.lognorm, False, 2, _lognormal),
    Family("weibull", scipy.stats.weibull_min, False, 2, _weibull),
    Family("pareto", scipy.stats.pareto, False, 2, _pareto, threshold=2),
)


def family_named(name: str) -> Family:
    """The family called ``name`` (a caller checks the name first)."""
    return next(f for f in FAMILIES if f.name == name)


def censored_data(x: np.ndarray, censored: np.ndarray):
    """``x`` as scipy's fitting input: a plain array, or a
    :class:`scipy.stats.CensoredData` with the censored rows right-censored."""
    if not censored.any():
        return x
    return scipy.stats.CensoredData(uncensored=x[~censored], right=x[censored])


def scaled(params: np.ndarray, speeds: np.ndarray) -> np.ndarray:
    """(W, p) parameters of ``Z / s_l`` for each speed ``s_l``: loc and scale divided.

    Args:
        params: (p,) scipy parameters ``(shapes..., loc, scale)`` of ``Z``.
        speeds: (W,) speeds > 0.
    """
    out = np.tile(np.asarray(params, dtype=np.float64), (len(speeds), 1))
    out[:, -2:] /= np.asarray(speeds, dtype=np.float64)[:, None]
    return out
