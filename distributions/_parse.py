"""Spec strings (``exp:1.0``, ``pareto:2,1``, ``shifted-exp:0.5*m,1``, ...) and coercion of
user input to a law."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import scipy.stats

from ._base import ComputeTimeLaw
from ._checks import LawError, LawTypeError, check_real, fmt
from ._deterministic import Deterministic
from ._empirical import Empirical
from ._exponential import Exponential, ShiftedExponential
from ._expr import SYMBOLS, Expression, compile_value, split_values
from ._gamma import Gamma
from ._hyperexp import HyperExponential
from ._lognormal import LogNormal
from ._pareto import Pareto
from ._scipy_law import ScipyLaw, is_frozen_continuous
from ._text import shown
from ._weibull import Weibull

__all__ = ["SPEC_FORMS", "law_from", "law_symbols", "parse_law"]

_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?", re.ASCII)
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*", re.ASCII)

# law name -> (form shown in messages, number of values, constructor from the values)
_FIXED: dict[str, tuple[str, int, Callable[..., ComputeTimeLaw]]] = {
    "exp": ("exp:RATE", 1, Exponential),
    "shifted-exp": ("shifted-exp:SHIFT,RATE", 2, ShiftedExponential),
    "pareto": ("pareto:SHAPE,SCALE", 2, Pareto),
    "gamma": ("gamma:SHAPE,RATE", 2, Gamma),
    "weibull": ("weibull:SHAPE,SCALE", 2, Weibull),
    "lognormal": ("lognormal:MU,SIGMA", 2, LogNormal),
    "deterministic": ("deterministic:VALUE", 1, Deterministic),
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


def _value(token: str, spec: str, name: str) -> float | Expression:
    text = token.strip()
    if _NUMBER.fullmatch(text):
        return float(text)
    if not text:
        raise LawError(f"`{name}` value '' in {shown(spec)} must be a number")
    try:
        return compile_value(text)
    except ValueError as why:
        raise LawError(
            f"`{name}` value {shown(text)} in {shown(spec)} must be a number or an expression "
            f"in m and P; got {why}"
        ) from None


def _values(body: str, spec: str, name: str) -> list[float | Expression]:
    return [_value(tok, spec, name) for tok in split_values(body)]


def _count_error(spec: str, name: str, form: str, want: str, got: int) -> LawError:
    return LawError(f"`{name}` spec {shown(spec)} must have {want} ({form}); got {got}")


_Maker = Callable[[list[float]], ComputeTimeLaw]


def _scipy_form(body: str, spec: str, name: str) -> tuple[_Maker, list[float | Expression]]:
    match = re.fullmatch(r"\s*([^()\s]+)\s*\((.*)\)\s*", body)
    if match is None or not _NAME.fullmatch(match.group(1)):
        raise LawError(f"`{name}` spec {shown(spec)} must look like {_SCIPY_FORM}")
    dist = getattr(scipy.stats, match.group(1), None)
    if not isinstance(dist, scipy.stats.rv_continuous):
        raise LawError(
            f"`{name}` spec {shown(spec)} must name a scipy.stats continuous distribution; "
            f"got {shown(match.group(1))}"
        )
    keys: list[str] = []
    values: list[float | Expression] = []
    for item in filter(None, (s.strip() for s in split_values(match.group(2)))):
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep or not _NAME.fullmatch(key) or key in keys:
            raise LawError(f"`{name}` spec {shown(spec)} must look like {_SCIPY_FORM}")
        keys.append(key)
        values.append(_value(value, spec, name))

    def make(numbers: list[float]) -> ComputeTimeLaw:
        try:
            frozen = dist(**dict(zip(keys, numbers, strict=True)))
        except TypeError as exc:
            why = str(exc) if len(str(exc)) <= 120 else f"{str(exc)[:120]}…"
            raise LawError(f"`{name}` spec {shown(spec)} has bad arguments: {why}") from None
        return ScipyLaw(frozen)

    return make, values


def _check_ascii(text: str, spec: str, name: str) -> None:
    """Refuse characters other than printable ASCII and tabs: ``float`` and Python read
    Arabic-Indic or fullwidth digits (``exp:١``) and fullwidth letters (``ｍ``) as ASCII ones,
    and ``strip`` removes no-break spaces; a law string must say what it looks like."""
    for at, char in enumerate(text):
        if not (char.isascii() and (char.isprintable() or char == "\t")):
            raise LawError(
                f"`{name}` spec {shown(spec)} must be ASCII (digits 0-9, letters, spaces); "
                f"got {char!r} (U+{ord(char):04X}) at position {at}"
            )


def _form(spec: Any, name: str) -> tuple[_Maker, list[float | Expression]]:
    """The law's constructor from its values, and the values (numbers or expressions)."""
    if not isinstance(spec, str):
        raise LawTypeError(f"`{name}` spec must be a string; got {type(spec).__name__}")
    law_name, colon, body = spec.partition(":")
    _check_ascii(spec if law_name.strip() != "empirical" or not colon else law_name, spec, name)
    law_name = law_name.strip()
    if law_name in _FIXED and colon:
        form, count, make = _FIXED[law_name]
        values = _values(body, spec, name)
        if len(values) != count:
            want = f"{count} value" + ("s" if count > 1 else "")
            raise _count_error(spec, name, form, want, len(values))
        return (lambda numbers: make(*numbers)), values
    if law_name == "hyperexp" and colon:
        values = _values(body, spec, name)
        if len(values) < 2 or len(values) % 2:
            raise _count_error(
                spec, name, _HYPEREXP_FORM, "an even number >= 2 of values", len(values)
            )
        return (lambda v: HyperExponential(tuple(v[0::2]), tuple(v[1::2]))), values
    if law_name == "empirical" and colon:
        path = body.strip()
        if not path:
            raise LawError(f"`{name}` spec {shown(spec)} must name a file ({_EMPIRICAL_FORM})")
        return (lambda _: Empirical.from_file(path)), []
    if law_name == "scipy" and colon:
        return _scipy_form(body, spec, name)
    raise LawError(f"`{name}` spec must be one of {', '.join(SPEC_FORMS)}; got {shown(spec)}")


