"""The sweep spec: an experiment spec plus the values to sweep, and its configurations.

A sweep file is a ``--config`` TOML file (``[timing]`` and ``[training]`` tables, or flat
keys) with three more tables:

- ``[grid]``: keys of the spec, each with a non-empty list of values; the configurations
  are the cartesian product of the lists.
- ``[[zip]]`` (any number of them): keys whose lists have one length and vary together,
  e.g. a mini-batch size with the shift of its shifted-exponential compute time.
- ``[sweep]``: ``kind = "timing"`` (runtimes beside their theory, no model) or
  ``"training"`` (every configuration replayed as real SGD). Without it a file with a
  ``[training]`` table, or one that sweeps a training key, is a training sweep.

Every configuration is replicated over the spec's seeds (``seeds`` is set once, never
swept: a configuration's identity leaves its seed count out). The variants ``sync`` and
``async`` imply their K, so a swept K does not multiply them (duplicates are dropped).

A ``durations`` or ``availability`` file (set or swept) is read once, a relative path from
the sweep file's folder; the sweep's identity (:meth:`SweepSpec.digest`) holds the file's
SHA-256, not its path, so a store stays the same sweep's when the file moves.

Example:
    >>> sweep = SweepSpec.from_toml('''
    ... [timing]
    ... iterations = 100
    ... seeds = 3
    ... [grid]
    ... variant = ["k-sync", "k-async"]
    ... K = [1, 2, 4]
    ... ''')
    >>> len(sweep.configurations())
    6
"""

from __future__ import annotations

import dataclasses
import itertools
import math
import os
from pathlib import Path
from typing import Any

from simulator import _spec_checks as checks
from simulator._spec_policy import refuse_loss_policy
from simulator._spec_toml import read_toml, write_toml
from simulator._staleness_auto import refuse_auto
from simulator.errors import PssimError, SpecError
from simulator.errors import shown as echo
from simulator.spec import (
    TIMING_FIELDS,
    TRAINING_FIELDS,
    ExperimentSpec,
    digest_of,
    read_toml_text,
)
from simulator.studies._variant_specs import inapplicable
from simulator.studies.sweeps._figures import FIGURE_KINDS, check_figure, figure_fields
from simulator.studies.sweeps._figures import setting_field as _field
from simulator.studies.sweeps._files_in_sweep import (
    FILE_KEYS,
    absolute,
    file_identity,
    read_files,
)
from simulator.studies.sweeps._units import config_key
from simulator.timing._memory import check_timing_memory

__all__ = ["FIGURE_KINDS", "KINDS", "SweepSpec", "read_sweep_file"]

#: What a sweep runs: timing only, or timing and the replayed training.
KINDS = ("timing", "training")
_SWEEP_KEYS = ("kind",)
#: Most configurations a sweep may have (counted from its axes before they are expanded).
MAX_CONFIGURATIONS = 10**5


def _values(key: str, values: Any, source: str, where: str) -> list:
    if not isinstance(values, list) or not values:
        raise SpecError(
            f"{where}`{key}` in {source} must be a non-empty list of values; got {echo(values)}",
            param=key,
        )
    return values


def _parse_grid(table: Any, source: str) -> dict[str, list]:
    if not isinstance(table, dict):
        raise SpecError(f"[grid] in {source} must be a table of lists; got {echo(table)}")
    return {
        _field(k, source, "[grid] "): _values(k, v, source, "[grid] ") for k, v in table.items()
    }


def _parse_zip(tables: Any, source: str) -> list[dict[str, list]]:
    if not isinstance(tables, list) or not all(isinstance(t, dict) for t in tables):
        raise SpecError(f"[[zip]] in {source} must be tables of lists; got {echo(tables)}")
    zips = []
    for table in tables:
        if not table:
            raise SpecError(f"a [[zip]] table in {source} is empty")
        zipped = {
            _field(k, source, "[[zip]] "): _values(k, v, source, "[[zip]] ")
            for k, v in table.items()
        }
        lengths = {checks.TOML_KEY[k]: len(v) for k, v in zipped.items()}
        if len(set(lengths.values())) > 1:
            shown = ", ".join(f"{k}: {n}" for k, n in lengths.items())
            raise SpecError(
                f"the lists of a [[zip]] table in {source} must have one length; got {shown}"
            )
        zips.append(zipped)
    return zips


