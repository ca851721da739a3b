"""Convex models: softmax regression and least squares (F* is computable for both)."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from ._checks import DataError, check_float, check_int, check_rows, shown
from ._init import gaussian
from ._model import Batch, Model, Params

#: Standard deviation of the Gaussian initialisation of the linear models (Dutta et al. 2018,
#: supplement section 9: ``tf.random_normal(..., stddev=0.01)``).
INIT_STD = 0.01


def cross_entropy(logits: jax.Array, labels: jax.Array) -> jax.Array:
    """Mean softmax cross-entropy.

    Args:
        logits: (m, C) unnormalised class scores.
        labels: (m,) integer class labels in [0, C).

    Returns:
        Scalar mean of ``-log softmax(logits)[i, labels[i]]`` over the m rows.
    """
    logp = jax.nn.log_softmax(logits, axis=-1)
    picked = jnp.take_along_axis(logp, labels.astype(jnp.int32)[:, None], axis=-1)
    return -jnp.mean(picked)


def argmax_accuracy(logits: jax.Array, labels: jax.Array) -> jax.Array:
    """Fraction of rows whose largest logit is the label: scalar float32 in [0, 1]."""
    return jnp.mean((jnp.argmax(logits, axis=-1) == labels).astype(jnp.float32))


def softmax_regression(
    num_features: int, num_classes: int, l2: float = 0.01, *, bias: bool = True
) -> Model:
    """Multinomial logistic regression, the model of Dutta et al. 2018 (supplement sec. 9).

    ``logits = x @ W + b``; ``loss = mean cross-entropy + l2 * ||W||_F^2`` (the paper's
    ``lamda * tf.square(tf.norm(W))``; the bias is not regularised). Convex; not strongly
    convex with the bias, whose common shift leaves the loss unchanged (a Hessian
    eigenvalue 0). Without it (``bias=False``, the 784x10 model of the paper's text) the
    loss is ``2 l2``-strongly convex for ``l2 > 0``.

    Args:
        num_features: d, the input dimension (784 for MNIST, 1024 for grey CIFAR-10).
        num_classes: C >= 2.
        l2: regularisation weight (0.01 for MNIST and 0.05 for CIFAR-10 in the paper).
        bias: with a bias ``b`` (named "softmax"); without, the model is named
            "softmax-nobias".

    Returns:
        A ``Model`` whose params are ``{"W": (d, C), "b": (C,)}`` (no ``b`` without the
        bias), float32, drawn N(0, 0.01^2) (W is the same with or without the bias). Its
        loss refuses an ``x`` that is not (m, d) with a ``DataError``.

    Example:
        >>> model = softmax_regression(784, 10)
        >>> params = model.init(jax.random.key(0))
        >>> params["W"].shape, params["b"].shape
        ((784, 10), (10,))
    """
    d = check_int("num_features", num_features)
    c = check_int("num_classes", num_classes, minimum=2)
    lam = check_float("l2", l2)
    if not isinstance(bias, bool):
        raise DataError(f"`bias` must be True or False; got {shown(bias)}")

    def init(key: jax.Array) -> Params:
        kw, kb = jax.random.split(key)
        params = {"W": gaussian(kw, (d, c), INIT_STD)}
        if bias:
            params["b"] = gaussian(kb, (c,), INIT_STD)
        return params

    def logits(params: Params, x: jax.Array) -> jax.Array:
        check_rows(x.shape, d)
        out = x @ params["W"]
        return out + params["b"] if bias else out

    def loss(params: Params, batch: Batch) -> jax.Array:
        x, y = batch
        return cross_entropy(logits(params, x), y) + lam * jnp.sum(params["W"] ** 2)

    def accuracy(params: Params, batch: Batch) -> jax.Array:
        x, y = batch
        return argmax_accuracy(logits(params, x), y)

    name = "softmax" if bias else "softmax-nobias"
    return Model(name, init, loss, accuracy, convex=True, l2=lam, num_features=d)


def least_squares(dim: int, l2: float = 0.0) -> Model:
    """Linear least squares ``F(w) = 1/(2m) ||x w - y||^2 + (l2/2) ||w||^2``.

    With the synthetic data of ``synthetic_least_squares`` the optimum, the smoothness L,
    the strong convexity c and the gradient noise at the optimum are known in closed form
    (``Dataset.optimum``), so convergence bounds can be checked against simulation.

    Args:
        dim: d, the number of features (no intercept is added).
        l2: ridge weight (note the factor 1/2, unlike ``softmax_regression``).

    Returns:
        A ``Model`` with params ``{"w": (d,)}`` float32 drawn N(0, 0.01^2) and no accuracy;
        its loss refuses an ``x`` that is not (m, d) with a ``DataError``.

    Example:
        >>> model = least_squares(10)
        >>> model.init(jax.random.key(0))["w"].shape
        (10,)
    """
    d = check_int("dim", dim)
    lam = check_float("l2", l2)

    def init(key: jax.Array) -> Params:
        return {"w": gaussian(key, (d,), INIT_STD)}

    def loss(params: Params, batch: Batch) -> jax.Array:
        x, y = batch
        check_rows(x.shape, d)
        w = params["w"]
        r = x @ w - y
        return 0.5 * jnp.mean(r**2) + 0.5 * lam * jnp.sum(w**2)

    return Model("least-squares", init, loss, None, convex=True, l2=lam, num_features=d)
