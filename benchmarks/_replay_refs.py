"""The references ``benchmarks/replay.py`` times the project's replay against.

- the naive loop: one jitted gradient-and-update call per contribution, stale models kept as
  per-learner references set as :meth:`simulator.Trace.copy_schedule` says;
- the bare scan: the same stale-gradient SGD of a K = 1 trace as one jitted ``lax.scan``
  over precomputed (learner, example) indices, with no bookkeeping (a lower bound);
- the numba loop: the same updates as a compiled loop (softmax regression only), where numba
  is installed.

Every reference trains the same model on the same mini-batches as :func:`simulator.replay`.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from simulator import Trace, minibatch_indices, replay_keys

#: Fixed learning rate and l2 weight (on W) of the softmax regression of every workload.
LR = 0.01
L2 = 0.01


# --------------------------------------------------------------------------- naive loop
def make_naive(model, data, batch_size: int):
    """The naive loop's jitted functions, built once so that timing excludes compilation."""
    x, y = jnp.asarray(data.x), jnp.asarray(data.y)
    ev = (jnp.asarray(data.x_eval), jnp.asarray(data.y_eval))
    n = x.shape[0]

    @jax.jit
    def step(w, read, data_key, j):
        idx = minibatch_indices(data_key, j, 0, num_examples=n, batch_size=batch_size)
        g = jax.grad(model.loss)(read, (x[idx], y[idx]))
        return jax.tree_util.tree_map(lambda a, b: a - LR * b, w, g)

    return step, jax.jit(lambda w: model.loss(w, ev))


def naive_replay(trace: Trace, model, fns, *, eval_every: int) -> np.ndarray:
    """One jitted gradient-and-update call per contribution (K = 1, fixed rate).

    Stale models are per-learner references set as ``Trace.copy_schedule`` says: every copy
    starts as w_0, and copy c is set to w_v at step v after that step's read is taken.
    """
    step, loss = fns
    init_key, data_key = replay_keys(trace.seed)
    w0 = w = model.init(init_key)
    copy_index, snap_version, snap_copy, _ = trace.copy_schedule()
    snaps: dict[int, list[int]] = {}
    for v, c in zip(snap_version.tolist(), snap_copy.tolist(), strict=True):
        snaps.setdefault(v, []).append(c)
    reads = copy_index[:, 0].tolist()
    copies: dict[int, object] = {}
    losses = [loss(w)]
    for j in range(trace.num_updates):
        c = reads[j]
        read = copies.get(c, w0) if c >= 0 else w
        for s in snaps.get(j, ()):
            copies[s] = w
        w = step(w, read, data_key, j)
        if (j + 1) % eval_every == 0 or j + 1 == trace.num_updates:
            losses.append(loss(w))
    return np.asarray(jax.block_until_ready(losses))


def fresh_reads(trace: Trace) -> tuple[np.ndarray, np.ndarray]:
    """(U,) int32 learner and version of each update of a K = 1 trace, checked to be fresh
    reads: a learner's read is the model right after its previous push (w_0 at first), so a
    learner's copy is simply the model it last wrote."""
    assert trace.max_k == 1 and bool(trace.mask.all())
    learner, version = trace.learner[:, 0], trace.version[:, 0]
    order = np.lexsort((np.arange(learner.size), learner))  # by learner, then update
    same = learner[order][1:] == learner[order][:-1]
    expected = np.zeros(learner.size, dtype=np.int64)
    expected[order[1:][same]] = order[:-1][same] + 1  # previous push of the same learner, + 1
    assert np.array_equal(expected, version), "not a fresh-read K = 1 trace"
    return learner.astype(np.int32), version.astype(np.int32)


def example_indices(trace: Trace, num_examples: int) -> np.ndarray:
    """(U,) the training row of each update's mini-batch (m = 1), as the replay draws it."""
    _, data_key = replay_keys(trace.seed)
    draw = jax.vmap(
        lambda j: minibatch_indices(data_key, j, 0, num_examples=num_examples, batch_size=1)
    )
    return np.asarray(draw(jnp.arange(trace.num_updates, dtype=jnp.int32)))[:, 0]


