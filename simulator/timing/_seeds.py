"""The seeds of every learner's stream at once: ``SeedSequence(entropy).spawn(P)``, vectorised.

Learner l's stream is ``default_rng(SeedSequence(entropy).spawn(P)[l])``: a PCG64 seeded
with the child's ``generate_state(4, uint64)``. The children differ only by their spawn
key ``(l,)``, the last word of the entropy they mix, so numpy's hash (O'Neill's
``seed_seq`` as numpy implements it) is run once for the shared words and once, over
arrays of P values, for the rest. :func:`spawn_words` gives every child's words without a
SeedSequence per learner; :func:`generator` builds the same Generator as ``default_rng``
from one row of them.
"""

from __future__ import annotations

import numpy as np
from numpy.random.bit_generator import ISeedSequence

__all__ = ["generator", "spawn_words"]

POOL = 4  # numpy's default pool size (words of 32 bits)
INIT_A, MULT_A = 0x43B0D7E5, 0x931E8875
INIT_B, MULT_B = 0x8B51F9DD, 0x58F38DED
MIX_L, MIX_R = 0xCA01F9DD, 0x4973F715
MASK = 0xFFFFFFFF


def _words32(value: int) -> list[int]:
    """A non-negative int as 32-bit words, lowest first (``[0]`` for 0), as numpy does."""
    words = [value & MASK] if value else [0]
    value >>= 32
    while value:
        words.append(value & MASK)
        value >>= 32
    return words


class _Hash:
    """numpy's ``hashmix`` with its running multiplier (the same for every learner)."""

    def __init__(self, init: int) -> None:
        self.const = init

    def __call__(self, value):
        """hashmix of a Python int or a uint32 array (arrays wrap modulo 2**32)."""
        value = value ^ self.const
        self.const = (self.const * MULT_A) & MASK
        value = _mul(value, self.const)
        return value ^ (value >> 16)


def _mul(value, const: int):
    """``value * const`` modulo 2**32 for a Python int or a uint32 array."""
    if isinstance(value, np.ndarray):
        return value * np.uint32(const)
    return (value * const) & MASK


def _mix(x, y):
    if isinstance(x, np.ndarray) or isinstance(y, np.ndarray):
        r = np.asarray(x, np.uint32) * np.uint32(MIX_L) - np.asarray(y, np.uint32) * np.uint32(
            MIX_R
        )
    else:
        r = (x * MIX_L - y * MIX_R) & MASK
    return r ^ (r >> 16)


def spawn_words(entropy: int | list[int], count: int) -> np.ndarray:
    """(count, 4) uint64: ``SeedSequence(entropy).spawn(count)[l].generate_state(4,
    np.uint64)`` for every child l (what ``default_rng`` seeds a PCG64 with).

    Args:
        entropy: a non-negative int or a list of them (as SeedSequence takes them).
        count: number of children, ``0 <= count < 2**32``.

    Example:
        >>> w = spawn_words(7, 3)
        >>> bool((w[2] == np.random.SeedSequence(7).spawn(3)[2].generate_state(4, np.uint64)).all())
        True
    """
    run = [w for v in ([entropy] if isinstance(entropy, int) else entropy) for w in _words32(v)]
    run += [0] * (POOL - len(run))  # padded to the pool size when a spawn key follows
    hashmix = _Hash(INIT_A)
    pool: list = [hashmix(w) for w in run[:POOL]]
    for src in range(POOL):
        for dst in range(POOL):
            if src != dst:
                pool[dst] = _mix(pool[dst], hashmix(pool[src]))
    key = np.arange(count, dtype=np.uint32)  # the spawn key (l,): one word per child
    for word in [*run[POOL:], key]:
        for dst in range(POOL):
            pool[dst] = _mix(pool[dst], hashmix(word))
    pool = [np.broadcast_to(np.asarray(p, dtype=np.uint32), (count,)) for p in pool]
    out = np.empty((count, 2 * POOL), dtype=np.uint32)
    const = INIT_B
    for i in range(2 * POOL):  # generate_state: 8 words of 32 bits, the pool cycled
        value = pool[i % POOL] ^ np.uint32(const)
        const = (const * MULT_B) & MASK
        value = value * np.uint32(const)
        out[:, i] = value ^ (value >> 16)
    return out.astype("<u4").view("<u8").astype(np.uint64)


class _Words(ISeedSequence):
    """A seed sequence whose state is given (one row of :func:`spawn_words`)."""

    __slots__ = ("words",)

    def __init__(self, words: np.ndarray) -> None:
        self.words = words

    def generate_state(self, n_words, dtype=np.uint32):
        return self.words


def generator(words: np.ndarray) -> np.random.Generator:
    """The Generator ``default_rng`` gives for a child whose state words are ``words``
    ((4,) uint64, a row of :func:`spawn_words`)."""
    return np.random.Generator(np.random.PCG64(_Words(words)))
