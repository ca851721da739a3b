"""The JAX keys of a replay: checked keys, seeds folded in word by word, and the checks of
the mini-batch indices' arguments."""

from __future__ import annotations

import numbers
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from simulator.errors import PssimError, PssimTypeError, shown

__all__ = ["MAX_INDEX", "check_index", "check_key", "root_key"]


def check_key(key: Any, *, name: str = "key", integer: bool = True) -> int | jax.Array | None:
    """``key`` after checking it is a JAX key (a typed ``jax.random.key`` or a legacy
    ``PRNGKey``, uint32 of shape (2,)), or, with ``integer``, None or an int.

    Raises:
        PssimTypeError: "`key` must be an int or a JAX key (jax.random.key(seed)); got 'abc'".
    """
    is_int = isinstance(key, numbers.Integral) and not isinstance(key, bool)
    if integer and (key is None or is_int):
        return key
    if isinstance(key, jax.Array):
        typed = jax.dtypes.issubdtype(key.dtype, jax.dtypes.prng_key) and key.ndim == 0
        legacy = key.dtype == jnp.uint32 and key.shape == (2,)
        if typed or legacy:
            return key
    what = "an int or a JAX key" if integer else "a JAX key"
    got = shown(key) if isinstance(key, (str, float, int)) else type(key).__name__
    raise PssimTypeError(f"`{name}` must be {what} (jax.random.key(seed)); got {got}", param=name)


#: Largest row count and mini-batch size of :func:`minibatch_indices` (int32 indices).
MAX_INDEX = 2**31 - 1


def check_index(name: str, value: Any) -> None:
    """An update, slot or local step: a traced integer, or a Python int in [0, 2**32)."""
    if isinstance(value, jax.Array):
        if not jnp.issubdtype(value.dtype, jnp.integer) or value.ndim != 0:
            raise PssimTypeError(
                f"`{name}` must be an integer scalar; got {value.dtype}{list(value.shape)}",
                param=name,
            )
        return
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise PssimTypeError(f"`{name}` must be an integer; got {shown(value)}", param=name)
    if not 0 <= value < 2**32:
        raise PssimError(f"`{name}` must be in [0, 2**32); got {shown(value)}", param=name)


def _words(seed: int) -> list[np.uint32]:
    """The 32-bit words of a seed, lowest first (negative seeds: 64-bit two's complement)."""
    seed = int(seed) & ((1 << 64) - 1) if int(seed) < 0 else int(seed)
    words = [np.uint32(seed & 0xFFFFFFFF)]
    while seed >> 32:
        seed >>= 32
        words.append(np.uint32(seed & 0xFFFFFFFF))
    return words


def root_key(seed: int, key: int | jax.Array | None) -> jax.Array:
    """``jax.random.key(seed)``, or ``fold_in(key, seed)``; words above 32 bits are folded in,
    so every seed maps to the same key with or without float64 enabled."""
    words = _words(seed)
    if key is None:
        root, words = jax.random.key(words[0]), words[1:]
    elif isinstance(key, numbers.Integral):
        root = root_key(key, None)
    else:
        root = key
    for word in words:
        root = jax.random.fold_in(root, word)
    return root
