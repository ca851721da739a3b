"""One fitted candidate of ``pssim fit``: a structure (one law, speeds x law, law per
worker) and a family, its parameters, training log-likelihood, AIC and held-out scores."""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import numpy as np

from distributions import ComputeTimeLaw
from simulator.errors import SpecError
from simulator.spec import ExperimentSpec
from simulator.studies._fit_families import Family, FitFailed, family_named, scaled
from simulator.studies._fit_scores import Split, ks_pit, pit, row_logliks
from simulator.studies._fit_speeds import fit_speeds

__all__ = ["STRUCTURES", "FitCandidate", "fit_candidate"]

#: Model structures: (a) one law for every worker, (b) a persistent speed per worker
#: times one common noise law, (c) one law per worker (one family for all).
STRUCTURES = {"a": "one law", "b": "speeds x law", "c": "law per worker"}


@dataclasses.dataclass(frozen=True, eq=False)
class FitCandidate:
    """A candidate model fitted to the training steps and scored on the held-out ones.

    Attributes:
        structure: ``"a"`` one law for every worker (``dist``), ``"b"`` a speed per
            worker times one noise law (``speeds`` + ``dist``: worker l's durations are
            ``Z / speeds[l]``, speeds of geometric mean 1), ``"c"`` one law per worker
            (``laws``, all of ``family``).
        family: ``exp``, ``shifted-exp``, ``gamma``, ``lognormal``, ``weibull`` or
            ``pareto``.
        n_params: free parameters k (a: the law's; b: the law's + W - 1; c: W times).
        train_loglik: log-likelihood of the training rows (censored rows: log P(X > x)).
        aic: Akaike's criterion ``2 k - 2 train_loglik``.
        heldout_loglik: mean log-likelihood per held-out row; ``-inf`` when ``outside``
            rows lie outside the fitted support (below a fitted shift or Pareto scale).
        heldout_ks: Kolmogorov-Smirnov distance of the held-out PIT values from U(0, 1)
            (Kaplan-Meier where rows are censored); None without observed held-out rows.
        outside: held-out rows outside the fitted support.
        heldout_observed: held-out rows not censored (the KS distance's sample size).
        dist: the common law (a, b), else None.
        speeds: (W,) speeds (b), else None.
        laws: W laws (c), else None.
        rounds: alternating rounds of the speeds fit (b); ``converged`` whether it stopped
            on its tolerance.
        error: why the candidate could not be fitted (then every score is None).
        params: (W, p) scipy parameters ``(shapes..., loc, scale)`` of each worker's law.
        heldout_logliks: (n,) log-likelihood of each held-out row.
    """

    structure: str
    family: str
    n_params: int | None = None
    train_loglik: float | None = None
    aic: float | None = None
    heldout_loglik: float | None = None
    heldout_ks: float | None = None
    outside: int = 0
    heldout_observed: int = 0
    dist: ComputeTimeLaw | None = None
    speeds: tuple[float, ...] | None = None
    laws: tuple[ComputeTimeLaw, ...] | None = None
    rounds: int | None = None
    converged: bool = True
    error: str | None = None
    params: np.ndarray | None = dataclasses.field(default=None, repr=False)
    heldout_logliks: np.ndarray | None = dataclasses.field(default=None, repr=False)

    @property
    def name(self) -> str:
        """``one gamma``, ``speeds x gamma`` or ``gamma per worker``."""
        return {
            "a": f"one {self.family}",
            "b": f"speeds x {self.family}",
            "c": f"{self.family} per worker",
        }[self.structure]

    @property
    def ok(self) -> bool:
        """Whether the candidate was fitted."""
        return self.error is None

    def worker_laws(self) -> tuple[ComputeTimeLaw, ...]:
        """Each worker's fitted law (W laws; for b, the noise law divided by the speed)."""
        if self.laws is not None:
            return self.laws
        family = family_named(self.family)
        return tuple(family.law(tuple(p)) for p in self.params)

    def config(self) -> dict[str, Any]:
        """The timing settings of this model, as a config file's keys (``learners`` and
        ``dist``, ``speeds`` + ``dist`` or ``laws``)."""
        out: dict[str, Any] = {"learners": len(self.params)}
        if self.speeds is not None:
            out["speeds"] = [float(s) for s in self.speeds]
        if self.laws is not None:
            out["laws"] = [law.spec for law in self.laws]
        else:
            out["dist"] = self.dist.spec
        return out

    def spec(self, **overrides: Any) -> ExperimentSpec:
        """An :class:`~simulator.spec.ExperimentSpec` of this model (P = W learners);
        ``overrides`` set the other fields (``variant``, ``k``, ``updates``, ...)."""
        timing: dict[str, Any] = {"num_learners": len(self.params)}
        if self.laws is not None:
            timing["laws"] = tuple(law.spec for law in self.laws)
        else:
            timing["law"] = self.dist.spec
        if self.speeds is not None:
            timing["speeds"] = tuple(float(s) for s in self.speeds)
        return ExperimentSpec(**{**timing, **overrides})

    def to_json(self) -> dict[str, Any]:
        """JSON-ready summary (an infinite held-out log-likelihood is None, see
        ``outside``)."""
        finite = self.heldout_loglik is not None and math.isfinite(self.heldout_loglik)
        return {
            "name": self.name,
            "structure": self.structure,
            "model": STRUCTURES[self.structure],
            "family": self.family,
            "n_params": self.n_params,
            "train_loglik": self.train_loglik,
            "aic": self.aic,
            "heldout_loglik_per_row": self.heldout_loglik if finite else None,
            "heldout_ks": self.heldout_ks,
            "heldout_outside_support": self.outside,
            "rounds": self.rounds,
            "converged": self.converged,
            "error": self.error,
            "config": self.config() if self.ok else None,
        }


