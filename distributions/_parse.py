"""Spec strings (``exp:1.0``, ``pareto:2,1``, ...) and coercion of user input to a law."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import scipy.stats

from ._base import ComputeTimeLaw
from ._checks import LawError, LawTypeError
from ._empirical import Empirical
from ._exponential import Exponential, ShiftedExponential
from ._gamma import Gamma
from ._hyperexp import HyperExponential
from ._lognormal import LogNormal
from ._pareto import Pareto
from ._scipy_law import ScipyLaw, is_frozen_continuous
from ._weibull import Weibull

__all__ = ["SPEC_FORMS", "law_from", "parse_law"]

_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")

# law name -> (form shown in messages, number of values, constructor from the values)
_FIXED: dict[str, tuple[str, int, Callable[..., ComputeTimeLaw]]] = {
    "exp": ("exp:RATE", 1, Exponential),
    "shifted-exp": ("shifted-exp:SHIFT,RATE", 2, ShiftedExponential),
    "pareto": ("pareto:SHAPE,SCALE", 2, Pareto),
    "gamma": ("gamma:SHAPE,RATE", 2, Gamma),
    "weibull": ("weibull:SHAPE,SCALE", 2, Weibull),
    "lognormal": ("lognormal:MU,SIGMA", 2, LogNormal),
}
_HYPEREXP_FORM = "hyperexp:P1,RATE1,P2,RATE2[,...]"
_EMPIRICAL_FORM = "empirical:PATH"
_SCIPY_FORM = "scipy:NAME(ARG=VALUE, ...)"

SPEC_FORMS: tuple[str, ...] = (
    *(form for form, _, _ in _FIXED.values()),
    _HYPEREXP_FORM,
    _EMPIRICAL_FORM,
    _SCIPY_FORM,
)
"""Every accepted spec form, in the order shown in error messages."""


def _number(token: str, spec: str, name: str) -> float:
    token = token.strip()
    if not _NUMBER.fullmatch(token):
        raise LawError(f"`{name}` value {token!r} in {spec!r} must be a number")
    return float(token)


def _values(body: str, spec: str, name: str) -> list[float]:
    return [_number(tok, spec, name) for tok in body.split(",")]


def _count_error(spec: str, name: str, form: str, want: str, got: int) -> LawError:
    return LawError(f"`{name}` spec {spec!r} must have {want} ({form}); got {got}")


def _parse_scipy(body: str, spec: str, name: str) -> ComputeTimeLaw:
    match = re.fullmatch(r"\s*([^()\s]+)\s*\((.*)\)\s*", body)
    if match is None or not _NAME.fullmatch(match.group(1)):
        raise LawError(f"`{name}` spec {spec!r} must look like {_SCIPY_FORM}")
    dist = getattr(scipy.stats, match.group(1), None)
    if not isinstance(dist, scipy.stats.rv_continuous):
        raise LawError(
            f"`{name}` spec {spec!r} must name a scipy.stats continuous distribution; "
            f"got {match.group(1)!r}"
        )
    kwargs: dict[str, float] = {}
    for item in filter(None, (s.strip() for s in match.group(2).split(","))):
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep or not _NAME.fullmatch(key) or key in kwargs:
            raise LawError(f"`{name}` spec {spec!r} must look like {_SCIPY_FORM}")
        kwargs[key] = _number(value, spec, name)
    try:
        frozen = dist(**kwargs)
    except TypeError as exc:
        raise LawError(f"`{name}` spec {spec!r} has bad arguments: {exc}") from None
    return ScipyLaw(frozen)


def parse_law(spec: str, *, name: str = "dist") -> ComputeTimeLaw:
    """Parse a compute-time law from a spec string (strict).

    Forms: ``exp:RATE``, ``shifted-exp:SHIFT,RATE``, ``pareto:SHAPE,SCALE``,
    ``gamma:SHAPE,RATE``, ``weibull:SHAPE,SCALE``, ``lognormal:MU,SIGMA``,
    ``hyperexp:P1,RATE1,P2,RATE2[,...]``, ``empirical:PATH`` (a ``.npy``, ``.csv`` or
    ``.txt`` file) and ``scipy:NAME(ARG=VALUE, ...)`` (a ``scipy.stats`` continuous law).
    Whitespace around tokens is ignored; values are plain decimal numbers (no ``nan``,
    ``inf``). ``parse_law(law.spec) == law`` for every law built from parameters or a file.

    Args:
        spec: the spec string, e.g. ``"pareto:2,1"``.
        name: the option name used in error messages (keyword-only).

    Returns:
        The law.

    Raises:
        TypeError: ``spec`` is not a string.
        ValueError: unknown law name, missing colon, wrong number of values, a value that
            is not a number, or parameters the law rejects (its own message).

    Example:
        >>> parse_law("shifted-exp: 1, 2")
        ShiftedExponential(shift=1.0, rate=2.0)
    """
    if not isinstance(spec, str):
        raise LawTypeError(f"`{name}` spec must be a string; got {type(spec).__name__}")
    law_name, colon, body = spec.partition(":")
    law_name = law_name.strip()
    if law_name in _FIXED and colon:
        form, count, make = _FIXED[law_name]
        values = _values(body, spec, name)
        if len(values) != count:
            want = f"{count} value" + ("s" if count > 1 else "")
            raise _count_error(spec, name, form, want, len(values))
        return make(*values)
    if law_name == "hyperexp" and colon:
        values = _values(body, spec, name)
        if len(values) < 2 or len(values) % 2:
            raise _count_error(
                spec, name, _HYPEREXP_FORM, "an even number >= 2 of values", len(values)
            )
        return HyperExponential(tuple(values[0::2]), tuple(values[1::2]))
    if law_name == "empirical" and colon:
        path = body.strip()
        if not path:
            raise LawError(f"`{name}` spec {spec!r} must name a file ({_EMPIRICAL_FORM})")
        return Empirical.from_file(path)
    if law_name == "scipy" and colon:
        return _parse_scipy(body, spec, name)
    raise LawError(f"`{name}` spec must be one of {', '.join(SPEC_FORMS)}; got {spec!r}")


def law_from(obj: Any, *, name: str = "dist") -> ComputeTimeLaw:
    """Coerce user input to a :class:`ComputeTimeLaw`.

    Args:
        obj: a law (returned as is), a spec string (see :func:`parse_law`) or a frozen
            ``scipy.stats`` continuous distribution (wrapped in :class:`ScipyLaw`).
        name: the option name used in error messages (keyword-only).

    Raises:
        TypeError: ``obj`` is none of these.
        ValueError: a bad spec string or scipy law.

    Example:
        >>> law_from("exp:2") == Exponential(2.0)
        True
    """
    if isinstance(obj, ComputeTimeLaw):
        return obj
    if isinstance(obj, str):
        return parse_law(obj, name=name)
    if is_frozen_continuous(obj):
        return ScipyLaw(obj)
    raise LawTypeError(
        f"`{name}` must be a ComputeTimeLaw, a spec string or a frozen scipy.stats continuous "
        f"distribution; got {type(obj).__name__}"
    )
