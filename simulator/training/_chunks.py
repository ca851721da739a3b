"""Rows per call of the float64 kernels, chosen from the compiler's own memory estimate.

The kernels of ``_per_example`` (per-example gradient sums, the loss and gradient on a
block of rows, a Hessian-vector product on a block) each take the training set whole and
work on ``rows`` of it per call. Their working memory is not the size of their outputs:
``vmap`` of a convolution's gradient grows with the square of the rows (a CNN on MNIST:
3 GiB at 256 rows, 165 GB at the 1844 rows that the outputs alone would allow), and a
full-batch gradient of a CNN holds every row's activations (22 GB on MNIST). So the rows
are chosen by compiling: XLA's ``memory_analysis`` of the compiled kernel (temporaries and
outputs, bytes) must fit :data:`CHUNK_BYTES`; a kernel whose single row does not fit is
run one row at a time if half the physical memory holds it, and refused otherwise.

Compiled kernels are kept per (kernel, model loss, layout, data shapes, rows) and called
directly, so the compilation that measured a kernel is the one that runs it.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from typing import Any

import jax
import jax.numpy as jnp
from jax import lax

from simulator._checks import MEMORY_BUDGET
from simulator.errors import PssimError

__all__ = ["CHUNK_BYTES", "KERNELS", "Plan", "compiled", "flat_loss", "kernel_bytes", "plan"]

#: Working memory (XLA temporaries and outputs, bytes) one call of a kernel may use.
CHUNK_BYTES = 2**27
#: The kernels: "per_example" (sums of g_i, ||g_i - c||^2, ||g_i||^2 over rows given by
#: index), "value_and_grad" (F and grad F on a block) and "hvp" (H v on a block).
KERNELS = ("per_example", "value_and_grad", "hvp")


def flat_loss(loss: Any, spec: Any, flat: jax.Array, batch: tuple) -> jax.Array:
    """The model's loss as a function of the flat parameter vector."""
    return loss(spec.unflatten(flat), batch)


def _per_example(loss, spec, rows, flat, center, x, y, idx, weight):
    del rows  # the shape of idx

    def one(xi, yi):
        return jax.grad(flat_loss, argnums=2)(loss, spec, flat, (xi[None], yi[None]))

    g = jax.vmap(one)(x[idx], y[idx])  # (rows, n)
    return weight @ g, weight @ jnp.sum((g - center) ** 2, axis=1), weight @ jnp.sum(g**2, axis=1)


def _block(x: jax.Array, y: jax.Array, start: jax.Array, rows: int) -> tuple:
    return lax.dynamic_slice_in_dim(x, start, rows), lax.dynamic_slice_in_dim(y, start, rows)


def _value_and_grad(loss, spec, rows, flat, x, y, start):
    batch = _block(x, y, start, rows)
    return jax.value_and_grad(flat_loss, argnums=2)(loss, spec, flat, batch)


def _hvp(loss, spec, rows, flat, v, x, y, start):
    batch = _block(x, y, start, rows)

    def grad(u):
        return jax.grad(flat_loss, argnums=2)(loss, spec, u, batch)

    return jax.jvp(grad, (flat,), (v,))[1]


_JITTED = {
    "per_example": jax.jit(_per_example, static_argnums=(0, 1, 2)),
    "value_and_grad": jax.jit(_value_and_grad, static_argnums=(0, 1, 2)),
    "hvp": jax.jit(_hvp, static_argnums=(0, 1, 2)),
}


def _arguments(kind: str, n: int, x: Any, y: Any, rows: int) -> tuple:
    """The kernel's traced arguments, as shapes (nothing is allocated)."""
    vec = jax.ShapeDtypeStruct((n,), jnp.float64)
    xs, ys = (jax.ShapeDtypeStruct(a.shape, a.dtype) for a in (x, y))
    if kind == "per_example":
        idx = jax.ShapeDtypeStruct((rows,), jnp.int32)
        return vec, vec, xs, ys, idx, jax.ShapeDtypeStruct((rows,), jnp.float64)
    start = jax.ShapeDtypeStruct((), jnp.int32)
    return (vec, xs, ys, start) if kind == "value_and_grad" else (vec, vec, xs, ys, start)


