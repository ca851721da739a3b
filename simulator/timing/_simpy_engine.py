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

- ``all-reduce``: synchronous SGD without a server: every learner computes one mini-batch
  from w_j; when the last one finishes, a ring all-reduce of 2 (P - 1) steps, each as long
  as its slowest link (``transfer_bytes / P / bandwidth`` plus a ``push_latency`` draw), and
  the update lands at the end of the ring; all learners start the next round then (nothing
  to pull). A learner holds its gradient until the ring starts; one that fails before
  then loses it and computes another after its repair. A failure during the ring does not
  stall it; the learner is down afterwards.

Cluster features (:mod:`simulator.timing._cluster`), each opt-in:

- Failures (``failure``/``repair`` laws or an ``availability`` file): a learner that goes
  down loses its computation or push in flight (lost work, reason ``failure``) and after its
  repair pulls the current model and starts a new mini-batch. The server always waits for K
  contributions, however few learners are up: K-sync and sync wait for repaired learners to
  compute; a K-async learner that was waiting for its update reads the current model after
  its repair. Down periods are recorded in the trace.
- Deadlines (``deadline`` D, round-based variants): the server updates at the earlier of the
  K-th arrival and the round's start + D, with what has arrived; if nothing has arrived by
  then, at the first arrival. Unfinished work is cancelled (reason ``deadline``) and the
  row's missing slots are masked out, so the replay averages the contributions that arrived.
- Slowdowns (``slowdown``): a learner's compute progresses at rate 1 / factor while its
  Markov chain (its own, or one shared) is slow (:mod:`simulator.timing._slowdown`).
- Bandwidth (``bandwidth``, ``server_bandwidth``, ``servers``): a push and a pull carry
  ``transfer_bytes`` after their latency draw, over the learner's own link and the server's
  link, which the transfers in flight share max-min fairly (:mod:`simulator.timing._links`;
  pushes and pulls share it). S equal shards, each with a link of ``server_bandwidth`` and
  each transfer's bytes split evenly over them with the learner's link split alike, finish
  every part at the same time as one link S times wider, which is how they are simulated.

