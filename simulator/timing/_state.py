"""Shared state of one SimPy timing run: the server's batch and the recorder."""

from __future__ import annotations

import math
import numbers
from array import array
from collections.abc import Callable

import numpy as np
import simpy

from simulator.errors import PssimError
from simulator.trace import Trace


class RunState:
    """Server state and recording for one run of ``updates`` server updates.

    Attributes:
        version: number of updates applied so far (the version a learner reads now).
        pushes: contribution slots filled so far; update j aggregates slots jK .. jK + K - 1
            (K = ``k``, the row width).
        k_now: the K the batch being filled waits for (<= ``k``; ``k`` unless a K policy
            changes it). A batch closed at ``k_now < k`` contributions has its remaining
            slots masked, so the rows stay (U, k).
        decide: None, or a K policy: called as ``decide(b, trace_so_far)`` once update
            b - 1 is applied (``trace_so_far()`` gives the trace of updates 0..b-1), it
            returns K for batch b on (with a service time, a batch may be filling by then:
            it closes at the new K).
    """

    __slots__ = (
        "_applied",
        "_server",
        "_service",
        "batches_closed",
        "c_finish",
        "c_learner",
        "c_start",
        "c_version",
        "cancelled_learner",
        "cancelled_reason",
        "cancelled_start",
        "cancelled_stop",
        "cut_next",
        "decide",
        "done",
        "down",
        "env",
        "k",
        "k_now",
        "local_steps",
        "num_learners",
        "padded",
        "pushes",
        "round_reason",
        "seed",
        "task_start",
        "transfers",
        "update_k",
        "update_time",
        "updates",
        "variant",
        "version",
    )

    def __init__(
        self,
        env: simpy.Environment,
        *,
        variant: str,
        num_learners: int,
        k: int,
        seed: int,
        updates: int,
        service: Callable[[], float] | None,
        local_steps: int = 1,
        decide: Callable[[int, Callable[[], Trace]], int] | None = None,
        k_now: int | None = None,
    ) -> None:
        self.env = env
        self.variant, self.num_learners, self.k, self.seed = variant, num_learners, k, seed
        self.updates, self.local_steps = updates, local_steps
        self.k_now = k if k_now is None else k_now
        self.decide = decide
        self.update_k = array("q") if decide is not None else None  # K of each batch
        self.version = 0
        self.pushes = 0  # contributions counted so far; batch j is pushes [jK, (j+1)K)
        self.batches_closed = 0  # batches handed to the server (applied or queued)
        self.done = env.event()
        self._applied: dict[int, simpy.Event] = {}
        self._service = service
        self._server = simpy.Resource(env, capacity=1) if service is not None else None
        # typed arrays: appends as cheap as a list's, and free conversion to numpy
        self.update_time = array("d")
        # one entry per counted contribution, in push order (row-major (U, K) order)
        self.c_learner = array("q")
        self.c_version = array("q")
        self.c_start = array("d")
        self.c_finish = array("d")
        self.cancelled_learner = array("q")
        self.cancelled_start = array("d")
        self.cancelled_stop = array("d")
        self.cancelled_reason = array("b")
        self.padded = False  # a batch was closed early (a deadline): masked slots
        self.cut_next = False  # a deadline passed with nothing arrived: the next push closes
        self.round_reason = 0  # why the current round's unfinished work is lost (a reason)
        self.down: tuple[array, array, array] = (array("q"), array("d"), array("d"))
        self.transfers: tuple[array, array, array, array] = (
            array("q"),
            array("d"),
            array("d"),
            array("b"),
        )
        self.task_start: list[float | None] = [None] * num_learners  # computing since

    # --------------------------------------------------------------- pushes and updates
    def push(self, learner: int, version: int, start: float, finish: float) -> int:
        """Count one contribution; close the batch after ``k_now`` of them (the rest of a
        row narrower than ``k`` masked).

        Returns the index of the update the contribution belongs to.
        """
        self.c_learner.append(learner)
        self.c_version.append(version)
        self.c_start.append(start)
        self.c_finish.append(finish)
        self.pushes = n = self.pushes + 1
        if n % self.k == 0:
            self.close_batch()
            return self.batches_closed - 1
        if n % self.k >= self.k_now:  # a policy's smaller K: the rest of the row is masked
            self.close_early()
            return self.batches_closed - 1
        return self.batches_closed

    def close_batch(self) -> None:
        """Hand the current batch to the server: applied now, or queued for service."""
        self.batches_closed = b = self.batches_closed + 1
        if b > self.updates:
            return
        if self._service is None:  # inline of _apply: the hot path of asynchronous runs
            self.update_time.append(self.env.now)
            self.version = b
            if self._applied:
                event = self._applied.pop(b - 1, None)
                if event is not None:
                    event.succeed()
            if b == self.updates:
                self.done.succeed()
        else:
            self.env.process(self._serve())
        if self.decide is not None:
            self.update_k.append(self.k_now)
            if self._service is None and b < self.updates:  # applied: decide now
                self._decide(b)

    def set_service(self, service: Callable[[], float]) -> None:
        """Give every update a duration drawn from ``service`` when it starts (updates
        queue at a capacity-1 resource)."""
        self._service = service
        self._server = simpy.Resource(self.env, capacity=1)

    def _serve(self):
        with self._server.request() as req:
            yield req
            yield self.env.timeout(self._service())
            self._apply()

    def _apply(self) -> None:
        j = self.version
        self.update_time.append(self.env.now)
        self.version = j + 1
        if self.decide is not None and j + 1 < self.updates:
            self._decide(j + 1)
        if self._applied:
            event = self._applied.pop(j, None)
            if event is not None:
                event.succeed()
        if j + 1 == self.updates:
            self.done.succeed()

    def _decide(self, b: int) -> None:
        """Ask the policy for K from batch ``b`` on, once updates 0..b-1 are applied."""
        k = self.decide(b, lambda: self.to_trace(copy=True))
        if isinstance(k, bool) or not isinstance(k, numbers.Integral) or not 1 <= k <= self.k:
            raise PssimError(
                f"a K policy must return an integer K in [1, {self.k}] (its k_max); got "
                f"{k!r} for update {b}",
                param="k_policy",
            )
        self.k_now = int(k)

    def applied(self, j: int) -> simpy.Event:
        """Event that fires when update ``j`` has been applied."""
        event = self._applied.get(j)
        if event is None:
            event = self._applied[j] = self.env.event()
        return event

    def cancel(
        self, learner: int, start: float, reason: int = 0, stop: float | None = None
    ) -> None:
        """Record work started at ``start`` and lost now (``reason``: an index into
        :data:`simulator.trace.LOSS_REASONS`; 0 is a cancellation by the server); ``stop``:
        where the lost work ended, if before now (a finished gradient lost later)."""
        self.cancelled_learner.append(learner)
        self.cancelled_start.append(start)
        self.cancelled_stop.append(self.env.now if stop is None else stop)
        self.cancelled_reason.append(reason)

    def close_early(self) -> None:
        """Close the current batch with the contributions it has (a deadline, or a
        policy's K below the row width): the rest of its slots are masked out."""
        missing = (-self.pushes) % self.k
        for _ in range(missing):
            self.c_learner.append(-1)
            self.c_version.append(-1)
            self.c_start.append(math.nan)
            self.c_finish.append(math.nan)
        self.padded = self.padded or missing > 0
        self.pushes += missing
        self.close_batch()

    def record_down(self, learner: int, down: float, up: float) -> None:
        """Record a down period [down, up) of ``learner``."""
        for column, value in zip(self.down, (learner, down, up), strict=True):
            column.append(value)

    def record_transfer(self, learner: int, start: float, stop: float, kind: int) -> None:
        """Record a transfer of ``learner`` in [start, stop) (``kind``: an index into
        :data:`simulator.trace.TRANSFER_KINDS`)."""
        for column, value in zip(self.transfers, (learner, start, stop, kind), strict=True):
            column.append(value)

    # --------------------------------------------------------------- result
    def to_trace(self, copy: bool = False) -> Trace:
        """Pack the recorded contributions (push order = row-major (U, K) order) into a Trace
        (``copy``: arrays of their own, for a trace taken while the run goes on; otherwise
        views of the recorder's buffers, which must then grow no more)."""
        frombuffer = _copied if copy else np.frombuffer
        u, k = len(self.update_time), self.k
        shape = (u, k)
        n = u * k
        learner = frombuffer(self.c_learner, dtype=np.int64)[:n].reshape(shape)
        version = frombuffer(self.c_version, dtype=np.int64)[:n].reshape(shape)
        start = frombuffer(self.c_start, dtype=np.float64)[:n].reshape(shape)
        finish = frombuffer(self.c_finish, dtype=np.float64)[:n].reshape(shape)
        mask = learner >= 0 if self.padded else np.ones(shape, dtype=bool)
        extra = self._extra_arrays(frombuffer)
        if self.update_k is not None:
            ks = frombuffer(self.update_k, dtype=np.int64)[:u]
            if np.any(ks != k):  # a K that never changes from the row width is not recorded
                extra["update_k"] = ks
        return Trace(
            variant=self.variant,
            num_learners=self.num_learners,
            k=self.k if self.variant != "k-avg" else self.local_steps,
            seed=self.seed,
            update_time=frombuffer(self.update_time, dtype=np.float64),
            learner=learner,
            version=version,
            start=start,
            finish=finish,
            mask=mask,
            cancelled_learner=frombuffer(self.cancelled_learner, dtype=np.int64),
            cancelled_start=frombuffer(self.cancelled_start, dtype=np.float64),
            cancelled_stop=frombuffer(self.cancelled_stop, dtype=np.float64),
            local_steps=self.local_steps,
            inflight_learner=np.array([i for i, t in enumerate(self.task_start) if t is not None]),
            inflight_start=np.array([t for t in self.task_start if t is not None]),
            **extra,
        )

    def _extra_arrays(self, frombuffer=np.frombuffer) -> dict[str, np.ndarray]:
        """Loss reasons, down periods (clipped to the run) and transfers, where recorded."""
        out: dict[str, np.ndarray] = {}
        if any(self.cancelled_reason):
            out["cancelled_reason"] = frombuffer(self.cancelled_reason, dtype=np.int8)
        end = self.update_time[-1] if len(self.update_time) else 0.0
        learner, down, up = (np.asarray(a) for a in self.down)
        if learner.size:
            keep = down < end
            out["down_learner"] = learner[keep].astype(np.int64)
            out["down_start"] = down[keep]
            out["down_stop"] = np.minimum(up[keep], end)
        learner, start, stop, kind = (np.asarray(a) for a in self.transfers)
        if learner.size:
            out["transfer_learner"] = learner.astype(np.int64)
            out["transfer_start"], out["transfer_stop"] = start, stop
            out["transfer_kind"] = kind.astype(np.int8)
        return out


def _copied(buffer, dtype) -> np.ndarray:
    """``np.frombuffer`` with an array of its own (the buffer may grow afterwards)."""
    return np.frombuffer(buffer, dtype=dtype).copy()
