"""SimPy timing engine: P learners and a parameter server, one process per learner.

Semantics follow Dutta et al. 2018, section 2.3 and figures 3-4 (see DESIGN.md):

- ``k-sync``: all learners start from w_j; the server updates after the first K of P
  gradients and cancels (SimPy-interrupts) the rest; all restart from w_{j+1}.
- ``k-batch-sync``: as k-sync, but a learner that finishes pushes and starts another
  mini-batch at w_j; the server updates after K mini-batches from any learners.
- ``k-async``: no cancellation; the server updates after K pushes; a learner that pushed
  waits idle for the update that includes its push, then reads the new model.
- ``k-batch-async``: like k-async but a learner reads the current model right after its
  push and goes on; no learner is ever idle.
- ``k-avg`` (Zhou & Cong, Algorithm 1): each learner runs K local steps from the averaged
  model, all wait at a barrier, the server averages.

Learner l's n-th task takes ``X[l, n]`` from its own stream (common random numbers across
variants); with measured durations replayed, ``X[l, n]`` is the n-th measured row of
learner l's worker (from the first row again past the last; see
:mod:`simulator.timing.wraps`). Push/pull latencies and a server service time are optional
and zero by default.
"""

from __future__ import annotations

from collections.abc import Sequence

import simpy

from simulator._checks import check_seed
from simulator.errors import PssimError
from simulator.spec import ExperimentSpec
from simulator.timing._budget import simulate_to_budget
from simulator.timing._draws import compute_blocks, duration_stream, learner_streams
from simulator.timing._memory import check_timing_memory
from simulator.timing._state import RunState
from simulator.timing.fast import NeedsReference, fast_applies, simulate_fast
from simulator.trace import Trace

__all__ = ["ENGINES", "simulate", "simulate_spec"]

