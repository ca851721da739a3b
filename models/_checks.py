"""Validation helpers shared by the model factories and the dataset loaders.

Every helper raises ``ValueError`` with one line naming the parameter, the rule and the
value, e.g. "`num_classes` must be an integer >= 2; got 1".
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence

__all__ = ["DataError", "DataTypeError", "check_float", "check_int", "check_int_tuple"]


class DataError(ValueError):
    """A model, dataset or data file is invalid (one line: parameter, rule, value)."""


class DataTypeError(DataError, TypeError):
    """A model or dataset argument has the wrong type (also a TypeError)."""


def check_int(name: str, value: object, minimum: int = 1) -> int:
    """Returns ``value`` as an ``int`` after checking it is an integer >= ``minimum``.

    Args:
        name: parameter name shown in the message.
        value: the value to check; bools are rejected.
        minimum: smallest allowed value.

    Raises:
        ValueError: ``value`` is not an integer or is below ``minimum``.
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise DataError(f"`{name}` must be an integer >= {minimum}; got {value!r}")
    return int(value)


def check_float(name: str, value: object, minimum: float = 0.0, strict: bool = False) -> float:
    """Returns ``value`` as a ``float`` after checking it is finite and >= (or >) ``minimum``.

    Args:
        name: parameter name shown in the message.
        value: the value to check; bools are rejected.
        minimum: lower bound.
        strict: require ``value > minimum`` instead of ``>=``.

    Raises:
        ValueError: ``value`` is not a finite real number on the right side of ``minimum``.
    """
    op = ">" if strict else ">="
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool)
    if ok:
        v = float(value)
        ok = math.isfinite(v) and (v > minimum if strict else v >= minimum)
    if not ok:
        raise DataError(f"`{name}` must be a finite number {op} {minimum:g}; got {value!r}")
    return float(value)


def check_int_tuple(name: str, value: object, length: int | None = None) -> tuple[int, ...]:
    """Returns ``value`` as a tuple of positive ints (optionally of a given length).

    Raises:
        ValueError: ``value`` is not a sequence of integers >= 1 (of length ``length``).
    """
    ok = isinstance(value, Sequence) and not isinstance(value, str)
    if ok:
        ok = all(
            isinstance(v, numbers.Integral) and not isinstance(v, bool) and v >= 1 for v in value
        )
        ok = ok and (length is None or len(value) == length)
    if not ok:
        what = f"{length} integers" if length is not None else "integers"
        raise DataError(f"`{name}` must be a sequence of {what} >= 1; got {value!r}")
    return tuple(int(v) for v in value)
