"""Helpers shared by the studies: specs from arguments, theory for a spec."""

from __future__ import annotations

import os
from typing import Any

from simulator._spec_policy import policy_applies, schedule_pairs
from simulator.errors import PssimTypeError
from simulator.spec import ExperimentSpec
from simulator.theory.runtime import Cluster, Prediction, expected_runtime

__all__ = ["as_spec", "bar_disabled", "chosen_j_theory", "spec_theory"]

#: Set to 1 to show progress bars on stderr even when it is not a terminal (e.g. a log).
PROGRESS_ENV = "PSSIM_PROGRESS"


def bar_disabled(progress: bool) -> bool | None:
    """tqdm's ``disable``: off unless asked; when asked, shown on a terminal only (or
    always with ``PSSIM_PROGRESS=1``)."""
    if not progress:
        return True
    return False if os.environ.get(PROGRESS_ENV) == "1" else None


def as_spec(
    spec: ExperimentSpec | None, fields: dict[str, Any], defaults: dict[str, Any] | None = None
) -> ExperimentSpec:
    """``spec`` with ``fields`` applied, or a new spec from ``defaults`` and ``fields``.

    ``updates`` and ``time_budget`` are alternatives: one given in ``fields`` replaces the
    other (of ``spec`` or of the ``defaults``).
    """
    if spec is None:
        base = dict(defaults or {})
        for one, other in (("time_budget", "updates"), ("updates", "time_budget")):
            if fields.get(one) is not None and other not in fields:
                base.pop(other, None)
        return ExperimentSpec(**{**base, **fields})
    if not isinstance(spec, ExperimentSpec):
        raise PssimTypeError(
            f"`spec` must be an ExperimentSpec or None; got {type(spec).__name__}", param="spec"
        )
    return spec.replace(**fields) if fields else spec


def spec_theory(spec: ExperimentSpec) -> Prediction:
    """Expected time of the spec's J-th update: the papers' forms for i.i.d. learners, the
    theory of independent non-identical learners for per-learner laws or speeds (and for
    measured durations resampled per worker), the forms for failures, slowdowns, deadlines
    and links of :class:`~simulator.theory.runtime.Cluster`; ``none`` where no theory
    applies (latencies or a service time alone, durations replayed in order) or without a
    J (a spec with a time budget: give it its J with ``spec.replace(updates=J)``)."""
    if spec.updates is None:
        return Prediction(None, "none", "a time budget, no fixed J")
    if getattr(spec, "durations", None) is not None and spec.durations_mode == "replay":
        return Prediction(
            None, "none", "durations replayed in order are not independent draws (see resample)"
        )
    if policy_applies(spec):
        return _policy_theory(spec)
    canonical, k = spec.canonical
    return expected_runtime(
        canonical,
        num_learners=spec.num_learners,
        k=k,
        law=spec.law,
        updates=spec.updates,
        laws=spec.laws,
        speeds=spec.speeds,
        cluster=Cluster.from_spec(spec) if spec.communication else None,
    )


def _policy_theory(spec: ExperimentSpec) -> Prediction:
    """A K schedule: the sum of its segments' predictions (exact for the round-based
    variants, whose rounds are independent; the state carried from one segment into the
    next makes an asynchronous sum asymptotic). A policy that reads the loss: none."""
    if spec.k_policy != "schedule":
        return Prediction(None, "none", f"K chosen from the training loss ({spec.k_policy})")
    pairs = schedule_pairs(spec.k_schedule)
    ends = [u for u, _ in pairs[1:]] + [spec.updates]
    fixed = spec.replace(k_policy=None, k_schedule=None, eval_every=None)
    total, relations = 0.0, set()
    for (start, k), end in zip(pairs, ends, strict=True):
        if end <= start or start >= spec.updates:
            continue
        part = spec_theory(fixed.replace(k=k, updates=min(end, spec.updates) - start))
        if part.mean is None:
            return Prediction(None, "none", f"K = {k}: {part.source}")
        total += part.mean
        relations.add(part.relation)
    if len(relations) != 1:
        return Prediction(None, "none", f"segments of different kinds: {sorted(relations)}")
    relation = relations.pop()
    if relation == "exact" and spec.canonical[0] not in ("k-sync", "k-batch-sync"):
        relation = "asymptotic"
    return Prediction(total, relation, f"sum over the K schedule {spec.k_schedule}")


def chosen_j_theory(prediction: Prediction) -> Prediction:
    """``prediction`` of the time of a J that a time budget chose from the runs themselves:
    an exact value is no longer exact (J depends on the times it predicts), only asymptotic;
    a bound stays a bound of that many updates' time (read as such, not as an estimate)."""
    if prediction.relation == "none":
        return prediction
    relation = "asymptotic" if prediction.relation == "exact" else prediction.relation
    return Prediction(prediction.mean, relation, f"{prediction.source}, J set by the budget")