#: ``auto``: the fast path where it applies, else SimPy; ``simpy``: always the reference
#: engine; ``fast``: the fast path or an error saying why it does not apply.
ENGINES = ("auto", "simpy", "fast")


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
    engine: str = "auto",
) -> Trace:
    """Simulate ``updates`` server updates of one variant and return its :class:`Trace`.

    Takes an :class:`~simulator.spec.ExperimentSpec` (its timing fields; the keywords
    given override them) or the same fields as keywords (unset ones take the spec's
    defaults). Everything is validated before the first event.

    Args:
        variant: ``sync``, ``async``, ``k-sync``, ``k-batch-sync``, ``k-async``,
            ``k-batch-async`` or ``k-avg``; or an ExperimentSpec.
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
        engine: ``"auto"`` (default) runs the fast path where it applies (no latencies,
            no service time, every duration > 0) and the SimPy engine otherwise;
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
    }
    given = {name: value for name, value in given.items() if value is not None}
    if isinstance(variant, ExperimentSpec):
        spec = variant.replace(**given) if given else variant
    else:  # laws without law: the spec drops its default law
        spec = ExperimentSpec(variant=variant, **given)
    run_seed = spec.seed if seed is None else check_seed("seed", seed)
    return simulate_spec(spec, run_seed, engine=engine)


def simulate_spec(spec: ExperimentSpec, seed: int, *, engine: str = "auto") -> Trace:
    """The trace of one seed of a validated spec (``engine`` and the memory the run will
    allocate are checked here, before the first event).

    With a ``time_budget`` it is every update at a time <= the budget (see
    :func:`simulator.timing._budget.simulate_to_budget`).

    Raises:
        SpecError: the run would need more memory than
            :data:`simulator.timing._memory.MEMORY_BUDGET` (naming ``updates``,
            ``num_learners`` or ``time_budget``).
    """
    if engine not in ENGINES:
        raise PssimError(
            f"`engine` must be one of {', '.join(ENGINES)}; got {engine!r}", param="engine"
        )
    check_timing_memory(spec, engine=engine)
    if spec.time_budget is not None:
        return simulate_to_budget(spec, seed, engine=engine)
    if engine != "simpy":
        if fast_applies(spec):
            try:
                return simulate_fast(spec, seed)
            except NeedsReference as why:
                if engine == "fast":
                    raise PssimError(
                        f"`engine` 'fast' cannot reproduce this run exactly: {why}; "
                        "use engine='auto' or 'simpy'",
                        param="engine",
                    ) from None
                check_timing_memory(spec, engine="simpy")  # the reference engine's own cost
        elif engine == "fast":
            raise PssimError(
                "`engine` 'fast' applies only without push_latency, pull_latency and "
                "service_time; use engine='auto' or 'simpy'",
                param="engine",
            )
    return _simulate_simpy(spec, seed)


def _simulate_simpy(spec: ExperimentSpec, seed: int) -> Trace:
    """The SimPy reference engine: every feature, one process per learner."""
    variant, k = spec.canonical
    p, updates = spec.num_learners, spec.updates
    service = spec.service_time

    env = simpy.Environment()
    state = RunState(
        env,
        variant=variant,
        num_learners=p,
        k=k if variant != "k-avg" else p,
        seed=seed,
        updates=updates,
        service=None if service is None else learner_streams([service], [1.0], seed, 3)[0],
        local_steps=k if variant == "k-avg" else 1,
    )
    compute = [duration_stream(b) for b in compute_blocks(spec, seed)]
    push = _latencies(spec.push_latency, p, seed, 1)
    pull = _latencies(spec.pull_latency, p, seed, 2)
    if variant in ("k-async", "k-batch-async"):
        wait = variant == "k-async"
        for lrn in range(p):
            env.process(_async_learner(env, state, lrn, compute[lrn], push[lrn], pull[lrn], wait))
        env.run(until=state.done)
    else:  # until the last round's stragglers are cancelled and recorded
        env.run(until=env.process(_rounds(env, state, variant, k, compute, push, pull)))
    return state.to_trace()


def _latencies(law, p: int, seed: int, salt: int):
    if law is None:
        return [None] * p
    return learner_streams([law] * p, [1.0] * p, seed, salt)


def _async_learner(env, state: RunState, lrn, compute, push, pull, wait_for_update):
    """K-async / K-batch-async learner: compute, push, (wait,) read, repeat.

    This is the hot loop of fully asynchronous runs, so it binds the recorder's appends
    locally and reads ``env.now`` only after a wait (after a plain timeout the time is the
    start plus the duration).
    """
    timeout, k = env.timeout, state.k
    add_learner, add_version = state.c_learner.append, state.c_version.append
    add_start, add_finish = state.c_start.append, state.c_finish.append
    plain = push is None and pull is None and not wait_for_update
    busy = state.task_start
    start = env.now
    while True:
        version = state.version
        busy[lrn] = start
        x = compute()
        yield timeout(x)
        finish = start + x
        if not plain:
            busy[lrn] = None
        if push is not None:
            yield timeout(push())
        add_learner(lrn)
        add_version(version)
        add_start(start)
        add_finish(finish)
        state.pushes = n = state.pushes + 1
        if n % k == 0:
            state.close_batch()
        if plain:
            start = finish
            continue
        j = (n - 1) // k
        if wait_for_update and state.version <= j:
            yield state.applied(j)
        if pull is not None:
            yield timeout(pull())
        start = env.now


def _rounds(env, state: RunState, variant, k, compute, push, pull):
    """Round-based variants (k-sync, k-batch-sync, k-avg): start all, wait, cancel, repeat."""
    p = state.num_learners
    worker = _avg_worker if variant == "k-avg" else _sync_worker
    for j in range(state.updates):
        while state.version < j:  # a queued update (service time) must land first
            yield state.applied(state.version)
        full = env.event()
        workers = [
            env.process(
                worker(env, state, lrn, j, full, k, variant, compute[lrn], push[lrn], pull[lrn])
            )
            for lrn in range(p)
        ]
        yield full
        for w in workers:
            if w.is_alive:
                w.interrupt()
    yield env.timeout(0)  # deliver the last interrupts
    if not state.done.triggered:
        yield state.done


def _sync_worker(env, state: RunState, lrn, j, full, k, variant, compute, push, pull):
    """One learner's round of k-sync / k-batch-sync; interrupted when the batch is full."""
    start = None
    try:
        if pull is not None:
            yield env.timeout(pull())
        while True:
            start = env.now
            finish = start + compute()
            yield env.timeout(finish - start)
            if push is not None:
                yield env.timeout(push())
            if full.triggered:  # a tie at the instant the batch filled: not counted
                state.cancel(lrn, start)
                return
            state.push(lrn, j, start, finish)
            if state.pushes % k == 0:
                full.succeed()
                return
            if variant == "k-sync":
                return
    except simpy.Interrupt:
        if start is not None:
            state.cancel(lrn, start)


def _avg_worker(env, state: RunState, lrn, j, full, steps, variant, compute, push, pull):
    """One learner's K local steps of K-AVG, then its push; the P-th push is the barrier."""
    if pull is not None:
        yield env.timeout(pull())
    start = env.now
    total = sum(compute() for _ in range(steps))
    yield env.timeout(total)
    if push is not None:
        yield env.timeout(push())
    state.push(lrn, j, start, start + total)
    if state.pushes % state.num_learners == 0:
        full.succeed()
