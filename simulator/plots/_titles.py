"""Titles that say what was simulated, in words, wrapped at a fixed width.

:func:`figure_title` builds every figure's title: a head line (what is shown) and the
settings of what was simulated, as phrases ("learners with their own speeds (0.8 to 1.25)",
"durations of llm-se.csv, replayed", "push latency ~ exp:10"), taken from a spec
(:func:`spec_settings`) or from the settings constant over a table (:func:`table_settings`).
Numbers show at most four significant digits (a fitted law has sixteen); a file or folder
shows by its name only, never its path. Each kind of figure has a fixed width in inches
(:data:`FIGURE_WIDTHS`) and its titles wrap at a fixed number of characters
(:func:`title_width`), so a title never runs off its figure.
"""

from __future__ import annotations

import math
import re
import textwrap
from collections.abc import Iterable, Mapping, Sequence
from pathlib import PurePosixPath, PureWindowsPath
from typing import Any

import pandas as pd

__all__ = [
    "FIGURE_WIDTHS",
    "TITLE_SIZE",
    "figure_title",
    "setting_phrases",
    "short_numbers",
    "spec_settings",
    "table_settings",
    "title_width",
    "wrap_title",
]

#: Width in inches of each kind of figure, fixed so that its title wraps at a fixed width.
FIGURE_WIDTHS = {
    "error": 12.0,
    "staleness": 7.0,
    "timeline": 10.0,
    "speedup": 7.4,
    "runtime": 7.4,
    "curves": 12.0,
    "heatmap": 8.5,
    "fit": 13.0,
    "advice": 12.0,
}
#: Share of the figure's width a title may span: a figure title spans the figure, an axes
#: title its axes (which leave room for labels, a colour bar or a legend beside them).
_SPAN = {
    "error": 0.9,
    "curves": 0.9,
    "fit": 0.9,
    "advice": 0.9,
    "staleness": 0.8,
    "speedup": 0.8,
    "runtime": 0.8,
    "timeline": 0.7,
    "heatmap": 0.68,
}
#: Font size of every title, in points.
TITLE_SIZE = 10.0
#: Average width of a title character in ems (DejaVu Sans; digits and capitals are wider).
_CHAR_EM = 0.62
#: Settings a title names, in this order (spec fields under their Python names).
_ORDER = (
    "variant",
    "num_learners",
    "k",
    "law",
    "laws",
    "speeds",
    "durations",
    "push_latency",
    "pull_latency",
    "service_time",
    "failure",
    "availability",
    "deadline",
    "slowdown",
    "bandwidth",
    "server_bandwidth",
    "model_bytes",
    "batch_size",
    "updates",
    "time_budget",
    "rule",
    "lr",
    "lr_schedule",
    "model",
    "seeds",
)
#: Settings read beside those of :data:`_ORDER` (they qualify one of them).
_COMPANIONS = ("durations_mode", "data", "repair", "slowdown_shared", "servers")
#: Most distinct per-learner laws a title lists by name.
_MAX_LAWS = 3
_DECIMAL = re.compile(r"-?\d+\.\d+(?:[eE][-+]?\d+)?")


def title_width(kind: str) -> int:
    """Most characters on one line of a title of this kind of figure."""
    return int(FIGURE_WIDTHS[kind] * _SPAN[kind] * 72 / (TITLE_SIZE * _CHAR_EM))


def short_numbers(text: str) -> str:
    """``text`` with every decimal number shown to at most four significant digits
    (``lognormal:-0.8180086910515205,0.214009`` -> ``lognormal:-0.818,0.214``, ``1.0`` ->
    ``1``)."""
    return _DECIMAL.sub(lambda m: f"{float(m.group()):.4g}", text)


def _file_name(path: str) -> str:
    """A file's or folder's name, without the folders above it."""
    pure = PureWindowsPath(path) if "\\" in path else PurePosixPath(path)
    return pure.name or path


def _law_text(law: Any) -> str:
    """A law as typed, numbers shortened; an ``empirical:PATH`` law by its file's name (a
    law written in m and P, such as ``shifted-exp:0.1*m/P,1``, is kept whole)."""
    kind, sep, rest = str(law).partition(":")
    if kind == "empirical" and sep:
        return f"empirical:{_file_name(rest)}"
    return short_numbers(str(law))


