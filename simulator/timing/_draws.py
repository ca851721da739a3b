"""Compute durations ``X[l, n] / speed_l``, drawn per learner in numpy blocks.

Every engine reads a learner's durations through the same block schedule: block ``b`` holds
``block_size(b)`` values from one ``law.sample_block`` call on the learner's own Generator (16,
32, ... doubling up to 1024), so the n-th value never depends on the engine, the variant or
how fast other learners consume theirs (common random numbers). Small first blocks keep
memory O(P) for many learners with few tasks each.

Measured durations replayed in order (a spec's ``durations``, mode ``replay``) come through
:class:`ReplayBlocks`, a block source with the same interface and the same block sizes:
learner l's n-th duration is row ``n mod n_w`` of its worker's rows (in step order), so
every engine replays exactly the same numbers.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence

import numpy as np

from simulator._spec_durations import learner_workers

#: Values in a learner's first block; each later block doubles, up to MAX_BLOCK.
FIRST_BLOCK = 16
MAX_BLOCK = 1024


def block_size(b: int) -> int:
    """Number of durations in block ``b`` (0-based) of every learner."""
    return MAX_BLOCK if b >= 6 else FIRST_BLOCK << b


def learner_rngs(p: int, seed: int, salt: int = 0) -> list[np.random.Generator]:
    """One Generator per learner from ``SeedSequence(seed).spawn(P)`` children.

    ``salt`` > 0 gives independent streams for other random quantities (latencies), so
    that they never shift the compute durations.
    """
    root = np.random.SeedSequence(seed) if salt == 0 else np.random.SeedSequence([seed, salt])
    return [np.random.default_rng(child) for child in root.spawn(p)]


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


def learner_blocks(
    laws: Sequence, speeds: Sequence[float], seed: int, salt: int = 0
) -> list[LearnerBlocks]:
    """One :class:`LearnerBlocks` per learner (P = ``len(laws)``)."""
    rngs = learner_rngs(len(laws), seed, salt)
    return [LearnerBlocks(*a) for a in zip(laws, rngs, speeds, strict=True)]


class ReplayBlocks:
    """Measured durations of one worker replayed in order, as blocks of
    :func:`block_size` values: the n-th value is ``durations[n mod len(durations)] /
    speed`` (past the last row the worker's rows start again from the first).

    Args:
        durations: (n_w,) the worker's measured durations in step order, > 0.
        speed: the learner's speed factor (durations are divided by it).
    """

    __slots__ = ("count", "durations", "position", "speed")

    def __init__(self, durations: np.ndarray, speed: float) -> None:
        self.durations, self.speed = durations, float(speed)
        self.count = 0  # blocks handed out so far
        self.position = 0  # row of the next value

    def next(self) -> np.ndarray:
        """The learner's next block: (block_size(count),) float64 durations."""
        size = block_size(self.count)
        self.count += 1
        start, n = self.position, self.durations.shape[0]
        self.position = (start + size) % n
        return np.take(self.durations, np.arange(start, start + size), mode="wrap") / self.speed


def replay_blocks(spec) -> list[ReplayBlocks]:
    """One :class:`ReplayBlocks` per learner of a spec with durations (learner l replays
    worker ``l mod W``; the seed plays no part)."""
    measured = spec.measured
    speeds = [1.0] * spec.num_learners if spec.speeds is None else list(spec.speeds)
    workers = learner_workers(measured, spec.num_learners)
    return [ReplayBlocks(measured.durations[w], s) for w, s in zip(workers, speeds, strict=True)]


def compute_blocks(spec, seed: int) -> list[LearnerBlocks] | list[ReplayBlocks]:
    """The compute-duration blocks of every learner of a validated ExperimentSpec: its
    per-learner ``laws`` (else ``law`` for all) divided by its ``speeds`` (else 1); with
    ``durations`` replayed, each learner's worker's measured durations in step order
    (resampled durations are the per-learner empirical laws ``spec.laws`` holds)."""
    if spec.durations is not None and spec.durations_mode == "replay":
        return replay_blocks(spec)
    p = spec.num_learners
    laws = [spec.law] * p if spec.laws is None else list(spec.laws)
    speeds = [1.0] * p if spec.speeds is None else list(spec.speeds)
    return learner_blocks(laws, speeds, seed)


def duration_stream(blocks: LearnerBlocks) -> Callable[[], float]:
    """A callable giving the learner's successive durations one by one (the SimPy engine)."""

    def gen() -> Iterator[float]:
        while True:
            yield from blocks.next().tolist()

    return gen().__next__


def learner_streams(
    laws: Sequence, speeds: Sequence[float], seed: int, salt: int = 0
) -> list[Callable[[], float]]:
    """One duration stream per learner; see :func:`learner_blocks`."""
    return [duration_stream(b) for b in learner_blocks(laws, speeds, seed, salt)]


class LockstepDraws:
    """Durations of learners that all consume at the same pace (round-based variants).

    ``take(n)`` returns the next n durations of every learner as a (P, n) array; blocks are
    drawn as needed and leftovers kept, so memory is O(P * MAX_BLOCK) plus what is taken.
    """

    def __init__(self, blocks: list[LearnerBlocks]) -> None:
        self.blocks = blocks
        self.buffer = np.zeros((len(blocks), 0))

    def take(self, n: int) -> np.ndarray:
        """(P, n) float64: the next ``n`` durations of each learner."""
        parts, have = [self.buffer], self.buffer.shape[1]
        while have < n:
            block = np.stack([b.next() for b in self.blocks])
            parts.append(block)
            have += block.shape[1]
        merged = np.concatenate(parts, axis=1) if len(parts) > 1 else self.buffer
        self.buffer = merged[:, n:].copy()  # a view would keep all of ``merged`` alive
        return merged[:, :n]
