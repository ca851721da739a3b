"""What a timing run allocates, estimated per engine before it starts, and the one check.

A run's peak memory is a sum of terms, each counted in bytes of resident memory (measured
as peak RSS on CPython 3.11 with numpy 2; the ``memory`` tests re-measure every engine):

- per contribution C, per cancelled computation X and per update U: the engine's records
  and the Trace it returns (for the vectorised paths, their per-chunk copies too);
- per learner: its random stream (a numpy Generator), its engine objects, and the block of
  durations it holds (a Python list of floats for the SimPy engine and the event loops,
  numpy leftovers for the vectorised paths; see :mod:`simulator.timing._draws`);
- a chunk of the vectorised round paths (about ``CHUNK_VALUES`` durations at a time).

Measured durations replayed in order (``durations_mode`` ``replay``) come in blocks of the
same sizes but need no random stream: a learner costs :data:`REPLAY_SAVING` bytes less (the
table itself is held by the spec before any run starts).

Which engine runs a spec is decided as :func:`simulator.timing.engine.simulate_spec`
decides it (see :func:`engine_of`). Nothing is estimated for commands that do not
simulate (``pssim theory``). A run with a ``time_budget`` is estimated at the number of
updates it is expected to complete (renewal rate of the compute times).
"""

from __future__ import annotations

import dataclasses
import math

from simulator._checks import MEMORY_BUDGET, PHYSICAL_MEMORY, SIMPY_ONLY_VARIANTS
from simulator._spec_checks import MAX_COUNT
from simulator._spec_policy import k_least, k_row_width, policy_applies
from simulator.errors import SpecError
from simulator.spec import ExperimentSpec
from simulator.timing._draws import FIRST_BLOCK, MAX_BLOCK
from simulator.timing._fast_common import CHUNK_VALUES

__all__ = [
    "MEMORY_BUDGET",
    "check_timing_memory",
    "engine_of",
    "expected_updates",
    "run_bytes",
    "timing_bytes",
    "trace_bytes",
]


BUDGET_TEXT = "half the physical memory" if PHYSICAL_MEMORY else "physical memory unknown"


@dataclasses.dataclass(frozen=True)
class _Cost:
    """Bytes per contribution, cancelled computation, update and learner; per duration of
    the block a learner holds (``held``: a Python list of floats for the SimPy engine and
    the event loops, the lockstep buffers of the round paths), per duration drawn but not
    used (``spare``) and per duration drawn (``drawn``: the merge keeps every push time
    it draws)."""

    contribution: float
    cancelled: float
    update: float
    learner: float
    held: float = 0.0
    spare: float = 0.0
    drawn: float = 0.0


#: Measured costs per engine (peak RSS, least-squares over runs of 20-400 MB).
COSTS = {
    "simpy-async": _Cost(34, 0, 24, 3350, held=32),
    "simpy-rounds": _Cost(35, 25, 24, 5000, held=32),
    "async-loop": _Cost(34, 0, 32, 2000, held=32),
    "batch-sync-loop": _Cost(35, 25, 32, 2000, held=32),
    "merge": _Cost(65, 0, 18, 22, drawn=16),
    "rounds": _Cost(33, 24, 16, 840, held=24),
    "avg": _Cost(32, 0, 16, 840, held=24),
}
#: Per learner of the merge that draws past its first block: its Generator, kept (the
#: merge draws a first block without keeping one; see :mod:`simulator.timing._streams`).
KEPT_STREAM = 620
#: Bytes per duration of a K-sync chunk: the draws, their transposed copy, event times,
#: orders (see :mod:`simulator.timing._fast_rounds`).
CHUNK_BYTES = 50
#: Bytes per local step of a K-AVG chunk (plus 24 per round and learner).
AVG_STEP_BYTES = 40
#: Bytes a learner does not allocate when it replays measured durations: its numpy
#: Generator and seed sequence (measured: 925-1020 over the merge, rounds and SimPy
#: engines at P = 40,000-50,000).
REPLAY_SAVING = 1000
#: Bytes a learner of the merge adds when it replays measured durations (its replay's
#: position and wrap; measured: 307-330 at P = 20,000-100,000).
MERGE_REPLAY = 320
#: Per learner and latency law of the SimPy engine: a second stream and its held block.
LATENCY_STREAM = _Cost(0, 0, 0, 1500, held=32)
#: What a returned Trace keeps: 4 arrays and a mask per contribution, 3 arrays per
#: cancelled computation, the update times, and the in-flight work per learner.
TRACE = _Cost(33, 24, 8, 16)
#: Per contribution, the temporaries of a staleness summary taken from a kept trace
#: (``trace.staleness()[trace.mask]``: the studies take one per seed).
STALENESS_BYTES = 24


