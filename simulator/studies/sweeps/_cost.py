"""What one seed of a sweep configuration costs, estimated before it runs: tasks are sized
by it, not by counting configurations.

The estimate is in seconds of one CPU core and follows the engine that will run the seed
(:func:`simulator.timing._memory.engine_of`). A timing seed costs a sum of terms,

    slot_updates * U * P + pushes * S + updates * U + learners * P + fixed,

where U is the number of updates (J, or those expected within a time budget: the law
enters there), S = U * K the contributions (U * P * K local steps for K-AVG), with one set
of rates per engine (:data:`TIMING_RATES`). A training seed adds its replay,
U * (per update + slots * (per slot + m * per sample)), and a configuration whose compiled
replay program no earlier task of the sweep built pays :data:`COMPILE_S` (see
:func:`program_key`).

The rates were measured once (CPU seconds, CPython 3.11, numpy 2, on an AMD EPYC core:
non-negative least squares over P in {8, 64, 256}, K in {1, 4, 16}, J in {2,000, 8,000},
and J in {200, 800} for the SimPy engine; each fit within 30% of its runs; the replay on
softmax regression of the ``digits`` data, P = 8). Only the ratios between the
configurations of one sweep matter (tasks are balanced against each other), so the model
and data set, which scale every training configuration of a sweep alike, are left out.
"""

from __future__ import annotations

import dataclasses
import math

from distributions import ScipyLaw
from simulator.spec import ExperimentSpec
from simulator.timing._memory import engine_of, expected_updates

__all__ = [
    "COMPILE_S",
    "TIMING_RATES",
    "program_key",
    "seed_seconds",
    "timing_seconds",
    "training_seconds",
]


@dataclasses.dataclass(frozen=True)
class Rates:
    """Seconds per slot-update (U * P), push (U * K; a local step U * P * K for K-AVG),
    update, learner, and per seed."""

    slot_update: float = 0.0
    push: float = 0.0
    update: float = 0.0
    learner: float = 0.0
    fixed: float = 0.0


#: Measured seconds per term, per engine (the names of ``engine_of``).
TIMING_RATES = {
    "rounds": Rates(slot_update=9.5e-8, update=1.5e-7, learner=7.6e-5),
    "batch-sync-loop": Rates(slot_update=4.2e-7, push=5.5e-7, learner=4.4e-5, fixed=1.2e-4),
    "merge": Rates(slot_update=1.6e-9, push=1.2e-7, learner=2.5e-5, fixed=1.0e-3),
    "async-loop": Rates(slot_update=4.0e-9, push=6.4e-7, learner=2.6e-5, fixed=5.0e-4),
    "avg": Rates(slot_update=4.9e-8, push=2.3e-8, learner=3.2e-5, fixed=1.0e-3),
    "simpy-rounds": Rates(slot_update=7.6e-6, learner=1.1e-4),
    "simpy-async": Rates(slot_update=9.0e-9, push=3.0e-6, learner=4.2e-5, fixed=1.1e-3),
}
#: A frozen ``scipy.stats`` law draws through its own sampler and its theory integrates
#: numerically: seconds per duration drawn, and per seed.
GENERIC_LAW = Rates(push=4.5e-7, fixed=0.15)
#: The rows of one seed (theory, staleness summary, the table), seconds.
ROWS_S = 2.0e-3
#: Replay seconds per update, per slot of an update, and per sample of a slot's mini-batch.
REPLAY_UPDATE_S, REPLAY_SLOT_S, REPLAY_SAMPLE_S = 9.0e-7, 4.0e-6, 3.7e-7
#: Replays that keep stale copies (every variant but K-sync and K-batch-sync) cost more.
COPIES_FACTOR = 1.6
#: Compiling one replay program (seconds).
COMPILE_S = 4.0
#: Updates counted for a run expected to make more (or infinitely many): its memory check
#: refuses it when it runs; here it only has to be the costliest.
_MAX_UPDATES = 1e15


def _updates(spec: ExperimentSpec) -> float:
    u = float(expected_updates(spec))
    return u if math.isfinite(u) and u < _MAX_UPDATES else _MAX_UPDATES


def _generic(spec: ExperimentSpec) -> bool:
    laws = [spec.law] if spec.laws is None else list(spec.laws)
    return any(isinstance(law, ScipyLaw) for law in laws)


def timing_seconds(spec: ExperimentSpec) -> float:
    """Estimated CPU seconds of one seed of ``spec``'s timing run and its rows.

    Example:
        >>> heap = ExperimentSpec(variant="k-batch-sync", num_learners=64, k=4, updates=30_000)
        >>> merge = heap.replace(variant="k-batch-async")
        >>> timing_seconds(heap) > 10 * timing_seconds(merge)
        True
    """
    variant, k = spec.canonical
    p, u = spec.num_learners, _updates(spec)
    steps = u * p * k if variant == "k-avg" else u * k
    # an engine measured later than these rates is sized as the reference engine
    r = TIMING_RATES.get(engine_of(spec), TIMING_RATES["simpy-rounds"])
    seconds = r.slot_update * u * p + r.push * steps + r.update * u + r.learner * p + r.fixed
    if _generic(spec):
        draws = steps if variant in ("k-async", "k-batch-async", "k-avg") else u * p
        seconds += GENERIC_LAW.push * draws + GENERIC_LAW.fixed
    return seconds + ROWS_S


def training_seconds(spec: ExperimentSpec) -> float:
    """Estimated CPU seconds of one seed of ``spec``'s replay (its compilation aside) and of
    its timing run."""
    variant, k = spec.canonical
    p, u = spec.num_learners, _updates(spec)
    slots = p * k if variant == "k-avg" else k
    per_update = REPLAY_UPDATE_S + slots * (REPLAY_SLOT_S + spec.batch_size * REPLAY_SAMPLE_S)
    copies = COPIES_FACTOR if variant in ("k-async", "k-batch-async") else 1.0
    return u * per_update * copies + timing_seconds(spec)


def seed_seconds(kind: str, spec: ExperimentSpec) -> float:
    """Estimated CPU seconds of one seed of ``spec`` in a sweep of ``kind``."""
    return timing_seconds(spec) if kind == "timing" else training_seconds(spec)


def program_key(spec: ExperimentSpec) -> tuple:
    """What decides the replay program a training configuration compiles: configurations
    with equal keys are expected to share one (learning rates, seeds and laws are not
    compiled in; asynchronous variants keep P stale copies, so P counts there). An
    estimate: two configurations of one key can still compile apart (a law that changes
    the staleness depth), which costs time, never a result."""
    variant, k = spec.canonical
    fresh = ("k-sync", "k-batch-sync", "all-reduce", "rennala")  # all read the model
    family = "avg" if variant == "k-avg" else "fresh" if variant in fresh else "copies"
    p = spec.num_learners if family != "fresh" else None
    return (
        family,
        k,
        p,
        spec.model,
        spec.data,
        spec.l2,
        spec.batch_size,
        spec.rule,
        spec.dtype,
        bool(spec.diagnostics),
        spec.updates,
        spec.time_budget,
        spec.eval_every,
    )
