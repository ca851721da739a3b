"""Timing entry points: :func:`simulate` (a spec or keywords) and :func:`simulate_spec`
(one seed of a validated spec) return a run's :class:`~simulator.trace.Trace`.

A run of J updates goes to the fast path where it applies and to the SimPy reference
engine otherwise (:mod:`simulator.timing._updates`; the variants' semantics are in
:mod:`simulator.timing._simpy_engine`); a run to a ``time_budget`` is found from runs of
J updates (:mod:`simulator.timing._budget`). Memory is checked before the first event.
"""

from __future__ import annotations

from collections.abc import Sequence

from simulator._checks import check_seed
from simulator._staleness_auto import refuse_auto
from simulator.spec import ExperimentSpec
from simulator.timing._budget import simulate_to_budget
from simulator.timing._k_policy import KPolicy
from simulator.timing._memory import check_timing_memory
from simulator.timing._updates import ENGINES, check_engine, simulate_updates
from simulator.trace import Trace

__all__ = ["ENGINES", "simulate", "simulate_spec"]


def simulate(
    variant: str | ExperimentSpec = "async",
    *,
    num_learners: int | None = None,
    k: int | None = None,
    law=None,
    updates: int | None = None,
    seed: int | None = None,
    laws: Sequence | None = None,
    speeds: Sequence[float] | None = None,
    durations=None,
    durations_mode: str | None = None,
    reuse_workers: bool | None = None,
    push_latency=None,
    pull_latency=None,
    service_time=None,
    failure=None,
    repair=None,
    availability=None,
    deadline: float | None = None,
    slowdown=None,
    slowdown_shared: bool | None = None,
    model_bytes: int | None = None,
    bandwidth=None,
    server_bandwidth: float | None = None,
    servers: int | None = None,
    engine: str = "auto",
) -> Trace:
    """Simulate ``updates`` server updates of one variant and return its :class:`Trace`.

    Takes an :class:`~simulator.spec.ExperimentSpec` (its timing fields; the keywords
    given override them) or the same fields as keywords (unset ones take the spec's
    defaults). Everything is validated before the first event.

    Args:
        variant: ``sync``, ``async``, ``k-sync``, ``k-batch-sync``, ``k-async``,
            ``k-batch-async``, ``k-avg`` or ``all-reduce``; or an ExperimentSpec.
        num_learners: P >= 1.
        k: K (1 <= K <= P; local steps for ``k-avg``); implied for ``sync``/``async``.
        law: compute time of one mini-batch (a law, a spec string such as ``"exp:1"`` or a
            frozen scipy.stats law), shared by all learners.
        updates: J >= 1, number of server updates to simulate.
        seed: base of the learners' streams (``SeedSequence(seed).spawn(P)``); default the
            spec's base seed.
        laws: one law per learner instead of ``law`` (heterogeneous learners).
        speeds: (P,) positive factors; learner l's durations are divided by ``speeds[l]``.
        durations: measured per-worker durations instead of ``law``/``laws`` (a CSV or
            Parquet file, or ``llm-se``; see :class:`~simulator.spec.ExperimentSpec`).
        durations_mode: ``replay`` (default: learner l runs worker l's durations in step
            order, from the first again after the last; the seed plays no part) or
            ``resample`` (i.i.d. draws from worker l's durations).
        reuse_workers: allow P larger than the number of workers W (learner l takes
            worker l mod W).
        push_latency, pull_latency: optional laws of the time a push takes to reach the
            server and the time the model takes to reach a learner.
        service_time: optional law of the server's time to apply one update; updates queue
            at a capacity-1 ``simpy.Resource``.
        failure, repair: laws of the time a learner stays up and down (together), or
            availability: a CSV file of down periods (``worker,down,up``).
        deadline: D > 0, round-based variants: the server updates at the earlier of the
            K-th arrival and the round's start + D with what has arrived.
        slowdown: (rate_in, rate_out, factor) of a two-state Markov chain per learner
            (one for all with ``slowdown_shared``): while slow, compute goes ``factor``
            times slower.
        model_bytes, bandwidth, server_bandwidth, servers: bytes of a gradient and a
            model, each learner's link and the server's shared link (bytes per simulated
            time unit; one value or P for ``bandwidth``), and the number of server shards.
            These features run on the SimPy engine (see
            :mod:`simulator.timing._simpy_engine`).
        engine: ``"auto"`` (default) runs the fast path where it applies (no latencies,
            no service time, no cluster feature, every duration > 0) and the SimPy engine
            otherwise;
            ``"simpy"`` always runs the SimPy reference engine; ``"fast"`` refuses a run
            the fast path cannot reproduce. Both engines give the same trace, array for
            array.

    Returns:
        The trace, in simulated time units.

    Example:
        >>> trace = simulate("async", num_learners=4, law="exp:1", updates=100, seed=1)
        >>> trace.num_updates
        100
    """
    given = {
        "num_learners": num_learners,
        "k": k,
        "law": law,
        "updates": updates,
        "laws": laws,
        "speeds": speeds,
        "durations": durations,
        "durations_mode": durations_mode,
        "reuse_workers": reuse_workers,
        "push_latency": push_latency,
        "pull_latency": pull_latency,
        "service_time": service_time,
        "failure": failure,
        "repair": repair,
        "availability": availability,
        "deadline": deadline,
        "slowdown": slowdown,
        "slowdown_shared": slowdown_shared,
        "model_bytes": model_bytes,
        "bandwidth": bandwidth,
        "server_bandwidth": server_bandwidth,
        "servers": servers,
    }
    given = {name: value for name, value in given.items() if value is not None}
    if isinstance(variant, ExperimentSpec):
        spec = variant.replace(**given) if given else variant
    else:  # laws without law: the spec drops its default law
        spec = ExperimentSpec(variant=variant, **given)
    run_seed = spec.seed if seed is None else check_seed("seed", seed)
    return simulate_spec(spec, run_seed, engine=engine)


def simulate_spec(
    spec: ExperimentSpec, seed: int, *, engine: str = "auto", policy: KPolicy | None = None
) -> Trace:
    """The trace of one seed of a validated spec (``engine`` and the memory the run will
    allocate are checked here, before the first event).

    ``policy`` (see :mod:`simulator.timing._k_policy`) sets K batch by batch; without one,
    a spec's ``k_schedule`` does.

    With a ``time_budget`` it is every update at a time <= the budget (see
    :func:`simulator.timing._budget.simulate_to_budget`).

    Raises:
        SpecError: the run would need more memory than
            :data:`simulator.timing._memory.MEMORY_BUDGET` (naming ``updates``,
            ``num_learners`` or ``time_budget``).
    """
    check_engine(engine)
    refuse_auto(spec, "the timing engine")
    check_timing_memory(spec, engine=engine)
    if spec.time_budget is not None:
        return simulate_to_budget(spec, seed, engine=engine)
    return simulate_updates(spec, seed, engine=engine, policy=policy)
