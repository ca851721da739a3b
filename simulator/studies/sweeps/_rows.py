"""The rows of a sweep: what one task computes for its configurations, as a typed table.

A task is a list of configurations (validated specs) and the sweep's kind. It runs in a
Dask worker or in the calling process alike and returns a pyarrow Table of the fixed schema
of its kind, so every file of a store has the same columns and types.

A task may run some replicates of its configurations only (a sweep that grows): it runs
each with ``seed`` and ``seeds`` narrowed to those replicates, and its rows still carry the
sweep configuration's own key, ``base_seed`` and ``seeds`` (:class:`Owner`).

Columns (both kinds): ``config`` (the configuration's key,
:func:`~simulator.studies.sweeps._units.config_key`), every spec field under its Python name
(``k`` resolved, ``seed`` renamed ``base_seed``, ``laws``, ``speeds``, ``slowdown`` and
``bandwidth`` joined with ``;``, ``eval_every`` resolved, ``lr`` and ``lr_c`` resolved for
the configuration (an expression in K, m and P is in the config's identity), so is
``staleness_limit`` (ringmaster's ``"auto"``: the R its training ran with), ``durations``
and ``availability`` as typed, ``slowdown_shared`` false and ``servers`` 1 when not set,
``lr_schedule`` null when constant, ``k_policy``/``k_schedule`` null and ``k_every``
NaN without a K policy (``k_every`` as run for ``loss`` and ``theory``), None as null
or NaN),
and ``seed`` (the replicate seed). ``seeds`` is the count the sweep asked for when the
rows were written (a store read for a sweep sets it to that sweep's count). Timing rows
(one per configuration and seed) add ``time``, ``theory``, ``relation``, ``source``,
``speedup_theory``, ``speedup_relation``, ``staleness_mean``, ``staleness_max`` and
``staleness_p0``. Training
rows (one per configuration, seed and evaluation point) add ``update``, ``time``, ``loss``,
``error``, ``accuracy``, ``diverged``, ``diverged_at``, ``k_now`` (the K of the update
that follows the evaluation point: ``k`` unless a policy changed it), ``f_star``,
``theory`` and ``relation``.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from typing import Any

import numpy as np
import pandas as pd

from simulator._spec_policy import READS_LOSS, default_k_every, policy_applies
from simulator.results.history import DIAGNOSTIC_COLUMNS, diagnostic_values
from simulator.results.targets import setting_column
from simulator.spec import TIMING_FIELDS, TRAINING_FIELDS, ExperimentSpec, default_eval_every
from simulator.studies._common import chosen_j_theory, spec_theory
from simulator.studies.sweeps._units import config_key

__all__ = [
    "SPEC_COLUMNS",
    "TIMING_COLUMNS",
    "TRAINING_COLUMNS",
    "Owner",
    "Task",
    "narrow",
    "run_task",
    "schema",
]

#: Spec columns and their pyarrow types (by name: ``string``, ``int64``, ``float64``).
SPEC_COLUMNS: dict[str, str] = {
    "config": "string",
    "variant": "string",
    "num_learners": "int64",
    "k": "int64",
    "law": "string",
    "laws": "string",
    "speeds": "string",
    "durations": "string",
    "durations_mode": "string",
    "reuse_workers": "bool",
    "push_latency": "string",
    "pull_latency": "string",
    "service_time": "string",
    "failure": "string",
    "repair": "string",
    "availability": "string",
    "deadline": "float64",
    "slowdown": "string",
    "slowdown_shared": "bool",
    "model_bytes": "int64",
    "bandwidth": "string",
    "server_bandwidth": "float64",
    "servers": "int64",
    "staleness_limit": "float64",
    "k_policy": "string",
    "k_schedule": "string",
    "k_every": "float64",
    "updates": "int64",
    "time_budget": "float64",
    "seeds": "int64",
    "base_seed": "int64",
    "model": "string",
    "data": "string",
    "rule": "string",
    "lr": "float64",
    "lr_c": "float64",
    "dc_lambda": "float64",
    "lr_schedule": "string",
    "batch_size": "int64",
    "l2": "float64",
    "eval_every": "int64",
    "dtype": "string",
    "divergence_factor": "float64",
    "diagnostics": "bool",
    "seed": "int64",
}
#: Result columns of a timing sweep.
TIMING_COLUMNS: dict[str, str] = {
    "time": "float64",
    "theory": "float64",
    "relation": "string",
    "source": "string",
    "speedup_theory": "float64",
    "speedup_relation": "string",
    "staleness_mean": "float64",
    "staleness_max": "int64",
    "staleness_p0": "float64",
}
#: Result columns of a training sweep.
TRAINING_COLUMNS: dict[str, str] = {
    "update": "int64",
    "time": "float64",
    "loss": "float64",
    "error": "float64",
    "accuracy": "float64",
    "diverged": "bool",
    "diverged_at": "int64",
    "k_now": "int64",
    "f_star": "float64",
    "theory": "float64",
    "relation": "string",
    # the replay's diagnostics (NaN unless the spec asks for them)
    **dict.fromkeys(DIAGNOSTIC_COLUMNS, "float64"),
}


@dataclasses.dataclass(frozen=True)
class Owner:
    """The sweep configuration whose rows a task's spec writes: its key, base seed and
    seed count."""

    key: str
    base_seed: int
    seeds: int

    @classmethod
    def of(cls, spec: ExperimentSpec) -> Owner:
        return cls(config_key(spec), spec.seed, spec.seeds)


@dataclasses.dataclass(frozen=True)
class Task:
    """Configurations run together (the same replicates of each) and written as one file.

    Attributes:
        kind: ``timing`` or ``training``.
        specs: the specs as run: each configuration with ``seed`` and ``seeds`` narrowed to
            the task's replicates.
        f_stars: for training, F* by (data, model, l2), computed once by the caller so that
            the ``error`` column does not depend on the machine a task ran on (missing:
            computed by the task).
        owners: per spec, the sweep configuration its rows belong to (default: the spec
            itself, every seed of it).
        replicates: the replicate indices run (default: every seed of the specs).
    """

    kind: str
    specs: tuple[ExperimentSpec, ...]
    f_stars: tuple[tuple[tuple[str, str, float], float | None], ...] = ()
    owners: tuple[Owner, ...] = ()
    replicates: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        if not self.owners:
            object.__setattr__(self, "owners", tuple(Owner.of(s) for s in self.specs))
        if not self.replicates and self.specs:
            object.__setattr__(self, "replicates", tuple(range(self.specs[0].seeds)))

    @property
    def configs(self) -> list[str]:
        """The keys of the configurations."""
        return [owner.key for owner in self.owners]


def schema(kind: str):
    """The pyarrow schema of a sweep kind's rows."""
    import pyarrow as pa

    columns = {**SPEC_COLUMNS, **(TIMING_COLUMNS if kind == "timing" else TRAINING_COLUMNS)}
    types = {"string": pa.string(), "int64": pa.int64(), "float64": pa.float64()}
    types["bool"] = pa.bool_()
    return pa.schema([(name, types[t]) for name, t in columns.items()])


