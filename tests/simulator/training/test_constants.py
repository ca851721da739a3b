"""Problem constants (Dutta et al. 2018, section 2.4) against closed forms and dense algebra."""

from __future__ import annotations

import math
import types

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.flatten_util import ravel_pytree

import models
from simulator.errors import PssimError
from simulator.training.constants import (
    ProblemConstants,
    gradient_diversity,
    hessian_extremes,
    optimal_params,
    problem_constants,
)
from simulator.training.optimum import optimal_loss

DIM = 24  # > 20, so ARPACK's Lanczos basis (ncv = 20) is smaller than the problem
RTOL = 1e-6
# One model object per l2, shared by the tests: the kernels compile once per model.
LS_MODELS = {l2: models.least_squares(DIM, l2) for l2 in (0.0, 0.2)}


@pytest.fixture(scope="module")
def ls_data():
    return models.synthetic_least_squares(
        num_examples=300, dim=DIM, noise=0.3, seed=3, condition=25.0
    )


@pytest.fixture(scope="module", params=[0.0, 0.2], ids=["ols", "ridge"])
def ls_case(request, ls_data):
    l2 = request.param
    model = LS_MODELS[l2]
    exact = models.least_squares_optimum(ls_data.x, ls_data.y, l2)
    return model, exact, problem_constants(model, ls_data)


def per_sample_grads(x, y, w, l2):
    """(N, d) gradients of f_i(w) = (x_i w - y_i)^2 / 2 + (l2/2) ||w||^2, in float64."""
    x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
    return x * (x @ w - y)[:, None] + l2 * w


def init_w(model):
    return np.asarray(model.init(jax.random.key(0))["w"], np.float64)


def test_closed_form_optimum_is_that_of_the_dataset(ls_data):
    # The fixture's reference: the dataset's own constants are those of l2 = 0.
    exact = models.least_squares_optimum(ls_data.x, ls_data.y)
    for name in ("L", "c", "sigma2", "f_star"):
        assert exact[name] == pytest.approx(ls_data.optimum[name], rel=1e-12)


def test_least_squares_l_c_sigma2_f_star_match_closed_forms(ls_case):
    _, exact, pc = ls_case
    assert pc.point == "optimum"
    assert pc.L == pytest.approx(exact["L"], rel=RTOL)
    assert pc.c == pytest.approx(exact["c"], rel=RTOL)
    assert pc.sigma2 == pytest.approx(exact["sigma2"], rel=RTOL)
    assert pc.f_star == pytest.approx(exact["f_star"], rel=1e-10)
    assert pc.condition_number == pytest.approx(exact["L"] / exact["c"], rel=RTOL)


def test_least_squares_minimiser_is_the_closed_form(ls_case, ls_data):
    model, exact, _ = ls_case
    params, f_star = optimal_params(model, ls_data)
    assert set(params) == {"w"} and params["w"].dtype == np.float64
    np.testing.assert_allclose(params["w"], exact["w_star"], rtol=0, atol=1e-8)
    assert f_star == pytest.approx(exact["f_star"], rel=1e-10)
    # x_eval is x here (N <= 10000), so the cached F* of the error curves agrees.
    assert optimal_loss(model, ls_data) == pytest.approx(f_star, rel=1e-10)


def test_least_squares_m_g_matches_the_quadratic_variance(ls_case, ls_data):
    # g_i(w) - grad F(w) = g_i(w*) + (x_i x_i^T - H0) u with u = w - w*, H0 = X^T X / N (the
    # ridge term cancels), so V(w) = sigma^2 + 2 a.u + u^T C u, a quadratic in u.
    model, exact, pc = ls_case
    x = np.asarray(ls_data.x, np.float64)
    n = x.shape[0]
    l2 = exact["l2"]
    w_star = exact["w_star"]
    g_star = per_sample_grads(x, ls_data.y, w_star, l2)
    outer = x[:, :, None] * x[:, None, :] - (x.T @ x / n)[None]  # (N, d, d)
    a = np.einsum("nij,nj->i", outer, g_star) / n
    c_mat = np.einsum("nij,njk->ik", outer, outer) / n
    u = init_w(model) - w_star
    hessian = x.T @ x / n + l2 * np.eye(DIM)
    grad = hessian @ u
    variance = exact["sigma2"] + 2 * a @ u + u @ c_mat @ u
    assert pc.grad_norm2_init == pytest.approx(grad @ grad, rel=1e-9)
    assert pc.variance_init == pytest.approx(variance, rel=1e-9)
    m_g = max(0.0, (variance - exact["sigma2"]) / (grad @ grad))
    assert m_g > 0
    assert pc.M_G == pytest.approx(m_g, rel=RTOL)
    # Eq. (8) with m = 1 then holds at w0 with equality.
    assert pc.variance_init == pytest.approx(pc.sigma2 + pc.M_G * pc.grad_norm2_init, rel=1e-9)


