"""The record every error-bound evaluator returns: a value and the conditions it rests on.

A bound of a paper holds only under its assumptions (a step size small enough, a constant
positive, ...). Evaluators never refuse a setting that breaks one: they compute the formula
and report each condition with both sides, so a user sees *why* a bound does not apply.
Bad input (a negative Lipschitz constant, a non-integer K) is refused with a
:class:`~simulator.errors.PssimError` instead.
"""

from __future__ import annotations

import dataclasses
import math
import numbers
from typing import Any

import numpy as np

from simulator._checks import check_integer
from simulator.errors import PssimError

__all__ = ["Bound", "Condition", "check_count", "check_nonnegative", "check_positive", "condition"]


@dataclasses.dataclass(frozen=True)
class Condition:
    """One validity condition ``lhs <op> rhs`` of a bound, evaluated.

    Attributes:
        rule: the condition as the paper states it, e.g. ``"eta <= 1/(2 L (M_G/(K m) + 1/K))"``.
        lhs: its left-hand side's value.
        rhs: its right-hand side's value.
        holds: whether it is satisfied.
    """

    rule: str
    lhs: float
    rhs: float
    holds: bool

    def __str__(self) -> str:
        mark = "holds" if self.holds else "FAILS"
        return f"{self.rule}: {self.lhs:.6g} vs {self.rhs:.6g} ({mark})"

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready dict."""
        return {"rule": self.rule, "lhs": self.lhs, "rhs": self.rhs, "holds": self.holds}


def condition(rule: str, lhs: float, op: str, rhs: float) -> Condition:
    """Evaluates ``lhs op rhs`` (op one of ``<=, <, >=, >``) into a :class:`Condition`."""
    ops = {"<=": lambda a, b: a <= b, "<": lambda a, b: a < b}
    ops |= {">=": lambda a, b: a >= b, ">": lambda a, b: a > b}
    return Condition(rule, float(lhs), float(rhs), bool(ops[op](float(lhs), float(rhs))))


@dataclasses.dataclass(frozen=True)
class Bound:
    """A bound (or closed-form prediction) of a paper, evaluated, with its conditions.

    Attributes:
        quantity: what it bounds, e.g. ``"E[F(w_J)] - F*"``.
        value: the bound: a float, or an array (a curve over iterations, sizes, ...).
        citation: paper and equation, e.g. ``"Dutta et al. 2018, Lemma 2"``.
        conditions: the assumptions it rests on, each evaluated.
        relation: ``upper-bound``, ``lower-bound``, ``exact`` or ``asymptotic``.
        extra: named intermediate values (a contraction factor, a floor), floats.
    """

    quantity: str
    value: float | np.ndarray
    citation: str
    conditions: tuple[Condition, ...] = ()
    relation: str = "upper-bound"
    extra: dict[str, float] = dataclasses.field(default_factory=dict)

    @property
    def valid(self) -> bool:
        """True when every condition holds (the bound then applies)."""
        return all(c.holds for c in self.conditions)

    def failed(self) -> tuple[Condition, ...]:
        """The conditions that do not hold."""
        return tuple(c for c in self.conditions if not c.holds)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready dict (arrays become lists)."""
        value = self.value
        value = np.asarray(value).tolist() if isinstance(value, np.ndarray) else float(value)
        return {
            "quantity": self.quantity,
            "value": value,
            "citation": self.citation,
            "relation": self.relation,
            "valid": self.valid,
            "conditions": [c.to_dict() for c in self.conditions],
            "extra": {k: float(v) for k, v in self.extra.items()},
        }


def _number(name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise PssimError(f"`{name}` must be a number; got {value!r}", param=name)
    value = float(value)
    if not math.isfinite(value):
        raise PssimError(f"`{name}` must be finite; got {value}", param=name)
    return value


def check_positive(name: str, value: object) -> float:
    """``value`` as a float after checking it is a finite number > 0."""
    out = _number(name, value)
    if out <= 0:
        raise PssimError(f"`{name}` must be > 0; got {out:g}", param=name)
    return out


def check_nonnegative(name: str, value: object) -> float:
    """``value`` as a float after checking it is a finite number >= 0."""
    out = _number(name, value)
    if out < 0:
        raise PssimError(f"`{name}` must be >= 0; got {out:g}", param=name)
    return out


#: ``value`` as an int after checking it is an integer >= ``minimum`` (the project's check).
check_count = check_integer