def _data_text(data: Any) -> str:
    """A data set as typed, a folder or file (``mnist:DIR``, ``npz:PATH``) by its name."""
    kind, sep, rest = str(data).partition(":")
    if sep and kind != "synthetic":
        return f"{kind}:{_file_name(rest)}"
    return str(data)


def _missing(value: Any) -> bool:
    if value is None or value is pd.NA:
        return True
    return isinstance(value, float) and math.isnan(value)


def _items(value: Any) -> list[str]:
    """A per-learner list, as a spec holds it or as a sweep table joins it with ';'."""
    if isinstance(value, str):
        return [v for v in value.split(";") if v]
    return [str(v) for v in value]


def _number(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return short_numbers(str(value))


def _laws_text(value: Any) -> str:
    laws = [_law_text(v) for v in _items(value)]
    distinct = list(dict.fromkeys(laws))
    if len(distinct) == 1:
        return f"per-learner laws (all {distinct[0]})"
    if len(distinct) <= _MAX_LAWS:
        return "per-learner laws (" + "; ".join(distinct) + ")"
    return f"per-learner laws ({len(distinct)} distinct, e.g. {distinct[0]})"


def _speeds_text(value: Any) -> str:
    speeds = [float(v) for v in _items(value)]
    low, high = min(speeds), max(speeds)
    spread = f"{low:.4g}" if low == high else f"{low:.4g} to {high:.4g}"
    return f"learners with their own speeds ({spread})"


def _rate(value: Any) -> str:
    """A rate or size in short form: ``1e9`` for 1000000000.0, ``2.5e6``, ``300``."""
    text = f"{float(value):.4g}"
    mantissa, sep, exponent = text.partition("e")
    return mantissa + sep + str(int(exponent)) if sep else text


def _bytes_text(value: Any) -> str:
    """A size in bytes with a decimal unit: ``2.6 kB``, ``31 kB``, ``1.2 GB``."""
    x = float(value)
    for unit in ("B", "kB", "MB", "GB"):
        if x < 1000 or unit == "GB":
            return f"{x:.3g} {unit}"
        x /= 1000
    return f"{x:.3g} TB"  # pragma: no cover - the loop returns


def _bandwidth_text(value: Any) -> str:
    rates = [float(v) for v in _items(value)] if not isinstance(value, (int, float)) else [value]
    low, high = min(rates), max(rates)
    spread = _rate(low) if low == high else f"{_rate(low)} to {_rate(high)}"
    return f"bandwidth {spread} B/t"


def _network_phrase(field: str, value: Any, settings: Mapping[str, Any]) -> str | None:
    """A faults, slowdown or network setting in words."""
    if field == "failure":
        repair = settings.get("repair")
        return f"failures {_law_text(value)}" + (
            "" if _missing(repair) else f" / repairs {_law_text(repair)}"
        )
    if field == "availability":
        return f"down periods of {_file_name(str(value))}"
    if field == "deadline":
        return f"deadline {_number(value)}"
    if field == "slowdown":
        rate_in, rate_out, factor = (float(v) for v in _items(value))
        shared = settings.get("slowdown_shared")
        return f"slowdowns {_rate(rate_in)},{_rate(rate_out)},x{_rate(factor)}" + (
            " (shared)" if not _missing(shared) and bool(shared) else ""
        )
    if field == "bandwidth":
        return _bandwidth_text(value)
    if field == "server_bandwidth":
        servers = settings.get("servers")
        shards = 1 if _missing(servers) else int(servers)
        return f"server link {_rate(value)} B/t" + (f" x {shards} shards" if shards > 1 else "")
    if field == "model_bytes":
        return f"model {_bytes_text(value)}"
    return None


def _durations_text(value: Any, mode: Any) -> str:
    how = {"replay": "replayed", "resample": "resampled per worker"}.get(str(mode), str(mode))
    return f"durations of {_file_name(str(value))}" + ("" if _missing(mode) else f", {how}")


def _phrase(field: str, value: Any, settings: Mapping[str, Any]) -> str | None:
    """One setting in words, or None where the title leaves it out."""
    variant = str(settings.get("variant", ""))
    if field == "variant":
        return variant
    if field == "num_learners":
        return f"P={_number(value)}"
    if field == "k":
        if variant in ("sync", "async", "all-reduce"):  # K is implied (P or 1)
            return None
        return f"K={_number(value)}" + (" local steps" if variant == "k-avg" else "")
    if field == "law":
        return f"X ~ {_law_text(value)}"
    if field == "laws":
        return _laws_text(value)
    if field == "speeds":
        return _speeds_text(value)
    if field == "durations":
        return _durations_text(value, settings.get("durations_mode"))
    if field in ("push_latency", "pull_latency", "service_time"):
        name = "server service time" if field == "service_time" else field.replace("_", " ")
        return f"{name} ~ {_law_text(value)}"
    if field in _ORDER[_ORDER.index("failure") : _ORDER.index("batch_size")]:
        return _network_phrase(field, value, settings)
    if field == "batch_size":
        return f"m={_number(value)}"
    if field == "updates":
        return f"J={_number(value)}"
    if field == "time_budget":
        return f"time budget T={_number(value)}"
    if field in ("rule", "lr"):  # an lr typed as an expression shows as typed: lr=0.01*K
        return f"{field}={_number(value)}"
    if field == "lr_schedule":
        return f"lr schedule {value}"
    if field == "model":
        data = settings.get("data")
        return str(value) + ("" if _missing(data) else f" on {_data_text(data)}")
    if field == "seeds":
        n = int(value)
        return f"{n} seed" + ("" if n == 1 else "s")
    return None


def setting_phrases(settings: Mapping[str, Any], *, skip: Iterable[str] = ()) -> list[str]:
    """The settings in words, in a fixed order; unset ones (None, NaN) and ``skip`` left out.

    Example:
        >>> setting_phrases({"variant": "k-sync", "num_learners": 8, "k": 2,
        ...                  "speeds": [1.25, 0.8]})
        ['k-sync', 'P=8', 'K=2', 'learners with their own speeds (0.8 to 1.25)']
    """
    skip = set(skip)
    phrases = []
    for field in _ORDER:
        if field in skip or field not in settings or _missing(settings[field]):
            continue
        phrase = _phrase(field, settings[field], settings)
        if phrase:
            phrases.append(phrase)
    return phrases


def spec_settings(specs: Iterable[Any]) -> dict[str, Any]:
    """The settings every one of ``specs`` (experiment specs, or None) shares, by field
    name; empty when one is not a spec."""
    dicts = []
    for spec in specs:
        if spec is None or not hasattr(spec, "to_dict"):
            return {}
        dicts.append(spec.to_dict())
    if not dicts:
        return {}
    first, *rest = dicts
    return {
        field: value
        for field, value in first.items()
        if field in _ORDER + _COMPANIONS and all(d.get(field) == value for d in rest)
    }


def table_settings(table: pd.DataFrame) -> dict[str, Any]:
    """The settings that hold one value over every row of ``table`` (by column)."""
    out = {}
    for column in _ORDER + _COMPANIONS:
        if column in table.columns and table[column].nunique(dropna=False) == 1:
            value = table[column].iloc[0]
            if not _missing(value):
                out[column] = value.item() if hasattr(value, "item") else value
    return out


def wrap_title(lines: Sequence[str], phrases: Sequence[str], kind: str) -> str:
    """``lines`` (each wrapped on its own), then ``phrases`` joined by commas and wrapped
    between phrases where one fits, all at :func:`title_width` characters."""
    width = title_width(kind)
    out: list[str] = []
    for line in lines:
        out += textwrap.wrap(line, width, break_on_hyphens=False) or [""]
    phrased: list[str] = []
    for i, phrase in enumerate(phrases):
        text = phrase + ("," if i < len(phrases) - 1 else "")
        if phrased and len(phrased[-1]) + 1 + len(text) <= width:
            phrased[-1] += " " + text
        else:
            phrased += textwrap.wrap(text, width, break_on_hyphens=False)
    return "\n".join(out + phrased)


def figure_title(
    kind: str, head: str | Sequence[str], settings: Mapping[str, Any], *, skip: Iterable[str] = ()
) -> str:
    """A figure's title: ``head`` (a line or several), then what was simulated in words
    (:func:`setting_phrases` of ``settings`` less ``skip``), wrapped for this ``kind`` of
    figure (a key of :data:`FIGURE_WIDTHS`).

    Example:
        >>> figure_title("error", "Training error", {"num_learners": 4, "durations":
        ...              "/data/llm-se.csv", "durations_mode": "replay"})
        'Training error\\nP=4, durations of llm-se.csv, replayed'
    """
    lines = [head] if isinstance(head, str) else list(head)
    return wrap_title(lines, setting_phrases(settings, skip=skip), kind)
