"""The advisor's input: a sweep file (the cluster, the problem, the candidates) plus an
``[advise]`` table (the target and the constraints).

The sweep's settings describe the cluster (law or per-learner laws, speeds, measured
durations, communication) and the training problem (model, data, rule, l2); its ``[grid]``
and ``[[zip]]`` tables list the candidates (variant, K, mini-batch size, learning rate,
optionally P). The ``[advise]`` table holds:

- ``target``: the error level F(w) - F* to reach (the loss where F* is unknown), or
  ``target-accuracy`` (a test accuracy to reach, in (0, 1]) or ``target-fraction`` (a
  fraction of the initial error, in (0, 1)); exactly one of them;
- ``window``: simulated time a seed must stay at or below the target (default: the rest
  of its run);
- ``time-budget``: the simulated time every candidate trains for (its horizon); default:
  the sweep's own ``time-budget``, else the longest time any candidate takes for the
  sweep's ``iterations``, so every candidate runs at least that many updates;
- ``learner-hours``: most learner-hours (P x time to target / 3600, the simulated time
  read as seconds) a recommended candidate may use;
- ``max-seeds`` (default 12) and ``initial-seeds`` (default 3): seeds per candidate;
- ``finalists`` (default 3): candidates of the theory screen simulated besides those it
  cannot rank;
- ``cluster``: a config file (e.g. what ``pssim fit --out`` writes) whose settings describe
  the cluster (learners, law, speeds, laws, durations...), read relative to the advise
  file's folder; its keys join the advise file's settings (a key given in both is refused).
"""

from __future__ import annotations

import dataclasses
import math
import os
from pathlib import Path
from typing import Any

from simulator._checks import VARIANT_ALIASES
from simulator._files import read_text_file
from simulator._spec_checks import TOML_KEY, normalise_keys
from simulator._spec_toml import read_toml
from simulator.errors import SpecError, shown
from simulator.spec import ExperimentSpec, read_toml_text
from simulator.studies.sweeps._spec import SweepSpec

__all__ = ["ADVISE_KEYS", "AdviseSettings", "Candidate", "read_advise_config"]

#: The keys of the ``[advise]`` table.
ADVISE_KEYS = (
    "target",
    "target-accuracy",
    "target-fraction",
    "window",
    "time-budget",
    "learner-hours",
    "max-seeds",
    "initial-seeds",
    "finalists",
    "cluster",
)
_TARGETS = ("target", "target-accuracy", "target-fraction")
#: Fields the advisor sets itself: a sweep file must not sweep them.
_NOT_SWEPT = ("updates", "time_budget", "seeds", "seed")
#: Largest seed budget per candidate (each seed is a full training run).
MAX_SEEDS = 1000


@dataclasses.dataclass(frozen=True)
class AdviseSettings:
    """The ``[advise]`` table, checked.

    Attributes:
        target_kind: ``"target"`` (an error or loss level), ``"target-accuracy"`` or
            ``"target-fraction"``.
        target: its value.
        window: simulated time a seed must stay at or below the target (None: the rest
            of the run).
        time_budget: the horizon every candidate trains for (None: chosen from the sweep).
        learner_hours: the most learner-hours a recommendation may use (None: no cap).
        max_seeds, initial_seeds: seeds per candidate at most, and in the first round.
        finalists: how many of the theory screen's best candidates are simulated.
    """

    target_kind: str
    target: float
    window: float | None = None
    time_budget: float | None = None
    learner_hours: float | None = None
    max_seeds: int = 12
    initial_seeds: int = 3
    finalists: int = 3

    def target_text(self) -> str:
        """E.g. ``error <= 0.05``, ``accuracy >= 0.9``, ``error <= 0.1 x initial``."""
        if self.target_kind == "target-accuracy":
            return f"accuracy >= {self.target:g}"
        if self.target_kind == "target-fraction":
            return f"error <= {self.target:g} x its initial value"
        return f"error <= {self.target:g}"

    def target_arguments(self) -> dict[str, float]:
        """The keyword of :func:`~simulator.results.targets.time_to_target_table`."""
        name = {"target": "target", "target-accuracy": "target_accuracy"}
        return {name.get(self.target_kind, "target_fraction"): self.target}


@dataclasses.dataclass(frozen=True)
class Candidate:
    """One configuration the advisor ranks.

    Attributes:
        index: its position in the sweep's grid order.
        spec: the configuration (its horizon and seeds are set per round).
        point: the swept values, by field name, as the sweep file gives them (with the
            K of a ``sync`` or ``async`` point, which the configuration ignores).
    """

    index: int
    spec: ExperimentSpec
    point: dict[str, Any]

    def settings(self) -> dict[str, Any]:
        """The swept values under their file keys (``K``, ``batch``, ``lr``...), without
        the K that ``sync`` and ``async`` imply."""
        implied = self.spec.variant in VARIANT_ALIASES
        return {TOML_KEY[f]: v for f, v in self.point.items() if not (implied and f == "k")}

    @property
    def label(self) -> str:
        """The swept values in words, e.g. ``variant=k-sync, K=4, lr=0.05``."""
        return ", ".join(f"{key}={value}" for key, value in self.settings().items())