def engine_of(spec: ExperimentSpec, engine: str = "auto") -> str:
    """The engine that runs ``spec``: ``simpy-async`` or ``simpy-rounds`` (the SimPy
    reference engine), else the fast path ``merge`` (K-batch-async, fully asynchronous
    K-async), ``async-loop`` (K-async, K > 1), ``rounds`` (K-sync), ``batch-sync-loop``
    (K-batch-sync) or ``avg`` (K-AVG).

    Example:
        >>> engine_of(ExperimentSpec(variant="async"))
        'merge'
    """
    return _engine_name(*spec.canonical, spec.communication or policy_applies(spec), engine)


def _engine_name(variant: str, k: int, communication: bool, engine: str) -> str:
    if engine == "simpy" or communication or variant in SIMPY_ONLY_VARIANTS:
        asynchronous = ("k-async", "k-batch-async", "rennala", "ringmaster")
        return "simpy-async" if variant in asynchronous else "simpy-rounds"
    if variant == "k-batch-async" or (variant == "k-async" and k == 1):
        return "merge"
    return {
        "k-async": "async-loop",
        "k-sync": "rounds",
        "k-batch-sync": "batch-sync-loop",
        "k-avg": "avg",
    }[variant]


def _block(n: float) -> tuple[int, int]:
    """(size of the block holding a learner's n-th duration, durations drawn through it)."""
    drawn, b = 0, 0
    while b < 6:
        size = FIRST_BLOCK << b
        if drawn + size >= n:
            return size, drawn + size
        drawn, b = drawn + size, b + 1
    return MAX_BLOCK, drawn + max(1, math.ceil((n - drawn) / MAX_BLOCK)) * MAX_BLOCK


@dataclasses.dataclass(frozen=True)
class _Estimate:
    """A run's terms in bytes: what grows with the updates (records, trace, chunk), what
    grows with the learners, one Trace, and the staleness summary's temporaries."""

    per_run: float
    per_learner: float
    trace: float
    staleness: float

    def run(self, kept: int = 0) -> float:
        """Peak of one seed with ``kept`` earlier traces held."""
        engine = self.per_run + self.per_learner
        return max(engine, self.trace + self.staleness) + kept * self.trace