Learner l's n-th task takes ``X[l, n]`` from its own stream (common random numbers across
variants); with measured durations replayed, ``X[l, n]`` is the n-th measured row of
learner l's worker (from the first row again past the last; see
:mod:`simulator.timing.wraps`). Push/pull latencies and a server service time are optional
and zero by default.
"""

from __future__ import annotations

import simpy

from simulator.errors import PssimError
from simulator.spec import ExperimentSpec
from simulator.timing._cluster import CANCELLED, CUT, DISCARDED, RING, Cluster, Failure
from simulator.timing._draws import learner_streams
from simulator.timing._k_policy import KPolicy, engine_policy
from simulator.timing._state import RunState
from simulator.trace import Trace

__all__ = ["simulate_simpy"]

_ASYNC = ("k-async", "k-batch-async")
#: Asynchronous variants whose server discards some gradients.
_DISCARDING = ("rennala", "ringmaster")


def _fresh_only(version: int, current: int) -> bool:
    """Rennala: only gradients computed at the current model count."""
    return version == current


def _younger_than(limit: int):
    """Ringmaster: a gradient counts while its staleness is below ``limit`` R."""

    def keep(version: int, current: int) -> bool:
        return current - version < limit

    return keep


def simulate_simpy(spec: ExperimentSpec, seed: int, policy: KPolicy | None = None) -> Trace:
    """The SimPy reference engine: every feature, one process per learner.

    ``policy`` (or the spec's ``k_schedule``) sets K batch by batch
    (:mod:`simulator.timing._k_policy`): the trace's rows are ``policy.k_max`` wide, each
    update's unused slots masked, and ``Trace.update_k`` holds each update's K."""
    variant, k = spec.canonical
    p, updates = spec.num_learners, spec.updates
    service = spec.service_time
    policy = engine_policy(spec, policy)
    env = simpy.Environment()
    state = RunState(
        env,
        variant=variant,
        num_learners=p,
        k=policy.k_max if policy is not None else k if variant != "k-avg" else p,
        k_now=None if policy is None else k,
        decide=policy,
        seed=seed,
        updates=updates,
        service=None if service is None else learner_streams([service], [1.0], seed, 3)[0],
        local_steps=k if variant == "k-avg" else 1,
    )
    cluster = Cluster(env, state, spec, seed)
    if variant == "all-reduce":
        state.set_service(_ring(env, state, cluster))
    cluster.start_failures()
    try:
        _run(env, state, cluster, spec, variant, k)
    except PssimError:
        if cluster.error is not None:
            raise cluster.error from None
        raise
    return state.to_trace()


def _run(env, state: RunState, cluster: Cluster, spec: ExperimentSpec, variant: str, k: int):
    """Start the learners' processes of ``variant`` and run until the last update."""
    p = state.num_learners
    if variant in _DISCARDING:
        keep = _fresh_only if variant == "rennala" else _younger_than(spec.staleness_limit)
        for lrn in range(p):
            worker = _async_worker(env, state, cluster, lrn, False, keep)
            cluster.running[lrn] = env.process(worker)
        env.run(until=state.done)
    elif variant in _ASYNC:
        wait = variant == "k-async"
        plain = (
            not cluster.faulty
            and cluster.slow is None
            and cluster.nbytes <= 0
            and state.decide is None
        )
        for lrn in range(p):
            if plain:
                compute, push, pull = (
                    cluster.compute[lrn],
                    cluster.push_latency[lrn],
                    cluster.pull_latency[lrn],
                )
                env.process(_async_learner(env, state, lrn, compute, push, pull, wait))
            else:
                cluster.running[lrn] = env.process(_async_worker(env, state, cluster, lrn, wait))
        env.run(until=state.done)
    elif variant == "all-reduce":
        env.run(until=env.process(_ring_rounds(env, state, cluster)))
    else:  # until the last round's stragglers are cancelled and recorded
        deadline = getattr(spec, "deadline", None)
        env.run(until=env.process(_rounds(env, state, cluster, variant, k, deadline)))


def _async_learner(env, state: RunState, lrn, compute, push, pull, wait_for_update):
    """K-async / K-batch-async learner without cluster features: compute, push, (wait,)
    read, repeat.

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


def _async_worker(
    env, state: RunState, cluster: Cluster, lrn: int, wait_for_update: bool, keep=None
):
    """K-async / K-batch-async learner on a cluster with failures, slowdowns or bandwidth:
    as :func:`_async_learner`, and a failure loses the task in flight (computation or
    push), after which the learner sits out its repair and pulls the current model.

    ``keep(version, current)`` (Rennala, Ringmaster) says whether the server counts a
    gradient computed at ``version`` when it arrives at model ``current``; one it does not
    is recorded as discarded work, and its learner reads the current model and starts
    again. No learner is ever cancelled."""
    k, pull = state.k, False
    free_push, free_pull, down = cluster.free_push, cluster.free_pull, cluster.down_until
    while True:
        start = None
        try:
            if down[lrn] is not None:
                yield from cluster.sit_out(lrn)
            if pull and not free_pull:
                yield from cluster.pull(lrn)
            start, version = env.now, state.version
            state.task_start[lrn] = start
            finish = cluster.finish(lrn, start, cluster.compute[lrn]())
            yield env.timeout(finish - start)
            state.task_start[lrn] = None
            cluster.lost_in_a_row[lrn] = 0
            if not free_push:
                yield from cluster.push(lrn)
            if keep is None or keep(version, state.version):
                state.push(lrn, version, start, finish)
            else:
                state.cancel(lrn, start, DISCARDED)
            start, pull = None, True
            j = (state.pushes - 1) // k
            if wait_for_update and state.version <= j:
                yield state.applied(j)
        except simpy.Interrupt as why:
            if not isinstance(why.cause, Failure):
                raise
            state.task_start[lrn] = None
            if start is not None:
                cluster.lose(lrn, start)
            pull = True


def _rounds(env, state: RunState, cluster: Cluster, variant, k, deadline):
    """Round-based variants (k-sync, k-batch-sync, k-avg): start all, wait for K
    contributions or the deadline, cancel the rest, repeat."""
    p = state.num_learners
    steps = k if variant == "k-avg" else 1
    repeat = variant == "k-batch-sync"
    for j in range(state.updates):
        while state.version < j:  # a queued update (service time) must land first
            yield state.applied(state.version)
        full = env.event()
        workers = [
            env.process(_round_worker(env, state, cluster, lrn, j, full, steps, repeat))
            for lrn in range(p)
        ]
        state.round_reason = CANCELLED
        if deadline is None:
            yield full
        else:
            yield full | env.timeout(deadline)
            if not full.triggered:
                state.round_reason = CUT
                if state.pushes % state.k:  # something arrived: update with it
                    state.close_early()
                else:  # nothing yet: the first arrival closes the round
                    state.cut_next = True
                    yield full
                    state.cut_next = False
        for w in workers:
            if w.is_alive:
                w.interrupt(state.round_reason)
    yield env.timeout(0)  # deliver the last interrupts
    if not state.done.triggered:
        yield state.done


def _round_worker(env, state: RunState, cluster: Cluster, lrn, j, full, steps, repeat):
    """One learner's round: pull w_j, compute ``steps`` mini-batches (K local steps of
    K-AVG, else 1), push; again at w_j if ``repeat`` (K-batch-sync). Interrupted by the
    server when the round ends (the cause is the loss reason), or by a failure (the task
    is lost; after the repair the learner pulls w_j and starts again)."""
    cluster.running[lrn] = env.active_process
    start, pull = None, True
    try:
        while True:
            try:
                yield from cluster.sit_out(lrn)
                if pull and not cluster.free_pull:
                    yield from cluster.pull(lrn)
                pull = False
                start = env.now
                work = cluster.compute[lrn]()
                for _ in range(steps - 1):
                    work += cluster.compute[lrn]()
                finish = cluster.finish(lrn, start, work)
                yield env.timeout(finish - start)
                cluster.lost_in_a_row[lrn] = 0
                if not cluster.free_push:
                    yield from cluster.push(lrn)
                if full.triggered:  # a tie at the instant the batch filled: not counted
                    state.cancel(lrn, start, state.round_reason)
                    return
                state.push(lrn, j, start, finish)
                start = None
                if state.cut_next and state.pushes % state.k:
                    state.close_early()
                if state.pushes % state.k == 0:
                    full.succeed()
                    return
                if not repeat:
                    return
            except simpy.Interrupt as why:
                if not isinstance(why.cause, Failure):
                    raise
                if start is not None:
                    cluster.lose(lrn, start)
                start, pull = None, True
    except simpy.Interrupt as why:  # the server closed the round
        if start is not None:
            state.cancel(lrn, start, why.cause)


def _ring_rounds(env, state: RunState, cluster: Cluster):
    """all-reduce: every learner computes one mini-batch from w_j and holds its gradient
    until the ring starts, when all P hold one; the update lands at the ring's end (the
    service time drawn by :func:`_ring`). A learner that fails before the ring starts loses
    its gradient and computes another after its repair."""
    for j in range(state.updates):
        while state.version < j:  # the last ring must end first
            yield state.applied(state.version)
        held: dict[int, tuple[float, float]] = {}
        ready = env.event()
        for lrn in range(state.num_learners):
            env.process(_ring_worker(env, state, cluster, lrn, held, ready))
        yield ready
        for lrn in sorted(held, key=lambda i: (held[i][1], i)):  # in the order they finished
            state.push(lrn, j, *held[lrn])
    if not state.done.triggered:
        yield state.done


def _ring_worker(env, state: RunState, cluster: Cluster, lrn: int, held: dict, ready):
    """One learner's part of an all-reduce round (see :func:`_ring_rounds`)."""
    cluster.running[lrn] = env.active_process
    start = None
    while True:
        try:
            if cluster.down_until[lrn] is not None:
                yield from cluster.sit_out(lrn)
            start = env.now
            finish = cluster.finish(lrn, start, cluster.compute[lrn]())
            yield env.timeout(finish - start)
            cluster.lost_in_a_row[lrn] = 0
            held[lrn] = (start, finish)
            if len(held) == state.num_learners:
                ready.succeed()
            else:
                yield ready  # holding the gradient until the ring starts
            return
        except simpy.Interrupt as why:
            if not isinstance(why.cause, Failure):
                raise
            if start is not None:  # the computation, or the gradient it held
                cluster.lose(lrn, start, stop=held.pop(lrn, (None, None))[1])
            start = None


def _ring(env, state: RunState, cluster: Cluster):
    """The duration of one ring all-reduce, drawn when it starts (recorded as a transfer
    of every learner): 2 (P - 1) steps, each as long as the slowest learner's share of the
    bytes over its link plus its latency draw."""
    p = state.num_learners
    chunk = cluster.nbytes / p

    fixed = all(latency is None for latency in cluster.push_latency)
    if fixed:  # every step as long as the slowest link's share
        step = max(chunk / bw for bw in cluster.bandwidth) if chunk > 0 else 0.0

    def duration() -> float:
        total = 2 * (p - 1) * step if fixed else 0.0
        for _ in range(0 if fixed else 2 * (p - 1)):
            widest = 0.0
            for lrn in range(p):
                t = chunk / cluster.bandwidth[lrn] if chunk > 0 else 0.0
                latency = cluster.push_latency[lrn]
                if latency is not None:
                    t += latency()
                widest = max(widest, t)
            total += widest
        if cluster.record:
            for lrn in range(p):
                state.record_transfer(lrn, env.now, env.now + total, RING)
        return total

    return duration
