"""The tables a fit's figure draws: per-worker quantiles (measured and fitted) and the
pooled residuals of the chosen model with their theoretical quantiles."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import scipy.stats

from simulator.measured import MeasuredDurations
from simulator.studies._fit_candidates import FitCandidate
from simulator.studies._fit_families import family_named
from simulator.studies._fit_scores import Split, pit

__all__ = ["BOX_LEVELS", "box_table", "qq_table"]

#: Quantile levels of a box: whiskers at 5% and 95%, box at the quartiles.
BOX_LEVELS = (0.05, 0.25, 0.5, 0.75, 0.95)
_COLUMNS = ("q05", "q25", "q50", "q75", "q95")


def box_table(measured: MeasuredDurations, chosen: FitCandidate) -> pd.DataFrame:
    """One row per worker and source (``measured``: the sample quantiles of all its
    recorded durations, a censored one at its recorded lower bound; ``fitted``: the
    quantiles of its fitted law), columns worker, source, q05, q25, q50, q75, q95."""
    rows = []
    for worker, x, law in zip(
        measured.workers, measured.durations, chosen.worker_laws(), strict=True
    ):
        rows.append([worker, "measured", *np.quantile(x, BOX_LEVELS)])
        rows.append([worker, "fitted", *np.asarray(law.ppf(np.array(BOX_LEVELS)), dtype=float)])
    return pd.DataFrame(rows, columns=["worker", "source", *_COLUMNS])


def _positions(values: np.ndarray, censored: np.ndarray) -> np.ndarray:
    """Plotting positions of the observed values: the midpoint of the Kaplan-Meier
    estimate's step at each one (Hazen's (i - 1/2) / n without censoring)."""
    data = scipy.stats.CensoredData(uncensored=values[~censored], right=values[censored])
    cdf = scipy.stats.ecdf(data).cdf
    at = values[~censored]
    return 0.5 * (cdf.evaluate(at) + cdf.evaluate(np.nextafter(at, -np.inf)))


def _short(spec: str) -> str:
    """A law's spec with its numbers to 4 significant digits, for labels."""
    return re.sub(r"[-+]?\d+\.\d+(?:e[-+]?\d+)?", lambda m: f"{float(m.group()):.4g}", spec)


def qq_table(split: Split, chosen: FitCandidate) -> tuple[pd.DataFrame, str, str]:
    """The pooled residuals of the chosen model, one row per observed duration: worker,
    step, split (``train``/``held-out``), residual, theoretical; and the names of the
    residual and of the law its theoretical quantiles come from.

    Residuals are the durations on the common law's scale: ``x`` for (a), ``speed x x``
    for (b), both against the fitted common law; for (c), which has no common law, the
    normal scores ``Phi^-1(F_w(x))`` against N(0, 1).
    """
    parts = [(split.train, "train"), (split.heldout, "held-out")]
    x = np.concatenate([r.x for r, _ in parts])
    censored = np.concatenate([r.censored for r, _ in parts])
    worker = np.concatenate([r.worker for r, _ in parts])
    step = np.concatenate([r.step for r, _ in parts])
    which = np.concatenate([np.full(r.n, name) for r, name in parts])
    if chosen.structure == "c":
        dist = family_named(chosen.family).dist
        u = np.concatenate([pit(dist, chosen.params, r) for r, _ in parts])
        residual = scipy.stats.norm.ppf(np.clip(u, 1e-12, 1.0 - 1e-12))
        reference, name = scipy.stats.norm.ppf, "normal score Phi^-1(F_w(x))"
        against = "N(0, 1)"
    else:
        speeds = np.ones(len(chosen.params)) if chosen.speeds is None else np.array(chosen.speeds)
        residual = x * speeds[worker]
        reference = chosen.dist.ppf
        name = "duration" if chosen.speeds is None else "speed x duration"
        against = _short(chosen.dist.spec)
    theoretical = np.asarray(reference(_positions(residual, censored)), dtype=float)
    keep = ~censored
    table = pd.DataFrame(
        {
            "worker": worker[keep],
            "step": step[keep],
            "split": which[keep],
            "residual": residual[keep],
            "theoretical": theoretical,
        }
    )
    return table, name, against
