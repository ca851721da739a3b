"""TOML for experiment specs: read with the standard library, write flat tables by hand.

Spec values are strings, integers, finite floats, booleans and lists of those, so a small
writer covers them exactly; reading goes through ``tomllib`` (``tomli`` before 3.11). What
is read is bounded: a file is read only if it is a regular file of at most 1 MiB
(:mod:`simulator._files`), tables and arrays nest at most :data:`MAX_DEPTH` deep, and
integers are TOML's 64-bit ones; any failure is one line naming the file. A spec's JSON
(:func:`read_json`) is read with the same bounds.
"""

from __future__ import annotations

import json
import math
import os
import re
import sys
from pathlib import Path
from typing import Any

from simulator._files import MAX_FILE_BYTES, read_text_file
from simulator.errors import PssimTypeError, SpecError, shown

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

__all__ = ["MAX_DEPTH", "read_json", "read_toml", "read_toml_file", "write_toml"]

#: Deepest nesting of tables and arrays read (a spec needs 4: a table of lists of lists).
MAX_DEPTH = 16
#: TOML's integers are 64-bit: a parser must refuse the others (TOML 1.0, "Integer").
_INT_RANGE = (-(2**63), 2**63 - 1)
#: A run of digits longer than Python converts to an int (what tomllib then fails on).
_LONG_DIGITS = re.compile(r"[0-9_]{4300,}")


def _check_text(text: object, source: str, kind: str) -> None:
    """``text`` must be a str of at most 1 MiB (the size cap of the files it comes from)."""
    if not isinstance(text, str):
        raise PssimTypeError(f"`text` must be a str; got {type(text).__name__}", param="text")
    if len(text) > MAX_FILE_BYTES:
        raise SpecError(f"`{source}` must be at most 1 MiB of {kind}; got {len(text)} characters")


def read_toml(text: str, *, source: str) -> dict[str, Any]:
    """Parse TOML text; any failure is one :class:`SpecError` line naming ``source``.

    Raises:
        PssimTypeError: ``text`` is not a str.
        SpecError: more than 1 MiB of text, a syntax error, tables or arrays nested more
            than :data:`MAX_DEPTH` deep, or an integer outside TOML's 64-bit range.
    """
    _check_text(text, source, "TOML")
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise SpecError(f"`{source}` is not valid TOML: {err}") from None
    except RecursionError:
        raise SpecError(f"`{source}` is not valid TOML: nested too deeply") from None
    except ValueError:  # an integer of more digits than Python converts
        match = _LONG_DIGITS.search(text)
        line = text.count("\n", 0, match.start()) + 1 if match else "?"
        raise SpecError(
            f"`{source}` is not valid TOML: an integer of more than 4300 digits at line {line} "
            "(TOML integers are 64-bit)"
        ) from None
    _check_values(data, source)
    return data


def read_json(text: str, *, source: str = "JSON") -> Any:
    """Parse JSON text (a spec's :meth:`to_json`) with the same bounds as :func:`read_toml`.

    Raises:
        PssimTypeError: ``text`` is not a str.
        SpecError: more than 1 MiB, a syntax error, nesting deeper than :data:`MAX_DEPTH`
            or an integer of more than 4300 digits, in one line naming ``source``.
    """
    _check_text(text, source, "JSON")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as err:
        raise SpecError(f"`{source}` is not valid JSON: {err}") from None
    except RecursionError:
        raise SpecError(f"`{source}` is not valid JSON: nested too deeply") from None
    except ValueError:  # an integer of more digits than Python converts
        raise SpecError(
            f"`{source}` is not valid JSON: an integer of more than 4300 digits"
        ) from None
    if isinstance(data, dict):
        _check_values(data, source)
    return data


def _check_values(data: dict[str, Any], source: str) -> None:
    """Refuse nesting deeper than MAX_DEPTH and integers outside 64 bits (iteratively: a
    deep document must not exhaust the stack here either)."""
    stack: list[tuple[Any, int, str]] = [(data, 0, "")]
    while stack:
        value, depth, key = stack.pop()
        if depth > MAX_DEPTH:
            raise SpecError(
                f"`{source}` is not valid TOML: nested too deeply (tables and arrays at most "
                f"{MAX_DEPTH} deep)"
            )
        if isinstance(value, dict):
            stack.extend((v, depth + 1, str(k)) for k, v in value.items())
        elif isinstance(value, list):
            stack.extend((v, depth + 1, key) for v in value)
        elif isinstance(value, int) and not _INT_RANGE[0] <= value <= _INT_RANGE[1]:
            raise SpecError(
                f"key {shown(key)} in {source} must be a 64-bit integer (-2**63 to 2**63-1); "
                f"got {shown(value)}"
            )


def read_toml_file(path: str | os.PathLike, *, param: str = "path") -> dict[str, Any]:
    """The parsed content of a TOML file: a regular file of at most 1 MiB, read as UTF-8.

    Raises:
        PssimTypeError: ``path`` is not a str or os.PathLike.
        SpecError: an unreadable, special or too large file (``param`` is ``param``), or
            TOML that :func:`read_toml` refuses (naming the file).
    """
    text = read_text_file(path, param=param, kind="TOML file")
    return read_toml(text, source=Path(path).name)


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise SpecError(f"TOML value must be finite; got {value!r}")
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)  # a TOML basic string: JSON escapes are valid TOML
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_value(v) for v in value) + "]"
    raise SpecError(f"TOML value must be a string, number, boolean or list; got {value!r}")


def _key(key: str) -> str:
    bare = key.replace("-", "").replace("_", "").isalnum() and key.isascii()
    return key if bare else json.dumps(key)


def write_toml(tables: dict[str, dict[str, Any]]) -> str:
    """TOML text of ``{table: {key: value}}``; None values are left out."""
    lines: list[str] = []
    for table, values in tables.items():
        if lines:
            lines.append("")
        lines.append(f"[{_key(table)}]")
        lines.extend(f"{_key(k)} = {_value(v)}" for k, v in values.items() if v is not None)
    return "\n".join(lines) + "\n"
