"""Closed-form constants of synthetic least squares checked against JAX derivatives."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from models import least_squares, least_squares_optimum, synthetic_least_squares

DATA = synthetic_least_squares(num_examples=600, dim=8, noise=0.3, seed=3, condition=20.0)
X, Y = jnp.asarray(DATA.x), jnp.asarray(DATA.y)


def _check_constants(opt: dict, l2: float) -> None:
    model = least_squares(DATA.num_features, l2=l2)
    w_star = jnp.asarray(opt["w_star"], jnp.float32)
    params = {"w": w_star}
    loss = jax.jit(model.loss)
    # stationarity: the full gradient vanishes at w_star (float32 rounding only)
    grad = jax.jit(jax.grad(model.loss))(params, (X, Y))["w"]
    grad_at_zero = jax.grad(model.loss)({"w": jnp.zeros_like(w_star)}, (X, Y))["w"]
    assert float(jnp.linalg.norm(grad)) < 1e-5 * float(jnp.linalg.norm(grad_at_zero)) + 1e-6
    # F(w_star) = f_star, and w_star is the minimum along random directions
    np.testing.assert_allclose(float(loss(params, (X, Y))), opt["f_star"], rtol=1e-4)
    rng = np.random.default_rng(0)
    for _ in range(3):
        step = jnp.asarray(rng.normal(size=w_star.shape) * 0.1, jnp.float32)
        assert float(loss({"w": w_star + step}, (X, Y))) > opt["f_star"]
    # L and c are the extreme eigenvalues of the Hessian of the full loss
    hessian = jax.hessian(lambda w: model.loss({"w": w}, (X, Y)))(w_star)
    eig = np.linalg.eigvalsh(np.asarray(hessian, np.float64))
    np.testing.assert_allclose([eig[-1], eig[0]], [opt["L"], opt["c"]], rtol=1e-4)
    # sigma2: mean squared norm of one-sample gradients at w_star, computed by vmap(grad)
    one = jax.vmap(jax.grad(model.loss), in_axes=(None, 0))(params, (X[:, None], Y[:, None]))
    direct = float(jnp.mean(jnp.sum(one["w"] ** 2, axis=1)))
    np.testing.assert_allclose(direct, opt["sigma2"], rtol=1e-3)
    assert opt["sigma2"] > 0


def test_synthetic_constants_match_derivatives() -> None:
    opt = DATA.optimum
    assert opt["l2"] == 0.0 and opt["w_star"].shape == (8,)
    _check_constants(opt, l2=0.0)


def test_ridge_constants_match_derivatives() -> None:
    opt = least_squares_optimum(DATA.x, DATA.y, l2=0.5)
    np.testing.assert_allclose(opt["c"] - DATA.optimum["c"], 0.5, rtol=1e-9)
    _check_constants(opt, l2=0.5)


def test_constants_are_plausible() -> None:
    opt = DATA.optimum
    # empirical spectrum close to the population one (1 down to 1/20) for N >> d
    assert 0.8 < opt["L"] < 1.25 and 0.8 / 20 < opt["c"] < 1.25 / 20
    # residual variance ~ noise^2 (d/N degrees of freedom lost), and w_star near w_true
    assert opt["f_star"] == pytest.approx(0.5 * 0.3**2 * (1 - 8 / 600), rel=0.15)
    assert np.linalg.norm(opt["w_star"] - opt["w_true"]) < 0.2
    # at the optimum each one-sample gradient is x_i r_i, so sigma2 ~ noise^2 tr(Sigma)
    assert opt["sigma2"] == pytest.approx(0.3**2 * np.trace(DATA.x.T @ DATA.x / 600), rel=0.2)