def run_task(task: Task):
    """Run a task's configurations; a pyarrow Table of :func:`schema` of its kind."""
    import pyarrow as pa

    if task.kind == "timing":
        frames = [
            _timing_rows(spec, owner) for spec, owner in zip(task.specs, task.owners, strict=True)
        ]
    else:
        f_stars = dict(task.f_stars)
        frames = [
            _training_rows(spec, owner, f_stars.get((spec.data, spec.model, spec.l2), "auto"))
            for spec, owner in zip(task.specs, task.owners, strict=True)
        ]
    frame = pd.concat(frames, ignore_index=True)
    return pa.Table.from_pandas(frame, schema=schema(task.kind), preserve_index=False)


def _spec_values(
    spec: ExperimentSpec, owner: Owner, updates: int, limit: int | None = None
) -> dict[str, Any]:
    """The spec columns of a configuration's rows (``updates`` as run; the key, base seed
    and seed count of the sweep configuration ``owner``; ``limit``, ringmaster's R as run
    where the spec's ``staleness_limit`` is ``"auto"``, kept in the config's identity)."""
    d = spec.to_dict()
    out: dict[str, Any] = {"config": owner.key}
    for name in TIMING_FIELDS + TRAINING_FIELDS:
        value = d.get(name)
        if isinstance(value, list):
            value = ";".join(map(str, value))
        out[setting_column(name)] = value
    out["base_seed"], out["seeds"] = owner.base_seed, owner.seeds
    out["k"] = spec.canonical[1]
    out["updates"] = updates
    out["time_budget"] = getattr(spec, "time_budget", None)
    for name in ("deadline", "server_bandwidth"):  # left out of to_dict when not set
        out[name] = getattr(spec, name)
    if isinstance(spec.bandwidth, float):  # one link rate for all: a string like P of them
        out["bandwidth"] = str(spec.bandwidth)
    out["diagnostics"] = bool(spec.diagnostics)
    out["reuse_workers"] = bool(spec.reuse_workers)  # null durations(_mode): no file
    out["slowdown_shared"] = bool(spec.slowdown_shared)
    out["servers"] = spec.servers
    out["lr"], out["lr_c"] = spec.lr, spec.lr_c  # resolved: the spec keeps expressions typed
    out["lr_schedule"] = spec.lr_schedule
    out["staleness_limit"] = spec.staleness_limit if limit is None else limit
    out["dc_lambda"] = spec.dc_lambda
    out["k_every"] = _k_every(spec)
    nullable = ("time_budget", "lr_c", "deadline", "server_bandwidth", "staleness_limit")
    nullable += ("k_every",)
    for name in (*nullable, "dc_lambda"):
        out[name] = math.nan if out[name] is None else float(out[name])
    if out["eval_every"] is None:
        out["eval_every"] = default_eval_every(updates)
    return out


