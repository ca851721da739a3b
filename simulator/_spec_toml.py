"""TOML for experiment specs: read with the standard library, write flat tables by hand.

Spec values are strings, integers, finite floats, booleans and lists of those, so a small
writer covers them exactly; reading goes through ``tomllib`` (``tomli`` before 3.11).
"""

from __future__ import annotations

import json
import math
import sys
from typing import Any

from simulator.errors import SpecError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

__all__ = ["read_toml", "write_toml"]


def read_toml(text: str, *, source: str) -> dict[str, Any]:
    """Parse TOML text; a syntax error is one line naming ``source``."""
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise SpecError(f"`{source}` is not valid TOML: {err}") from None


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
