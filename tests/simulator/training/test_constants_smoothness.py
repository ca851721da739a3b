"""The smoothness L of the problem constants: the larger top Hessian eigenvalue at w0 and at
w*, since the bounds assume one L everywhere (a step-size condition checked with the top at
w* alone can read "holds" where it does not)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.flatten_util import ravel_pytree

import models
from simulator.spec import ExperimentSpec
from simulator.studies.bounds import error_bounds
from simulator.training.constants import optimal_params, problem_constants

#: Separated classes and a ridge penalty without a bias: strongly convex, with probabilities
#: near 0 and 1 at w* (flat) and uniform at w0 ~ 0 (curved): L(w0) = 3.60, L(w*) = 1.43.
DATA = models.synthetic_classes(
    num_examples=120, num_features=6, num_classes=3, separation=4.0, seed=2
)
MODEL = models.softmax_regression(6, 3, 0.05, bias=False)


def dense_top(model, data, params) -> float:
    """The largest eigenvalue of the dense float64 Hessian of the training loss."""
    with jax.enable_x64(True):
        flat, unravel = ravel_pytree(jax.tree_util.tree_map(jnp.float64, params))
        x, y = jnp.asarray(data.x, jnp.float64), jnp.asarray(data.y)
        hessian = jax.hessian(lambda f: model.loss(unravel(f), (x, y)))(flat)
        return float(np.linalg.eigvalsh(np.asarray(hessian))[-1])


@pytest.fixture(scope="module")
def constants():
    return problem_constants(MODEL, DATA)


def test_l_is_the_larger_top_of_w0_and_w_star(constants):
    at_init = dense_top(MODEL, DATA, MODEL.init(jax.random.key(0)))
    at_optimum = dense_top(MODEL, DATA, optimal_params(MODEL, DATA)[0])
    assert constants.L_init == pytest.approx(at_init, rel=1e-6)
    assert constants.L_optimum == pytest.approx(at_optimum, rel=1e-6)
    assert at_init > 2 * at_optimum  # the case the fix is for
    assert constants.L == constants.L_init == max(constants.L_init, constants.L_optimum)
    assert constants.c > 0 and constants.to_dict()["L_optimum"] == constants.L_optimum


def test_a_step_that_only_w_stars_curvature_allows_fails_lemma2(constants):
    # Lemma 2 needs eta <= 1/(2 L (M_G/(K m) + 1)) (m = 1): with L(w*) this eta would pass
    m_g, k = constants.M_G, 2
    limit = lambda big_l: 1 / (2 * big_l * (m_g / k + 1))  # noqa: E731
    lr = 0.5 * (limit(constants.L_optimum) + limit(constants.L))
    spec = ExperimentSpec(variant="k-sync", num_learners=4, k=k, lr=lr, updates=100)
    report = error_bounds(spec, model=MODEL, dataset=DATA, constants=constants)
    assert report.bounds["step_limit"].value == pytest.approx(limit(constants.L), rel=1e-12)
    assert not report.bounds["lemma2"].valid
    assert any(c.lhs == lr and not c.holds for c in report.bounds["lemma2"].conditions)


def test_quadratic_and_non_convex_models():
    data = models.synthetic_least_squares(num_examples=200, dim=4, seed=1)
    quad = problem_constants(models.least_squares(4), data)
    assert quad.L_init == pytest.approx(quad.L_optimum, rel=1e-6)  # a constant Hessian
    assert quad.L == max(quad.L_init, quad.L_optimum)
    classes = models.synthetic_classes(num_examples=60, num_features=5, num_classes=3, seed=1)
    net = problem_constants(models.mlp(5, 3, hidden=(4,)), classes)
    assert net.point == "init" and net.L_optimum is None and net.L == net.L_init
