"""The ``Model`` record: an initialiser and a pure loss, whatever library built them."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import jax

from ._checks import DataError, check_float, check_int

#: A mini-batch ``(x, y)``: ``x`` float (m, d) (or (m, H, W, C) for image models); ``y`` int32
#: class labels (m,) for classifiers or float targets (m,) for regression.
Batch = tuple[jax.Array, jax.Array]

#: Any pytree of arrays (dicts, lists, tuples of ``jax.Array``).
Params = Any


@dataclasses.dataclass(frozen=True)
class Model:
    """A trainable model: parameter initialiser, loss and (optionally) accuracy.

    The replay only calls these functions, so any model fits: a Flax or Equinox module
    wrapped in two closures, or plain JAX functions.

    Attributes:
        name: short label used in tables and plots.
        init: ``init(key) -> params``; ``params`` is any pytree of arrays (float32 by
            default).
        loss: ``loss(params, batch) -> scalar``: mean loss over the batch plus the
            regulariser. Must be pure so that it can be jitted, vmapped and differentiated.
        accuracy: ``accuracy(params, batch) -> scalar`` in [0, 1], or None where it does not
            apply (regression).
        convex: True when the loss is convex in ``params`` so that the optimum F* can be
            computed and the error F(w) - F* plotted.
        l2: the L2 regularisation weight included in ``loss``.
        num_features: d, the number of features per row that ``loss`` expects in ``x``
            (m, d), or None where the model does not say; see ``check_model_fits``.

    Example:
        >>> import jax, jax.numpy as jnp
        >>> def init(key):
        ...     return {"w": jnp.zeros(3)}
        >>> def loss(params, batch):
        ...     x, y = batch
        ...     return 0.5 * jnp.mean((x @ params["w"] - y) ** 2)
        >>> model = Model("my-ls", init, loss, accuracy=None, convex=True, l2=0.0)
        >>> float(model.loss(model.init(jax.random.key(0)), (jnp.ones((2, 3)), jnp.ones(2))))
        0.5
    """

    name: str
    init: Callable[[jax.Array], Params]
    loss: Callable[[Params, Batch], jax.Array]
    accuracy: Callable[[Params, Batch], jax.Array] | None = None
    convex: bool = False
    l2: float = 0.0
    num_features: int | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise DataError(f"`Model.name` must be a non-empty string; got {self.name!r}")
        for field in ("init", "loss"):
            if not callable(getattr(self, field)):
                raise DataError(
                    f"`Model.{field}` must be callable; got {type(getattr(self, field)).__name__}"
                )
        if self.accuracy is not None and not callable(self.accuracy):
            raise DataError(
                f"`Model.accuracy` must be callable or None; got {type(self.accuracy).__name__}"
            )
        if not isinstance(self.convex, bool):
            raise DataError(f"`Model.convex` must be a bool; got {self.convex!r}")
        object.__setattr__(self, "l2", check_float("Model.l2", self.l2))
        if self.num_features is not None:
            d = check_int("Model.num_features", self.num_features)
            object.__setattr__(self, "num_features", d)
