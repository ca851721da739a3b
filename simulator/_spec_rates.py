"""Learning rates that follow the configuration, and learning-rate schedules (spec checks).

``lr`` (and ``lr_c``, ``dc_lambda``) may be a number or an expression in ``K``, ``m`` and
``P``, so that comparing K (or m, P) fairly needs no learning-rate grid: ``"0.01*K"``,
``"0.05*sqrt(m)"``, ``"min(0.1, 0.01*K)"``. ``K`` is the variant's resolved K (P for
``sync`` and ``all-reduce``, 1 for ``async`` and ``ringmaster``, the local steps of
``k-avg``, the batch of ``rennala``), ``m`` the mini-batch size (``batch_size``) and ``P``
the number of learners. An expression is parsed by the checker of a law's values
(``distributions._expr``, with the vocabulary :data:`RATE_VALUES`): with :mod:`ast`
against a whitelist of plain decimal numbers, the names ``K``, ``m`` and ``P``,
``+ - * / **``, unary minus and plus, parentheses, ``min``/``max`` (two values or more)
and ``sqrt`` (one); nothing is passed to ``eval``.
The spec holds the value resolved for its own configuration and keeps the string as typed
(:data:`TYPED_RATES`).

``lr_schedule`` (:func:`parse_schedule`) multiplies update j's rate by a factor f(j):

- None: constant, f(j) = 1;
- ``step:FACTOR,EVERY``: f(j) = FACTOR ** floor(j / EVERY), 0 < FACTOR <= 1;
- ``cosine`` or ``cosine:ALPHA``: cosine decay over the run's J updates, f(j) =
  (1 - ALPHA) (1 + cos(pi j / J)) / 2 + ALPHA, 0 <= ALPHA <= 1 (default 0);
- ``warmup:N``: f(j) = j / N for j < N, then 1 (linear from 0 over N updates);
- ``warmup:N+cosine[:ALPHA]`` or ``warmup:N+step:FACTOR,EVERY``: the warm-up, then the
  other schedule counted from update N (a cosine over the J - N updates left).

j counts the run's updates from 0; J is the number of updates the run has (under a time
budget, the updates it completes by T; see :mod:`simulator.training._schedules`). A
warm-up of N >= J updates rises over the whole run.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import re
from collections.abc import Mapping
from typing import Any

from distributions._expr import Expression, Vocabulary, compile_value
from simulator.errors import SpecError, shown

__all__ = [
    "RATE_DEFAULTS",
    "RATE_NAMES",
    "SCHEDULE_FORMS",
    "TYPED_RATES",
    "Schedule",
    "check_schedule",
    "parse_schedule",
    "resolve_rate",
]

#: Key of the spec checks' result holding the rates typed as expressions (field -> string).
TYPED_RATES = "_typed_rates"
#: Opt-in fields of this module with the value that leaves them out of a spec's dict.
RATE_DEFAULTS: dict[str, Any] = {"lr_schedule": None}
#: What a rate expression may use: K, m, P, min, max (two values or more) and sqrt.
RATE_VALUES = Vocabulary(
    symbols=("K", "m", "P"),
    functions={"min": (min, None), "max": (max, None), "sqrt": (math.sqrt, 1)},
    unknown_call="unknown function {name} (names: K, m, P, min, max, sqrt)",
    quote_numbers=True,
)
RATE_NAMES = RATE_VALUES.names


@functools.lru_cache(maxsize=1024)
def _compile(text: str) -> Expression:
    """The checked expression (the same checker as a law's values, with K, m, P and sqrt).

    Raises:
        ValueError: why it is refused (e.g. ``unknown name 'k'``), without context.
    """
    return compile_value(text, RATE_VALUES)


def resolve_rate(
    name: str, text: str, env: Mapping[str, int], rule: str
) -> tuple[float, str | None]:
    """A rate typed as a string, resolved for one configuration.

    Args:
        name: the field (``lr``, ``lr_c``, ``dc_lambda``), named in errors.
        text: the string as typed: a number or an expression in K, m and P.
        env: the configuration's ``{"K": K, "m": m, "P": P}``.
        rule: ``"> 0"`` or ``">= 0"``, what the value must be.

    Returns:
        ``(value, text)``: the resolved float, and ``text`` when it uses K, m or P (None for
        a plain number, which the spec then holds as the number).

    Raises:
        SpecError: a name or form the whitelist refuses (one line naming it and the allowed
            names), or a value that is not finite or breaks ``rule`` for this configuration
            (naming the K, m and P used).
    """
    try:
        expression = _compile(text)
    except ValueError as reason:
        raise SpecError(
            f"`{name}` must be a number or an expression in K, m and P; got {shown(text)}: "
            f"{reason}",
            param=name,
        ) from None
    used = ", ".join(f"{s}={env[s]}" for s in RATE_VALUES.symbols)
    try:
        x = expression.value(env)
    except ValueError as reason:
        raise SpecError(
            f"`{name}` must be a finite number {rule}; got no number from {shown(text)} "
            f"with {used}: {reason}",
            param=name,
        ) from None
    if not (math.isfinite(x) and (x > 0 if rule == "> 0" else x >= 0)):
        raise SpecError(
            f"`{name}` must be a finite number {rule}; got {x!r} from {shown(text)} with {used}",
            param=name,
        )
    return x, (text if expression.symbols else None)


# -- schedules --------------------------------------------------------------------------
SCHEDULE_FORMS = "step:FACTOR,EVERY, cosine[:ALPHA], warmup:N, or warmup:N+ either of the first two"
_INT = re.compile(r"[0-9]+", re.ASCII)
_FLOAT = re.compile(r"(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?", re.ASCII)


@dataclasses.dataclass(frozen=True)
class Schedule:
    """A parsed ``lr_schedule``: the factor f(j) of update j's rate (see the module).

    Attributes:
        warmup: N >= 0 updates of linear warm-up from 0 (0: none).
        kind: after the warm-up, ``constant``, ``step`` or ``cosine``.
        factor: ``step``'s FACTOR in (0, 1].
        every: ``step``'s EVERY >= 1 updates.
        alpha: ``cosine``'s floor ALPHA in [0, 1], a fraction of the rate.
    """

    warmup: int = 0
    kind: str = "constant"
    factor: float = 1.0
    every: int = 1
    alpha: float = 0.0


def _part(part: str) -> dict[str, Any]:
    """One ``+``-separated part of a schedule as :class:`Schedule` fields."""
    kind, _, body = part.partition(":")
    values = body.split(",") if body else []
    if kind == "warmup" and len(values) == 1 and _INT.fullmatch(values[0]):
        n = int(values[0])
        if n >= 1:
            return {"warmup": n}
        raise ValueError(f"warm-up N must be >= 1; got {n}")
    if kind == "cosine" and len(values) <= 1 and all(_FLOAT.fullmatch(v) for v in values):
        alpha = float(values[0]) if values else 0.0
        if alpha <= 1:
            return {"kind": "cosine", "alpha": alpha}
        raise ValueError(f"cosine ALPHA must be in [0, 1]; got {values[0]}")
    if (
        kind == "step"
        and len(values) == 2
        and _FLOAT.fullmatch(values[0])
        and _INT.fullmatch(values[1])
    ):
        factor, every = float(values[0]), int(values[1])
        if not 0 < factor <= 1:
            raise ValueError(f"step FACTOR must be in (0, 1]; got {values[0]}")
        if every < 1:
            raise ValueError(f"step EVERY must be >= 1; got {every}")
        return {"kind": "step", "factor": factor, "every": every}
    raise ValueError(f"{shown(part)} is not one of them")


@functools.lru_cache(maxsize=256)
def _parse(text: str) -> Schedule:
    parts = text.split("+")
    if len(parts) > 2 or (len(parts) == 2 and not parts[0].startswith("warmup:")):
        raise ValueError("only a warm-up may come before another schedule (warmup:N+...)")
    fields: dict[str, Any] = {}
    for part in parts:
        got = _part(part)
        if "warmup" in got and fields:
            raise ValueError("the warm-up comes first")
        fields.update(got)
    return Schedule(**fields)


def parse_schedule(value: Any) -> Schedule:
    """The :class:`Schedule` of an ``lr_schedule`` string (spaces ignored).

    Example:
        >>> parse_schedule("warmup:100+cosine:0.1")
        Schedule(warmup=100, kind='cosine', factor=1.0, every=1, alpha=0.1)

    Raises:
        SpecError: not one of :data:`SCHEDULE_FORMS`, or a value out of its range.
    """
    if not isinstance(value, str):
        raise SpecError(
            f"`lr_schedule` must be one of {SCHEDULE_FORMS}; got {shown(value)}",
            param="lr_schedule",
        )
    try:
        return _parse("".join(value.split()))
    except ValueError as reason:
        raise SpecError(
            f"`lr_schedule` must be one of {SCHEDULE_FORMS}; got {shown(value)}: {reason}",
            param="lr_schedule",
        ) from None


def check_schedule(value: Any) -> str | None:
    """``lr_schedule`` checked: None, or the string without spaces (what the spec keeps).

    A warm-up may be as long as the run or longer (its J is not known ahead under a time
    budget): the rate then rises over the whole run, to ``lr * (J - 1) / N`` at its last
    update.

    Raises:
        SpecError: see :func:`parse_schedule`.
    """
    if value is None:
        return None
    parse_schedule(value)
    return "".join(value.split())
