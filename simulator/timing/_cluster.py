"""The cluster a SimPy run happens on: what a learner's task, push and pull cost, and when
it is down.

:class:`Cluster` gathers, per learner, its compute durations (with Markov-modulated
slowdowns), its push and pull (latency laws, bytes over its own link and the server's
shared link) and its failures, and records transfers and down periods in the run's
:class:`~simulator.timing._state.RunState`. The processes of
:mod:`simulator.timing._simpy_engine` call it; with none of these features every cost is
the plain one (a compute draw; a latency draw or nothing).

A learner goes down by a :class:`Failure` interrupt from its failure process (SimPy's
machine-shop idiom): the process it is running then records what it lost and sits out
the down period with :meth:`Cluster.sit_out`.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import simpy

from simulator.errors import PssimError
from simulator.timing._availability import down_periods
from simulator.timing._draws import compute_blocks, duration_stream, learner_streams
from simulator.timing._links import SharedLink
from simulator.timing._slowdown import slowdown_paths
from simulator.timing._state import RunState

__all__ = ["PULL", "PUSH", "RING", "Cluster", "Failure"]

#: Tasks a learner may lose to failures in a row before the run is refused.
MAX_LOST_IN_A_ROW = 1000
#: Transfer kinds (indices into ``simulator.trace.TRANSFER_KINDS``) and loss reasons.
PUSH, PULL, RING = 0, 1, 2
CANCELLED, FAILED, CUT, DISCARDED = 0, 1, 2, 3


class Failure:
    """Cause of the interrupt that takes a learner down until ``up``."""

    __slots__ = ("up",)

    def __init__(self, up: float) -> None:
        self.up = up


def _latencies(law, p: int, seed: int, salt: int) -> list[Callable[[], float] | None]:
    if law is None:
        return [None] * p
    return learner_streams([law] * p, [1.0] * p, seed, salt)


class Cluster:
    """Per-learner costs and failures of one seed of a spec (see the module docstring)."""

    def __init__(self, env: simpy.Environment, state: RunState, spec, seed: int) -> None:
        p = spec.num_learners
        self.env, self.state, self.num_learners = env, state, p
        self.compute = [duration_stream(b) for b in compute_blocks(spec, seed)]
        self.slow = slowdown_paths(spec, seed)
        self.push_latency = _latencies(spec.push_latency, p, seed, 1)
        self.pull_latency = _latencies(spec.pull_latency, p, seed, 2)
        self.nbytes = 0.0
        self.bandwidth: list[float] = [math.inf] * p
        self.link: SharedLink | None = None
        if getattr(spec, "network", False):
            self.nbytes = float(spec.transfer_bytes)
            bw = spec.bandwidth
            if bw is not None:
                self.bandwidth = [float(b) for b in bw] if isinstance(bw, tuple) else [bw] * p
            if spec.server_bandwidth is not None:  # S equal shards = one link S times wider
                uniform = len(set(self.bandwidth)) == 1  # and every transfer carries B bytes
                self.link = SharedLink(env, spec.servers * spec.server_bandwidth, uniform=uniform)
        #: A push (pull) takes no time: no bytes to move and no latency.
        self.free_push = self.nbytes <= 0 and spec.push_latency is None
        self.free_pull = self.nbytes <= 0 and spec.pull_latency is None
        self.record = not (self.free_push and self.free_pull)  # transfers in the trace
        self.periods = down_periods(spec, seed)
        self.down_until: list[float | None] = [None] * p  # up time of a learner now down
        self.lost_in_a_row = [0] * p  # tasks each learner lost to failures since its last
        self.error: PssimError | None = None  # why the run was stopped
        self.running: list[simpy.Process | None] = [None] * p  # what a failure interrupts

    @property
    def faulty(self) -> bool:
        """True when learners fail."""
        return self.periods is not None

    # ------------------------------------------------------------------ compute
    def finish(self, learner: int, start: float, work: float) -> float:
        """End of a task of ``work`` (its duration at full speed) started at ``start``."""
        if self.slow is None:
            return start + work
        return self.slow[learner].finish(start, work)

    # ------------------------------------------------------------------ transfers

    def push(self, learner: int):
        """A process step: the learner's push (latency, then its bytes)."""
        return self._transfer(learner, self.push_latency[learner], PUSH)

    def pull(self, learner: int):
        """A process step: the learner's pull of the current model."""
        return self._transfer(learner, self.pull_latency[learner], PULL)

    def _transfer(self, learner: int, latency, kind: int):
        start = self.env.now
        if latency is not None:
            yield self.env.timeout(latency())
        if self.nbytes > 0:
            cap = self.bandwidth[learner]
            if self.link is None:
                yield self.env.timeout(self.nbytes / cap)
            else:
                flow = self.link.transfer(self.nbytes, cap)
                try:
                    yield flow.done
                except simpy.Interrupt:
                    self.link.cancel(flow)
                    raise
        if self.record:
            self.state.record_transfer(learner, start, self.env.now, kind)

    # ------------------------------------------------------------------ failures
    def start_failures(self) -> None:
        """Start every learner's failure process (no-op without failures)."""
        if self.periods is not None:
            for learner, periods in enumerate(self.periods):
                self.env.process(self._fail(learner, periods))

    def _fail(self, learner: int, periods):
        env = self.env
        for down, up in periods:
            if down > env.now:
                yield env.timeout(down - env.now)
            if up <= env.now:
                continue
            self.down_until[learner] = up
            self.state.record_down(learner, env.now, up)
            proc = self.running[learner]
            if proc is not None and proc.is_alive and proc is not env.active_process:
                proc.interrupt(Failure(up))
            yield env.timeout(up - env.now)
            self.down_until[learner] = None

    def lose(self, learner: int, start: float, stop: float | None = None) -> None:
        """Record the task started at ``start`` as lost to a failure (until ``stop``, or
        now) and count it; refuse a cluster whose learner loses :data:`MAX_LOST_IN_A_ROW`
        in a row (its up periods are too short for its tasks: the run would never end)."""
        self.state.cancel(learner, start, FAILED, stop=stop)
        self.lost_in_a_row[learner] = n = self.lost_in_a_row[learner] + 1
        if n >= MAX_LOST_IN_A_ROW:  # kept: SimPy re-raises a copy without its attributes
            self.error = PssimError(
                f"`failure` leaves learner {learner} too little time: it lost {n} tasks in a "
                "row to failures (its up periods are shorter than its tasks); lengthen the "
                "up times or shorten the tasks",
                param="failure",
            )
            raise self.error

    def sit_out(self, learner: int):
        """A process step: wait until the learner is up again (at once if it is up);
        failures while waiting extend the wait."""
        while self.down_until[learner] is not None:
            try:
                yield self.env.timeout(self.down_until[learner] - self.env.now)
            except simpy.Interrupt as why:
                if not isinstance(why.cause, Failure):
                    raise
