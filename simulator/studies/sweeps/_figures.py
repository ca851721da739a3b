"""The ``[[figure]]`` tables of a sweep file: their keys, and checks that what each one
draws exists and fits it, made before anything runs."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from distributions import LawError, law_symbols
from simulator import _spec_checks as checks
from simulator.errors import SpecError
from simulator.errors import shown as echo
from simulator.spec import ExperimentSpec

__all__ = ["FIGURE_KINDS", "check_figure", "figure_fields", "setting_field"]

#: Figures a sweep can draw: kind -> (the sweep kind it needs, the keys it requires).
FIGURE_KINDS = {
    "speedup": ("timing", ()),
    "runtime-vs-k": ("timing", ()),
    "curves": ("training", ("by",)),
    "heatmap": ("training", ("x", "y")),
}
_FIGURE_KEYS = ("kind", "name", "by", "x", "y", "target", "value", "where")
_FIGURE_COLUMNS = ("by", "x", "y")
_LAW_FIELDS = ("law", "push_latency", "pull_latency", "service_time", "failure", "repair")


def setting_field(key: Any, source: str, where: str) -> str:
    """The spec field a sweep file's key names (``K`` -> ``k``), or one line saying it is
    not a setting."""
    field = checks.KEY_ALIASES.get(str(key).replace("-", "_"))
    if field is None:
        raise SpecError(
            f"{where}key {echo(key)} in {source} is not a pssim setting", param=str(key)
        )
    return field


def figure_fields(figure: dict[str, Any], source: str) -> dict[str, Any]:
    """A ``[[figure]]`` table with its column keys mapped to field names."""
    if not isinstance(figure, dict):
        raise SpecError(f"[[figure]] in {source} must be tables; got {echo(figure)}")
    unknown = sorted(set(figure) - set(_FIGURE_KEYS))
    if unknown:
        raise SpecError(
            f"[[figure]] key {echo(unknown[0])} in {source} is not a figure setting "
            f"({', '.join(_FIGURE_KEYS)})"
        )
    out = dict(figure)
    for key in _FIGURE_COLUMNS:
        if key in out:
            out[key] = setting_field(out[key], source, f"[[figure]] {key}: ")
    where = out.get("where", {})
    if not isinstance(where, dict):
        raise SpecError(f"[[figure]] `where` in {source} must be a table; got {echo(where)}")
    out["where"] = {}
    for key, value in where.items():
        field = setting_field(key, source, "[[figure]] where: ")
        if field in _LAW_FIELDS:  # as the results table writes it: "exp:1" is "exp:1.0"
            value = _law_as_written(value)
        out["where"][field] = value
    return out


def _law_as_written(value: Any) -> Any:
    """A law as a configuration's dict writes it: canonical, or as typed when it uses m
    or P (a row's law column holds the expression; its m and P are columns too)."""
    try:
        if isinstance(value, str) and law_symbols(value):
            return value
    except LawError:
        pass  # the spec below says what is wrong
    return ExperimentSpec(law=value).law.spec


def check_figure(
    figure: dict[str, Any], kind_of_sweep: str, swept: Sequence[str], configurations
) -> None:
    """Check one ``[[figure]]`` table of a sweep of kind ``kind_of_sweep`` (``timing`` or
    ``training``) whose ``swept`` fields take their values in ``configurations`` (its
    ExperimentSpecs), before anything runs."""
    kind = figure.get("kind")
    if kind not in FIGURE_KINDS:
        raise SpecError(
            f"[[figure]] `kind` must be one of {', '.join(FIGURE_KINDS)}; got {kind!r}",
            param="kind",
        )
    needs, keys = FIGURE_KINDS[kind]
    if kind_of_sweep != needs:
        raise SpecError(f"a {kind} figure needs a {needs} sweep; this one is {kind_of_sweep}")
    for key in keys:
        if key not in figure:
            raise SpecError(f"a {kind} figure needs `{key}` (a swept key)", param=key)
    for key in _FIGURE_COLUMNS:
        if key in figure and figure[key] not in swept:
            raise SpecError(
                f"[[figure]] `{key}` must be a swept key "
                f"({', '.join(checks.TOML_KEY[k] for k in swept)}); "
                f"got {checks.TOML_KEY[figure[key]]!r}",
                param=key,
            )
    if "target" in figure:
        target = figure["target"]
        if isinstance(target, bool) or not isinstance(target, (int, float)):
            raise SpecError(f"[[figure]] `target` must be a number; got {target!r}")
    if figure.get("value") not in (None, "error", "loss"):
        raise SpecError(f"[[figure]] `value` must be error or loss; got {figure['value']!r}")
    _check_selection(figure, swept, configurations)
    name = figure.get("name", kind)
    if (
        not isinstance(name, str)
        or not name
        or not name.replace("-", "").replace("_", "").isalnum()
    ):
        raise SpecError(
            f"[[figure]] `name` must be letters, digits, - and _ (a file name); got {name!r}"
        )


#: Per figure kind, the swept keys that may vary within what it draws.
_MAY_VARY = {
    "speedup": ("variant", "num_learners", "law", "k"),
    "runtime-vs-k": ("variant", "k"),
    "curves": (),
    "heatmap": (),
}


def _check_selection(figure: dict[str, Any], swept: Sequence[str], configurations) -> None:
    """Check, before anything runs, that the configurations a figure draws exist and fit it
    (what the results table will hold: one row per configuration here)."""
    kind = figure["kind"]
    label = f"[[figure]] {figure.get('name', kind)}"
    rows = [{**c.to_dict(), "k": c.canonical[1]} for c in configurations]
    for field, value in figure.get("where", {}).items():
        values = sorted({str(r.get(field)) for r in rows})
        rows = [r for r in rows if r.get(field) == value]
        if not rows:
            raise SpecError(
                f"{label}: `where` {checks.TOML_KEY[field]} = {value!r} selects no "
                f"configuration (values: {', '.join(values)})"
            )
    if kind == "speedup":
        rows = [r for r in rows if r["variant"] in ("sync", "async")]
        if {r["variant"] for r in rows} != {"sync", "async"}:
            raise SpecError(f"{label}: a speedup figure needs variants sync and async")
    if kind == "runtime-vs-k":
        for field in ("law", "num_learners"):
            values = {str(r[field]) for r in rows}
            if len(values) > 1:
                raise SpecError(
                    f"{label}: a runtime-vs-k figure draws one law and one P; it would draw "
                    f"{checks.TOML_KEY[field]} = {', '.join(sorted(values))}: choose one with "
                    f"where = {{ {checks.TOML_KEY[field]} = ... }}"
                )
    free = [f for f in (*_MAY_VARY[kind], *(figure.get(k) for k in _FIGURE_COLUMNS)) if f]
    groups: dict[tuple, list[dict[str, Any]]] = {}
    for r in rows:  # one series (or cell) per value of the keys the figure spreads out
        groups.setdefault(tuple(str(r.get(f)) for f in free), []).append(r)
    for field in swept:
        if field in free:
            continue
        for group in groups.values():
            values = {str(r.get(field)) for r in group}
            if len(values) > 1:
                key = checks.TOML_KEY[field]
                raise SpecError(
                    f"{label}: {key} is swept too ({', '.join(sorted(values))}) and would "
                    f"mix in one series; choose one with where = {{ {key} = ... }}"
                )
