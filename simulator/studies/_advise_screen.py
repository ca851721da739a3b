"""Stage 1 of the advisor: every candidate screened by theory, in no simulated training.

A candidate's predicted time to the target is (iterations its error bound needs to reach
the target) x (expected time of one update):

- the iterations come from Dutta et al. 2018's bounds with the problem's measured
  constants (L, c, sigma^2, M_G, F(w0) - F*): Lemma 2 for the synchronous variants
  (sync, K-sync, K-batch-sync), Theorem 3 for the asynchronous ones with gamma = 0 (its
  best case) and p0 = 1/P for i.i.d. exponential learners (Lemma 8), else 0 (valid for
  every law); both bounds read E[F(w_J)] - F* <= floor + rate^J (F(w0) - F* - floor), so J
  is the first integer with a bound at or below the target;
- the time of one update is the runtime theory of the candidate's cluster
  (:func:`~simulator.studies._common.spec_theory`).

Theory cannot rank a candidate when either part is missing: a model that is not strongly
convex (the bounds then hold for the gradient norm, not the error), a target given as an
accuracy, a target at or below the bound's floor, a bound whose step-size condition fails,
a rule other than the fixed rate, K-AVG, or no runtime theory (latencies, durations
replayed in order). The bounds are upper bounds, so a prediction is a pessimistic but
comparable time; the screen orders candidates, the simulation settles the order.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from typing import Any

from distributions import Exponential
from simulator.studies._advise_spec import AdviseSettings, Candidate
from simulator.studies._common import spec_theory
from simulator.studies.runtime import RATE_UPDATES
from simulator.theory.error_bounds import kasync_error_bound, ksync_error_bound

__all__ = ["Screen", "screen_candidates"]

_ASYNC = ("async", "k-async", "k-batch-async")


@dataclasses.dataclass(frozen=True)
class Screen:
    """The theory screen of one candidate.

    Attributes:
        iterations: updates its error bound needs to reach the target (None: no bound).
        time_per_update: expected simulated time of one update (None: no theory).
        predicted: their product, simulated time units (None: theory cannot rank it).
        reason: why theory cannot rank it, or the sources of the prediction.
    """

    iterations: int | None
    time_per_update: float | None
    predicted: float | None
    reason: str

    @property
    def ranked(self) -> bool:
        return self.predicted is not None


def _iterations(bound, target: float, initial: float) -> int | None:
    """First J with floor + rate^J (initial - floor) <= target (None if never)."""
    floor, rate = float(bound.extra["floor"]), float(bound.extra["rate"])
    if initial <= target:
        return 0
    if not target > floor or not 0 <= rate < 1:
        return None
    if rate == 0:
        return 1
    return max(1, math.ceil(math.log((target - floor) / (initial - floor)) / math.log(rate)))


def _bound(spec, constants, initial: float):
    """The candidate's error bound per iteration (Lemma 2 or Theorem 3), or a reason."""
    variant, k = spec.canonical
    if variant == "k-avg":
        return None, "K-AVG is outside Dutta et al.'s error bounds"
    if spec.rule != "fixed":
        return None, f"no error bound for the {spec.rule} rule in the screen"
    if constants.f_star is None or constants.c <= 1e-9 * constants.L:
        return None, "the model is not strongly convex (the bounds are on the gradient norm)"
    common = dict(
        lr=spec.lr,
        L=constants.L,
        c=constants.c,
        sigma2=constants.sigma2,
        K=k,
        m=spec.batch_size,
        initial_error=initial,
        M_G=constants.M_G or 0.0,
    )
    if variant in _ASYNC or spec.variant in _ASYNC:
        iid_exp = not spec.heterogeneous and isinstance(spec.law, Exponential)
        p0 = 1.0 / spec.num_learners if iid_exp else 0.0
        bound = kasync_error_bound(1, gamma=0.0, p0=p0, **common)
    else:
        bound = ksync_error_bound(1, **common)
    failing = [str(c) for c in bound.conditions if not c.holds]
    if failing:
        return None, f"{bound.citation.split(', ')[-1]} does not hold: {failing[0]}"
    return bound, bound.citation.split(", ")[-1]


def screen_candidates(
    candidates: Sequence[Candidate],
    settings: AdviseSettings,
    constants: Any | None,
    *,
    no_constants: str = "no problem constants",
) -> list[Screen]:
    """The theory screen of every candidate (see the module docstring).

    Args:
        candidates: the advisor's candidates.
        settings: the ``[advise]`` table (its target).
        constants: the problem's ``ProblemConstants``, or None when they could not be
            computed or do not apply (then theory ranks nothing).
        no_constants: why there are no constants (the reason every candidate gets).
    """
    out = []
    for candidate in candidates:
        spec = candidate.spec
        runtime = spec_theory(spec.replace(updates=RATE_UPDATES, eval_every=None))
        per_update = None if runtime.mean is None else runtime.mean / RATE_UPDATES
        if constants is None:
            out.append(Screen(None, per_update, None, no_constants))
            continue
        initial = constants.loss_init - (constants.f_star or 0.0)
        if settings.target_kind == "target-accuracy":
            out.append(Screen(None, per_update, None, "the bounds are on the error, not accuracy"))
            continue
        target = settings.target
        if settings.target_kind == "target-fraction":
            target = settings.target * initial
        bound, why = _bound(spec, constants, initial)
        iterations = None if bound is None else _iterations(bound, target, initial)
        if bound is not None and iterations is None:
            floor = float(bound.extra["floor"])
            why = f"the target is at or below {why}'s floor {floor:.3g}"
        if per_update is None or iterations is None:
            reason = why if iterations is None else f"no runtime theory: {runtime.source}"
            out.append(Screen(iterations, per_update, None, reason))
            continue
        source = f"{why} x {runtime.source.split(':')[0]} ({runtime.relation})"
        out.append(Screen(iterations, per_update, iterations * per_update, source))
    return out
