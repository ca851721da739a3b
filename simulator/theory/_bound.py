"""The record every error-bound evaluator returns: a value and the conditions it rests on.

A bound of a paper holds only under its assumptions (a step size small enough, a constant
positive, ...). Evaluators never refuse a setting that breaks one: they compute the formula
and report each condition with both sides, so a user sees *why* a bound does not apply.
Bad input (a negative Lipschitz constant, a non-integer K) is refused with a
:class:`~simulator.errors.PssimError` instead.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import math
import numbers
from collections.abc import Callable
from typing import Any

import numpy as np

from simulator._checks import check_count as simulator_check_count
from simulator._checks import check_integer
from simulator.errors import PssimError, PssimTypeError

__all__ = [
    "MAX_COUNT",
    "Bound",
    "Condition",
    "as_array",
    "check_count",
    "check_nonnegative",
    "check_positive",
    "check_size",
    "condition",
    "evaluator",
]


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
        shown = repr(value)[:40] if isinstance(value, (str, type(None))) else type(value).__name__
        raise PssimTypeError(f"`{name}` must be a number; got {shown}", param=name)
    try:
        value = float(value)
    except OverflowError:  # an int beyond the float range
        raise PssimError(
            f"`{name}` must be finite; got an integer beyond 1e308", param=name
        ) from None
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


#: Largest count (K, m, P, J, samples...) an evaluator takes: 2**53, up to which every
#: integer is a float, so the formulas stay exact and finite.
MAX_COUNT = 2**53


def _at_most_max(name: str, value: int) -> int:
    if value > MAX_COUNT:
        shown = value if value < 10**20 else f"an integer of {int(math.log10(value)) + 1} digits"
        raise PssimError(f"`{name}` must be <= {MAX_COUNT} (2**53); got {shown}", param=name)
    return value


def check_count(name: str, value: object, minimum: int = 1) -> int:
    """``value`` as an int after checking it is an integer in ``[minimum, 2**53]``."""
    return _at_most_max(name, check_integer(name, value, minimum))


def check_size(name: str, value: object) -> int:
    """``value`` as an int in ``[1, 2**53]``, with the messages of the spec's counts
    ("`updates` must be >= 1; got 0")."""
    return _at_most_max(name, simulator_check_count(name, value))


def as_array(name: str, value: object) -> np.ndarray:
    """``np.asarray(value)``, with ragged nesting and odd objects refused in one line."""
    try:
        return np.asarray(value)
    except (ValueError, TypeError, OverflowError):
        raise PssimTypeError(
            f"`{name}` must be a number or an array of numbers; got a ragged or odd nesting",
            param=name,
        ) from None


def _magnitude(value: object) -> float | None:
    """The largest magnitude in a number or an array of numbers (None for anything else)."""
    if isinstance(value, bool) or isinstance(value, (str, bytes)):
        return None
    if isinstance(value, numbers.Real):
        try:
            return abs(float(value))
        except OverflowError:
            return math.inf
    try:
        arr = np.asarray(value, dtype=float)
    except (ValueError, TypeError, OverflowError):
        return None
    return float(np.max(np.abs(arr))) if arr.size else None


def _extreme(value: object) -> bool:
    """A number (or an array holding one) far from 1: beyond 1e100 or below 1e-100."""
    size = _magnitude(value)
    return size is not None and (size > 1e100 or 0 < size < 1e-100)


def evaluator(func: Callable) -> Callable:
    """Decorates a public evaluator: a formula that overflows, divides by zero or gives a
    NaN value for finite arguments is refused in one line naming the extreme arguments (a
    bound may be ``inf``, never NaN), instead of a raw ``OverflowError``."""
    signature = inspect.signature(func)

    def refuse(args: tuple, kwargs: dict) -> PssimError:
        bound = signature.bind_partial(*args, **kwargs).arguments
        names = [name for name, value in bound.items() if _extreme(value)]
        if not names:
            return PssimError(f"the arguments of {func.__name__} overflow the float range")
        which = " and ".join(f"`{name}`" for name in names)
        got = ", ".join(f"{_magnitude(bound[name]):g}" for name in names)
        return PssimError(
            f"{which} must be nearer 1 for {func.__name__} (an intermediate value overflows "
            f"the float range); got {got}",
            param=names[0],
        )

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            with np.errstate(all="ignore"):
                out = func(*args, **kwargs)
        except (OverflowError, ZeroDivisionError, FloatingPointError, np.linalg.LinAlgError):
            raise refuse(args, kwargs) from None
        value = out.value if isinstance(out, Bound) else out
        if isinstance(value, (float, np.ndarray)) and np.isnan(np.asarray(value, float)).any():
            raise refuse(args, kwargs)
        return out

    return wrapper
