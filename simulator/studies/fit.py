"""Fit worker models to a measured cluster log and choose one by held-out fit.

A measured log (:func:`simulator.measured.read_durations`: per-worker durations by step,
some perhaps censored) is split into training and held-out steps (a seeded random choice
of whole steps, see :mod:`simulator.studies._fit_scores`). On the training rows every
candidate is fitted by maximum likelihood with scipy.stats (censored rows through
:class:`scipy.stats.CensoredData`):

- (a) one law for every worker (``dist``);
- (b) a persistent speed per worker times one common noise law (``speeds`` + ``dist``),
  by alternating maximisation (:mod:`simulator.studies._fit_speeds`);
- (c) one law per worker (``laws``), every worker in the same family (a family per worker
  chosen on some 30 rows each would mostly fit noise),

for each of the families exponential, shifted exponential, gamma, log-normal, Weibull and
Pareto. Each candidate reports its training log-likelihood, AIC, and on the held-out rows
its log-likelihood per row and the KS distance of its probability-integral transform. The
choice follows the one-standard-error rule: the fewest parameters among the candidates
within one standard error of the highest held-out log-likelihood. It becomes a config file
that ``--config`` and sweeps read unchanged. The fit also says which of the papers'
assumptions the data support (:mod:`simulator.studies._fit_verdicts`).

A family with a threshold (the shifted exponential's shift, the Pareto's scale) puts it
at the smallest training duration, its maximum-likelihood estimate; a held-out duration
below it has likelihood 0, so such a candidate scores ``-inf`` and is not chosen (the
``outside`` column counts those rows). That happens with probability about the held-out
share of the rows even when the family is the true one: a fitted hard floor is refuted by
the first shorter duration.

Example:
    >>> fit = fit_cluster("cluster.csv", holdout=0.25, seed=0)  # doctest: +SKIP
    >>> print(fit.summary())  # doctest: +SKIP
    >>> spec = fit.best.spec(variant="k-sync", k=48)  # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
import math
import numbers
import os
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from simulator._checks import check_seed
from simulator._spec_toml import write_toml
from simulator.errors import PssimError, PssimTypeError, shown
from simulator.measured import MeasuredDurations, read_durations
from simulator.studies._fit_candidates import STRUCTURES, FitCandidate, fit_candidate
from simulator.studies._fit_families import FAMILIES
from simulator.studies._fit_scores import Split, mean_se, split_steps
from simulator.studies._fit_tables import box_table, qq_table
from simulator.studies._fit_verdicts import Verdict, verdicts

__all__ = ["FAMILY_NAMES", "MAX_FIT_WORKERS", "ClusterFit", "FitCandidate", "fit_cluster"]

#: The candidate families, by their pssim law names.
FAMILY_NAMES = tuple(f.name for f in FAMILIES)
#: Most workers fitted: (c) fits every family to every worker one by one.
MAX_FIT_WORKERS = 4096


@dataclasses.dataclass(frozen=True, eq=False)
class ClusterFit:
    """Every candidate fitted to a measured log, the one chosen, and why.

    Attributes:
        measured: the log.
        split: the training and held-out rows.
        holdout: the fraction of steps held out; ``seed`` the split's seed.
        candidates: every candidate, in structure then family order.
        best: the chosen candidate: the fewest parameters among those within one
            standard error of the highest held-out log-likelihood per row.
        reason: one sentence saying why.
        assumptions: the papers' assumptions (``identical``, ``exponential``, ``nltu``)
            and whether the data support them.
    """

    measured: MeasuredDurations
    split: Split
    holdout: float
    seed: int
    candidates: tuple[FitCandidate, ...]
    best: FitCandidate
    reason: str
    assumptions: dict[str, Verdict]

    def ranked(self) -> list[FitCandidate]:
        """Fitted candidates, best first (held-out log-likelihood, then AIC)."""
        return sorted((c for c in self.candidates if c.ok), key=_rank)

    def table(self) -> pd.DataFrame:
        """One row per candidate, best first; unfitted ones last, with their ``error``
        (and missing scores)."""
        order = self.ranked() + [c for c in self.candidates if not c.ok]
        return pd.DataFrame(
            [
                {
                    "name": c.name,
                    "model": STRUCTURES[c.structure],
                    "family": c.family,
                    "n_params": c.n_params,
                    "train_loglik": c.train_loglik,
                    "aic": c.aic,
                    "heldout_loglik": c.heldout_loglik,
                    "heldout_ks": c.heldout_ks,
                    "outside": c.outside,
                    "error": c.error,
                }
                for c in order
            ]
        )

    def config(self) -> dict[str, Any]:
        """The chosen model's timing settings (``learners``; ``dist``, ``speeds`` +
        ``dist`` or ``laws``)."""
        return self.best.config()

    def to_toml(self) -> str:
        """A config file of the chosen model: ``pssim runtime --config FILE`` (and
        ``compare``, ``train``, sweeps) read it unchanged."""
        m = self.measured
        ids = ", ".join(_plain(w) for w in m.workers[:16]) + (", ..." if m.num_workers > 16 else "")
        head = [
            f"# pssim fit of {_plain(m.source)} (sha256 {m.sha256[:16]}): {self.best.name}",
            f"# {self.reason}",
            f"# learner l is the l-th worker in sorted order: {ids}",
        ]
        return "\n".join(head) + "\n" + write_toml({"timing": self.config()})

    def box_table(self) -> pd.DataFrame:
        """Per-worker quantiles, measured and fitted (see ``_fit_tables.box_table``)."""
        return box_table(self.measured, self.best)

    def qq_table(self) -> tuple[pd.DataFrame, str, str]:
        """The chosen model's pooled residuals and their theoretical quantiles, the
        residual's name and the law's (see ``_fit_tables.qq_table``)."""
        return qq_table(self.split, self.best)

    def to_json(self) -> dict[str, Any]:
        """JSON-ready: the log, the split, every candidate, the choice, the assumptions."""
        m, s = self.measured, self.split
        return {
            "source": m.source,
            "sha256": m.sha256,
            "workers": m.num_workers,
            "worker_ids": list(m.workers),
            "steps": s.num_steps,
            "rows": m.num_rows,
            "censored": int(sum(c.sum() for c in m.censored)),
            "split": {
                "holdout": self.holdout,
                "seed": self.seed,
                "heldout_steps": [int(v) for v in s.heldout_steps],
                "train_rows": s.train.n,
                "heldout_rows": s.heldout.n,
            },
            "candidates": [c.to_json() for c in self.ranked()]
            + [c.to_json() for c in self.candidates if not c.ok],
            "chosen": self.best.name,
            "reason": self.reason,
            "config": self.config(),
            "assumptions": {k: v.to_json() for k, v in self.assumptions.items()},
        }

    def summary(self) -> str:
        """The table, the choice and the assumptions, as ``pssim fit`` prints them."""
        m, s = self.measured, self.split
        cens = int(sum(c.sum() for c in m.censored))
        lines = [
            f"{m.source}: {m.num_workers} workers, {s.num_steps} steps, {m.num_rows} "
            f"durations ({cens} censored)",
            f"held out {s.heldout_steps.size} of {s.num_steps} steps ({s.heldout.n} rows; "
            f"random step ids, seed {self.seed}); fitted on {s.train.n} rows",
            f"{'model':24}{'k':>5}{'train loglik':>14}{'AIC':>12}{'held-out ll/row':>17}"
            f"{'KS':>8}{'outside':>9}",
        ]
        for c in self.ranked():
            ks = "—" if c.heldout_ks is None else f"{c.heldout_ks:.4f}"
            note = "" if c.converged else f"  (speeds fit stopped after {c.rounds} rounds)"
            lines.append(
                f"{c.name:24}{c.n_params:>5}{c.train_loglik:>14.2f}{c.aic:>12.2f}"
                f"{c.heldout_loglik:>17.4f}{ks:>8}{c.outside:>9}{note}"
            )
        for c in self.candidates:
            if not c.ok:
                lines.append(f"{c.name:24}  not fitted: {c.error}")
        lines.append(f"chosen: {self.best.name}: {self.reason}")
        lines += [v.line() for v in self.assumptions.values()]
        return "\n".join(lines)


def _plain(value: object) -> str:
    """``value`` as text for a TOML comment: as written if printable, else quoted."""
    text = str(value)
    return text if text.isprintable() else shown(text)


def _rank(c: FitCandidate) -> tuple[float, float]:
    return (-c.heldout_loglik, c.aic)


def _check_holdout(holdout: object) -> float:
    if isinstance(holdout, bool) or not isinstance(holdout, numbers.Real):
        raise PssimTypeError(
            f"`holdout` must be a number in (0, 1); got {shown(holdout)}", param="holdout"
        )
    value = float(holdout)
    if not 0.0 < value < 1.0:
        raise PssimError(
            f"`holdout` must be a fraction of the steps in (0, 1); got {shown(holdout)}",
            param="holdout",
        )
    return value


def _check_families(families: Sequence[str] | None) -> tuple[str, ...]:
    if families is None:
        return FAMILY_NAMES
    if isinstance(families, str) or not isinstance(families, Sequence):
        raise PssimTypeError(
            f"`families` must be a list of family names; got {shown(families)}",
            param="families",
        )
    names = tuple(families)
    bad = [f for f in names if f not in FAMILY_NAMES]
    if bad or not names or len(set(names)) != len(names):
        raise PssimError(
            f"`families` must be distinct names among {', '.join(FAMILY_NAMES)}; "
            f"got {shown(list(names))}",
            param="families",
        )
    return names


def _choose(ranked: list[FitCandidate], split: Split) -> tuple[FitCandidate, str]:
    """The chosen candidate and one sentence saying why.

    The one-standard-error rule (Hastie, Tibshirani & Friedman, The Elements of
    Statistical Learning, 2nd ed., section 7.10): among the candidates whose held-out
    log-likelihood per row is below the highest by at most that score's standard error
    (blocked by step, :func:`~simulator.studies._fit_scores.mean_se`), the one with the
    fewest parameters, then the higher score. A richer model must beat a simpler one by
    more than the noise of the held-out score to be chosen.
    """
    top = ranked[0]
    finite = math.isfinite(top.heldout_loglik)
    se = mean_se(top.heldout_logliks, split.heldout.step)[1] if finite else 0.0
    close = [c for c in ranked if finite and top.heldout_loglik - c.heldout_loglik <= se]
    best = min(close or [top], key=lambda c: (c.n_params, -c.heldout_loglik))
    rows = f"{split.heldout.n} rows of {split.heldout_steps.size} held-out steps"
    score = f"{top.heldout_loglik:.4f} per row over {rows}, standard error {se:.4f}"
    by_aic = sorted(ranked, key=lambda c: c.aic).index(best) + 1
    aic = f"training AIC ranks it {by_aic} of {len(ranked)}"
    if best is not top:
        return best, (
            f"the fewest parameters ({best.n_params}, against {top.n_params}) within one "
            f"standard error of the highest held-out log-likelihood ({top.name}, {score}; "
            f"{best.name} is {top.heldout_loglik - best.heldout_loglik:.4f} lower); {aic}"
        )
    text = f"the highest held-out log-likelihood, {score}"
    simpler = [c for c in ranked[1:] if c.n_params < top.n_params]
    if simpler:
        gap = top.heldout_loglik - simpler[0].heldout_loglik
        text += (
            f"; every simpler candidate is more than one standard error below (the best of "
            f"them, {simpler[0].name}, by {gap:.4f})"
        )
    return best, f"{text}; {aic}"


def fit_cluster(
    source: str | os.PathLike | MeasuredDurations,
    *,
    holdout: float = 0.25,
    seed: int = 0,
    families: Sequence[str] | None = None,
) -> ClusterFit:
    """Fit models (a), (b) and (c) of every family to a measured log; choose by held-out fit.

    Args:
        source: a durations file (CSV or Parquet; see :mod:`simulator.measured`) or the
            :class:`~simulator.measured.MeasuredDurations` read from one. Durations are in
            the time unit of the simulation (e.g. seconds).
        holdout: the fraction of the steps held out, in (0, 1): ``round(holdout * S)``
            step ids (at least one) drawn at random, the same for every worker.
        seed: the seed of that draw (an integer in [0, 2**63)).
        families: the candidate families (default: all of :data:`FAMILY_NAMES`).

    Returns:
        The fit: every candidate's scores, the chosen model (``best``), its config
        (``to_toml()``, ``best.spec(...)``) and the assumptions' verdicts.

    Raises:
        PssimError: a bad file (one line naming it and the row), a bad ``holdout``,
            ``seed`` or ``families``, more than :data:`MAX_FIT_WORKERS` workers, a split
            that leaves a worker fewer than two training steps or none observed, or no
            candidate that could be fitted.

    Example:
        >>> fit = fit_cluster("cluster.csv")  # doctest: +SKIP
        >>> fit.best.name, fit.best.heldout_loglik  # doctest: +SKIP
        ('speeds x gamma', -0.61)
    """
    holdout = _check_holdout(holdout)
    seed = check_seed("seed", seed)
    names = _check_families(families)
    measured = (
        source if isinstance(source, MeasuredDurations) else read_durations(source, param="source")
    )
    if measured.num_workers > MAX_FIT_WORKERS:
        raise PssimError(
            f"`source` {measured.source!r} must hold at most {MAX_FIT_WORKERS} workers to "
            f"fit; got {measured.num_workers}",
            param="source",
        )
    split = split_steps(measured, holdout, seed)
    chosen_families = [f for f in FAMILIES if f.name in names]
    with np.errstate(all="ignore"):
        candidates = tuple(
            fit_candidate(structure, family, split, measured.num_workers)
            for structure in STRUCTURES
            for family in chosen_families
        )
    ranked = sorted((c for c in candidates if c.ok), key=_rank)
    if not ranked:
        why = "; ".join(f"{c.name}: {c.error}" for c in candidates[:3])
        raise PssimError(
            f"`source` {measured.source!r} must give a candidate that can be fitted; none "
            f"could ({shown(why)})",
            param="source",
        )
    best, reason = _choose(ranked, split)
    return ClusterFit(
        measured=measured,
        split=split,
        holdout=holdout,
        seed=seed,
        candidates=candidates,
        best=best,
        reason=reason,
        assumptions=verdicts(measured, candidates, best),
    )
