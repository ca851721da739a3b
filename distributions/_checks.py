"""Helpers shared by the laws: one-line errors naming parameter, rule and value; safe exp."""

from __future__ import annotations

import math
import numbers
import os
from typing import Any

import numpy as np

from ._text import shown

__all__ = [
    "MAX_COUNT",
    "LawError",
    "LawTypeError",
    "check_count",
    "check_int",
    "check_real",
    "check_rng",
    "check_shape",
    "exp_or_inf",
    "fmt",
]


class LawError(ValueError):
    """A compute-time law or its parameters are invalid (one line: parameter, rule, value)."""


class LawTypeError(LawError, TypeError):
    """A law parameter has the wrong type (also a TypeError)."""


#: Largest count (n of an order statistic, k of a sum) accepted: 2**53, the largest integer
#: up to which every integer is a float, so formulas in n stay exact and finite.
MAX_COUNT = 2**53


def _memory_bytes() -> int:
    """Half the physical memory (8 GiB where the system does not say)."""
    try:
        total = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):
        total = -1
    return total // 2 if total > 0 else 8 * 2**30


def fmt(value: Any) -> str:
    """Format a value for an error message (floats as ``repr(float)``, e.g. ``-1.0``, ``nan``;
    long strings and huge integers cut, see :func:`~distributions._text.shown`)."""
    if isinstance(value, (bool, np.bool_)):
        return repr(bool(value))
    if isinstance(value, numbers.Integral):
        return shown(int(value))
    if isinstance(value, numbers.Real):
        try:
            return repr(float(value))
        except (OverflowError, ValueError):  # a Fraction or Decimal beyond the floats
            return shown(value)
    return shown(value)


def check_real(name: str, value: Any, rule: str = "finite") -> float:
    """Return ``value`` as a finite float that satisfies ``rule``.

    Args:
        name: the parameter as shown in messages, e.g. ``"Exponential.rate"``.
        value: the value given by the user.
        rule: one of ``"finite"``, ``"> 0"``, ``">= 0"``.

    Returns:
        The value as a Python float.

    Raises:
        TypeError: ``value`` is a bool or not a real number.
        ValueError: ``value`` is not finite or breaks ``rule``.
    """
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise LawTypeError(
            f"`{name}` must be a real number; got {fmt(value)} ({type(value).__name__})"
        )
    try:
        x = float(value)
    except OverflowError:  # an int beyond the float range
        raise LawError(f"`{name}` must be finite; got {shown(int(value))}") from None
    if not math.isfinite(x):
        raise LawError(f"`{name}` must be finite; got {fmt(x)}")
    if rule == "> 0" and not x > 0:
        raise LawError(f"`{name}` must be > 0; got {fmt(x)}")
    if rule == ">= 0" and not x >= 0:
        raise LawError(f"`{name}` must be >= 0; got {fmt(x)}")
    return x


def check_int(name: str, value: Any, low: int, high: int | None = None) -> int:
    """Return ``value`` as an int in ``[low, high]`` (``high=None``: no upper bound).

    Raises:
        TypeError: ``value`` is a bool or not an integer.
        ValueError: ``value`` is out of range.
    """
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise LawTypeError(
            f"`{name}` must be an integer; got {fmt(value)} ({type(value).__name__})"
        )
    i = int(value)
    if high is None:
        if i < low:
            raise LawError(f"`{name}` must be >= {low}; got {shown(i)}")
    elif not low <= i <= high:
        raise LawError(f"`{name}` must be in [{low}, {high}]; got {shown(i)}")
    return i


def check_count(name: str, value: Any) -> int:
    """Return ``value`` as an int in ``[1, MAX_COUNT]`` (a count of draws).

    Raises:
        TypeError: ``value`` is a bool or not an integer.
        ValueError: ``value < 1`` or ``value > MAX_COUNT`` (2**53).
    """
    i = check_int(name, value, 1)
    if i > MAX_COUNT:
        raise LawError(f"`{name}` must be <= {MAX_COUNT} (2**53); got {shown(i)}")
    return i


def check_rng(rng: Any) -> np.random.Generator:
    """Return ``rng`` if it is a ``numpy.random.Generator``, else raise TypeError."""
    if not isinstance(rng, np.random.Generator):
        raise LawTypeError(f"`rng` must be a numpy.random.Generator; got {type(rng).__name__}")
    return rng


def check_shape(shape: Any) -> tuple[int, ...]:
    """Return a sample shape (an int or a tuple of ints, each >= 0) as a tuple.

    The draws, 8 bytes each, must fit in half the physical memory: a larger shape is
    refused before anything is allocated.

    Raises:
        TypeError: not an int or a tuple/list of ints (bools rejected).
        ValueError: a negative dimension, or more draws than the memory holds.
    """
    dims = (shape,) if isinstance(shape, numbers.Integral) else shape
    if isinstance(shape, (bool, np.bool_)) or not isinstance(dims, (tuple, list)):
        raise LawTypeError(f"`shape` must be an int or a tuple of ints; got {fmt(shape)[:80]}")
    dims = tuple(check_int("shape", d, 0) for d in dims)
    count, budget = math.prod(dims), _memory_bytes()
    if 8 * count > budget:
        raise LawError(
            f"`shape` must ask for at most {budget // 8} draws (8 bytes each in half the "
            f"physical memory, {budget / 2**30:.3g} GiB); got {shown(count)}"
        )
    return dims


def exp_or_inf(log_value: float) -> float:
    """``exp(log_value)`` as a float, ``inf`` instead of an overflow error."""
    return math.exp(log_value) if log_value < 709.0 else math.inf
