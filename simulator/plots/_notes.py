"""Legend lines for theory that is missing: which series has none, and why.

A figure that draws theory beside simulation says where it draws none, with the reason the
theory gives (a :class:`~simulator.theory.runtime.Prediction`'s ``source`` when its relation
is ``none``), so a missing line is never mistaken for a line hidden under another.
"""

from __future__ import annotations

import textwrap
from typing import Any

from matplotlib.lines import Line2D

__all__ = [
    "NOTE_WIDTH",
    "bound_reason",
    "grouped_notes",
    "missing_note",
    "note_handle",
    "value_list",
]

#: Characters per line of a legend note (legends sit beside or inside the axes).
NOTE_WIDTH = 46


def _without_prefix(reason: str, name: str) -> str:
    """``reason`` without a leading ``NAME:`` that repeats the series' name (the theory
    writes "K-async: no bound for ..." and the note already starts with "k-async:")."""
    head, sep, rest = reason.partition(":")
    if sep and head.strip().lower() == name.lower() and rest.strip():
        return rest.strip()
    return reason.strip()


def missing_note(name: str, what: str, reason: str | None) -> str:
    """``NAME: WHAT (REASON)``, wrapped at :data:`NOTE_WIDTH` characters, e.g.
    ``k-async: no theory at K=2, 4 (no bound for a law that is neither NLTU nor NSTU)``."""
    text = f"{name}: {what}"
    reason = _without_prefix(reason, name) if reason else ""
    if reason:
        text += f" ({reason})"
    return "\n".join(textwrap.wrap(text, NOTE_WIDTH, break_on_hyphens=False))


def value_list(values) -> str:
    """Values as ``2, 4, 8``, runs of three or more consecutive integers as ``2-8``."""
    numbers = [float(v) for v in values]
    parts: list[str] = []
    i = 0
    while i < len(numbers):
        j = i
        while j + 1 < len(numbers) and numbers[j].is_integer() and numbers[j + 1] == numbers[j] + 1:
            j += 1
        if j - i >= 2:
            parts.append(f"{numbers[i]:g}-{numbers[j]:g}")
        else:
            parts += [f"{v:g}" for v in numbers[i : j + 1]]
        i = j + 1
    return ", ".join(parts)


def note_handle(text: str) -> Line2D:
    """A legend entry with no line and no marker: the text alone."""
    return Line2D([], [], linestyle="none", marker="none", label=text)


def bound_reason(run: Any) -> str:
    """Why :func:`~simulator.studies.bounds.bound_curves` gives ``run`` no error bound, in
    the order it decides: K-AVG, all-reduce, Rennala and Ringmaster are outside Dutta et
    al.'s analysis, and so are the dc-asgd and staleness-weight rules and a learning-rate
    schedule (the bounds take a fixed, damped or compensated rate); non-identical learners
    (per-learner laws, speeds or measured durations) and communication times have no bound;
    otherwise the loss is not strongly convex (Theorem 5 bounds gradients, not the error)."""
    if str(getattr(run, "variant", "")) in ("k-avg", "all-reduce", "rennala", "ringmaster"):
        return "outside Dutta et al.'s analysis"
    spec = getattr(run, "spec", None)
    if spec is not None and getattr(spec, "rule", "fixed") in ("dc-asgd", "staleness-weight"):
        return f"the {spec.rule} rule"
    if spec is not None and getattr(spec, "lr_schedule", None) is not None:
        return "a learning-rate schedule"
    measured = getattr(spec, "durations", None) is not None
    if spec is not None and (measured or getattr(spec, "heterogeneous", False)):
        return "learners not identical"
    if spec is not None and getattr(spec, "communication", False):
        return "communication times"
    return "a loss that is not strongly convex"


def grouped_notes(missing: list[tuple[str, str]], what: str) -> list[Line2D]:
    """One legend note per reason: ``(name, reason)`` pairs with the same reason share
    one line (``sync, k-async: no bound (learners not identical)``)."""
    by_reason: dict[str, list[str]] = {}
    for name, reason in missing:
        by_reason.setdefault(reason, []).append(name)
    return [
        note_handle(missing_note(", ".join(names), what, reason))
        for reason, names in by_reason.items()
    ]
