"""Every learner's compute durations at once: the blocks of P streams, drawn level by level.

The block schedule is :mod:`simulator.timing._draws`'s: learner l's block b holds
``block_size(b)`` values from one draw on its own Generator (the child l of
``SeedSequence(seed).spawn(P)``), divided by its speed. :class:`Streams` gives block b of
many learners as one (n, size) array (the vectorised paths) or a learner's blocks one by
one (event loops, the SimPy engine); both read the same numbers.

What makes P = 10^6 cheap: the learners' seeds come from one vectorised hash
(:func:`~simulator.timing._seeds.spawn_words`); a Generator is made only to draw a block,
and the first block of every learner can be drawn without keeping it (``keep=False``):
a learner that later needs its second block rebuilds its Generator and draws the first
block again, which the stream's determinism makes the same numbers. All blocks of one
level are drawn under one ``np.errstate``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from simulator.timing._seeds import generator, spawn_words

__all__ = ["LearnerView", "Streams", "block_size"]

#: Values in a learner's first block; each later block doubles, up to MAX_BLOCK.
FIRST_BLOCK = 16
MAX_BLOCK = 1024


def block_size(b: int) -> int:
    """Number of durations in block ``b`` (0-based) of every learner."""
    return MAX_BLOCK if b >= 6 else FIRST_BLOCK << b


class Streams:
    """The duration blocks of P learners.

    Args:
        laws: one compute-time law per learner (the same object for identical learners).
        speeds: (P,) factors; durations are divided by them.
        seed: base of the streams; ``salt`` > 0 gives independent streams for other
            random quantities (``SeedSequence([seed, salt])``).
    """

    def __init__(self, laws: Sequence, speeds: Sequence[float], seed: int, salt: int = 0) -> None:
        p = len(laws)
        self.laws = list(laws)
        self.shared = self.laws[0] if all(law is self.laws[0] for law in self.laws) else None
        self.speeds = np.asarray(speeds, dtype=np.float64).reshape(p)
        self.words = spawn_words(seed if salt == 0 else [seed, salt], p)
        self.count = np.zeros(p, dtype=np.int64)  # blocks drawn so far, per learner
        self._rngs: dict[int, np.random.Generator] = {}

    def __len__(self) -> int:
        return self.count.shape[0]

    def __getitem__(self, learner: int) -> LearnerView:
        return LearnerView(self, learner)

    def __iter__(self):
        return (LearnerView(self, lrn) for lrn in range(len(self)))

    # ------------------------------------------------------------------ generators
    def _rng(self, learner: int) -> np.random.Generator:
        """The learner's Generator, past the blocks it has drawn (rebuilt if not kept)."""
        rng = self._rngs.get(learner)
        if rng is None:
            rng = self._rngs[learner] = generator(self.words[learner])
            law = self.laws[learner]
            for b in range(int(self.count[learner])):  # blocks drawn without keeping it
                law.sample_block(block_size(b), rng=rng)
        return rng

    def _rngs_of(self, learners: np.ndarray, keep: bool):
        if not keep and not self._rngs:
            return (generator(w) for w in self.words[learners])
        b = int(self.count[learners[0]])
        if b and self.shared is not None:  # rebuild, a level at a time, those not kept
            lost = [lrn for lrn in learners.tolist() if lrn not in self._rngs]
            rngs = [generator(self.words[lrn]) for lrn in lost]
            for level in range(b):
                self.shared.sample_rows(np.empty((len(lost), block_size(level))), rngs)
            self._rngs.update(zip(lost, rngs, strict=True))
        return (self._rng(lrn) for lrn in learners.tolist())

    # ------------------------------------------------------------------ draws
    def take(self, learners: np.ndarray | None = None, *, keep: bool = True) -> np.ndarray:
        """The next block of each of ``learners`` (default: all), which must all have
        drawn the same number of blocks: (n, block_size) float64 durations.

        ``keep=False`` draws a first block without keeping the Generators (for
        learners that will rarely draw another block).
        """
        ids = np.arange(len(self)) if learners is None else np.asarray(learners, np.int64)
        if ids.size == 0:
            return np.zeros((0, 0))
        b = int(self.count[ids[0]])
        if not np.all(self.count[ids] == b):
            raise RuntimeError("learners at different blocks drawn together")
        out = np.empty((ids.shape[0], block_size(b)))
        if self.shared is not None:
            self.shared.sample_rows(out, self._rngs_of(ids, keep or b > 0))
        else:  # one call per law, each over its learners
            by_law: dict[int, list[int]] = {}
            for i, lrn in enumerate(ids.tolist()):
                by_law.setdefault(id(self.laws[lrn]), []).append(i)
            for rows in by_law.values():
                idx = np.asarray(rows)
                part = np.empty((idx.shape[0], out.shape[1]))
                law = self.laws[int(ids[idx[0]])]
                law.sample_rows(part, self._rngs_of(ids[idx], keep or b > 0))
                out[idx] = part
        self.count[ids] += 1
        out /= self.speeds[ids, None]
        return out

    def next_of(self, learner: int) -> np.ndarray:
        """Learner ``learner``'s next block: (block_size,) float64 durations."""
        b = int(self.count[learner])
        rng = self._rng(learner)
        self.count[learner] = b + 1
        return self.laws[learner].sample_block(block_size(b), rng=rng) / self.speeds[learner]


class LearnerView:
    """One learner of :class:`Streams`: ``next()`` returns its block 0, 1, 2, ..."""

    __slots__ = ("learner", "streams")

    def __init__(self, streams: Streams, learner: int) -> None:
        self.streams, self.learner = streams, learner

    def next(self) -> np.ndarray:
        return self.streams.next_of(self.learner)
