"""Per-example gradient sums and Hessian extremes on flattened float64 parameters.

Shared by ``constants.py`` and ``optimum.py``. Everything here runs inside
``jax.enable_x64(True)`` on float64 data: parameters are flattened in ``ravel_pytree`` order
and the loss is seen as a function of one (n,) vector. The model's loss and the layout are
static arguments of the kernels (``_chunks``), so one model compiles each kernel once per
shape. Every kernel works on as many rows per call as fit ``CHUNK_BYTES`` of working
memory by the compiler's own estimate, so a CNN on MNIST runs in chunks of tens of rows
instead of asking for 170 GB.
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
from simulator.training import _chunks

#: Working memory (bytes) one call of a kernel may use (see ``_chunks``).
CHUNK_BYTES = _chunks.CHUNK_BYTES
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


@functools.lru_cache(maxsize=64)
def _block_plan(
    kind: str, loss: LossFn, spec: FlatSpec, n: int, data: tuple, budget: int | None = None
) -> tuple:
    """(rows per block, compiled full block, compiled last block or None) for ``kind``,
    planned for ``budget`` bytes (default ``_chunks.CHUNK_BYTES``)."""
    (x_shape, x_dtype), (y_shape, y_dtype) = data
    x, y = jax.ShapeDtypeStruct(x_shape, x_dtype), jax.ShapeDtypeStruct(y_shape, y_dtype)
    total = x_shape[0]
    chosen = _chunks.plan(kind, loss, spec, n, x, y, total, budget=budget)
    rest = total % chosen.rows
    last = _chunks.compiled(kind, loss, spec, n, x, y, rest) if rest else None
    return chosen.rows, chosen.executable, last


def _blocks(kind: str, loss: LossFn, spec: FlatSpec, n: int, x: jax.Array, y: jax.Array):
    """``(start, weight, executable)`` of each block of rows: blocks of the planned size,
    weighted by their share of the N rows (so their weighted sum is the mean over all)."""
    data = tuple((tuple(a.shape), jnp.dtype(a.dtype)) for a in (x, y))
    rows, full, last = _block_plan(kind, loss, spec, int(n), data, _chunks.CHUNK_BYTES)
    total = x.shape[0]
    for start in range(0, total, rows):
        size = min(rows, total - start)
        yield np.int32(start), size / total, full if size == rows else last


def value_and_grad(
    loss: LossFn, spec: FlatSpec, flat: jax.Array, x: jax.Array, y: jax.Array
) -> tuple[float, np.ndarray]:
    """F(flat) and grad F(flat) on the batch ``(x, y)``: (float, (n,) float64 array).

    The rows are taken in blocks whose compiled working memory fits ``CHUNK_BYTES`` (see
    ``_chunks``; one block, the whole batch, for small models and data): F is the mean of
    the one-batch losses, so the blocks' losses and gradients weighted by their share of
    the rows add up to the whole batch's. Each kernel compiles once per model and shape.
    """
    value, grad = 0.0, np.zeros(flat.shape[0])
    for start, weight, exe in _blocks("value_and_grad", loss, spec, flat.shape[0], x, y):
        v, g = exe(flat, x, y, start)
        value += weight * float(v)
        grad += weight * np.asarray(g, dtype=np.float64)
    return value, grad


def chunk_rows(num_params: int, num_rows: int, budget: int = CHUNK_BYTES) -> int:
    """Rows per chunk so that the (chunk, num_params) float64 gradients alone fit in
    ``budget`` bytes: where the planning of :func:`per_example_sums` starts (its other
    temporaries can take far more)."""
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
    with zero weights, so one compilation serves every chunk). The chunk is the largest
    whose compiled working memory fits ``CHUNK_BYTES`` (``_chunks.plan``: for a CNN the
    vmapped gradient's temporaries grow with the square of the chunk, far beyond the
    (chunk, n) gradients themselves).

    Args:
        loss: the model's ``loss(params, (x, y))``.
        spec: layout of ``flat``.
        flat: (n,) float64 parameters.
        x: (N, d) float64 features on the device.
        y: (N,) targets or labels on the device.
        rows: (R,) int row indices to sum over, R >= 1.
        center: (n,) vector subtracted before the centred sum; default zeros.
        chunk: rows per chunk; default: planned from the compiled kernel's memory.

    Returns:
        ``(sum_g (n,), sum ||g_i - center||^2, sum ||g_i||^2)``, float64 on the host.
    """
    n = flat.shape[0]
    center = jnp.zeros(n, jnp.float64) if center is None else jnp.asarray(center, jnp.float64)
    if chunk is None:
        start = chunk_rows(n, len(rows))
        exe = _chunks.plan("per_example", loss, spec, n, x, y, len(rows), start=start)
        chunk = exe.rows
        kernel = exe.executable
    else:
        kernel = _chunks.compiled("per_example", loss, spec, n, x, y, chunk)
    sum_g = np.zeros(n)
    centred = 0.0
    squares = 0.0
    for start in range(0, len(rows), chunk):
        idx = np.asarray(rows[start : start + chunk], dtype=np.int32)
        weight = np.ones(chunk)
        if len(idx) < chunk:
            weight[len(idx) :] = 0.0
            idx = np.concatenate([idx, np.zeros(chunk - len(idx), np.int32)])
        s, c2, g2 = kernel(flat, center, x, y, idx, weight)
        sum_g += np.asarray(s)
        centred += float(c2)
        squares += float(g2)
    return sum_g, centred, squares


def hessian_operator(
    loss: LossFn, spec: FlatSpec, flat: jax.Array, x: jax.Array, y: jax.Array
) -> scipy.sparse.linalg.LinearOperator:
    """The (n, n) Hessian of ``loss(., (x, y))`` at ``flat`` as a float64 ``LinearOperator``.

    Each product is forward-over-reverse, ``jax.jvp(jax.grad(F), (w,), (v,))``, over blocks
    of rows whose compiled working memory fits ``CHUNK_BYTES`` (weighted by their share of
    the rows, like :func:`value_and_grad`); compiled once per model and data shape and
    reused by every product.
    """
    n = flat.shape[0]
    blocks = list(_blocks("hvp", loss, spec, n, x, y))

    def matvec(v: np.ndarray) -> np.ndarray:
        v = jnp.asarray(np.ravel(v), jnp.float64)
        out = np.zeros(n)
        for start, weight, exe in blocks:
            out += weight * np.asarray(exe(flat, v, x, y, start), dtype=np.float64)
        return out

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
