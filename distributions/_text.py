"""Values as an error message quotes them: whole when short, else a prefix and the length.

A refusal names what the user typed, but never echoes all of it: a 100 kB law string is
shown as ``'exp:11111111111111111111…' (100004 characters)``, an integer too long to print
(Python converts at most 4300 digits) as ``an integer of 5001 digits``. The simulator quotes
values the same way (this package imports nothing of the project, so the function lives here).
"""

from __future__ import annotations

import math
import numbers
import reprlib
from typing import Any

__all__ = ["MAX_SHOWN", "shown"]

#: A value whose repr is at most this many characters is quoted whole.
MAX_SHOWN = 60
#: Characters of a longer string (or repr) kept before the ellipsis.
_PREFIX = 24
#: Integers with more bits than this are shown by their number of digits.
_MAX_BITS = 190


def _digits(value: int) -> int:
    """Decimal digits of ``abs(value)`` without converting it to a string."""
    n = abs(value)
    if n == 0:
        return 1
    d = int(math.log10(n)) + 1  # float rounding may be off by one near a power of ten
    while n >= 10**d:
        d += 1
    while d > 1 and n < 10 ** (d - 1):
        d -= 1
    return d


class _Repr(reprlib.Repr):
    """reprlib with short limits and long integers by their number of digits."""

    def __init__(self) -> None:
        super().__init__()
        self.maxlevel = 2
        self.maxstring = MAX_SHOWN
        self.maxother = MAX_SHOWN
        for name in ("maxtuple", "maxlist", "maxarray", "maxdict", "maxset", "maxfrozenset"):
            setattr(self, name, 4)

    def repr_int(self, x: int, level: int) -> str:
        return _integer(x)

    def repr_str(self, x: str, level: int) -> str:
        return _string(x)


def _integer(value: int) -> str:
    if value.bit_length() <= _MAX_BITS:
        return repr(value)
    return f"an integer of {_digits(value)} digits"


def _string(value: str) -> str:
    if len(value) <= MAX_SHOWN:
        return repr(value)
    return f"{value[:_PREFIX] + '…'!r} ({len(value)} characters)"


_REPR = _Repr()


def shown(value: Any) -> str:
    """``value`` as a message quotes it: its repr when short, else a cut repr with its size.

    Strings keep their first characters and say their length; integers too long to print
    say their number of digits; lists, tuples, dicts and sets show their first items and
    their number of items; anything else its repr, cut. Never raises.

    Example:
        >>> shown("exp:" + "1" * 100)
        "'exp:11111111111111111111…' (104 characters)"
    """
    try:
        if isinstance(value, str):
            return _string(value)
        if isinstance(value, numbers.Integral) and not isinstance(value, bool):
            return _integer(int(value))
        text = _REPR.repr(value)
        if isinstance(value, (list, tuple, dict, set, frozenset)) and len(value) > 4:
            text = f"{text} ({len(value)} items)"
    except Exception:  # a repr that fails: say what it is
        return f"a {type(value).__name__}"
    if len(text) > 2 * MAX_SHOWN:
        return f"{text[:_PREFIX]}… ({len(text)} characters)"
    return text
