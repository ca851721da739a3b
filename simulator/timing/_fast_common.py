"""What the fast timing paths share: the fallback signal, positive draws, the Trace builder.

The fast paths reproduce the SimPy engine's traces bit for bit. They rely on every
duration being > 0 (a task never ends at the instant it starts), which fixes the order
in which SimPy processes simultaneous events; a zero duration sends the run back to SimPy.
"""

from __future__ import annotations

import numpy as np

from simulator.trace import Trace

#: Largest number of durations a vectorised path holds at once (about 8 MB of float64).
CHUNK_VALUES = 1 << 20


class NeedsReference(Exception):
    """The fast path cannot reproduce this run exactly; the SimPy engine must run it."""


def positive(block: np.ndarray) -> np.ndarray:
    """``block`` unchanged; raises :class:`NeedsReference` if a duration is not > 0."""
    if block.size and not block.min() > 0:
        raise NeedsReference("a compute duration of 0 (ties at a task's own start)")
    return block


class PositiveBlocks:
    """A learner's blocks (anything with ``next()``), each checked to hold only durations > 0."""

    __slots__ = ("blocks",)

    def __init__(self, blocks) -> None:
        self.blocks = blocks

    def next(self) -> np.ndarray:
        return positive(self.blocks.next())


def make_trace(
    variant: str,
    p: int,
    k: int,
    seed: int,
    *,
    update_time: np.ndarray,
    learner: np.ndarray,
    version: np.ndarray,
    start: np.ndarray,
    finish: np.ndarray,
    cancelled: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None,
    inflight: tuple[np.ndarray, np.ndarray] | None = None,
    local_steps: int = 1,
) -> Trace:
    """A Trace from contributions in push order ((U*Kslots,) arrays, reshaped here)."""
    u = update_time.shape[0]
    shape = (u, learner.shape[0] // max(u, 1)) if u else (0, k)
    empty_i, empty_f = np.zeros(0, np.int64), np.zeros(0)
    c_l, c_s, c_t = cancelled if cancelled is not None else (empty_i, empty_f, empty_f)
    i_l, i_s = inflight if inflight is not None else (empty_i, empty_f)
    return Trace(
        variant=variant,
        num_learners=p,
        k=k,
        seed=seed,
        update_time=update_time,
        learner=learner.reshape(shape),
        version=version.reshape(shape),
        start=start.reshape(shape),
        finish=finish.reshape(shape),
        mask=np.ones(shape, dtype=bool),
        cancelled_learner=c_l,
        cancelled_start=c_s,
        cancelled_stop=c_t,
        local_steps=local_steps,
        inflight_learner=i_l,
        inflight_start=i_s,
    )
