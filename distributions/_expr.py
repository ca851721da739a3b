"""Arithmetic in the values of a law's spec string: ``shifted-exp:0.5*m,1``.

A value may be a plain number or an expression in the symbols ``m`` (the mini-batch size)
and ``P`` (the number of learners), so that a compute time can follow them: Dutta et al.
2018's ``X ~ a m + exp(mu)`` is ``shifted-exp:a*m,mu``; Perrone et al.'s
``gamma max(M/P, M_T)`` is ``deterministic:gamma*max(M/P, M_T)`` with numbers for the
constants, and a server time ``delta P`` is ``deterministic:delta*P``.

Expressions are parsed with :mod:`ast` and checked against a strict whitelist: numbers
(plain decimals, as in a spec string), the names ``m`` and ``P``, ``+ - * / **``, unary
minus and plus, parentheses, and the functions ``min`` and ``max`` (two arguments or more).
Nothing is ever passed to ``eval``; arithmetic is in floats, so ``10**10**10`` overflows
instead of building a huge integer.
"""

from __future__ import annotations

import ast
import dataclasses
import math
import operator
import re
from collections.abc import Callable, Mapping

from ._checks import LawError, fmt
from ._text import shown

__all__ = ["SYMBOLS", "Expression", "compile_value", "split_values"]

#: The symbols a value may use and what they stand for (shown in messages).
SYMBOLS: dict[str, str] = {"m": "the mini-batch size", "P": "the number of learners"}
_FUNCTIONS: dict[str, Callable[..., float]] = {"min": min, "max": max}
_BINARY: dict[type, Callable[[float, float], float]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.Pow: operator.pow,
}
_UNARY: dict[type, Callable[[float], float]] = {ast.USub: operator.neg, ast.UAdd: operator.pos}
_NUMBER = re.compile(r"(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?", re.ASCII)
_MAX_LENGTH = 200
_NAMES = "m, P, min, max"
_KINDS = {ast.Attribute: "attribute access ", ast.Subscript: "indexing "}


@dataclasses.dataclass(frozen=True)
class Expression:
    """A checked value expression.

    Attributes:
        text: the value as typed (whitespace around it removed).
        symbols: the symbols it uses, a subset of ``{"m", "P"}``.
    """

    text: str
    symbols: frozenset[str]
    tree: ast.expr = dataclasses.field(repr=False, compare=False)

    def evaluate(self, env: Mapping[str, float]) -> float:
        """The value with the symbols of ``env``; a finite float.

        Raises:
            ValueError: the arithmetic fails (division by zero, overflow, a complex
                power) or gives a value that is not finite; the reason only, the caller
                adds the context.
        """
        try:
            value = _eval(self.tree, env)
        except ZeroDivisionError:
            raise ValueError("division by zero") from None
        except OverflowError:
            raise ValueError("overflow") from None
        except TypeError:  # min/max of a complex number
            value = complex(math.nan, 1.0)
        if isinstance(value, complex):
            raise ValueError("a complex number (a negative number to a fractional power)")
        if not math.isfinite(value):
            raise ValueError(fmt(value))
        return float(value)


def split_values(body: str) -> list[str]:
    """Split ``body`` at the commas outside parentheses (``max(m, 4),1`` is two values)."""
    out, depth, start = [], 0, 0
    for i, ch in enumerate(body):
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif ch == "," and depth == 0:
            out.append(body[start:i])
            start = i + 1
    out.append(body[start:])
    return out


def compile_value(token: str) -> Expression:
    """Check a value against the whitelist and return it as an :class:`Expression`.

    Raises:
        ValueError: the reason it is refused (e.g. ``unknown name 'x'``), without context.
    """
    text = token.strip()
    if not text:
        raise ValueError("nothing")
    if len(text) > _MAX_LENGTH:
        raise ValueError(f"an expression longer than {_MAX_LENGTH} characters")
    if not text.isascii():  # Python reads a fullwidth m as m, an Arabic-Indic 1 as 1
        raise ValueError("not ASCII")
    try:
        tree = ast.parse(text, mode="eval").body
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        raise ValueError("not a valid expression") from None
    symbols: set[str] = set()
    _check(tree, text, symbols)
    return Expression(text, frozenset(symbols), tree)


def _check(node: ast.AST, text: str, symbols: set[str]) -> None:
    if isinstance(node, ast.Constant):
        literal = ast.get_source_segment(text, node) or ""
        if isinstance(node.value, bool) or not _NUMBER.fullmatch(literal):
            text = literal if 0 < len(literal) <= 20 else shown(literal or node.value)
            raise ValueError(f"{text} is not a plain decimal number")
    elif isinstance(node, ast.Name):
        if node.id in _FUNCTIONS:
            raise ValueError(f"{node.id} must be called, e.g. {node.id}(m, 4)")
        if node.id not in SYMBOLS:
            raise ValueError(f"unknown name {shown(node.id)} (names: {_NAMES})")
        symbols.add(node.id)
    elif isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
        _check(node.left, text, symbols)
        _check(node.right, text, symbols)
    elif isinstance(node, ast.UnaryOp) and type(node.op) in _UNARY:
        _check(node.operand, text, symbols)
    elif isinstance(node, ast.Call):
        func = node.func
        if not isinstance(func, ast.Name) or func.id not in _FUNCTIONS:
            name = ast.get_source_segment(text, func) or type(func).__name__
            raise ValueError(f"{shown(name)} is not callable here (functions: min, max)")
        if (
            node.keywords
            or len(node.args) < 2
            or any(isinstance(a, ast.Starred) for a in node.args)
        ):
            raise ValueError(f"{func.id} takes two or more values, e.g. {func.id}(m, 4)")
        for arg in node.args:
            _check(arg, text, symbols)
    else:
        part = ast.get_source_segment(text, node) or type(node).__name__
        kind = _KINDS.get(type(node), "")
        raise ValueError(
            f"{kind}{shown(part)} is not allowed (numbers, {_NAMES}, + - * / ** and ( ))"
        )


def _eval(node: ast.expr, env: Mapping[str, float]) -> float:
    if isinstance(node, ast.Constant):
        return float(node.value)
    if isinstance(node, ast.Name):
        return float(env[node.id])
    if isinstance(node, ast.BinOp):
        return _BINARY[type(node.op)](_eval(node.left, env), _eval(node.right, env))
    if isinstance(node, ast.UnaryOp):
        return _UNARY[type(node.op)](_eval(node.operand, env))
    if isinstance(node, ast.Call):
        return _FUNCTIONS[node.func.id](*(_eval(a, env) for a in node.args))  # type: ignore[attr-defined]
    raise LawError(f"unexpected expression node {type(node).__name__}")  # pragma: no cover