def _symbols(values: list[float | Expression]) -> frozenset[str]:
    return frozenset(s for v in values if isinstance(v, Expression) for s in v.symbols)


def law_symbols(spec: str, *, name: str = "dist") -> frozenset[str]:
    """The symbols (``m``, ``P``) that the values of a spec string use; checks its syntax.

    Empty for a law given by numbers only (``"exp:1"``, ``"exp:1/2"``).

    Raises:
        TypeError: ``spec`` is not a string.
        ValueError: the spec is malformed (as :func:`parse_law` says).

    Example:
        >>> sorted(law_symbols("deterministic:0.01*max(m/P, 4)"))
        ['P', 'm']
    """
    return _symbols(_form(spec, name)[1])


def _env(m: Any, P: Any) -> dict[str, float]:
    given = {"m": m, "P": P}
    return {s: check_real(s, v, "> 0") for s, v in given.items() if v is not None}


def parse_law(
    spec: str,
    *,
    name: str = "dist",
    m: float | None = None,
    P: float | None = None,
) -> ComputeTimeLaw:
    """Parse a compute-time law from a spec string (strict).

    Forms: ``exp:RATE``, ``shifted-exp:SHIFT,RATE``, ``pareto:SHAPE,SCALE``,
    ``gamma:SHAPE,RATE``, ``weibull:SHAPE,SCALE``, ``lognormal:MU,SIGMA``,
    ``deterministic:VALUE``, ``hyperexp:P1,RATE1,P2,RATE2[,...]``, ``empirical:PATH`` (a
    ``.npy``, ``.csv`` or ``.txt`` file) and ``scipy:NAME(ARG=VALUE, ...)`` (a
    ``scipy.stats`` continuous law). Whitespace around tokens is ignored; values are plain
    decimal numbers (no ``nan``, ``inf``) or arithmetic expressions in the mini-batch size
    ``m`` and the number of learners ``P`` (numbers, ``m``, ``P``, ``+ - * / **``,
    parentheses, ``min``, ``max``; e.g. ``shifted-exp:0.5*m,1`` is Dutta et al.'s
    ``X ~ 0.5 m + exp(1)``), resolved with the ``m`` and ``P`` given here. A spec is
    printable ASCII (the path of ``empirical:`` excepted): ``exp:١`` or ``exp:１`` is refused,
    not read as ``exp:1``. A refusal quotes at most a short prefix of a long spec.
    ``parse_law(law.spec) == law`` for every law built from parameters or a file.

    Args:
        spec: the spec string, e.g. ``"pareto:2,1"``.
        name: the option name used in error messages (keyword-only).
        m: the mini-batch size, for specs that use ``m`` (> 0).
        P: the number of learners, for specs that use ``P`` (> 0).

    Returns:
        The law (with the values of ``m`` and ``P`` filled in).

    Raises:
        TypeError: ``spec`` is not a string.
        ValueError: unknown law name, missing colon, non-ASCII characters, wrong number of
            values, a value that is neither a number nor an allowed expression, a symbol
            used but not given, arithmetic that fails, or parameters the law rejects (its
            own message, with ``m`` and ``P`` where the spec uses them).

    Example:
        >>> parse_law("shifted-exp: 1, 2")
        ShiftedExponential(shift=1.0, rate=2.0)
        >>> parse_law("shifted-exp:0.5*m,1", m=4)
        ShiftedExponential(shift=2.0, rate=1.0)
    """
    make, values = _form(spec, name)
    env = _env(m, P)
    used = _symbols(values)
    for symbol in SYMBOLS:
        if symbol in used and symbol not in env:
            raise LawError(
                f"`{name}` spec {shown(spec)} uses {symbol} ({SYMBOLS[symbol]}), which is not "
                f"given here; pass {symbol}=... (an experiment spec passes its own)"
            )
    at = ", ".join(f"{s}={fmt(m if s == 'm' else P)}" for s in SYMBOLS if s in used)
    numbers = []
    for value in values:
        if isinstance(value, Expression):
            try:
                value = value.evaluate(env)
            except ValueError as why:
                raise LawError(
                    f"`{name}` value {shown(value.text)} in {shown(spec)} must give a finite "
                    f"number (with {at or 'no symbols'}); got {why}"
                ) from None
        numbers.append(value)
    if not used:
        return make(numbers)
    try:
        return make(numbers)
    except LawError as err:
        raise type(err)(f"`{name}` {shown(spec)} with {at}: {err}") from None


def law_from(
    obj: Any,
    *,
    name: str = "dist",
    m: float | None = None,
    P: float | None = None,
) -> ComputeTimeLaw:
    """Coerce user input to a :class:`ComputeTimeLaw`.

    Args:
        obj: a law (returned as is), a spec string (see :func:`parse_law`) or a frozen
            ``scipy.stats`` continuous distribution (wrapped in :class:`ScipyLaw`).
        name: the option name used in error messages (keyword-only).
        m, P: the mini-batch size and the number of learners, for spec strings that use
            them (see :func:`parse_law`); ignored for laws given as objects.

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
        return parse_law(obj, name=name, m=m, P=P)
    if is_frozen_continuous(obj):
        return ScipyLaw(obj)
    raise LawTypeError(
        f"`{name}` must be a ComputeTimeLaw, a spec string or a frozen scipy.stats continuous "
        f"distribution; got {type(obj).__name__}"
    )