def test_diversity_matches_numpy(ls_case, ls_data):
    model, exact, pc = ls_case
    g = per_sample_grads(ls_data.x, ls_data.y, init_w(model), exact["l2"])
    want = np.sum(g**2) / np.sum(g.sum(axis=0) ** 2)
    assert pc.diversity_init == pytest.approx(want, rel=1e-9)
    got = gradient_diversity(model, model.init(jax.random.key(0)), ls_data.x, ls_data.y)
    assert got == pytest.approx(want, rel=1e-9)
    assert 1 / len(ls_data.y) <= got


def test_diversity_extremes_equal_and_orthogonal_gradients():
    model = models.least_squares(3)
    params = {"w": jnp.zeros(3)}
    # Identical rows and targets: all N gradients equal, Delta = 1/N.
    same = gradient_diversity(model, params, np.ones((4, 3)), -np.ones(4))
    assert same == pytest.approx(1 / 4, rel=1e-12)
    # Rows e_1, e_2, e_3 with w = 0: gradients -y_i e_i are orthogonal, Delta = 1.
    orth = gradient_diversity(model, params, np.eye(3), np.array([1.0, 2.0, 3.0]))
    assert orth == pytest.approx(1.0, rel=1e-12)
    # The summed gradient vanishes: Delta is infinite.
    assert gradient_diversity(model, params, np.ones((2, 3)), np.array([1.0, -1.0])) == math.inf


def test_gradient_sums_are_chunk_independent(ls_data):
    from simulator.training import _per_example as pe

    model = LS_MODELS[0.2]
    with jax.enable_x64(True):
        flat, spec = pe.flatten({"w": jnp.asarray(init_w(model))})
        x = jnp.asarray(ls_data.x, jnp.float64)
        y = jnp.asarray(ls_data.y, jnp.float64)
        rows = np.arange(len(ls_data.y))
        whole = pe.per_example_sums(model.loss, spec, flat, x, y, rows, chunk=len(rows))
        pieces = pe.per_example_sums(model.loss, spec, flat, x, y, rows, chunk=7)  # 42 * 7 + 6
    np.testing.assert_allclose(pieces[0], whole[0], rtol=1e-12)
    assert pieces[1:] == pytest.approx(whole[1:], rel=1e-12)


def test_subset_estimates_use_the_requested_rows(ls_data):
    model = LS_MODELS[0.0]
    full = problem_constants(model, ls_data)
    part = problem_constants(model, ls_data, subset=100, rng=np.random.default_rng(5))
    again = problem_constants(model, ls_data, subset=100, rng=np.random.default_rng(5))
    assert part.num_rows == 100 and full.num_rows == 300
    assert part == again  # the same generator seed draws the same rows
    assert part.sigma2 != full.sigma2
    assert part.sigma2 == pytest.approx(full.sigma2, rel=0.5)  # an estimate of the same V
    assert part.L == pytest.approx(full.L, rel=1e-9)  # the Hessian stays on every row


def softmax_case(bias: bool, l2: float = 0.05):
    data = models.synthetic_classes(num_examples=120, num_features=8, num_classes=3, seed=2)
    if bias:
        return models.softmax_regression(8, 3, l2), data

    def init(key):
        return {"W": 0.01 * jax.random.normal(key, (8, 3))}

    def loss(params, batch):
        x, y = batch
        logp = jax.nn.log_softmax(x @ params["W"], axis=-1)
        picked = jnp.take_along_axis(logp, y.astype(jnp.int32)[:, None], axis=-1)
        return -jnp.mean(picked) + l2 * jnp.sum(params["W"] ** 2)

    return models.Model("softmax-no-bias", init, loss, None, convex=True, l2=l2), data


def dense_hessian_eigenvalues(model, data, params):
    with jax.enable_x64(True):
        flat, unravel = ravel_pytree(jax.tree_util.tree_map(jnp.float64, params))
        x = jnp.asarray(data.x, jnp.float64)
        y = jnp.asarray(data.y)
        h = jax.jit(jax.hessian(lambda f: model.loss(unravel(f), (x, y))))(flat)
        return np.linalg.eigvalsh(np.asarray(h))


