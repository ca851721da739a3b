"""Non-convex models: a ReLU multilayer perceptron and a small convolutional network."""

from __future__ import annotations

import math
from collections.abc import Callable

import jax
import jax.numpy as jnp

from ._checks import DataError, check_float, check_int, check_int_tuple, check_rows
from ._init import gaussian
from ._linear import argmax_accuracy, cross_entropy
from ._model import Batch, Model, Params


def _dense(key: jax.Array, fan_in: int, fan_out: int, scale: float) -> dict[str, jax.Array]:
    """A dense layer ``{"W": (fan_in, fan_out), "b": (fan_out,)}`` with W ~ N(0, scale/fan)."""
    return {
        "W": gaussian(key, (fan_in, fan_out), math.sqrt(scale)),
        "b": jnp.zeros((fan_out,), jnp.float32),
    }


def _weight_penalty(layers: list[dict[str, jax.Array]]) -> jax.Array:
    """Sum of squared Frobenius norms of the weight tensors (biases excluded)."""
    return sum(jnp.sum(layer["W"] ** 2) for layer in layers)


def _classifier(
    name: str,
    init: Callable[[jax.Array], Params],
    logits: Callable[[Params, jax.Array], jax.Array],
    l2: float,
    num_features: int,
) -> Model:
    """Wraps a logits function into a cross-entropy ``Model`` with ``l2 * sum ||W||^2``."""

    def loss(params: Params, batch: Batch) -> jax.Array:
        x, y = batch
        penalty = _weight_penalty(jax.tree_util.tree_leaves(params, is_leaf=_is_layer))
        return cross_entropy(logits(params, x), y) + l2 * penalty

    def accuracy(params: Params, batch: Batch) -> jax.Array:
        x, y = batch
        return argmax_accuracy(logits(params, x), y)

    return Model(name, init, loss, accuracy, convex=False, l2=l2, num_features=num_features)


def _is_layer(node: object) -> bool:
    return isinstance(node, dict) and "W" in node


def mlp(
    num_features: int, num_classes: int, hidden: tuple[int, ...] = (64,), l2: float = 0.0
) -> Model:
    """A ReLU multilayer perceptron with a softmax cross-entropy loss.

    Hidden weights are drawn He-normal (variance 2 / fan_in), the output layer
    Glorot-normal (variance 2 / (fan_in + fan_out)), biases start at zero. The loss is the
    mean cross-entropy plus ``l2`` times the sum of squared Frobenius norms of the weights.

    Args:
        num_features: d, the input dimension.
        num_classes: C >= 2.
        hidden: widths of the hidden layers (may be empty).
        l2: regularisation weight.

    Returns:
        A non-convex ``Model`` with params ``{"layers": [{"W": (d_in, d_out), "b":
        (d_out,)}, ...]}``; its loss refuses an ``x`` that is not (m, d) (``DataError``).

    Example:
        >>> model = mlp(64, 10, hidden=(32,))
        >>> [layer["W"].shape for layer in model.init(jax.random.key(0))["layers"]]
        [(64, 32), (32, 10)]
    """
    d = check_int("num_features", num_features)
    c = check_int("num_classes", num_classes, minimum=2)
    widths = check_int_tuple("hidden", hidden)
    lam = check_float("l2", l2)
    sizes = (d, *widths, c)

    def init(key: jax.Array) -> Params:
        keys = jax.random.split(key, len(sizes) - 1)
        layers = []
        for i, (k, a, b) in enumerate(zip(keys, sizes[:-1], sizes[1:], strict=True)):
            last = i == len(sizes) - 2
            layers.append(_dense(k, a, b, 2.0 / (a + b) if last else 2.0 / a))
        return {"layers": layers}

    def logits(params: Params, x: jax.Array) -> jax.Array:
        check_rows(x.shape, d)
        h = x
        *body, head = params["layers"]
        for layer in body:
            h = jax.nn.relu(h @ layer["W"] + layer["b"])
        return h @ head["W"] + head["b"]

    return _classifier("mlp", init, logits, lam, d)


def _max_pool(h: jax.Array) -> jax.Array:
    """2x2 max pooling with stride 2 on NHWC; odd sizes are rounded up (SAME padding)."""
    return jax.lax.reduce_window(h, -jnp.inf, jax.lax.max, (1, 2, 2, 1), (1, 2, 2, 1), "SAME")


def cnn(
    image_shape: tuple[int, int, int],
    num_classes: int,
    channels: tuple[int, ...] = (8, 16),
    l2: float = 0.0,
) -> Model:
    """A small convolutional classifier (meant for GPU runs on MNIST or CIFAR-10).

    Each block is a 3x3 convolution (stride 1, SAME padding, NHWC via
    ``jax.lax.conv_general_dilated``), a ReLU and a 2x2 max pool; a dense layer maps the
    flattened features to the logits. Kernels are He-normal, the dense layer Glorot-normal,
    biases zero. Loss: mean cross-entropy plus ``l2`` times the squared norms of all
    kernels and weights.

    Args:
        image_shape: (H, W, C) of one image.
        num_classes: number of classes >= 2.
        channels: output channels of the convolution blocks.
        l2: regularisation weight.

    Returns:
        A non-convex ``Model`` whose loss accepts ``x`` either flattened, (m, H*W*C) in HWC
        order, or as images (m, H, W, C). Params: ``{"conv": [{"W": (3, 3, c_in, c_out),
        "b": (c_out,)}, ...], "dense": {"W": (features, C), "b": (C,)}}``.

    Example:
        >>> model = cnn((28, 28, 1), 10)
        >>> model.init(jax.random.key(0))["dense"]["W"].shape
        (784, 10)
    """
    h, w, cin = check_int_tuple("image_shape", image_shape, length=3)
    c = check_int("num_classes", num_classes, minimum=2)
    chans = check_int_tuple("channels", channels)
    lam = check_float("l2", l2)
    for _ in chans:
        h, w = -(-h // 2), -(-w // 2)
    flat = h * w * chans[-1] if chans else h * w * cin
    shape = tuple(int(s) for s in image_shape)

    def init(key: jax.Array) -> Params:
        keys = jax.random.split(key, len(chans) + 1)
        conv, c_in = [], cin
        for k, c_out in zip(keys[:-1], chans, strict=True):
            std = math.sqrt(2.0 / (9 * c_in))
            conv.append(
                {
                    "W": gaussian(k, (3, 3, c_in, c_out), std),
                    "b": jnp.zeros((c_out,), jnp.float32),
                }
            )
            c_in = c_out
        return {"conv": conv, "dense": _dense(keys[-1], flat, c, 2.0 / (flat + c))}

    def logits(params: Params, x: jax.Array) -> jax.Array:
        if x.ndim == 2 and x.shape[1] == math.prod(shape):
            x = x.reshape((x.shape[0], *shape))
        if tuple(x.shape[1:]) != shape:
            dims = ", ".join(map(str, shape))
            raise DataError(
                f"`x` must have shape (m, {math.prod(shape)}) or (m, {dims}); got {tuple(x.shape)}"
            )
        z = x
        for layer in params["conv"]:
            z = jax.lax.conv_general_dilated(
                z, layer["W"], (1, 1), "SAME", dimension_numbers=("NHWC", "HWIO", "NHWC")
            )
            z = _max_pool(jax.nn.relu(z + layer["b"]))
        z = z.reshape((z.shape[0], -1))
        return z @ params["dense"]["W"] + params["dense"]["b"]

    return _classifier("cnn", init, logits, lam, math.prod(shape))