def make_bare(model, data, num_learners: int, eval_every: int):
    """The bare scan: ``run(w0, learner, example) -> (E + 1,) losses`` on device arrays.

    One ``lax.scan`` over precomputed (U,) learner and example indices (reshaped to
    (E, eval_every) so that the loss is evaluated every ``eval_every`` updates), the
    gradient taken inline at the learner's row of a (P, ...) model table, the model updated
    with the fixed rate and written back to that row: no schedule, no masks, no rule, no
    divergence checks, no index drawing, no host preparation.
    """
    # the data are arguments of the jitted program, not constants baked into it
    arrays = tuple(jnp.asarray(getattr(data, k)) for k in ("x", "y", "x_eval", "y_eval"))
    grad = jax.grad(model.loss)
    tree_map = jax.tree_util.tree_map

    @jax.jit
    def scan(w0, learner, example, x, y, x_eval, y_eval):
        def step(carry, inp):
            w, table = carry
            lrn, row = inp
            read = tree_map(lambda t: t[lrn], table)
            batch = (lax.dynamic_slice_in_dim(x, row, 1), lax.dynamic_slice_in_dim(y, row, 1))
            w = tree_map(lambda p, g: p - LR * g, w, grad(read, batch))
            return (w, tree_map(lambda t, p: t.at[lrn].set(p), table, w)), None

        def chunk(carry, inp):
            carry, _ = lax.scan(step, carry, inp)
            return carry, model.loss(carry[0], (x_eval, y_eval))

        table = tree_map(lambda p: jnp.broadcast_to(p, (num_learners, *p.shape)), w0)
        shape = (-1, eval_every)
        _, losses = lax.scan(chunk, (w0, table), (learner.reshape(shape), example.reshape(shape)))
        return jnp.concatenate([model.loss(w0, (x_eval, y_eval))[None], losses])

    def run(w0, learner, example):
        return scan(w0, learner, example, *arrays)

    return run


def make_numba_loop(data, num_learners: int, eval_every: int):
    """The same updates as a numba loop (float32, softmax regression, l2 = 0.01 on W), the
    evaluations in numpy: ``run(w0, learner, example) -> (E + 1,) losses``; None without
    numba."""
    try:
        import numba
    except ImportError:
        return None

    @numba.njit(cache=False)
    def updates(w, b, table_w, table_b, learner, example, x, y, lr, decay):
        d, c = w.shape
        p = np.empty(c, dtype=np.float32)
        for j in range(learner.size):
            lrn, row = learner[j], example[j]
            rw, rb = table_w[lrn], table_b[lrn]
            for k in range(c):
                p[k] = rb[k]
            for i in range(d):
                for k in range(c):
                    p[k] += x[row, i] * rw[i, k]
            p -= p.max()
            p[:] = np.exp(p)
            p /= p.sum()
            p[y[row]] -= 1  # d(cross-entropy)/d(logits)
            for i in range(d):
                for k in range(c):
                    w[i, k] -= lr * (x[row, i] * p[k] + decay * rw[i, k])
            for k in range(c):
                b[k] -= lr * p[k]
            table_w[lrn, :, :] = w
            table_b[lrn, :] = b

    x, y = np.asarray(data.x, np.float32), np.asarray(data.y, np.int64)
    xe, ye = np.asarray(data.x_eval, np.float32), np.asarray(data.y_eval, np.int64)
    lr, lam = np.float32(LR), np.float32(L2)
    decay = np.float32(2 * L2)  # d(l2 ||W||^2)/dW = 2 l2 W

    def loss(w, b) -> float:
        z = xe @ w + b
        z -= z.max(axis=1, keepdims=True)
        log_p = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
        return float(-log_p[np.arange(ye.size), ye].mean() + lam * np.sum(w * w))

    def run(w0, learner, example) -> np.ndarray:
        w, b = (np.array(w0[k], dtype=np.float32) for k in ("W", "b"))
        table_w, table_b = (np.repeat(a[None], num_learners, axis=0) for a in (w, b))
        losses = [loss(w, b)]
        for start in range(0, learner.size, eval_every):
            part = slice(start, start + eval_every)
            updates(w, b, table_w, table_b, learner[part], example[part], x, y, lr, decay)
            losses.append(loss(w, b))
        return np.asarray(losses)

    return run