@functools.lru_cache(maxsize=64)
def _compiled(kind: str, loss: Any, spec: Any, n: int, data: tuple, rows: int) -> Any:
    x, y = (jax.ShapeDtypeStruct(shape, dtype) for shape, dtype in data)
    return _JITTED[kind].lower(loss, spec, rows, *_arguments(kind, n, x, y, rows)).compile()


def compiled(kind: str, loss: Any, spec: Any, n: int, x: Any, y: Any, rows: int) -> Any:
    """The kernel ``kind`` compiled for ``rows`` rows of ``(x, y)`` (float64, kept).

    Call it with the traced arguments only: per_example ``(flat, center, x, y, idx,
    weight)``, value_and_grad ``(flat, x, y, start)``, hvp ``(flat, v, x, y, start)``
    (``start`` an int32 scalar, the block's first row). Call inside ``enable_x64``.
    """
    data = ((tuple(x.shape), jnp.dtype(x.dtype)), (tuple(y.shape), jnp.dtype(y.dtype)))
    return _compiled(kind, loss, spec, int(n), data, int(rows))


def kernel_bytes(executable: Any) -> int | None:
    """XLA's estimate of a compiled kernel's working memory: temporaries plus outputs
    (bytes); None where the backend gives no estimate."""
    try:
        stats = executable.memory_analysis()
    except (AttributeError, NotImplementedError, RuntimeError):
        return None
    if stats is None:
        return None
    return int(stats.temp_size_in_bytes) + int(stats.output_size_in_bytes)


@dataclasses.dataclass(frozen=True)
class Plan:
    """Rows per call of a kernel and what one call needs.

    Attributes:
        rows: rows per call (>= 1).
        bytes: XLA's estimate of one call's working memory (None: no estimate).
        executable: the compiled kernel for ``rows`` rows.
    """

    rows: int
    bytes: int | None
    executable: Any


def plan(
    kind: str,
    loss: Any,
    spec: Any,
    n: int,
    x: Any,
    y: Any,
    max_rows: int,
    *,
    start: int | None = None,
    budget: int | None = None,
    name: str = "model",
) -> Plan:
    """The most rows per call (at most ``max_rows``, first tried at ``start``) whose
    compiled working memory fits ``budget`` (default :data:`CHUNK_BYTES`).

    Rows shrink in proportion to the overshoot (working memory grows at least linearly in
    the rows, so the guess errs small) and then grow once along the growth measured
    between two sizes; a handful of compilations at most.

    Raises:
        PssimError: one row needs more than half the physical memory (naming ``name``).
    """
    budget = CHUNK_BYTES if budget is None else budget
    rows = max(1, min(max_rows, max_rows if start is None else start))
    exe = compiled(kind, loss, spec, n, x, y, rows)
    used = kernel_bytes(exe)
    over = None  # the smallest size measured over the budget: (rows, bytes)
    while used is not None and used > budget and rows > 1:
        over = (rows, used)
        rows = max(1, min(rows - 1, int(rows * budget / used)))
        exe = compiled(kind, loss, spec, n, x, y, rows)
        used = kernel_bytes(exe)
    if used is not None and used > budget:  # one row: allowed up to half the memory
        limit = MEMORY_BUDGET
        if used > limit:
            raise PssimError(
                f"`{name}` needs about {used / 2**30:.3g} GiB for one row of its {kind} "
                f"kernel, more than half the physical memory ({limit / 2**30:.3g} GiB)",
                param=name,
            )
        return Plan(rows, used, exe)
    if over is not None and used and rows > 0 and over[0] > rows + 1:
        growth = max(1.0, math.log(over[1] / used) / math.log(over[0] / rows))
        guess = int(rows * (budget / used) ** (1.0 / growth) * 0.95)
        guess = min(guess, over[0] - 1)
        if guess > rows:
            tried = compiled(kind, loss, spec, n, x, y, guess)
            got = kernel_bytes(tried)
            if got is not None and got <= budget:
                return Plan(guess, got, tried)
    return Plan(rows, used, exe)
