"""The float64 kernels of the problem constants fit a memory budget, whatever the model.

``pssim bounds --model cnn`` on MNIST asked for 170 GB: per-example gradients of a CNN
under ``vmap`` need memory in the square of the rows per call, and the full-batch loss and
Hessian products hold every row's activations. The rows per call are now chosen from the
compiled kernel's memory estimate. These tests check the choice on MNIST's shapes by
compiling only (nothing of that size is allocated), and run tiny models through the
chunked paths to compare them with the unchunked results.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import models
from simulator.errors import PssimError
from simulator.training import _chunks
from simulator.training import _per_example as pe
from simulator.training.constants import problem_constants

MNIST_ROWS = 60_000


@pytest.mark.slow
def test_chunks_for_the_cnn_on_mnist_fit_the_budget():
    model = models.cnn((28, 28, 1), 10)
    with jax.enable_x64(True):
        flat, spec = pe.flatten(model.init(jax.random.key(0)))
        n = flat.shape[0]
        x = jax.ShapeDtypeStruct((MNIST_ROWS, 784), jnp.float64)
        y = jax.ShapeDtypeStruct((MNIST_ROWS,), jnp.int32)
        old = pe.chunk_rows(n, MNIST_ROWS)  # the rule of the outputs' size alone
        before = _chunks.kernel_bytes(
            _chunks.compiled("per_example", model.loss, spec, n, x, y, old)
        )
        assert before > 100 * pe.CHUNK_BYTES  # what the old rule ran into (about 165 GB)
        for kind, start in [("per_example", old), ("value_and_grad", None), ("hvp", None)]:
            plan = _chunks.plan(kind, model.loss, spec, n, x, y, MNIST_ROWS, start=start)
            again = _chunks.compiled(kind, model.loss, spec, n, x, y, plan.rows)
            estimate = _chunks.kernel_bytes(again)
            assert 1 <= plan.rows < MNIST_ROWS and estimate == plan.bytes
            assert estimate <= pe.CHUNK_BYTES, (kind, plan.rows, estimate)
            bigger = _chunks.compiled(kind, model.loss, spec, n, x, y, 2 * plan.rows)
            assert _chunks.kernel_bytes(bigger) > pe.CHUNK_BYTES / 2  # not needlessly small


def _tiny_cnn_problem():
    data = models.load_dataset("digits")
    small = models.Dataset(
        "digits-small", data.x[:90], data.y[:90], num_classes=10, image_shape=(8, 8, 1)
    )
    return models.cnn((8, 8, 1), 10, channels=(2, 3)), small


def test_blocked_loss_gradient_and_hessian_equal_the_whole_batch(monkeypatch):
    model, data = _tiny_cnn_problem()
    with jax.enable_x64(True):
        flat, spec = pe.flatten(model.init(jax.random.key(1)))
        x = jnp.asarray(data.x, jnp.float64)
        y = jnp.asarray(data.y, jnp.int32)
        v = jnp.asarray(np.random.default_rng(0).standard_normal(flat.shape[0]))

        @jax.jit
        def reference(flat, v):  # the whole batch at once
            def loss(u):
                return _chunks.flat_loss(model.loss, spec, u, (x, y))

            return jax.value_and_grad(loss)(flat), jax.jvp(jax.grad(loss), (flat,), (v,))[1]

        (whole_v, whole_g), whole_hv = reference(flat, v)
        one = pe._block_plan("value_and_grad", model.loss, spec, flat.shape[0], _data(x, y))
        assert one[0] == len(data.y)  # a tiny problem is one block
        whole = _chunks.kernel_bytes(one[1])
        monkeypatch.setattr(_chunks, "CHUNK_BYTES", whole // 3)  # blocks of about 30 rows
        pe._block_plan.cache_clear()
        try:
            rows = pe._block_plan("value_and_grad", model.loss, spec, flat.shape[0], _data(x, y))[0]
            assert 1 < rows < len(data.y) and len(data.y) % rows  # a last, shorter block
            value, grad = pe.value_and_grad(model.loss, spec, flat, x, y)
            hv = pe.hessian_operator(model.loss, spec, flat, x, y).matvec(np.asarray(v))
        finally:
            pe._block_plan.cache_clear()
    assert value == pytest.approx(float(whole_v), rel=1e-12)
    np.testing.assert_allclose(grad, np.asarray(whole_g), rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(hv, np.asarray(whole_hv), rtol=1e-9, atol=1e-12)


def _data(x, y):
    return tuple((tuple(a.shape), jnp.dtype(a.dtype)) for a in (x, y))


def test_per_example_chunks_shrink_to_the_budget_and_sum_the_same(monkeypatch):
    model, data = _tiny_cnn_problem()
    with jax.enable_x64(True):
        flat, spec = pe.flatten(model.init(jax.random.key(2)))
        n = flat.shape[0]
        x = jnp.asarray(data.x, jnp.float64)
        y = jnp.asarray(data.y, jnp.int32)
        rows = np.arange(len(data.y))
        whole = pe.per_example_sums(model.loss, spec, flat, x, y, rows, chunk=len(rows))
        monkeypatch.setattr(_chunks, "CHUNK_BYTES", 2**17)
        plan = _chunks.plan("per_example", model.loss, spec, n, x, y, len(rows))
        big = _chunks.kernel_bytes(
            _chunks.compiled("per_example", model.loss, spec, n, x, y, len(rows))
        )
        assert big > 2**17 and 1 <= plan.rows < len(rows) and plan.bytes <= 2**17
        pieces = pe.per_example_sums(model.loss, spec, flat, x, y, rows)
    np.testing.assert_allclose(pieces[0], whole[0], rtol=1e-10, atol=1e-14)
    assert pieces[1:] == pytest.approx(whole[1:], rel=1e-10)


@pytest.mark.slow
def test_constants_of_a_cnn_are_the_same_under_a_small_budget(monkeypatch):
    model, data = _tiny_cnn_problem()
    free = problem_constants(model, data, tol=1e-8)
    with jax.enable_x64(True):
        flat, spec = pe.flatten(model.init(jax.random.key(0)))
        x = jax.ShapeDtypeStruct((len(data.y), 64), jnp.float64)
        y = jax.ShapeDtypeStruct((len(data.y),), jnp.int32)
        exe = _chunks.compiled("hvp", model.loss, spec, flat.shape[0], x, y, len(data.y))
    monkeypatch.setattr(_chunks, "CHUNK_BYTES", _chunks.kernel_bytes(exe) // 2)
    pe._block_plan.cache_clear()
    try:
        tight = problem_constants(model, data, tol=1e-8)
    finally:
        pe._block_plan.cache_clear()
    for name in ("loss_init", "grad_norm2_init", "variance_init", "sigma2", "L"):
        assert getattr(tight, name) == pytest.approx(getattr(free, name), rel=1e-7), name


def test_a_row_beyond_the_memory_is_refused_in_one_line(monkeypatch):
    model, data = _tiny_cnn_problem()
    monkeypatch.setattr(_chunks, "CHUNK_BYTES", 16)
    monkeypatch.setattr(_chunks, "MEMORY_BUDGET", 64)
    pe._block_plan.cache_clear()
    try:
        with pytest.raises(PssimError) as err:
            problem_constants(model, data)
    finally:
        pe._block_plan.cache_clear()
    text = str(err.value)
    assert "\n" not in text and text.startswith("`model` needs about ")
    assert "more than half the physical memory" in text
