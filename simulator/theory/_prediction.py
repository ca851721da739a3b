"""The :class:`Prediction` every runtime theory returns: a value and its relation."""

from __future__ import annotations

import dataclasses
import math

from simulator.errors import PssimError

__all__ = ["RELATIONS", "Prediction"]

RELATIONS = ("exact", "upper-bound", "lower-bound", "asymptotic", "none")


@dataclasses.dataclass(frozen=True)
class Prediction:
    """A theoretical value and how it relates to the truth.

    Attributes:
        mean: the predicted value (simulated time units for runtimes), None if no theory.
        relation: one of ``exact, upper-bound, lower-bound, asymptotic, none``.
        source: where it comes from, e.g. ``"Lemma 3: J E[X_{K:P}]"``.
    """

    mean: float | None
    relation: str
    source: str

    def __post_init__(self) -> None:
        if self.relation not in RELATIONS:
            raise PssimError(f"`relation` must be one of {', '.join(RELATIONS)}")
        if self.mean is not None and not math.isfinite(self.mean):
            object.__setattr__(self, "mean", None)
            object.__setattr__(self, "relation", "none")
            object.__setattr__(self, "source", self.source + " (infinite)")

    def holds_for(self, value: float, rtol: float = 0.0) -> bool:
        """Whether ``value`` is consistent with a bound (always True for other relations)."""
        if self.mean is None:
            return True
        if self.relation == "upper-bound":
            return value <= self.mean * (1 + rtol)
        if self.relation == "lower-bound":
            return value >= self.mean * (1 - rtol)
        return True
