"""F*, the optimal loss of a convex model, so the paper's error F(w) - F* can be plotted.

Dutta et al. 2018 (Definition 2) measure the error ``F(w_j) - F*``. For convex models F* is
found by a full-batch L-BFGS-B solve of the loss on the evaluation set in float64 (jitted loss
and gradient, parameters flattened to one vector), with tight tolerances.
"""

from __future__ import annotations

import hashlib
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import scipy.optimize

from simulator.errors import PssimError, PssimTypeError
from simulator.training._per_example import flatten, value_and_grad

__all__ = ["clear_optimum_cache", "optimal_loss"]

_CACHE: dict[tuple, float] = {}


def _fingerprint(*arrays: np.ndarray) -> str:
    h = hashlib.blake2b(digest_size=16)
    for a in arrays:
        a = np.ascontiguousarray(a)
        h.update(str((a.shape, a.dtype.str)).encode())
        h.update(a.data)
    return h.hexdigest()


def _cache_key(model: Any, x: np.ndarray, y: np.ndarray) -> tuple:
    loss = model.loss
    return (
        getattr(model, "name", None),
        float(getattr(model, "l2", 0.0)),
        getattr(loss, "__module__", None),
        getattr(loss, "__qualname__", repr(loss)),
        _fingerprint(x, y),
    )


def float64_data(x: np.ndarray, y: np.ndarray) -> tuple[jax.Array, jax.Array]:
    """Features as float64 and targets as float64 (regression) or int32 (labels).

    Call inside ``jax.enable_x64(True)``.
    """
    y = np.asarray(y)
    ytype = jnp.float64 if np.issubdtype(y.dtype, np.floating) else jnp.int32
    return jnp.asarray(np.asarray(x), jnp.float64), jnp.asarray(y, ytype)


def minimise(
    model: Any,
    x: np.ndarray,
    y: np.ndarray,
    *,
    key: jax.Array | None = None,
    max_iter: int = 20_000,
    ftol: float = 1e-15,
) -> tuple[Any, float]:
    """Full-batch L-BFGS-B minimiser of ``model.loss(params, (x, y))`` in float64.

    Args:
        model: has ``init(key)`` and ``loss(params, (x, y))``.
        x: (N, d) features.
        y: (N,) labels or targets.
        key: JAX key of the starting point; default ``jax.random.key(0)``.
        max_iter: L-BFGS-B iteration limit.
        ftol: L-BFGS-B's relative loss-decrease stop; 0 leaves only the gradient test
            (``gtol`` 1e-11 on the largest gradient component), for an accurate minimiser.

    Returns:
        ``(params, loss)``: the best point found, a pytree like ``model.init(key)`` with
        float64 numpy leaves, and its loss.
    """
    with jax.enable_x64(True):
        key = jax.random.key(0) if key is None else key
        flat0, spec = flatten(model.init(key))
        xd, yd = float64_data(x, y)

        def fun(flat: np.ndarray) -> tuple[float, np.ndarray]:
            # jitted once per model (its loss is a static argument); data are arguments
            v, g = value_and_grad(model.loss, spec, jnp.asarray(flat), xd, yd)
            return float(v), np.asarray(g, dtype=np.float64)

        res = scipy.optimize.minimize(
            fun,
            np.asarray(flat0, dtype=np.float64),
            jac=True,
            method="L-BFGS-B",
            options={
                "maxiter": max_iter,
                "maxfun": 2 * max_iter,
                "ftol": ftol,
                "gtol": 1e-11,
                "maxcor": 30,
            },
        )
        best = min(float(res.fun), fun(res.x)[0])
        params = spec.unflatten(np.asarray(res.x, dtype=np.float64))
    return params, best


def clear_optimum_cache() -> None:
    """Forgets every cached F*."""
    _CACHE.clear()


def optimal_loss(
    model: Any,
    dataset: Any,
    *,
    key: jax.Array | None = None,
    max_iter: int = 20_000,
) -> float | None:
    """F* = min_w loss(w, (x_eval, y_eval)) for a convex model; None otherwise.

    Solved with ``scipy.optimize.minimize(method="L-BFGS-B")`` on the float64 loss and its
    gradient (both jitted), from ``model.init(key)``. Results are cached by model name,
    ``l2``, loss function and the evaluation data's contents.

    Args:
        model: has ``convex``, ``init(key)`` and ``loss(params, (x, y))``.
        dataset: has arrays ``x_eval`` (N, d) and ``y_eval`` (N,).
        key: JAX key of the starting point; default ``jax.random.key(0)``.
        max_iter: L-BFGS-B iteration limit.

    Returns:
        F* as a float (the smallest loss found), or None for a non-convex model.

    Example:
        >>> optimal_loss(least_squares_model, data)  # doctest: +SKIP
        0.2463...
    """
    if not getattr(model, "convex", False):
        return None
    if getattr(dataset, "x_eval", None) is None or getattr(dataset, "y_eval", None) is None:
        raise PssimTypeError(
            f"`dataset` must have arrays x_eval and y_eval; got {type(dataset).__name__}",
            param="dataset",
        )
    x = np.asarray(dataset.x_eval)
    y = np.asarray(dataset.y_eval)
    if x.dtype.kind not in "iuf" or x.ndim != 2 or x.shape[0] < 1 or y.shape != x.shape[:1]:
        raise PssimError(
            f"`dataset` must have x_eval (N, d) and y_eval (N,) of numbers; got {x.dtype} "
            f"{x.shape} and {y.shape}",
            param="dataset",
        )
    cache_key = _cache_key(model, x, y)
    if cache_key in _CACHE:
        return _CACHE[cache_key]
    _, best = minimise(model, x, y, key=key, max_iter=max_iter)
    _CACHE[cache_key] = best
    return best