def _number(key: str, value: Any, rule: str, ok) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise SpecError(f"[advise] `{key}` must be a number {rule}; got {shown(value)}", param=key)
    value = float(value)
    if not math.isfinite(value) or not ok(value):
        raise SpecError(f"[advise] `{key}` must be {rule}; got {shown(value)}", param=key)
    return value


def _count(key: str, value: Any, least: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not least <= value <= MAX_SEEDS:
        raise SpecError(
            f"[advise] `{key}` must be an integer in [{least}, {MAX_SEEDS}]; got {shown(value)}",
            param=key,
        )
    return value


def parse_advise_table(table: Any, source: str) -> AdviseSettings:
    """The ``[advise]`` table of ``source``, checked (one line per mistake)."""
    if not isinstance(table, dict):
        raise SpecError(f"{source} must have an [advise] table (target = ...); got none")
    unknown = sorted(set(table) - set(ADVISE_KEYS))
    if unknown:
        raise SpecError(
            f"[advise] key {shown(unknown[0])} in {source} is not an advisor setting "
            f"({', '.join(ADVISE_KEYS)})",
            param=str(unknown[0]),
        )
    given = [k for k in _TARGETS if k in table]
    if len(given) != 1:
        what = "none" if not given else " and ".join(given)
        raise SpecError(
            f"[advise] in {source} must give one of {', '.join(_TARGETS)}; got {what}",
            param="target",
        )
    kind = given[0]
    rules = {
        "target": ("> 0", lambda v: v > 0),
        "target-accuracy": ("in (0, 1]", lambda v: 0 < v <= 1),
        "target-fraction": ("in (0, 1)", lambda v: 0 < v < 1),
    }
    target = _number(kind, table[kind], *rules[kind])
    positive = ("> 0", lambda v: v > 0)
    optional = {
        key.replace("-", "_"): _number(key, table[key], *positive) if key in table else None
        for key in ("window", "time-budget", "learner-hours")
    }
    max_seeds = _count("max-seeds", table.get("max-seeds", 12), 2)
    initial = _count("initial-seeds", table.get("initial-seeds", min(3, max_seeds)), 2)
    if initial > max_seeds:
        raise SpecError(
            f"[advise] `initial-seeds` must be <= max-seeds ({max_seeds}); got {initial}",
            param="initial-seeds",
        )
    finalists = _count("finalists", table.get("finalists", 3), 1)
    return AdviseSettings(
        kind, target, **optional, max_seeds=max_seeds, initial_seeds=initial, finalists=finalists
    )


#: Tables of a sweep file besides its settings.
_SWEEP_TABLES = ("grid", "zip", "sweep", "figure")


def _with_cluster(
    data: dict[str, Any],
    cluster: Any,
    source: str,
    folder: str | os.PathLike | None,
    param: str = "cluster",
) -> dict[str, Any]:
    """``data`` with the settings of the ``cluster`` config file added (flat keys);
    ``param`` names where the path was given in messages."""
    if not isinstance(cluster, (str, os.PathLike)) or not str(cluster).strip():
        raise SpecError(
            f"[advise] cluster in {source} must be the path of a config file; got {shown(cluster)}",
            param="cluster",
        )
    path = Path(cluster)
    if not path.is_absolute() and folder is not None:  # read from the advise file's folder
        path = _relative(Path(folder) / path)
    text = read_text_file(path, param=param, kind="TOML file")
    added = normalise_keys(read_toml(text, source=path.name), source=path.name)
    if not added:
        raise SpecError(
            f"`{param}` file {path.name} sets nothing; give a config file describing the "
            "cluster (learners, law, speeds, laws, durations; `pssim fit --out` writes one)",
            param=param,
        )
    for key in ("durations", "availability"):  # a cluster's relative files: from its folder
        value = added.get(key)
        if isinstance(value, str) and not Path(value).is_absolute():
            added[key] = str(path.absolute().parent / value)
    settings = {k: v for k, v in data.items() if k not in _SWEEP_TABLES}
    own = normalise_keys(settings, source=source)
    swept = set()
    for table in [data.get("grid", {}), *(data.get("zip") or [])]:
        if isinstance(table, dict):
            swept |= set(normalise_keys({k: 0 for k in table}, source=source))
    both = sorted((set(own) | swept) & set(added))
    if both:
        raise SpecError(
            f"`{TOML_KEY[both[0]]}` is given in {source} and in its cluster file "
            f"{path.name}; give it once",
            param=TOML_KEY[both[0]],
        )
    return {**own, **added, **{k: v for k, v in data.items() if k in _SWEEP_TABLES}}


def _relative(path: Path) -> Path:
    """``path`` relative to the working directory where it can be (so messages show the
    path as the user would type it)."""
    try:
        return Path(os.path.relpath(path))
    except ValueError:  # another drive
        return path


#: Settings that describe the cluster's learners (any of them in the file: it names one).
_CLUSTER_KEYS = frozenset({"learners", "laws", "speeds", "durations"})


def _names_cluster(data: dict[str, Any]) -> bool:
    """Whether the parsed file sets or sweeps a setting of the cluster's learners."""
    tables = [data, *(v for v in data.values() if isinstance(v, dict))]
    tables += [z for z in data.get("zip", []) if isinstance(z, dict)]
    return any(_CLUSTER_KEYS & set(t) for t in tables)


def split_advise_config(
    data: Any,
    *,
    source: str,
    folder: str | os.PathLike | None = None,
    cluster: str | os.PathLike | None = None,
) -> tuple[SweepSpec, AdviseSettings]:
    """A parsed advise file: its sweep (always a training sweep) and its settings.

    Args:
        data: the parsed TOML file.
        source: its name, for messages.
        folder: where its relative paths are read from (None: the working directory).
        cluster: a cluster config file, instead of the ``[advise]`` table's ``cluster``.
    """
    if not isinstance(data, dict):
        raise SpecError(f"`{source}` must hold a table of settings")
    data = dict(data)
    table = data.pop("advise", None)
    names_cluster = cluster is not None or _names_cluster(data)
    if isinstance(table, dict) and "cluster" in table:
        names_cluster = True
        table = dict(table)
        in_file = table.pop("cluster")
        if cluster is None:
            data = _with_cluster(data, in_file, source, folder, "[advise] cluster")
    settings = parse_advise_table(table, source)
    if cluster is not None:
        data = _with_cluster(data, cluster, source, None)
    if data.pop("figure", None) is not None:
        raise SpecError(f"[[figure]] in {source}: the advisor draws its own figure; remove it")
    options = data.get("sweep", {})
    if isinstance(options, dict) and options.get("kind", "training") != "training":
        raise SpecError(
            f"[sweep] kind in {source} must be training for the advisor (it ranks candidates "
            f"by simulated training); got {shown(options.get('kind'))}",
            param="kind",
        )
    if not data.get("grid") and not data.get("zip"):
        raise SpecError(
            f"{source} has no [grid] or [[zip]] table: the advisor needs candidates to rank "
            '(e.g. [grid] variant = ["sync", "async"])',
            param="grid",
        )
    data["sweep"] = {**(options if isinstance(options, dict) else {}), "kind": "training"}
    try:
        sweep = SweepSpec.from_dict(data, source=source, folder=folder)
    except SpecError as err:
        if names_cluster or err.param != "k" or "number of learners" not in str(err):
            raise
        raise SpecError(
            f"{err}: {source} describes no cluster, so P is the default; give a cluster "
            "file (--cluster FILE, cluster=, or [advise] cluster; `pssim fit --out` writes one)",
            param=err.param,
        ) from None
    for field in sweep.swept():
        if field in _NOT_SWEPT:
            raise SpecError(
                f"`{TOML_KEY[field]}` is swept in {source}: the advisor sets the horizon and "
                "the seeds itself; give [advise] time-budget and max-seeds instead",
                param=TOML_KEY[field],
            )
    return sweep, settings


def read_advise_config(
    path: str | os.PathLike, *, cluster: str | os.PathLike | None = None
) -> tuple[SweepSpec, AdviseSettings]:
    """Read an advise file (see the module docstring); ``cluster`` replaces its
    ``[advise]`` table's ``cluster`` file.

    Raises:
        SpecError: an unreadable file, invalid TOML, a bad sweep or ``[advise]`` table.
    """
    path = Path(path)
    text = read_toml_text(path)
    return split_advise_config(
        read_toml(text, source=path.name),
        source=path.name,
        folder=path.absolute().parent,
        cluster=cluster,
    )


def candidates_of(sweep: SweepSpec) -> list[Candidate]:
    """The sweep's configurations as candidates, in grid order, each with its swept values
    (``sync`` and ``async`` imply their K: a swept K does not multiply them, nor labels)."""
    pairs = zip(sweep.configurations(), sweep.configuration_points(), strict=True)
    return [Candidate(i, spec, point) for i, (spec, point) in enumerate(pairs)]
