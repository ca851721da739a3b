"""A model paired with data of another feature count is refused, naming both numbers."""

from __future__ import annotations

import re

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from models import (
    DataError,
    Model,
    build_model,
    check_model_fits,
    cnn,
    least_squares,
    load_digits,
    mlp,
    softmax_regression,
    synthetic_classes,
    synthetic_least_squares,
)

DIGITS = load_digits()  # 64 features
CLASSES = synthetic_classes(num_examples=40, num_features=7, num_classes=3)
REGRESSION = synthetic_least_squares(num_examples=40, dim=6)


@pytest.mark.parametrize(
    ("model", "d"),
    [
        (softmax_regression(784, 10), 784),
        (least_squares(5), 5),
        (mlp(12, 3, hidden=(4,)), 12),
        (cnn((8, 6, 2), 10, channels=(4,)), 96),
    ],
    ids=["softmax", "least-squares", "mlp", "cnn"],
)
def test_factories_state_their_feature_count(model: Model, d: int) -> None:
    assert model.num_features == d


@pytest.mark.parametrize(
    ("make", "d"),
    [
        (lambda: softmax_regression(784, 10), 784),
        (lambda: mlp(784, 10, hidden=(8,)), 784),
        (lambda: least_squares(784), 784),
    ],
    ids=["softmax", "mlp", "least-squares"],
)
def test_losses_refuse_rows_of_another_width(make, d: int) -> None:
    model = make()
    params = model.init(jax.random.key(0))
    x = jnp.asarray(DIGITS.x[:8])
    y = jnp.asarray(DIGITS.y[:8]) if model.accuracy else jnp.zeros(8, jnp.float32)
    message = f"`x` must have shape (m, {d}), {d} features per row; got (8, 64)"
    # Under tracing JAX may append a note after the first line: the first line is ours.
    first_line = f"^{re.escape(message)}(\n|$)"
    for loss in (model.loss, jax.jit(model.loss)):
        with pytest.raises(DataError, match=first_line):
            loss(params, (x, y))
    with pytest.raises(DataError, match=first_line):
        jax.eval_shape(model.loss, params, (x, y))  # refused from shapes alone


def test_check_model_fits_names_both_feature_counts() -> None:
    model = build_model("softmax", DIGITS, 0.01)
    check_model_fits(DIGITS, model)
    message = "`model` 'softmax' expects 64 features per row; got 7 in `data` 'synthetic-classes'"
    with pytest.raises(DataError, match=f"^{re.escape(message)}$"):
        check_model_fits(CLASSES, model)
    with pytest.raises(DataError, match=r"^`model` 'least-squares' expects 9 features per row; "):
        check_model_fits(REGRESSION, least_squares(9))


def test_build_model_gives_models_that_fit_their_data() -> None:
    for name, data in (
        ("softmax", DIGITS),
        ("mlp", CLASSES),
        ("cnn", DIGITS),
        ("least-squares", REGRESSION),
    ):
        model = build_model(name, data, 0.0)
        assert model.num_features == data.num_features
        check_model_fits(data, model)


def test_models_without_a_feature_count_pass_and_the_count_is_validated() -> None:
    def init(key):
        return {"w": jnp.zeros(3)}

    def loss(params, batch):
        return jnp.sum(params["w"])

    check_model_fits(DIGITS, Model("mine", init, loss))  # num_features None: not checked
    assert Model("mine", init, loss, num_features=np.int64(3)).num_features == 3
    for bad in (0, 2.5, True):
        with pytest.raises(DataError, match=r"^`Model.num_features` must be an integer >= 1; "):
            Model("mine", init, loss, num_features=bad)
