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
instead of building a huge integer. Other settings parse their expressions with the same
checker and another :class:`Vocabulary` (the spec's learning rates, in K, m and P).
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

__all__ = ["LAW_VALUES", "SYMBOLS", "Expression", "Vocabulary", "compile_value", "split_values"]

#: The symbols a value may use and what they stand for (shown in messages).
SYMBOLS: dict[str, str] = {"m": "the mini-batch size", "P": "the number of learners"}
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
_KINDS = {ast.Attribute: "attribute access ", ast.Subscript: "indexing "}


@dataclasses.dataclass(frozen=True)
class Vocabulary:
    """What an expression may use, and how its refusals say it.

    Attributes:
        symbols: the names it may use.
        functions: name -> (function, number of arguments; None: two or more).
        unknown_call: the refusal of a call to anything else, with ``{name}`` (quoted).
        quote_numbers: show a refused literal quoted (else as typed, when short).
    """

    symbols: tuple[str, ...]
    functions: Mapping[str, tuple[Callable[..., float], int | None]]
    unknown_call: str
    quote_numbers: bool = False

    @property
    def names(self) -> str:
        """Every name it allows, as messages list them (``m, P, min, max``)."""
        return ", ".join((*self.symbols, *self.functions))

    def example(self, function: str) -> str:
        """A call of ``function`` as messages show one: ``max(m, 4)``, ``sqrt(m)``."""
        return f"{function}(m)" if self.functions[function][1] == 1 else f"{function}(m, 4)"


#: The values of a law's spec string: m and P, min and max.
LAW_VALUES = Vocabulary(
    symbols=tuple(SYMBOLS),
    functions={"min": (min, None), "max": (max, None)},
    unknown_call="{name} is not callable here (functions: min, max)",
)


@dataclasses.dataclass(frozen=True)
class Expression:
    """A checked value expression.

    Attributes:
        text: the value as typed (whitespace around it removed).
        symbols: the symbols it uses, a subset of its vocabulary's.
    """

    text: str
    symbols: frozenset[str]
    tree: ast.expr = dataclasses.field(repr=False, compare=False)
    vocabulary: Vocabulary = dataclasses.field(default=LAW_VALUES, repr=False, compare=False)

    def value(self, env: Mapping[str, float]) -> float:
        """The value with the symbols of ``env`` (possibly not finite).

        Raises:
            ValueError: the arithmetic gives no real number (division by zero, overflow,
                a complex power, the square root of a negative number); the reason only,
                the caller adds the context.
        """
        try:
            value = _eval(self.tree, env, self.vocabulary.functions)
        except ZeroDivisionError:
            raise ValueError("division by zero") from None
        except OverflowError:
            raise ValueError("overflow") from None
        except ValueError:  # math.sqrt of a negative number
            raise ValueError("the square root of a negative number") from None
        except TypeError:  # min/max of a complex number
            value = complex(math.nan, 1.0)
        if isinstance(value, complex):
            raise ValueError("a complex number (a negative number to a fractional power)")
        return float(value)

    def evaluate(self, env: Mapping[str, float]) -> float:
        """The value with the symbols of ``env``; a finite float.

        Raises:
            ValueError: as :meth:`value`, or a value that is not finite.
        """
        value = self.value(env)
        if not math.isfinite(value):
            raise ValueError(fmt(value))
        return value


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


def compile_value(token: str, vocabulary: Vocabulary = LAW_VALUES) -> Expression:
    """Check a value against the whitelist of ``vocabulary`` and return it as an
    :class:`Expression`.

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
    _check(tree, text, symbols, vocabulary)
    return Expression(text, frozenset(symbols), tree, vocabulary)


def _check(node: ast.AST, text: str, symbols: set[str], words: Vocabulary) -> None:
    if isinstance(node, ast.Constant):
        literal = ast.get_source_segment(text, node) or ""
        if isinstance(node.value, bool) or not _NUMBER.fullmatch(literal):
            short = 0 < len(literal) <= 20 and not words.quote_numbers
            text = literal if short else shown(literal or node.value)
            raise ValueError(f"{text} is not a plain decimal number")
    elif isinstance(node, ast.Name):
        if node.id in words.functions:
            raise ValueError(f"{node.id} must be called, e.g. {words.example(node.id)}")
        if node.id not in words.symbols:
            raise ValueError(f"unknown name {shown(node.id)} (names: {words.names})")
        symbols.add(node.id)
    elif isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
        _check(node.left, text, symbols, words)
        _check(node.right, text, symbols, words)
    elif isinstance(node, ast.UnaryOp) and type(node.op) in _UNARY:
        _check(node.operand, text, symbols, words)
    elif isinstance(node, ast.Call):
        func = node.func
        if not isinstance(func, ast.Name) or func.id not in words.functions:
            name = ast.get_source_segment(text, func) or type(func).__name__
            raise ValueError(words.unknown_call.format(name=shown(name)))
        arity = words.functions[func.id][1]
        count_ok = len(node.args) == arity if arity else len(node.args) >= 2
        if node.keywords or not count_ok or any(isinstance(a, ast.Starred) for a in node.args):
            wanted = "one value" if arity == 1 else "two or more values"
            raise ValueError(f"{func.id} takes {wanted}, e.g. {words.example(func.id)}")
        for arg in node.args:
            _check(arg, text, symbols, words)
    else:
        part = ast.get_source_segment(text, node) or type(node).__name__
        kind = _KINDS.get(type(node), "")
        raise ValueError(
            f"{kind}{shown(part)} is not allowed (numbers, {words.names}, + - * / ** and ( ))"
        )


def _eval(node: ast.expr, env: Mapping[str, float], functions: Mapping) -> float:
    if isinstance(node, ast.Constant):
        return float(node.value)
    if isinstance(node, ast.Name):
        return float(env[node.id])
    if isinstance(node, ast.BinOp):
        left, right = _eval(node.left, env, functions), _eval(node.right, env, functions)
        return _BINARY[type(node.op)](left, right)
    if isinstance(node, ast.UnaryOp):
        return _UNARY[type(node.op)](_eval(node.operand, env, functions))
    if isinstance(node, ast.Call):
        function = functions[node.func.id][0]  # type: ignore[attr-defined]
        return function(*(_eval(a, env, functions) for a in node.args))
    raise LawError(f"unexpected expression node {type(node).__name__}")  # pragma: no cover
