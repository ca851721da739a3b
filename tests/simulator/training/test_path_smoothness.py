"""The smoothness L along the training path: a diagnostic replay measures the Hessian's top
eigenvalue at every evaluation point (``hessian_top``, Lanczos warm-started from point to
point) and its running max, and the bounds take L as the largest of the tops at w0, at w*
and along the path."""

from __future__ import annotations

import types

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from replay_cases import TinyData, least_squares

import models
from simulator import FixedRate, History, replay, simulate
from simulator.cli.bounds_command import smoothness_line
from simulator.errors import PssimTypeError
from simulator.spec import ExperimentSpec
from simulator.studies.bounds import error_bounds, optimal_curve
from simulator.theory.optimal_time import optimal_time_strongly_convex
from simulator.training import _diagnostics as diag
from simulator.training.constants import problem_constants, with_path_smoothness
from simulator.training.replayer import replay_keys


def _traces(updates: int) -> list:
    return [
        simulate("k-async", num_learners=4, k=1, law="exp:1", updates=updates, seed=s)
        for s in (0, 1)
    ]


def _scaled_regression() -> TinyData:
    """Columns of scales 2, 1, 0.5: the Hessian's top (about 4) stands well apart, so 20
    power iterations would reach it to ~(1/4)^40 relative, and Lanczos exactly."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 3)) * np.array([2.0, 1.0, 0.5])
    y = x @ np.array([1.0, -1.0, 0.5]) + 0.1 * rng.normal(size=64)
    return TinyData(x, y, x, y)


def test_a_constant_hessian_gives_the_w0_top_all_along_the_path():
    model, data = least_squares(3), _scaled_regression()
    result = replay(
        _traces(120), model, data, batch_size=4, rule=FixedRate(0.05), eval_every=10,
        dtype="float64", f_star=None, diagnostics=True,
    )  # fmt: skip
    top, top_max = result.diagnostics["hessian_top"], result.diagnostics["hessian_top_max"]
    assert top.shape == top_max.shape == result.loss.shape and np.isfinite(top).all()
    # the path's max is its value at w0, and Lanczos's top at w0 (both seeds: one Hessian)
    np.testing.assert_allclose(top_max[:, -1], top[:, 0], rtol=1e-6)
    np.testing.assert_allclose(top_max, top[:, :1] * np.ones_like(top), rtol=1e-6)
    constants = problem_constants(model, data, key=replay_keys(0)[0], tol=1e-10)
    np.testing.assert_allclose(top, constants.L_init, rtol=1e-6)
    assert constants.L_at in ("w0", "w*")
    folded = with_path_smoothness(constants, result)
    assert folded.L == pytest.approx(constants.L_init, rel=1e-6)
    assert folded.L == max(folded.L_init, folded.L_optimum, folded.L_path)
    assert folded.L_path == np.max(top)


def _clustered_regression(n: int = 200, d: int = 60) -> TinyData:
    """Hessian diag(linspace(2, 1.5, d)) and 1 for the bias, exactly: a top of 2 in a cluster
    that Lanczos resolves slowly (20 products from a random start: 1.3e-5 low)."""
    rng = np.random.default_rng(0)
    q, _ = np.linalg.qr(np.column_stack([np.ones(n), rng.normal(size=(n, d))]))
    x = q[:, 1:] * np.sqrt(n * np.linspace(2.0, 1.5, d))
    y = x @ rng.normal(size=d) + 0.1 * rng.normal(size=n)
    return TinyData(x, y, x, y)


def test_each_point_warm_starts_from_the_previous_points_eigenvector():
    model, data = least_squares(60), _clustered_regression()
    result = replay(
        _traces(200), model, data, batch_size=4, rule=FixedRate(0.05), eval_every=10,
        dtype="float64", f_star=None, diagnostics=True,
    )  # fmt: skip
    top = result.diagnostics["hessian_top"]
    # one Hessian all along: each point's Krylov space holds the last point's Ritz vector,
    # so the top never falls and climbs to 2 (a cold start of the warm count would not)
    assert np.all(np.diff(top, axis=1) >= -1e-12)
    assert np.all(2.0 - top[:, 0] > 1e-6) and np.all(2.0 - top[:, -1] < 1e-9)
    with jax.enable_x64(True):
        w0 = jax.tree_util.tree_map(jnp.float64, model.init(replay_keys(0)[0]))
        batch = (jnp.asarray(data.x_eval), jnp.asarray(data.y_eval))
        cold = diag.hessian_top(model.loss, w0, batch, None, diag.HESSIAN_WARM_ITERATIONS)[0]
    assert 2.0 - float(cold) > 1e-2
    # the History table and a sweep's rows carry both curves
    frame = History(result).to_frame()
    np.testing.assert_array_equal(frame["hessian_top"], top.ravel())
    np.testing.assert_array_equal(frame["hessian_top_max"], np.fmax.accumulate(top, 1).ravel())


@pytest.fixture(scope="module")
def mnist_softmax(mnist_dir):
    """Softmax on 300 MNIST rows: constants (w0 of seed 0) and a diagnostic replay."""
    full = models.load_dataset(f"mnist:{mnist_dir}")
    data = models.Dataset("mnist-300", full.x[:300], full.y[:300], num_classes=10)
    model = models.build_model("softmax", data, 0.01)
    constants = problem_constants(model, data, key=replay_keys(0)[0])
    result = replay(
        _traces(400), model, data, batch_size=4, rule=FixedRate(0.05), eval_every=40,
        diagnostics=True,
    )  # fmt: skip
    return model, data, constants, result


def test_softmax_on_mnist_path_tops_lie_at_or_above_w_stars(mnist_softmax):
    _, _, constants, result = mnist_softmax
    top, top_max = result.diagnostics["hessian_top"], result.diagnostics["hessian_top_max"]
    assert np.isfinite(top).all() and not result.diverged.any()
    # between the top at w* and at w0, or above (w* is far: the loss is still falling)
    assert np.min(top) >= constants.L_optimum, (np.min(top), constants.L_optimum)
    # at seed 0's w0: a Rayleigh quotient, at most the top, and 20 iterations get close
    assert 0.9 * constants.L_init <= top[0, 0] <= constants.L_init * (1 + 1e-5)
    np.testing.assert_array_equal(top_max, np.maximum.accumulate(top, axis=1))
    # the reported L is the max of all, and says where it was found
    folded = with_path_smoothness(constants, result)
    assert folded.L == max(constants.L_init, constants.L_optimum, np.max(top))
    assert folded.L_path == np.max(top) > constants.L_init  # curvature grows on the way
    assert folded.L_at == "path" and constants.L_at == "w0"
    assert folded.to_dict()["L_at"] == "path"


def test_the_bounds_take_l_from_the_path_where_larger(mnist_softmax):
    model, data, constants, result = mnist_softmax
    spec = ExperimentSpec(variant="k-sync", num_learners=4, k=4, lr=0.05, batch_size=4, updates=100)
    plain = error_bounds(spec, model=model, dataset=data, constants=constants)
    raised = error_bounds(spec, model=model, dataset=data, constants=constants, replays=result)
    path = float(np.max(result.diagnostics["hessian_top"]))
    assert plain.constants.L == constants.L and plain.constants.L_at == "w0"
    assert raised.constants.L == path and raised.constants.L_at == "path"
    assert raised.to_dict()["constants"]["L_path"] == path
    # the step limit is 1/(2 L (...)): inversely proportional to L
    ratio = raised.bounds["step_limit"].value / plain.bounds["step_limit"].value
    assert ratio == pytest.approx(constants.L / path, rel=1e-12)


def test_the_bounds_text_says_where_l_was_found(mnist_softmax):
    _, _, constants, result = mnist_softmax
    plain = smoothness_line(constants)
    assert plain.startswith("L is the larger Hessian top of L(w0)=") and "L(path)" not in plain
    line = smoothness_line(with_path_smoothness(constants, result))
    path = float(np.max(result.diagnostics["hessian_top"]))
    assert line.startswith("L is the largest Hessian top of L(w0)=")
    assert line.endswith(f"and L(path)={path:.4g} (diagnostic replays): L_at=path")


def test_a_comparisons_diagnostic_runs_raise_l_of_the_optimal_curve():
    data = models.synthetic_classes(
        num_examples=120, num_features=6, num_classes=3, separation=4.0, seed=2
    )
    model = models.softmax_regression(6, 3, 0.05, bias=False)
    constants = problem_constants(model, data)
    delta = constants.loss_init - constants.f_star
    error = np.array([[delta, 0.05, 0.01, 0.004]])
    base = dict(eval_update=np.arange(4), eval_time=np.array([[0.0, 5.0, 50.0, 200.0]]))
    base |= dict(error=error, loss=error, diverged=np.zeros(1, dtype=bool))
    curve = {"hessian_top": np.array([[1.0, 3.0 * constants.L, np.nan, 0.5]])}
    plain = types.SimpleNamespace(**base, diagnostics=None)
    measured = types.SimpleNamespace(**base, diagnostics=curve)
    spec = ExperimentSpec(variant="async", num_learners=4)

    def run(result):
        return types.SimpleNamespace(variant="async", k=1, diverged_seeds=0, result=result)

    got = optimal_curve(
        types.SimpleNamespace(spec=spec, runs=[run(plain), run(measured)]), constants=constants
    )
    want = optimal_time_strongly_convex(
        got.levels, mean_durations=[1.0] * 4, L=3.0 * constants.L, mu=constants.c,
        sigma2=constants.sigma2,
    )  # fmt: skip
    np.testing.assert_allclose(got.times, want.value, rtol=1e-12)


def test_results_without_a_path_leave_the_constants_and_others_are_refused():
    model, data = least_squares(3), _scaled_regression()
    constants = problem_constants(model, data)
    off = replay(_traces(40), model, data, batch_size=4, rule=FixedRate(0.05), f_star=None)
    assert with_path_smoothness(constants, off) is constants
    assert with_path_smoothness(constants, None) is constants
    assert with_path_smoothness(constants, []) is constants
    for bad in ([off, 3], 3):
        with pytest.raises(PssimTypeError, match=r"^`results` must be ReplayResults; got int$"):
            with_path_smoothness(constants, bad)
