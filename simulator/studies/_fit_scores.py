"""The train/held-out split of a measured log and the scores of a fitted model on rows.

The split holds out whole steps: a seeded random choice of step ids (from the union of
every worker's steps), the same ids for every worker. Workers of one step share its work
(the same batch composition, the same sequence lengths), so their durations are
correlated within a step; holding out rows one by one would let the training rows of a
step inform the held-out rows of the same step. Steps chosen at random rather than the
last ones test what the fitted models claim (durations exchangeable over steps) without
confounding the choice of model with a drift along the log (warm-up, a slowdown).
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import scipy.stats

from simulator.errors import PssimError, shown
from simulator.measured import MeasuredDurations

__all__ = ["Rows", "Split", "ks_pit", "mean_se", "pit", "row_logliks", "split_steps"]


@dataclasses.dataclass(frozen=True)
class Rows:
    """Rows of a measured log: (n,) arrays of durations, censoring flags, worker index
    (0..W-1, the workers' sorted order) and step id."""

    x: np.ndarray
    censored: np.ndarray
    worker: np.ndarray
    step: np.ndarray

    @property
    def n(self) -> int:
        """Number of rows."""
        return int(self.x.size)

    def of(self, w: int) -> tuple[np.ndarray, np.ndarray]:
        """Worker ``w``'s durations and censoring flags."""
        mine = self.worker == w
        return self.x[mine], self.censored[mine]


@dataclasses.dataclass(frozen=True)
class Split:
    """Training and held-out rows, and the step ids held out (sorted)."""

    train: Rows
    heldout: Rows
    heldout_steps: np.ndarray
    num_steps: int


def _rows(measured: MeasuredDurations, keep) -> Rows:
    parts = [(x, c, np.full(x.size, w), s) for w, (x, c, s) in enumerate(keep)]
    x, c, w, s = (np.concatenate(column) for column in zip(*parts, strict=True))
    return Rows(x.astype(np.float64), c.astype(bool), w.astype(np.int64), s.astype(np.int64))


def split_steps(measured: MeasuredDurations, holdout: float, seed: int) -> Split:
    """Hold out ``round(holdout * number of steps)`` step ids (at least one), drawn with
    ``numpy.random.default_rng(seed)`` without replacement.

    Raises:
        PssimError: no step would be left to fit on, or a worker would keep fewer than two
            training rows or none uncensored (``param`` is ``holdout``, or ``source``).
    """
    steps = np.unique(np.concatenate(measured.steps))
    n_hold = max(1, math.floor(holdout * steps.size + 0.5))
    if n_hold >= steps.size:
        raise PssimError(
            f"`holdout` must leave steps to fit on: {holdout!r} of {steps.size} steps holds "
            f"out {n_hold}; got {holdout!r}",
            param="holdout",
        )
    held = np.sort(np.random.default_rng(seed).choice(steps, size=n_hold, replace=False))
    train, test = [], []
    for w, (s, x, c) in enumerate(
        zip(measured.steps, measured.durations, measured.censored, strict=True)
    ):
        out = np.isin(s, held)
        worker = shown(measured.workers[w])
        if (~out).sum() < 2:
            raise PssimError(
                f"`holdout` must leave every worker at least 2 training steps; {holdout!r} "
                f"leaves worker {worker} {int((~out).sum())} of {s.size} (hold out less)",
                param="holdout",
            )
        if c[~out].all():
            raise PssimError(
                f"`source` {measured.source!r} must give every worker an uncensored duration "
                f"among its training steps; worker {worker} has none",
                param="source",
            )
        train.append((x[~out], c[~out], s[~out]))
        test.append((x[out], c[out], s[out]))
    return Split(_rows(measured, train), _rows(measured, test), held, int(steps.size))


def _per_row(params: np.ndarray, rows: Rows, mask: np.ndarray) -> tuple[list, dict]:
    p = params[rows.worker[mask]]
    return list(p[:, :-2].T), {"loc": p[:, -2], "scale": p[:, -1]}


def row_logliks(dist: scipy.stats.rv_continuous, params: np.ndarray, rows: Rows) -> np.ndarray:
    """(n,) log-likelihood of each row: ``log f(x)`` where observed, ``log P(X > x)`` where
    censored, under worker ``rows.worker``'s law; ``-inf`` outside the law's support.

    Args:
        dist: the scipy.stats distribution of the family.
        params: (W, p) scipy parameters ``(shapes..., loc, scale)`` of each worker's law.
        rows: the rows scored.
    """
    out = np.empty(rows.n)
    c = rows.censored
    with np.errstate(all="ignore"):
        for mask, fn in ((~c, dist.logpdf), (c, dist.logsf)):
            if mask.any():
                shapes, kw = _per_row(params, rows, mask)
                out[mask] = fn(rows.x[mask], *shapes, **kw)
    return np.where(np.isnan(out), -np.inf, out)


def pit(dist: scipy.stats.rv_continuous, params: np.ndarray, rows: Rows) -> np.ndarray:
    """(n,) probability-integral transform ``F_w(x)`` of each row under its worker's law
    (uniform on [0, 1] if the model is right; a censored row's value is a lower bound)."""
    shapes, kw = _per_row(params, rows, np.ones(rows.n, dtype=bool))
    with np.errstate(all="ignore"):
        return np.clip(dist.cdf(rows.x, *shapes, **kw), 0.0, 1.0)


def ks_pit(u: np.ndarray, censored: np.ndarray) -> float:
    """Kolmogorov-Smirnov distance between the law of the PIT values ``u`` and U(0, 1).

    The empirical law is :func:`scipy.stats.ecdf` of ``u``, right-censored where the row is
    (the Kaplan-Meier estimate); without censoring this is the KS statistic of
    ``scipy.stats.kstest(u, "uniform")``. The distance is taken on both sides of each jump.

    Args:
        u: (n,) PIT values in [0, 1].
        censored: (n,) bool.
    """
    data = scipy.stats.CensoredData(uncensored=u[~censored], right=u[censored])
    cdf = scipy.stats.ecdf(data).cdf
    q, f = cdf.quantiles, cdf.probabilities
    before = np.concatenate(([0.0], f[:-1]))
    return float(max(np.max(np.abs(f - q)), np.max(np.abs(before - q))))


def mean_se(values: np.ndarray, steps: np.ndarray) -> tuple[float, float]:
    """The mean of per-row held-out scores and its standard error, blocked by step.

    Rows of one step are correlated, so the scores are summed within each step and the
    step sums are treated as independent: with S steps of sums ``T_s`` over n rows, the
    mean is ``sum T_s / n`` with standard error ``sqrt(S var(T_s)) / n`` (one step: the
    rows' own standard error instead).

    Args:
        values: (n,) finite per-row scores (log-likelihoods).
        steps: (n,) the rows' step ids.

    Returns:
        (mean, standard error), per row.
    """
    n = values.size
    _, block = np.unique(steps, return_inverse=True)
    sums = np.bincount(block, weights=values)
    if sums.size >= 2:
        se = math.sqrt(sums.size * float(np.var(sums, ddof=1))) / n
    else:
        se = float(np.std(values, ddof=1)) / math.sqrt(n) if n > 1 else 0.0
    return float(values.mean()), se
