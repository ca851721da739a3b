"""The project's exception family: what a user did wrong, in one line.

Every error pssim raises for bad input is a :class:`PssimError` (a ``ValueError``) or a
:class:`PssimTypeError` (also a ``TypeError``); the compute-time laws and the models raise
their own family members (``distributions.LawError``, ``models.DataError``), because those
packages import nothing of the simulator. :data:`USER_ERRORS` is the whole family: the CLI
turns exactly these into one line and exit status 2; anything else is a bug and keeps its
traceback.

A message names what the user typed: ``param`` holds the Python argument (``"updates"``),
and the CLI shows its own option instead (``--iterations must be >= 1; got 0``). It quotes
at most a short prefix of a long value (:func:`shown`: ``'exp:1111…' (100004 characters)``),
and the CLI cuts whatever line it prints to :data:`MAX_LINE` characters (:func:`one_line`).
"""

from __future__ import annotations

from distributions import LawError
from distributions._text import shown
from models import DataError

__all__ = [
    "MAX_LINE",
    "USER_ERRORS",
    "PssimError",
    "PssimTypeError",
    "SpecError",
    "one_line",
    "shown",
]

#: Longest error line the CLI prints (characters); a longer message is cut, with its length.
MAX_LINE = 400


class PssimError(ValueError):
    """Bad input to pssim, with the parameter it concerns.

    Args:
        message: one line naming the parameter, the rule and the value, e.g.
            "`updates` must be >= 1; got 0".
        param: the Python argument the message names (without backticks), or None.
    """

    def __init__(self, message: str, *, param: str | None = None) -> None:
        super().__init__(message)
        self.param = param

    def renamed(self, name: str) -> str:
        """The message with the parameter shown as ``name`` (e.g. a CLI option)."""
        text = str(self)
        if self.param is None:
            return text
        return text.replace(f"`{self.param}`", name)


class PssimTypeError(PssimError, TypeError):
    """A pssim argument of the wrong type (also a ``TypeError``)."""


class SpecError(PssimError):
    """An experiment spec (keyword arguments, CLI options or a TOML file) is invalid."""


#: Every exception pssim raises for bad input: catch these, let anything else through.
USER_ERRORS: tuple[type[Exception], ...] = (PssimError, LawError, DataError)


def one_line(text: str, limit: int = MAX_LINE) -> str:
    """``text`` as one line of at most about ``limit`` characters: line breaks become spaces
    and a longer text keeps its start, an ellipsis and its length.

    Example:
        >>> one_line("`dist` bad\\nvalue " + "x" * 500, limit=20)
        '`dist` bad value xxx… (517 characters)'
    """
    line = " ".join(text.splitlines())
    if len(line) <= limit:
        return line
    return f"{line[:limit]}… ({len(line)} characters)"
