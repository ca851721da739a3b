"""Parameter initialisation helpers."""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp


def gaussian(key: jax.Array, shape: tuple[int, ...], std: float) -> jax.Array:
    """float32 array of the given shape with i.i.d. N(0, std^2) entries.

    Drawn as a flat vector and reshaped: XLA compiles the flat draw much faster on the CPU
    than a multi-dimensional one, and the distribution is the same.
    """
    flat = jax.random.normal(key, (math.prod(shape),), jnp.float32)
    return (std * flat).reshape(shape)