def _k_every(spec: ExperimentSpec) -> int | None:
    """Updates between the decisions of a policy that reads the loss (as run), else None."""
    if spec.k_policy not in READS_LOSS or not policy_applies(spec):
        return None
    return spec.k_every or default_k_every(spec.updates)


@functools.lru_cache(maxsize=256)
def _speedup_theory(spec: ExperimentSpec) -> tuple[float, str]:
    """Theorem 1's sync/async speedup for the spec's law, or per-learner laws and speeds
    (independent learners), and P (NaN, ``none`` with communication or replayed
    durations, which have none)."""
    from simulator.theory.runtime import sync_async_speedup

    replayed = spec.durations is not None and spec.durations_mode == "replay"
    if spec.communication or replayed:
        return math.nan, "none"
    prediction = sync_async_speedup(spec.law, spec.num_learners, laws=spec.laws, speeds=spec.speeds)
    if prediction.mean is None:
        return math.nan, "none"
    return float(prediction.mean), prediction.relation


def _theory(spec: ExperimentSpec, updates: int):
    """The runtime theory of ``updates`` updates (a budget run's own J)."""
    if spec.time_budget is None:
        return spec_theory(spec)
    return chosen_j_theory(spec_theory(spec.replace(updates=updates, eval_every=None)))


def _timing_rows(spec: ExperimentSpec, owner: Owner) -> pd.DataFrame:
    from simulator.timing._stats import run_statistics

    speedup, speedup_relation = _speedup_theory(spec)
    rows = []
    for s in spec.seed_list:
        run = run_statistics(spec, s)  # no per-contribution arrays where none are read
        n = run.contributions
        theory = _theory(spec, run.num_updates)
        rows.append(
            {
                **_spec_values(spec, owner, run.num_updates),
                "seed": s,
                "time": run.end_time,
                "theory": math.nan if theory.mean is None else theory.mean,
                "relation": theory.relation,
                "source": theory.source,
                "speedup_theory": speedup,
                "speedup_relation": speedup_relation,
                "staleness_mean": run.staleness_total / n if n else math.nan,
                "staleness_max": run.staleness_max,
                "staleness_p0": run.fresh / n if n else math.nan,
            }
        )
    return pd.DataFrame(rows)


@functools.lru_cache(maxsize=4)
def _problem(model: str, data: str, l2: float):
    """The model and dataset of a configuration, built once per worker process."""
    from models import build_model, load_dataset

    dataset = load_dataset(data)
    return build_model(model, dataset, l2), dataset


def _training_rows(spec: ExperimentSpec, owner: Owner, f_star: float | str | None) -> pd.DataFrame:
    from simulator.studies.comparison import compare

    model, dataset = _problem(spec.model, spec.data, spec.l2)
    run = compare(spec, variants=[spec.variant], model=model, dataset=dataset, f_star=f_star).runs[
        0
    ]
    r = run.result
    seeds, evals = r.loss.shape
    updates = int(r.eval_update[-1])
    accuracy = r.accuracy if r.accuracy is not None else np.full((seeds, evals), np.nan)
    f_star = math.nan if r.f_star is None else float(r.f_star)
    values = _spec_values(spec, owner, updates, run.staleness_limit)
    if len(r.eval_update) > 1:
        values["eval_every"] = int(r.eval_update[1] - r.eval_update[0])
    theory = run.theory
    measured = diagnostic_values(r)  # NaN columns without diagnostics: one schema
    extra = {name: measured.get(name, np.nan) for name in DIAGNOSTIC_COLUMNS}
    return pd.DataFrame(
        {
            **values,
            "seed": np.repeat(np.asarray(r.seeds, dtype=np.int64), evals),
            "update": np.tile(np.asarray(r.eval_update, dtype=np.int64), seeds),
            "time": np.asarray(r.eval_time, dtype=float).ravel(),
            "loss": np.asarray(r.loss, dtype=float).ravel(),
            "error": (np.asarray(r.loss, dtype=float) - f_star).ravel(),
            "accuracy": np.asarray(accuracy, dtype=float).ravel(),
            "diverged": np.repeat(r.diverged_at >= 0, evals),
            "diverged_at": np.repeat(np.asarray(r.diverged_at, dtype=np.int64), evals),
            "k_now": (
                np.full(seeds * evals, run.k, dtype=np.int64)
                if run.k_curve is None
                else np.asarray(run.k_curve, dtype=np.int64).ravel()
            ),
            "f_star": f_star,
            "theory": math.nan if theory.mean is None else theory.mean,
            "relation": theory.relation,
            **extra,
        }
    )


def narrow(spec: ExperimentSpec, replicates: range) -> ExperimentSpec:
    """``spec`` running only ``replicates`` (indices into its seed list): the same spec
    when they are all of its seeds."""
    if replicates == range(spec.seeds):
        return spec
    return spec.replace(seed=spec.seed + replicates.start, seeds=len(replicates))
