"""Validation helpers shared by the model factories and the dataset loaders.

Every helper raises ``ValueError`` with one line naming the parameter, the rule and the
value, e.g. "`num_classes` must be an integer >= 2; got 1".
"""

from __future__ import annotations

import math
import numbers
import os
from collections.abc import Sequence

import numpy as np

__all__ = [
    "FALLBACK_BUDGET",
    "MODEL_NAMES",
    "DataError",
    "DataTypeError",
    "as_array",
    "check_float",
    "check_int",
    "check_int_tuple",
    "check_memory",
    "check_rows",
    "memory_budget",
    "real_array",
    "shown",
]

#: Model names accepted by ``build_model`` (and by the experiment spec's ``model``).
MODEL_NAMES = ("softmax", "softmax-nobias", "least-squares", "mlp", "cnn")

#: Memory budget in bytes where the physical memory cannot be read (8 GiB).
FALLBACK_BUDGET = 8 * 2**30


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
        raise DataError(f"`{name}` must be an integer >= {minimum}; got {shown(value)}")
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
        try:
            v = float(value)
        except OverflowError:  # an int beyond the float range
            v = math.inf
        ok = math.isfinite(v) and (v > minimum if strict else v >= minimum)
    if not ok:
        raise DataError(f"`{name}` must be a finite number {op} {minimum:g}; got {shown(value)}")
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
        raise DataError(f"`{name}` must be a sequence of {what} >= 1; got {shown(value)}")
    return tuple(int(v) for v in value)


def as_array(name: str, value: object) -> np.ndarray:
    """``np.asarray(value)``, with ragged nesting and odd objects refused in one line.

    Raises:
        ValueError: "`x` must hold real numbers; got a ragged or non-numeric nesting".
    """
    try:
        return np.asarray(value)
    except (ValueError, TypeError, OverflowError):
        raise DataError(
            f"`{name}` must hold real numbers; got a ragged or non-numeric nesting"
        ) from None


def real_array(name: str, value: object) -> np.ndarray:
    """``value`` as a float64 array after checking it holds finite real numbers.

    Raises:
        ValueError: "`y` must hold real numbers; got dtype <U1" (or ragged nesting, or
            non-finite values).
    """
    arr = as_array(name, value)
    if arr.dtype == bool or arr.dtype.kind not in "iuf":
        raise DataError(f"`{name}` must hold real numbers; got dtype {arr.dtype}")
    arr = arr.astype(np.float64)
    if not np.all(np.isfinite(arr)):
        raise DataError(f"`{name}` must be finite; got {int((~np.isfinite(arr)).sum())} bad values")
    return arr


def memory_budget() -> tuple[int, str]:
    """Bytes a data set may take in memory, and how that budget was set.

    Half the physical memory (``os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")``),
    or :data:`FALLBACK_BUDGET` (8 GiB) where the system does not report it.

    Example:
        >>> memory_budget()[0] > 0
        True
    """
    try:
        total = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):
        total = -1
    if total <= 0:
        return FALLBACK_BUDGET, "a fixed 8 GiB: physical memory unknown"
    return total // 2, "half the physical memory"


def _gib(nbytes: int) -> str:
    gib = nbytes // 2**30
    if gib >= 10**300:  # beyond what a float formats
        return f"about 10^{int(math.log10(gib))} GiB"
    return f"{nbytes / 2**30:.3g} GiB"


def shown(value: object, limit: int = 60) -> str:
    """``repr(value)`` for a message, cut to ``limit`` characters (with the full length)
    and huge ints as "an integer of 401 digits"."""
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        if abs(int(value)) >= 10**20:
            return f"an integer of {int(math.log10(abs(int(value)))) + 1} digits"
        return repr(int(value))
    text = value if isinstance(value, str) else repr(value)
    if len(text) <= limit:
        return repr(value) if isinstance(value, str) else text
    return f"{text[:limit]!r}... ({len(text)} characters)"


def check_memory(what: str, nbytes: int) -> None:
    """Refuses a data set whose estimated size exceeds :func:`memory_budget`, before allocation.

    Args:
        what: the parameters and their values, e.g. "`num_examples` x `num_features` = 10 x 5".
        nbytes: estimated peak bytes.

    Raises:
        ValueError: "`num_examples` x `num_features` = 1000000000 x 100000 must fit in the
            memory budget of 62.8 GiB (half the physical memory); got about 2.98e+06 GiB".
    """
    budget, how = memory_budget()
    if nbytes > budget:
        raise DataError(
            f"{what} must fit in the memory budget of {_gib(budget)} ({how}); "
            f"got about {_gib(nbytes)}"
        )


def check_rows(shape: tuple[int, ...], num_features: int) -> None:
    """Checks that a batch of features has shape (m, num_features) (static, works under jit).

    Raises:
        ValueError: "`x` must have shape (m, 784), 784 features per row; got (32, 64)".
    """
    if len(shape) != 2 or shape[1] != num_features:
        raise DataError(
            f"`x` must have shape (m, {num_features}), {num_features} features per row; "
            f"got {tuple(shape)}"
        )
