"""Model (b) of ``pssim fit``: a persistent speed per worker times one common noise law.

Worker l's durations are ``Z / s_l`` with ``Z`` one law of a family and ``s_l > 0`` its
speed (pssim's ``speeds`` + ``dist``: learner l's durations are divided by ``speeds[l]``).
Its log-likelihood is ``sum log f_Z(s_l x) + log s_l`` over observed rows plus
``sum log P(Z > s_l x)`` over censored ones.

It is maximised by block coordinate ascent (alternating maximisation):

1. the noise law, given the speeds: the family's own scipy ``fit`` of the pooled rescaled
   durations ``s_l x`` (censored rows stay censored);
2. the speeds, given the noise law: each worker's log-likelihood in ``u_l = log s_l``, a
   one-dimensional maximisation, done for all workers at once with
   :func:`scipy.optimize.elementwise.bracket_minimum` and ``find_minimum``; a family with
   a threshold (shifted exponential, Pareto) bounds ``u_l`` below so that every observed
   ``s_l x`` stays in the support, and the bound is the maximiser where the bracket
   reaches it (Pareto: always);
3. the speeds are rescaled to geometric mean 1 (speeds are defined up to a common factor,
   which the noise law's scale absorbs at the next refit).

Each step cannot lower the likelihood, so the iteration stops when the log-likelihood
gains less than ``1e-9`` relative (or after :data:`MAX_ROUNDS` rounds, then said so).
Started from ``s_l`` proportional to ``1 / median`` of worker l's observed durations.
"""

from __future__ import annotations

import dataclasses

import numpy as np
from scipy.optimize import elementwise

from simulator.studies._fit_families import Family, FitFailed, scaled
from simulator.studies._fit_scores import Rows, row_logliks

__all__ = ["MAX_ROUNDS", "SpeedFit", "fit_speeds"]

#: Most alternating rounds before the fit stops unconverged.
MAX_ROUNDS = 200
#: Relative gain of the log-likelihood below which the alternation stops.
_RTOL = 1e-9
#: Relative nudge of a threshold bound in log-speed, so that rounding keeps s x >= a.
_NUDGE = 1e-12


@dataclasses.dataclass(frozen=True)
class SpeedFit:
    """The fitted speeds (geometric mean 1), noise-law parameters, log-likelihood, rounds."""

    speeds: np.ndarray
    params: tuple[float, ...]
    loglik: float
    rounds: int
    converged: bool


def _refit(family: Family, rows: Rows, u: np.ndarray) -> tuple[float, ...]:
    """The noise law's fit to the rescaled durations ``s_l x``. A threshold fitted at the
    smallest of them is lowered by a relative 1e-12, so that the same rows, scored under
    ``Z / s_l`` (other roundings), stay inside the support."""
    params = list(family.fit(rows.x * np.exp(u[rows.worker]), rows.censored))
    if family.threshold is not None:
        params[family.threshold] *= 1.0 - _NUDGE
    return tuple(params)


def _speed_step(family: Family, params: tuple, rows: Rows, u: np.ndarray) -> np.ndarray:
    """Each worker's maximising log-speed given the noise law ``params`` (vectorised)."""
    dist, theta = family.dist, np.asarray(params)
    shapes, loc, scale = tuple(theta[:-2]), theta[-2], theta[-1]
    num = u.size

    def negative(v: np.ndarray, idx: np.ndarray) -> np.ndarray:
        shape, v, idx = v.shape, v.ravel(), idx.ravel().astype(np.int64)
        at = np.zeros(num)
        at[idx] = v
        mine = np.isin(rows.worker, idx)
        w = rows.worker[mine]
        y, c = rows.x[mine] * np.exp(at[w]), rows.censored[mine]
        with np.errstate(all="ignore"):
            ll = np.where(
                c,
                dist.logsf(y, *shapes, loc=loc, scale=scale),
                dist.logpdf(y, *shapes, loc=loc, scale=scale) + at[w],
            )
        total = np.bincount(w, weights=ll, minlength=num)[idx]
        return np.where(np.isfinite(total), -total, np.inf).reshape(shape)

    low = float(dist.support(*shapes, loc=loc, scale=scale)[0])
    floor = np.full(num, -np.inf)
    if low > 0.0:
        observed = np.where(rows.censored, np.inf, rows.x)
        smallest = np.full(num, np.inf)
        np.minimum.at(smallest, rows.worker, observed)
        floor = np.log(low) - np.log(smallest)
        floor += _NUDGE * np.maximum(1.0, np.abs(floor))
    idx = np.arange(num, dtype=np.float64)
    start = np.maximum(u, floor + 0.01)
    left = np.maximum(start - 0.05, floor)
    bracket = elementwise.bracket_minimum(
        negative, start, xl0=left, xr0=start + 0.05, xmin=floor, args=(idx,)
    )
    out = np.where(bracket.status == -1, floor, np.nan)
    inside = bracket.status == 0
    if inside.any():
        found = elementwise.find_minimum(
            negative, tuple(b[inside] for b in bracket.bracket), args=(idx[inside],)
        )
        out[inside] = np.where(found.status == 0, found.x, np.nan)
    if not np.isfinite(out).all():
        raise FitFailed("the per-worker speed maximisation did not converge")
    return out


def _loglik(family: Family, params: tuple, rows: Rows, u: np.ndarray) -> float:
    return float(row_logliks(family.dist, scaled(np.asarray(params), np.exp(u)), rows).sum())


def fit_speeds(family: Family, rows: Rows, num_workers: int) -> SpeedFit:
    """Maximum-likelihood speeds and noise law of ``family`` on the training ``rows``.

    Args:
        family: the noise law's family.
        rows: the training rows (every worker has an observed one).
        num_workers: W.

    Raises:
        FitFailed: a noise-law fit or a speed step failed.
    """
    u = np.empty(num_workers)
    for w in range(num_workers):
        x, c = rows.of(w)
        u[w] = -np.log(np.median(x[~c]))
    u -= u.mean()
    params = _refit(family, rows, u)
    loglik = _loglik(family, params, rows, u)
    for rounds in range(1, MAX_ROUNDS + 1):
        u = _speed_step(family, params, rows, u)
        u -= u.mean()
        params = _refit(family, rows, u)
        new = _loglik(family, params, rows, u)
        if not np.isfinite(new):
            raise FitFailed("the alternating fit left the support of the noise law")
        gain, loglik = new - loglik, max(new, loglik)
        if gain <= _RTOL * (1.0 + abs(new)):
            return SpeedFit(np.exp(u), params, new, rounds, True)
    return SpeedFit(np.exp(u), params, loglik, MAX_ROUNDS, False)