@dataclasses.dataclass(frozen=True, eq=False)
class SweepSpec:
    """A base experiment, the swept values and the kind of sweep.

    Attributes:
        base: the experiment's settings by field name (what ``[timing]``/``[training]``
            hold; unset fields take the spec's defaults).
        grid: field -> values; the configurations are their cartesian product.
        zips: groups of fields whose values vary together (each a field -> values dict,
            all lists of one length); combined with the grid as a product.
        kind: ``timing`` or ``training``.
        figures: figures to draw from the results (``[[figure]]`` tables: ``kind``, and
            ``by``, ``x``, ``y``, ``target``, ``value``, ``where``, ``name``); they are not
            part of the sweep's identity (:meth:`digest`).
        folder: the folder a relative ``durations`` or ``availability`` path is read from
            (the sweep file's; None: the working directory).
    """

    base: dict[str, Any]
    grid: dict[str, list]
    zips: tuple[dict[str, list], ...] = ()
    kind: str | None = None
    figures: tuple[dict[str, Any], ...] = ()
    source: str = dataclasses.field(default="the sweep", repr=False)
    folder: str | os.PathLike | None = dataclasses.field(default=None, repr=False)

    def __post_init__(self) -> None:
        source = self.source
        base = checks.normalise_keys(self.base, source=source, allowed=())
        grid = _parse_grid(self.grid, source)
        zips = tuple(_parse_zip(list(self.zips), source))
        read_files(base, grid, zips, self.folder)
        swept = set(grid) | {k for z in zips for k in z}
        if not swept:
            raise SpecError(f"{source} has no [grid] or [[zip]] table: nothing to sweep")
        kind = self.kind
        if kind is None:
            training = (set(base) | swept) & set(TRAINING_FIELDS)
            kind = "training" if training else "timing"
        if kind not in KINDS:
            raise SpecError(
                f"`kind` must be one of {', '.join(KINDS)}; got {echo(kind)}", param="kind"
            )
        if not isinstance(self.figures, (list, tuple)):
            raise SpecError(f"[[figure]] in {source} must be tables; got {echo(self.figures)}")
        figures = tuple(figure_fields(f, source) for f in self.figures)
        for name, value in (("base", base), ("grid", grid), ("zips", zips), ("kind", kind)):
            object.__setattr__(self, name, value)
        object.__setattr__(self, "figures", figures)
        seen: dict[str, str] = {}
        for where, table in [("[grid]", grid)] + [("[[zip]]", z) for z in zips]:
            for key in table:
                if key == "seeds":  # the replicates of every configuration, not a setting
                    raise SpecError(
                        f"`seeds` is swept in {where}; set it once: every configuration runs "
                        "the same seeds (raise it to grow the sweep)",
                        param="seeds",
                    )
                if key in seen or key in base:
                    other = seen.get(key, "the experiment's tables")
                    raise SpecError(
                        f"`{checks.TOML_KEY[key]}` is swept in {where} and set in {other}; "
                        "give it once",
                        param=key,
                    )
                seen[key] = where
        _check_count(grid, zips, source)  # before anything is expanded
        # every configuration is validated before anything runs
        configs = _configurations(self)
        object.__setattr__(self, "_configs", [spec for spec, _ in configs])
        object.__setattr__(self, "_config_points", [point for _, point in configs])
        names: dict[str, int] = {}
        for figure in figures:
            check_figure(figure, self.kind, self.swept(), self.configurations())
            name = figure.get("name", figure["kind"])
            if name in names:
                raise SpecError(
                    f"two [[figure]] tables in {source} write {name}.png; give each its own `name`",
                    param="name",
                )
            names[name] = 1

    # -- configurations ------------------------------------------------------------------
    def _points(self) -> list[dict[str, Any]]:
        axes: list[list[dict[str, Any]]] = [
            [{key: v} for v in values] for key, values in self.grid.items()
        ]
        for zipped in self.zips:
            keys, rows = list(zipped), zip(*zipped.values(), strict=True)
            axes.append([dict(zip(keys, row, strict=True)) for row in rows])
        return [
            {k: v for part in combo for k, v in part.items()} for combo in itertools.product(*axes)
        ]

    def configurations(self) -> list[ExperimentSpec]:
        """The validated configurations, in grid order, without duplicates.

        Raises:
            SpecError: a configuration fails validation; the message names its swept values.
        """
        return list(self._configs)

    def configuration_points(self) -> list[dict[str, Any]]:
        """The swept values (field -> value, as the file gives them) of each configuration
        of :meth:`configurations`, in the same order: the first point that made it."""
        return [dict(point) for point in self._config_points]

    def describe(self, config: str) -> str:
        """The swept values of the configuration with key ``config`` (``K=2, batch=4``), or
        the key itself if it is not one of this sweep's."""
        for spec in self._configs:
            if config_key(spec) == config:
                d = spec.to_dict()
                return ", ".join(f"{checks.TOML_KEY[f]}={d[f]!r}" for f in self.swept())
        return config

    def swept(self) -> list[str]:
        """The swept fields, grid first then zips, in file order."""
        return [*self.grid, *(k for z in self.zips for k in z)]

    # -- identity and files --------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """Plain dict: ``base`` (every spec field, defaults filled in), ``grid``, ``zip``
        and ``kind``; what :meth:`digest` hashes."""
        base = _base_dict(self)
        return {
            "base": base,
            "grid": {k: list(v) for k, v in self.grid.items()},
            "zip": [{k: list(v) for k, v in z.items()} for z in self.zips],
            "kind": self.kind,
        }

    def digest(self) -> str:
        """Stable 16-hex-digit hash of :meth:`to_dict` (a store belongs to one sweep), with
        a durations or availability file as the SHA-256 of its bytes instead of its path."""
        d = self.to_dict()
        identity = self._configs[0].identity()
        for key in FILE_KEYS:
            if d["base"].get(key) is not None:
                d["base"][key] = identity[key]
            for table in [d["grid"], *d["zip"]]:
                if key in table:
                    table[key] = [file_identity(key, v) for v in table[key]]
        return digest_of(d)

    def to_toml(self) -> str:
        """The sweep as a TOML file that :meth:`from_toml` reads back (keys as the CLI's),
        from any folder: a durations or availability file is written as its absolute path."""
        d = self.to_dict()
        for table, read in zip(
            [d["base"], d["grid"], *d["zip"]], [self.base, self.grid, *self.zips], strict=True
        ):
            for key in FILE_KEYS:
                value = read.get(key)
                if value is not None:
                    table[key] = (
                        [absolute(v) for v in value] if isinstance(value, list) else absolute(value)
                    )
        timing = {checks.TOML_KEY[f]: v for f, v in d["base"].items() if f in TIMING_FIELDS}
        training = {checks.TOML_KEY[f]: v for f, v in d["base"].items() if f in TRAINING_FIELDS}
        text = write_toml(
            {
                "sweep": {"kind": self.kind},
                "timing": timing,
                "training": training,
                "grid": {checks.TOML_KEY[f]: v for f, v in d["grid"].items()},
            }
        )
        for zipped in d["zip"]:
            body = write_toml({"zip": {checks.TOML_KEY[f]: v for f, v in zipped.items()}})
            text += "\n" + body.replace("[zip]", "[[zip]]", 1)
        return text

    @classmethod
    def from_dict(
        cls,
        data: dict[str, Any],
        *,
        source: str = "sweep",
        folder: str | os.PathLike | None = None,
    ) -> SweepSpec:
        """A sweep from parsed TOML: spec tables plus ``grid``, ``zip``, ``sweep`` and
        ``figure``. Without ``[sweep] kind``, a ``[training]`` table or a swept training
        key makes a training sweep."""
        if not isinstance(data, dict):
            raise SpecError(f"`{source}` must hold a table of settings")
        data = dict(data)
        grid = data.pop("grid", {})
        zips = data.pop("zip", [])
        zips = [zips] if isinstance(zips, dict) else zips
        figures = data.pop("figure", [])
        figures = [figures] if isinstance(figures, dict) else figures
        options = data.pop("sweep", {})
        if not isinstance(options, dict):
            raise SpecError(f"[sweep] in {source} must be a table; got {echo(options)}")
        unknown = sorted(set(options) - set(_SWEEP_KEYS))
        if unknown:
            raise SpecError(f"[sweep] key {echo(unknown[0])} in {source} is not a sweep setting")
        kind = options.get("kind")
        if kind is None and isinstance(data.get("training"), dict):
            kind = "training"
        return cls(
            base=data,
            grid=grid,
            zips=zips,
            kind=kind,
            figures=figures,
            source=source,
            folder=folder,
        )

    @classmethod
    def from_toml(cls, text: str, *, source: str = "TOML") -> SweepSpec:
        return cls.from_dict(read_toml(text, source=source), source=source)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, SweepSpec):
            return NotImplemented
        return self.digest() == other.digest()

    def __hash__(self) -> int:
        return hash(self.digest())


def read_sweep_file(path: str | os.PathLike) -> SweepSpec:
    """Read a sweep TOML file (see the module docstring).

    Raises:
        SpecError: an unreadable file, or one that is not a regular file of at most 1 MiB
            (``param`` is ``path``), invalid TOML, an unknown key, an empty list, or a
            configuration that fails validation.
    """
    path = Path(path)
    text = read_toml_text(path)
    return SweepSpec.from_dict(
        read_toml(text, source=path.name), source=path.name, folder=path.absolute().parent
    )


def _base_dict(sweep: SweepSpec) -> dict[str, Any]:
    """The settings shared by every configuration, defaults filled in and normalised (a
    configuration's values; ``k`` as given, since ``sync`` and ``async`` drop theirs)."""
    first = sweep.configurations()[0].to_dict()
    swept = set(sweep.swept())
    base = {k: v for k, v in first.items() if k not in swept}
    if "k" in base:
        base["k"] = sweep.base.get("k")
    return base


def _shown(point: dict[str, Any]) -> str:
    return ", ".join(f"{checks.TOML_KEY[k]}={v!r}" for k, v in point.items())


def _check_count(grid: dict[str, list], zips: tuple[dict[str, list], ...], source: str) -> None:
    """Refuse a sweep of more than :data:`MAX_CONFIGURATIONS` configurations, counted as
    the product of its axes' lengths (a grid key, or a zip of keys, per axis)."""
    axes = [(checks.TOML_KEY[k], len(v)) for k, v in grid.items()]
    axes += [(",".join(checks.TOML_KEY[k] for k in z), len(next(iter(z.values())))) for z in zips]
    count = math.prod(n for _, n in axes)
    if count > MAX_CONFIGURATIONS:
        shown = " x ".join(f"{name} {n}" for name, n in axes)
        raise SpecError(
            f"[grid] and [[zip]] of {source} make {count} configurations ({shown}), more "
            f"than the cap of {MAX_CONFIGURATIONS}; sweep fewer values",
            param="grid",
        )


def _configurations(sweep: SweepSpec) -> list[tuple[ExperimentSpec, dict[str, Any]]]:
    """Every configuration with the point (swept values) that first made it, validated, its
    timing checked against the memory budget as ``compare`` checks it in a training sweep
    (all its seeds' traces are kept for the replay) and as ``runtime`` does in a timing
    sweep (one earlier trace is held while the next seed runs), duplicates dropped."""
    out: dict[str, tuple[ExperimentSpec, dict[str, Any]]] = {}
    training = sweep.kind == "training"
    for point in sweep._points():
        settings = {**sweep.base, **point}
        if settings.get("variant") is not None:  # what a variant has no use for is off,
            settings.update(inapplicable(settings["variant"], settings.get))  # as in compare
        try:
            spec = ExperimentSpec(**settings)
            if not training:
                refuse_auto(spec, "a timing sweep")
                refuse_loss_policy(
                    spec,
                    ", so it runs in a training sweep (a [training] table), not a timing "
                    f"sweep; got {spec.k_policy!r}",
                )
            check_timing_memory(spec, kept=spec.seeds if training else min(spec.seeds - 1, 1))
        except PssimError as err:
            raise SpecError(f"configuration ({_shown(point)}): {err}", param=err.param) from None
        out.setdefault(spec.digest(), (spec, point))
    return list(out.values())