@pytest.mark.parametrize("bias", [True, False], ids=["with-bias", "no-bias"])
def test_softmax_lanczos_equals_dense_eigenvalues(bias):
    model, data = softmax_case(bias)
    params, _ = optimal_params(model, data)
    eig = dense_hessian_eigenvalues(model, data, params)
    big_l, c = hessian_extremes(model, data, params)
    assert big_l == pytest.approx(eig[-1], rel=1e-8)
    assert c == pytest.approx(eig[0], rel=1e-6, abs=1e-10)
    if bias:
        # Shifting every class bias alike leaves the loss unchanged: a flat direction, so
        # softmax regression with an unregularised bias is convex but not strongly convex.
        assert abs(c) < 1e-10
    else:
        # The penalty l2 ||W||^2 adds 2 l2 to every Hessian eigenvalue.
        assert c >= 2 * model.l2 * (1 - 1e-9)
    pc = problem_constants(model, data)
    assert pc.L == pytest.approx(eig[-1], rel=1e-6)
    assert pc.M_G is not None and pc.M_G >= 0 and pc.sigma2 > 0


def test_non_convex_model_reports_constants_at_init():
    data = models.synthetic_classes(num_examples=60, num_features=5, num_classes=3, seed=1)
    model = models.mlp(5, 3, hidden=(4,))
    assert not model.convex
    pc = problem_constants(model, data)
    assert isinstance(pc, ProblemConstants)
    assert pc.point == "init" and pc.f_star is None and pc.M_G is None
    assert pc.sigma2 == pc.variance_init
    assert pc.L >= pc.c
    eig = dense_hessian_eigenvalues(model, data, model.init(jax.random.key(0)))
    assert pc.L == pytest.approx(eig[-1], rel=1e-6)
    assert pc.c == pytest.approx(eig[0], rel=1e-6, abs=1e-9)
    assert set(pc.to_dict()) >= {"L", "c", "sigma2", "M_G", "f_star", "diversity_init"}
    with pytest.raises(PssimError, match=r"^`at` must be 'init' for the non-convex model"):
        problem_constants(model, data, at="optimum")
    with pytest.raises(PssimError, match=r"^`model` must be convex"):
        optimal_params(model, data)


def test_tiny_problem_uses_the_dense_path():
    model = models.least_squares(1, 0.5)
    data = models.from_arrays(np.array([[1.0], [2.0], [3.0]]), np.array([1.0, 0.0, 2.0]))
    big_l, c = hessian_extremes(model, data, {"w": jnp.zeros(1)})
    assert big_l == pytest.approx(14 / 3 + 0.5, rel=1e-12)
    assert c == pytest.approx(big_l, rel=1e-12)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"at": "middle"}, r"^`at` must be one of optimum, init; got 'middle'$"),
        ({"subset": 0, "rng": np.random.default_rng(0)}, r"^`subset` must be an integer >= 1"),
        ({"subset": 301, "rng": np.random.default_rng(0)}, r"^`subset` must be <= the number"),
        ({"subset": 10}, r"^`rng` must be a numpy Generator"),
        ({"subset": 10, "rng": 3}, r"^`rng` must be a numpy Generator"),
        ({"tol": -1.0}, r"^`tol` must be a number in \[0, 1\); got -1.0$"),
        ({"max_iter": 0}, r"^`max_iter` must be an integer >= 1; got 0$"),
        ({"key": 7}, r"^`key` must be a JAX key"),
    ],
)
def test_bad_arguments_raise_one_line(ls_data, kwargs, message):
    with pytest.raises(PssimError, match=message) as info:
        problem_constants(LS_MODELS[0.0], ls_data, **kwargs)
    assert "\n" not in str(info.value)


def test_bad_params_model_and_data_raise(ls_data):
    model = LS_MODELS[0.0]
    with pytest.raises(PssimError, match=r"^`params` must have the structure"):
        hessian_extremes(model, ls_data, {"w": jnp.zeros(DIM + 1)})
    with pytest.raises(PssimError, match=r"^`model.init` must be callable"):
        problem_constants(object(), ls_data)
    with pytest.raises(PssimError, match=r"^`dataset` must have arrays x and y"):
        optimal_params(model, object())
    bad = types.SimpleNamespace(x=np.ones((4, DIM)), y=np.ones(3))  # any object with x, y
    with pytest.raises(PssimError, match=r"^`dataset.y` must have shape \(4,\) to match"):
        problem_constants(model, bad)
    with pytest.raises(PssimError, match=r"^`y` must have shape \(4,\) to match `x`; got \(3,\)$"):
        gradient_diversity(model, {"w": jnp.zeros(DIM)}, np.ones((4, DIM)), np.ones(3))
    with pytest.raises(PssimError, match=r"^`max_iter` must be larger for Lanczos"):
        hessian_extremes(model, ls_data, {"w": jnp.zeros(DIM)}, tol=0.0, max_iter=1)
