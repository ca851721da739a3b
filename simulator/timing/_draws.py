"""Compute durations ``X[l, n] / speed_l``, drawn per learner in numpy blocks.

Every engine reads a learner's durations through the same block schedule: block ``b`` holds
``block_size(b)`` values from one ``law.sample_block`` call on the learner's own Generator (16,
32, ... doubling up to 1024), so the n-th value never depends on the engine, the variant or
how fast other learners consume theirs (common random numbers). Small first blocks keep
memory O(P) for many learners with few tasks each.

Measured durations replayed in order (a spec's ``durations``, mode ``replay``) come through
:class:`ReplayStreams`, a block source with the same interface and the same block sizes:
learner l's n-th duration is row ``n mod n_w`` of its worker's rows (in step order), so
every engine replays exactly the same numbers.

All learners' streams live in one :class:`~simulator.timing._streams.Streams`, which draws a
block of many learners at once for the vectorised paths.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence

import numpy as np

from simulator._spec_durations import learner_workers
from simulator.timing._seeds import generator, spawn_words
from simulator.timing._streams import FIRST_BLOCK, MAX_BLOCK, LearnerView, Streams, block_size

__all__ = [
    "FIRST_BLOCK",
    "MAX_BLOCK",
    "LearnerBlocks",
    "LockstepDraws",
    "ReplayStreams",
    "Streams",
    "block_size",
    "compute_blocks",
    "duration_stream",
    "learner_blocks",
    "learner_rngs",
    "learner_streams",
]


def learner_rngs(p: int, seed: int, salt: int = 0) -> list[np.random.Generator]:
    """One Generator per learner from ``SeedSequence(seed).spawn(P)`` children.

    ``salt`` > 0 gives independent streams for other random quantities (latencies), so
    that they never shift the compute durations.
    """
    return [generator(w) for w in spawn_words(seed if salt == 0 else [seed, salt], p)]


class LearnerBlocks:
    """The block sequence of one learner: ``next()`` returns block 0, 1, 2, ... as arrays."""

    __slots__ = ("count", "law", "rng", "speed")

    def __init__(self, law, rng: np.random.Generator, speed: float) -> None:
        self.law, self.rng, self.speed = law, rng, float(speed)
        self.count = 0  # blocks drawn so far

    def next(self) -> np.ndarray:
        """The learner's next block: (block_size(count),) float64 durations."""
        size = block_size(self.count)
        self.count += 1
        return self.law.sample_block(size, rng=self.rng) / self.speed


def learner_blocks(laws: Sequence, speeds: Sequence[float], seed: int, salt: int = 0) -> Streams:
    """The blocks of P = ``len(laws)`` learners (a sequence of per-learner views)."""
    return Streams(laws, speeds, seed, salt)


class ReplayStreams:
    """Measured durations replayed in order, with the interface of :class:`Streams`:
    learner l's n-th value is ``durations[l][n mod n_l] / speeds[l]`` (past the last row
    of its worker the rows start again from the first), in blocks of :func:`block_size`.

    Args:
        durations: per learner, (n_l,) its worker's measured durations in step order, > 0.
        speeds: (P,) speed factors (durations are divided by them).
    """

    def __init__(self, durations: Sequence[np.ndarray], speeds: Sequence[float]) -> None:
        self.durations = list(durations)
        self.speeds = np.asarray(speeds, dtype=np.float64).reshape(len(self.durations))
        self.count = np.zeros(len(self.durations), dtype=np.int64)  # blocks handed out
        self.position = np.zeros(len(self.durations), dtype=np.int64)  # row of next value

    def __len__(self) -> int:
        return len(self.durations)

    def __getitem__(self, learner: int) -> LearnerView:
        return LearnerView(self, learner)

    def __iter__(self):
        return (LearnerView(self, lrn) for lrn in range(len(self)))

    def next_of(self, learner: int) -> np.ndarray:
        """Learner ``learner``'s next block: (block_size,) float64 durations."""
        size = block_size(int(self.count[learner]))
        self.count[learner] += 1
        rows = self.durations[learner]
        start = int(self.position[learner])
        self.position[learner] = (start + size) % rows.shape[0]
        return np.take(rows, np.arange(start, start + size), mode="wrap") / self.speeds[learner]

    def take(self, learners: np.ndarray | None = None, *, keep: bool = True) -> np.ndarray:
        """The next block of each of ``learners`` (default: all): (n, block_size)."""
        ids = range(len(self)) if learners is None else np.asarray(learners).tolist()
        blocks = [self.next_of(lrn) for lrn in ids]
        return np.stack(blocks) if blocks else np.zeros((0, 0))


def replay_blocks(spec) -> ReplayStreams:
    """The blocks of a spec with durations replayed (learner l replays worker
    ``l mod W``; the seed plays no part)."""
    measured = spec.measured
    speeds = [1.0] * spec.num_learners if spec.speeds is None else list(spec.speeds)
    workers = learner_workers(measured, spec.num_learners)
    return ReplayStreams([measured.durations[w] for w in workers], speeds)


def compute_blocks(spec, seed: int) -> Streams | ReplayStreams:
    """The compute-duration blocks of every learner of a validated ExperimentSpec: its
    per-learner ``laws`` (else ``law`` for all) divided by its ``speeds`` (else 1); with
    ``durations`` replayed, each learner's worker's measured durations in step order
    (resampled durations are the per-learner empirical laws ``spec.laws`` holds)."""
    if spec.durations is not None and spec.durations_mode == "replay":
        return replay_blocks(spec)
    p = spec.num_learners
    laws = [spec.law] * p if spec.laws is None else list(spec.laws)
    speeds = np.ones(p) if spec.speeds is None else list(spec.speeds)
    return Streams(laws, speeds, seed)


def duration_stream(blocks) -> Callable[[], float]:
    """A callable giving a learner's successive durations one by one (anything with a
    ``next()`` returning its next block: the SimPy engine, the event loops)."""

    def gen() -> Iterator[float]:
        while True:
            yield from blocks.next().tolist()

    return gen().__next__


def learner_streams(
    laws: Sequence, speeds: Sequence[float], seed: int, salt: int = 0
) -> list[Callable[[], float]]:
    """One duration stream per learner; see :class:`Streams`."""
    return [duration_stream(b) for b in Streams(laws, speeds, seed, salt)]


class LockstepDraws:
    """Durations of learners that all consume at the same pace (round-based variants).

    ``take(n)`` returns the next n durations of every learner as a (P, n) array; blocks are
    drawn as needed and leftovers kept, so memory is O(P * MAX_BLOCK) plus what is taken.
    """

    def __init__(self, blocks: Streams | ReplayStreams, check=None) -> None:
        self.blocks, self.check = blocks, check
        self.buffer = np.zeros((len(blocks), 0))

    def take(self, n: int) -> np.ndarray:
        """(P, n) float64: the next ``n`` durations of each learner."""
        parts, have = [self.buffer], self.buffer.shape[1]
        while have < n:
            block = self.blocks.take()  # every learner's next block, at once
            if self.check is not None:
                self.check(block)
            parts.append(block)
            have += block.shape[1]
        merged = np.concatenate(parts, axis=1) if len(parts) > 1 else self.buffer
        self.buffer = merged[:, n:].copy()  # a view would keep all of ``merged`` alive
        return merged[:, :n]