def fit_candidate(structure: str, family: Family, split: Split, num_workers: int) -> FitCandidate:
    """Fit ``family`` in ``structure`` to ``split.train`` and score it on ``split.heldout``;
    a candidate that cannot be fitted comes back with its ``error``."""
    train, test = split.train, split.heldout
    extra: dict[str, Any] = {}
    try:
        if structure == "a":
            theta = family.fit(train.x, train.censored)
            params = np.tile(np.asarray(theta), (num_workers, 1))
            extra["dist"], k = family.law(theta), family.n_params
        elif structure == "b":
            fitted = fit_speeds(family, train, num_workers)
            params = scaled(np.asarray(fitted.params), fitted.speeds)
            extra["dist"] = family.law(fitted.params)
            extra["speeds"] = tuple(float(s) for s in fitted.speeds)
            extra.update(rounds=fitted.rounds, converged=fitted.converged)
            k = family.n_params + num_workers - 1
        else:
            params = np.array([family.fit(*train.of(w)) for w in range(num_workers)])
            extra["laws"] = tuple(family.law(tuple(p)) for p in params)
            k = family.n_params * num_workers
        candidate = FitCandidate(structure, family.name, params=params, **extra)
        if structure == "b":
            candidate.worker_laws()  # every worker's law is one pssim accepts
        candidate.spec()  # and the config is one the spec accepts
    except FitFailed as why:
        return FitCandidate(structure, family.name, error=str(why))
    except SpecError as why:
        return FitCandidate(structure, family.name, error=f"the spec refuses it: {why}")
    train_ll = float(row_logliks(family.dist, params, train).sum())
    held = row_logliks(family.dist, params, test)
    observed = ~test.censored
    ks = ks_pit(pit(family.dist, params, test), test.censored) if observed.any() else None
    return dataclasses.replace(
        candidate,
        n_params=k,
        train_loglik=train_ll,
        aic=2.0 * k - 2.0 * train_ll,
        heldout_loglik=float(held.mean()),
        heldout_ks=ks,
        outside=int(np.isneginf(held).sum()),
        heldout_observed=int(observed.sum()),
        heldout_logliks=held,
    )
