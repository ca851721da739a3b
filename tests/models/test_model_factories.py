"""Model factories: shapes, initialisation, loss formulas, jit/vmap/grad behaviour."""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from models import Model, cnn, least_squares, load_digits, mlp, softmax_regression

DIGITS = load_digits()
KEY = jax.random.key(0)
BATCH = (jnp.asarray(DIGITS.x[:32]), jnp.asarray(DIGITS.y[:32]))
LS_BATCH = (
    jnp.asarray(np.random.default_rng(1).normal(size=(16, 5)), jnp.float32),
    jnp.asarray(np.random.default_rng(2).normal(size=16), jnp.float32),
)

FACTORIES = {
    "softmax": (lambda: softmax_regression(64, 10, l2=0.01), BATCH),
    "mlp": (lambda: mlp(64, 10, hidden=(32, 16), l2=0.001), BATCH),
    "cnn": (lambda: cnn((8, 8, 1), 10, channels=(4, 8), l2=0.001), BATCH),
    "least-squares": (lambda: least_squares(5, l2=0.1), LS_BATCH),
}


@pytest.fixture(scope="module", params=list(FACTORIES))
def case(request):
    factory, batch = FACTORIES[request.param]
    model = factory()
    return model, jax.jit(model.init)(KEY), batch


def test_loss_finite_and_grad_matches_params(case) -> None:
    model, params, batch = case
    assert isinstance(model, Model)
    loss, grads = jax.jit(jax.value_and_grad(model.loss))(params, batch)
    assert loss.shape == () and np.isfinite(float(loss))
    assert jax.tree.structure(grads) == jax.tree.structure(params)
    for g, p in zip(jax.tree.leaves(grads), jax.tree.leaves(params), strict=True):
        assert g.shape == p.shape and g.dtype == p.dtype == jnp.float32
        assert np.all(np.isfinite(np.asarray(g)))
    assert any(float(jnp.abs(g).max()) > 0 for g in jax.tree.leaves(grads))


def test_jit_equals_eager(case) -> None:
    model, params, batch = case
    np.testing.assert_allclose(
        jax.jit(model.loss)(params, batch), model.loss(params, batch), rtol=1e-5
    )
    g_jit = jax.jit(jax.grad(model.loss))(params, batch)
    g_eager = jax.grad(model.loss)(params, batch)
    for a, b in zip(jax.tree.leaves(g_jit), jax.tree.leaves(g_eager), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)
    if model.accuracy is not None:
        assert float(jax.jit(model.accuracy)(params, batch)) == float(model.accuracy(params, batch))


def test_vmap_over_batches_equals_loop(case) -> None:
    model, params, batch = case
    x, y = batch
    xs, ys = x.reshape(4, -1, *x.shape[1:]), y.reshape(4, -1)
    stacked = jax.jit(jax.vmap(model.loss, in_axes=(None, 0)))(params, (xs, ys))
    loss = jax.jit(model.loss)
    looped = [loss(params, (xs[i], ys[i])) for i in range(4)]
    np.testing.assert_allclose(stacked, looped, rtol=1e-5)


def test_accuracy_in_unit_interval(case) -> None:
    model, params, batch = case
    if model.accuracy is None:
        assert model.name == "least-squares"
        return
    acc = float(jax.jit(model.accuracy)(params, batch))
    assert 0.0 <= acc <= 1.0
    assert acc * 32 == round(acc * 32)  # a fraction of the 32 rows


def test_init_is_deterministic_and_keyed(case) -> None:
    model, _, _ = case
    init = jax.jit(model.init)
    params, again = init(KEY), init(KEY)
    other = init(jax.random.key(1))
    for a, b in zip(jax.tree.leaves(params), jax.tree.leaves(again), strict=True):
        np.testing.assert_array_equal(a, b)
    assert not all(
        np.array_equal(a, b)
        for a, b in zip(jax.tree.leaves(params), jax.tree.leaves(other), strict=True)
        if float(jnp.abs(a).max()) > 0
    )


def test_softmax_init_std() -> None:
    params = softmax_regression(784, 10).init(KEY)
    w = np.asarray(params["W"], np.float64)
    assert params["W"].shape == (784, 10) and params["b"].shape == (10,)
    # 7840 draws: the sample sd has a relative standard error of about 0.8 %
    assert abs(w.std() / 0.01 - 1) < 0.05
    assert abs(w.mean()) < 5 * 0.01 / math.sqrt(w.size)
    assert 0 < np.abs(np.asarray(params["b"])).max() < 0.05


def test_softmax_l2_term_is_exactly_l2_times_squared_frobenius_norm() -> None:
    l2 = 0.05
    model = softmax_regression(6, 4, l2=l2)
    params = model.init(KEY)
    params = {"W": params["W"] * 100.0, "b": jnp.zeros(4)}
    batch = (jnp.zeros((3, 6)), jnp.array([0, 2, 3], jnp.int32))  # logits all 0: CE = log 4
    expected = math.log(4) + l2 * float(np.sum(np.asarray(params["W"], np.float64) ** 2))
    np.testing.assert_allclose(float(model.loss(params, batch)), expected, rtol=1e-6)
    no_reg = softmax_regression(6, 4, l2=0.0)
    np.testing.assert_allclose(float(no_reg.loss(params, batch)), math.log(4), rtol=1e-6)


