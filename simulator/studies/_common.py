"""Helpers shared by the studies: specs from arguments, theory for a spec."""

from __future__ import annotations

import os
from typing import Any

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


def chosen_j_theory(prediction: Prediction) -> Prediction:
    """``prediction`` of the time of a J that a time budget chose from the runs themselves:
    an exact value is no longer exact (J depends on the times it predicts), only asymptotic;
    a bound stays a bound of that many updates' time (read as such, not as an estimate)."""
    if prediction.relation == "none":
        return prediction
    relation = "asymptotic" if prediction.relation == "exact" else prediction.relation
    return Prediction(prediction.mean, relation, f"{prediction.source}, J set by the budget")
