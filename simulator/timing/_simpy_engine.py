"""The SimPy reference timing engine: P learners and a parameter server, one process per
learner; every timing feature runs here (the fast paths reproduce a subset exactly).

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

import simpy

from simulator.spec import ExperimentSpec
from simulator.timing._draws import compute_blocks, duration_stream, learner_streams
from simulator.timing._state import RunState
from simulator.trace import Trace

__all__ = ["simulate_simpy"]


def simulate_simpy(spec: ExperimentSpec, seed: int) -> Trace:
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