def _estimate(spec: ExperimentSpec, engine: str, updates: float) -> _Estimate:
    variant, k = spec.canonical
    name = _engine_name(variant, k, spec.communication or policy_applies(spec), engine)
    least = k  # the smallest K: the most cancellations of a K-sync round
    if policy_applies(spec):  # rows as wide as the largest K the policy may use
        least = k_least(spec.k_policy, k, spec.k_schedule)
        k = k_row_width(spec.k_policy, k, spec.num_learners, spec.k_schedule)
    p, u = spec.num_learners, updates
    c = u * p if variant == "k-avg" else u * k  # contributions (slots, masked ones too)
    x = u * (p - least) if variant == "k-sync" else u * (p - 1) if variant == "k-batch-sync" else 0
    draws = max(
        1.0, {"k-sync": u, "k-batch-sync": (c + x) / p, "k-avg": u * k}.get(variant, c / p + 1)
    )
    held, drawn = _block(draws)

    def terms(cost: _Cost) -> tuple[float, float]:
        per_run = cost.contribution * c + cost.cancelled * x + cost.update * u
        per_learner = cost.learner + cost.held * held + cost.spare * (drawn - draws)
        return per_run, p * (per_learner + cost.drawn * drawn)

    per_run, per_learner = terms(COSTS[name])
    replay = spec.durations is not None and spec.durations_mode == "replay"
    if replay:  # the merge's learners hold no Generator (unless kept), but their replays
        per_learner += p * (MERGE_REPLAY if name == "merge" else -REPLAY_SAVING)
    if name.startswith("simpy"):
        streams = (spec.push_latency is not None) + (spec.pull_latency is not None)
        per_learner += streams * terms(LATENCY_STREAM)[1]
    if name == "rounds":  # the last chunk's working set (see _fast_rounds)
        rounds = min(max(1, CHUNK_VALUES // p), u)
        per_run += CHUNK_BYTES * rounds * p
    elif name == "avg":
        rounds = min(max(1, CHUNK_VALUES // (p * k)), u)
        per_run += (AVG_STEP_BYTES * k + 24) * rounds * p
    elif name == "merge" and draws > FIRST_BLOCK and not replay:  # kept Generators
        per_learner += p * KEPT_STREAM
    trace = sum(terms(TRACE))
    return _Estimate(per_run, per_learner, trace, STALENESS_BYTES * c)


def timing_bytes(spec: ExperimentSpec, engine: str = "auto", updates: float | None = None) -> int:
    """Estimated peak bytes of one seed of ``spec`` by the engine that runs it (its records,
    its random streams and the Trace it returns), for ``updates`` updates (default: the
    spec's J, or the updates expected within its time budget).

    Example:
        >>> timing_bytes(ExperimentSpec(variant="async", num_learners=8, updates=10**6)) > 10**8
        True
    """
    e = _estimate(spec, engine, expected_updates(spec) if updates is None else updates)
    return _ceil(e.per_run + e.per_learner)


def trace_bytes(spec: ExperimentSpec, updates: float | None = None) -> int:
    """Estimated bytes of a Trace of ``spec`` (for ``updates`` updates; default as in
    :func:`timing_bytes`)."""
    return _ceil(
        _estimate(spec, "auto", expected_updates(spec) if updates is None else updates).trace
    )


def run_bytes(
    spec: ExperimentSpec, *, engine: str = "auto", kept: int = 0, updates: float | None = None
) -> int:
    """Peak bytes of a study's seed: the engine's run or a staleness summary of its trace,
    whichever is larger, plus ``kept`` traces held from earlier seeds."""
    u = expected_updates(spec) if updates is None else updates
    return _ceil(_estimate(spec, engine, u).run(kept))


def _ceil(x: float) -> int:
    return int(x) + 1 if math.isfinite(x) else 2**63


# -- runs to a time budget ------------------------------------------------------------------
def _task_time(law) -> float:
    """Mean compute time of a law; its median where the mean is not finite."""
    mean = float(law.mean())
    return mean if math.isfinite(mean) and mean > 0 else float(law.ppf(0.5))


def expected_updates(spec: ExperimentSpec) -> float:
    """Updates expected by ``spec.time_budget`` T: T over the mean time per update (K-sync:
    E[X_{K:P}] for identical learners; otherwise K tasks at the learners' pooled renewal
    rate, K tasks of every learner for K-AVG); ``spec.updates`` without a budget.

    Communication only slows a run down, so this is an upper estimate with it.
    """
    if spec.time_budget is None:
        return float(spec.updates)
    variant, k = spec.canonical
    p = spec.num_learners
    if spec.heterogeneous:  # tasks per unit time, all learners together
        laws = [spec.law] * p if spec.laws is None else list(spec.laws)
        speeds = [1.0] * p if spec.speeds is None else list(spec.speeds)
        rate = sum(s / _task_time(law) for law, s in zip(laws, speeds, strict=True))
    else:
        rate = p / _task_time(spec.law)
    if variant == "k-sync" and not spec.heterogeneous:
        per_update = float(spec.law.order_statistic_mean(k, p))
    elif variant == "k-avg":
        per_update = k * p / rate
    else:
        per_update = k / rate
    if not (per_update > 0 and math.isfinite(per_update)):
        return math.inf
    expected = spec.time_budget / per_update
    return math.ceil(expected) if math.isfinite(expected) else math.inf


# -- the check -------------------------------------------------------------------------------
def _gib(x: float) -> str:
    return f"{x / 2**30:.3g} GiB"


def check_timing_memory(
    spec: ExperimentSpec, *, engine: str = "auto", kept: int = 0, updates: float | None = None
) -> None:
    """Refuse, before any work, a timing run whose estimate exceeds :data:`MEMORY_BUDGET`.

    Args:
        spec: a validated spec.
        engine: as in :func:`simulator.timing.engine.simulate_spec`.
        kept: traces of earlier seeds held meanwhile (``compare`` keeps every seed's for
            the replay; ``runtime`` keeps the first for its timeline).
        updates: the updates of the run (default: J, or those expected by the budget).

    Raises:
        SpecError: one line naming what makes the run too large: ``updates`` (J),
            ``num_learners`` (P), ``time_budget`` or ``seeds`` (the kept traces).
    """
    u = expected_updates(spec) if updates is None else updates
    if not u <= MAX_COUNT:  # beyond any run (and beyond the estimate's arithmetic)
        name = "time_budget" if spec.time_budget is not None else "updates"
        raise SpecError(
            f"`{name}` {getattr(spec, name)!r} means runs of about {float(u):.3g} updates per "
            f"seed with P={spec.num_learners}, more than the {MAX_COUNT} a run can hold; "
            f"lower `{name}`",
            param=name,
        )
    e = _estimate(spec, engine, u)
    need = e.run(kept)
    if need <= MEMORY_BUDGET:
        return
    per_run, per_learner, held = e.per_run, e.per_learner, kept * e.trace
    p = spec.num_learners
    what = "timing" if not kept else f"timing and {kept} kept trace{'s' if kept > 1 else ''}"
    over = (
        f"{what} need{'' if kept else 's'} about {_gib(need)}, more than the memory budget of "
        f"{_gib(MEMORY_BUDGET)} ({BUDGET_TEXT})"
    )
    if spec.time_budget is not None:
        raise SpecError(
            f"`time_budget` {spec.time_budget!r} means runs of about {u:.3g} updates per "
            f"seed with P={p}; {over}; lower `time_budget`",
            param="time_budget",
        )
    j = spec.updates if updates is None else int(u)
    if held > max(per_run, per_learner):
        raise SpecError(
            f"`seeds` {spec.seeds}: their traces of J={j} updates with P={p} are kept at "
            f"once; {over}; lower `seeds` or `updates`",
            param="seeds",
        )
    if per_learner > per_run:
        raise SpecError(
            f"`num_learners` P={p} with J={j} updates: {over}; lower `num_learners`",
            param="num_learners",
        )
    raise SpecError(f"`updates` J={j} with P={p}: {over}; lower `updates`", param="updates")