def test_softmax_cross_entropy_matches_numpy() -> None:
    model = softmax_regression(64, 10, l2=0.0)
    params = jax.tree.map(lambda a: a * 30.0, model.init(KEY))
    x, y = (np.asarray(a) for a in BATCH)
    logits = x.astype(np.float64) @ np.asarray(params["W"], np.float64) + np.asarray(
        params["b"], np.float64
    )
    logz = np.log(np.exp(logits - logits.max(1, keepdims=True)).sum(1)) + logits.max(1)
    expected = np.mean(logz - logits[np.arange(len(y)), y])
    np.testing.assert_allclose(float(model.loss(params, BATCH)), expected, rtol=1e-5)
    acc = np.mean(logits.argmax(1) == y)
    assert float(model.accuracy(params, BATCH)) == pytest.approx(acc)


def test_least_squares_formula() -> None:
    model = least_squares(5, l2=0.3)
    assert model.convex and model.accuracy is None and model.l2 == 0.3
    params = model.init(KEY)
    w = np.asarray(params["w"], np.float64) * 50
    x, y = (np.asarray(a, np.float64) for a in LS_BATCH)
    expected = np.sum((x @ w - y) ** 2) / (2 * len(y)) + 0.15 * w @ w
    got = model.loss({"w": jnp.asarray(w, jnp.float32)}, LS_BATCH)
    np.testing.assert_allclose(float(got), expected, rtol=1e-5)
    assert abs(np.asarray(params["w"]).std() / 0.01 - 1) < 1.0  # 5 draws of N(0, 0.01^2)


def test_mlp_init_scales_and_penalty() -> None:
    model = mlp(400, 10, hidden=(300,), l2=0.0)
    layers = jax.jit(model.init)(KEY)["layers"]
    assert [lay["W"].shape for lay in layers] == [(400, 300), (300, 10)]
    assert abs(float(jnp.std(layers[0]["W"])) / math.sqrt(2 / 400) - 1) < 0.02  # He
    assert abs(float(jnp.std(layers[1]["W"])) / math.sqrt(2 / 310) - 1) < 0.05  # Glorot
    assert all(float(jnp.abs(lay["b"]).max()) == 0 for lay in layers)
    small = mlp(3, 2, hidden=(4,), l2=0.5)
    params = small.init(KEY)
    batch = (jnp.ones((2, 3)), jnp.array([0, 1], jnp.int32))
    weights = sum(float(jnp.sum(lay["W"] ** 2)) for lay in params["layers"])
    diff = small.loss(params, batch) - mlp(3, 2, hidden=(4,)).loss(params, batch)
    np.testing.assert_allclose(float(diff), 0.5 * weights, rtol=1e-5)
    assert not small.convex


def test_cnn_flat_and_image_inputs_agree() -> None:
    model = cnn((28, 28, 1), 10)
    params = model.init(KEY)
    assert params["dense"]["W"].shape == (7 * 7 * 16, 10)
    x = jax.random.uniform(jax.random.key(3), (4, 784))
    y = jnp.array([1, 2, 3, 4], jnp.int32)
    loss = jax.jit(model.loss)
    flat = loss(params, (x, y))
    image = loss(params, (x.reshape(4, 28, 28, 1), y))
    np.testing.assert_allclose(flat, image, rtol=1e-6)
    with pytest.raises(ValueError, match=r"^`x` must have shape \(m, 784\) or \(m, 28, 28, 1\)"):
        loss(params, (x[:, :100], y))


def test_cnn_rgb_odd_sizes() -> None:
    model = cnn((5, 7, 3), 3, channels=(2,))
    params = model.init(KEY)
    assert params["dense"]["W"].shape == (3 * 4 * 2, 3)  # 2x2 pooling rounds up
    x = jnp.ones((2, 5, 7, 3))
    assert np.isfinite(float(model.loss(params, (x, jnp.array([0, 2], jnp.int32)))))


def test_user_model_and_validation() -> None:
    def init(key):
        return (jnp.zeros(2),)

    def loss(params, batch):
        return jnp.mean((batch[0] @ params[0] - batch[1]) ** 2)

    model = Model("mine", init, loss)
    assert model.accuracy is None and not model.convex and model.l2 == 0.0
    assert float(jax.grad(model.loss)(model.init(KEY), (jnp.ones((3, 2)), jnp.ones(3)))[0][0]) < 0
    with pytest.raises(ValueError, match=r"^`Model.loss` must be callable; got int$"):
        Model("x", init, 3)
    with pytest.raises(ValueError, match=r"^`Model.l2` must be a finite number >= 0; got -1"):
        Model("x", init, loss, l2=-1)
    with pytest.raises(ValueError, match=r"^`num_features` must be an integer >= 1; got 0$"):
        softmax_regression(0, 10)
    with pytest.raises(ValueError, match=r"^`num_classes` must be an integer >= 2; got 1$"):
        mlp(3, 1)
    with pytest.raises(ValueError, match=r"^`l2` must be a finite number >= 0; got nan$"):
        least_squares(3, l2=float("nan"))
    with pytest.raises(ValueError, match=r"^`image_shape` must be a sequence of 3 integers"):
        cnn((28, 28), 10)
    with pytest.raises(ValueError, match=r"^`hidden` must be a sequence of integers >= 1"):
        mlp(3, 2, hidden=(0,))
