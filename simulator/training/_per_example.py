"""Per-example gradient sums and Hessian extremes on flattened float64 parameters.

Shared by ``constants.py`` and ``optimum.py``. Everything here runs inside
``jax.enable_x64(True)`` on float64 data: parameters are flattened in ``ravel_pytree`` order
and the loss is seen as a function of one (n,) vector. The model's loss and the layout are
static arguments of the jitted kernels, so one model compiles each kernel once per shape.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import scipy.sparse.linalg

from simulator.errors import PssimError

#: Bytes that one chunk of per-example gradients, (chunk, n) float64, may occupy.
CHUNK_BYTES = 2**27
#: Parameter counts below this get a dense Hessian instead of Lanczos (ARPACK needs n > k + 1).
DENSE_BELOW = 3
#: Lanczos vectors kept for the smallest eigenvalue (ARPACK's default of 20 converges slowly
#: on the clustered low end of a regularised Hessian).
NCV_SMALLEST = 64

LossFn = Callable[[Any, tuple[jax.Array, jax.Array]], jax.Array]


@dataclasses.dataclass(frozen=True)
class FlatSpec:
    """Hashable layout of a flattened pytree (a static argument of the jitted kernels).

    Attributes:
        treedef: the pytree structure.
        shapes: the leaves' shapes, in ``tree_leaves`` order (that of ``ravel_pytree``).
    """

    treedef: Any
    shapes: tuple[tuple[int, ...], ...]

    def unflatten(self, flat: Any) -> Any:
        """The pytree whose leaves are consecutive slices of ``flat`` (n,) (numpy or JAX)."""
        leaves, start = [], 0
        for shape in self.shapes:
            size = math.prod(shape)
            leaves.append(flat[start : start + size].reshape(shape))
            start += size
        return jax.tree_util.tree_unflatten(self.treedef, leaves)


def flatten(params: Any) -> tuple[jax.Array, FlatSpec]:
    """(flat (n,) float64 vector, its ``FlatSpec``); call inside ``enable_x64``.

    The leaves are gathered on the host (numpy), so no per-leaf kernel is compiled.
    """
    leaves, treedef = jax.tree_util.tree_flatten(params)
    arrays = [np.asarray(leaf, dtype=np.float64) for leaf in leaves]
    flat = np.concatenate([a.ravel() for a in arrays]) if arrays else np.zeros(0)
    return jnp.asarray(flat), FlatSpec(treedef, tuple(a.shape for a in arrays))


def flatten_like(
    model: Any, params: Any, key: jax.Array | None = None
) -> tuple[jax.Array, FlatSpec]:
    """``flatten(params)`` after checking ``params`` against ``model.init(key)``'s shapes."""
    template = jax.eval_shape(model.init, jax.random.key(0) if key is None else key)
    want = [leaf.shape for leaf in jax.tree_util.tree_leaves(template)]
    got = [np.shape(leaf) for leaf in jax.tree_util.tree_leaves(params)]
    same = jax.tree_util.tree_structure(template) == jax.tree_util.tree_structure(params)
    if not same or want != got:
        raise PssimError(
            f"`params` must have the structure and shapes of model.init(key) {want}; got {got}",
            param="params",
        )
    return flatten(params)


def _flat_loss(loss: LossFn, spec: FlatSpec, flat: jax.Array, batch: tuple) -> jax.Array:
    return loss(spec.unflatten(flat), batch)


@functools.partial(jax.jit, static_argnums=(0, 1))
def value_and_grad(loss: LossFn, spec: FlatSpec, flat: jax.Array, x: jax.Array, y: jax.Array):
    """F(flat) and grad F(flat) on the batch ``(x, y)``: (scalar, (n,)), jitted.

    ``loss`` (the model's, compared by identity) and ``spec`` are static, so one model
    compiles once per data shape, whatever the number of calls.
    """
    return jax.value_and_grad(_flat_loss, argnums=2)(loss, spec, flat, (x, y))


@functools.partial(jax.jit, static_argnums=(0, 1))
def _chunk_sums(loss, spec, flat, center, x, y, idx, weight):
    def one(xi, yi):
        return jax.grad(_flat_loss, argnums=2)(loss, spec, flat, (xi[None], yi[None]))

    g = jax.vmap(one)(x[idx], y[idx])  # (chunk, n)
    return weight @ g, weight @ jnp.sum((g - center) ** 2, axis=1), weight @ jnp.sum(g**2, axis=1)


@functools.partial(jax.jit, static_argnums=(0, 1))
def _hvp(loss, spec, flat, v, x, y):
    def grad(u):
        return jax.grad(_flat_loss, argnums=2)(loss, spec, u, (x, y))

    return jax.jvp(grad, (flat,), (v,))[1]


def chunk_rows(num_params: int, num_rows: int, budget: int = CHUNK_BYTES) -> int:
    """Rows per chunk so that (chunk, num_params) float64 gradients fit in ``budget`` bytes."""
    return max(1, min(num_rows, budget // (8 * max(num_params, 1))))


def per_example_sums(
    loss: LossFn,
    spec: FlatSpec,
    flat: jax.Array,
    x: jax.Array,
    y: jax.Array,
    rows: np.ndarray,
    center: jax.Array | None = None,
    chunk: int | None = None,
) -> tuple[np.ndarray, float, float]:
    """Sums over rows i of g_i, ||g_i - center||^2 and ||g_i||^2, g_i = grad f_i(flat).

    f_i is ``loss(params, (x[i:i+1], y[i:i+1]))``: the model's loss on the one-row batch
    {i}, regulariser included, so that F = mean_i f_i. The per-example gradients are
    ``jax.vmap(jax.grad(...))`` over one chunk of rows at a time (the last chunk padded
    with zero weights, so one compilation serves every chunk); never more than a
    (chunk, n) block exists.

    Args:
        loss: the model's ``loss(params, (x, y))``.
        spec: layout of ``flat``.
        flat: (n,) float64 parameters.
        x: (N, d) float64 features on the device.
        y: (N,) targets or labels on the device.
        rows: (R,) int row indices to sum over, R >= 1.
        center: (n,) vector subtracted before the centred sum; default zeros.
        chunk: rows per chunk; default from ``CHUNK_BYTES``.

    Returns:
        ``(sum_g (n,), sum ||g_i - center||^2, sum ||g_i||^2)``, float64 on the host.
    """
    n = flat.shape[0]
    center = jnp.zeros_like(flat) if center is None else center
    chunk = chunk_rows(n, len(rows)) if chunk is None else chunk
    sum_g = np.zeros(n)
    centred = 0.0
    squares = 0.0
    for start in range(0, len(rows), chunk):
        idx = np.asarray(rows[start : start + chunk], dtype=np.int32)
        weight = np.ones(chunk)
        if len(idx) < chunk:
            weight[len(idx) :] = 0.0
            idx = np.concatenate([idx, np.zeros(chunk - len(idx), np.int32)])
        s, c2, g2 = _chunk_sums(loss, spec, flat, center, x, y, jnp.asarray(idx), weight)
        sum_g += np.asarray(s)
        centred += float(c2)
        squares += float(g2)
    return sum_g, centred, squares


def hessian_operator(
    loss: LossFn, spec: FlatSpec, flat: jax.Array, x: jax.Array, y: jax.Array
) -> scipy.sparse.linalg.LinearOperator:
    """The (n, n) Hessian of ``loss(., (x, y))`` at ``flat`` as a float64 ``LinearOperator``.

    Each product is one jitted forward-over-reverse call, ``jax.jvp(jax.grad(F), (w,),
    (v,))``, compiled once per model and data shape and reused by every product.
    """
    n = flat.shape[0]

    def matvec(v: np.ndarray) -> np.ndarray:
        v = jnp.asarray(np.ravel(v), jnp.float64)
        return np.asarray(_hvp(loss, spec, flat, v, x, y))

    return scipy.sparse.linalg.LinearOperator((n, n), matvec=matvec, dtype=np.float64)


def extreme_eigenvalues(
    op: scipy.sparse.linalg.LinearOperator, *, tol: float, max_iter: int | None, v0: np.ndarray
) -> tuple[float, float]:
    """Largest and smallest eigenvalue of a symmetric operator (Lanczos, ARPACK ``eigsh``).

    Args:
        op: (n, n) symmetric operator.
        tol: ARPACK's relative accuracy of the Ritz values (0: machine precision).
        max_iter: Arnoldi restarts allowed; None for ARPACK's default (10 n).
        v0: (n,) starting vector (fixed, so results are reproducible).

    Returns:
        ``(largest, smallest)``.

    Raises:
        scipy.sparse.linalg.ArpackNoConvergence: not converged within ``max_iter``.
    """
    n = op.shape[0]
    if n < DENSE_BELOW:
        dense = np.column_stack([op.matvec(e) for e in np.eye(n)])
        eig = np.linalg.eigvalsh(0.5 * (dense + dense.T))
        return float(eig[-1]), float(eig[0])
    largest = float(
        scipy.sparse.linalg.eigsh(
            op, k=1, which="LA", tol=tol, maxiter=max_iter, v0=v0, return_eigenvectors=False
        )[0]
    )
    # The smallest eigenvalue as the largest of (largest I - H): Lanczos converges on the
    # top end with absolute accuracy tol * (largest - smallest), where "SA" stalls on the
    # clustered low end of regularised Hessians (MNIST softmax: 2 l2, of high multiplicity).
    shifted = scipy.sparse.linalg.LinearOperator(
        op.shape, matvec=lambda v: largest * v - op.matvec(v), dtype=np.float64
    )
    # Three Ritz values, not one: with a single one ARPACK can settle on a close interior
    # eigenvalue and miss an isolated smallest one (softmax's flat bias direction).
    top = scipy.sparse.linalg.eigsh(
        shifted,
        k=min(3, n - 2),
        which="LA",
        tol=tol,
        maxiter=max_iter,
        v0=v0,
        ncv=min(n - 1, NCV_SMALLEST),
        return_eigenvectors=False,
    )
    return largest, largest - float(np.max(top))
