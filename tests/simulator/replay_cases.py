"""Shared helpers of the replay tests: tiny models and datasets, hand-written traces, and a
plain reference loop (one jitted gradient call per contribution, every past model kept)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from simulator.trace import Trace
from simulator.training.replayer import minibatch_indices, replay_keys


@dataclasses.dataclass(frozen=True)
class TinyModel:
    """Duck-typed stand-in for ``models.Model``."""

    name: str
    init: Callable
    loss: Callable
    accuracy: Callable | None = None
    convex: bool = True
    l2: float = 0.0


@dataclasses.dataclass(frozen=True, eq=False)
class TinyData:
    """Duck-typed stand-in for ``models.Dataset``."""

    x: np.ndarray
    y: np.ndarray
    x_eval: np.ndarray
    y_eval: np.ndarray
    num_classes: int | None = None
    task: str = "regression"


def least_squares(dim: int, l2: float = 0.0, name: str = "ls") -> TinyModel:
    """``0.5 mean (x w + b - y)^2 + 0.5 l2 ||w||^2``; params ``{"w": (d,), "b": ()}``."""

    def init(key):
        return {"w": 0.1 * jax.random.normal(key, (dim,)), "b": jnp.zeros(())}

    def loss(params, batch):
        x, y = batch
        r = x @ params["w"] + params["b"] - y
        return 0.5 * jnp.mean(r**2) + 0.5 * l2 * jnp.sum(params["w"] ** 2)

    return TinyModel(name, init, loss, None, True, l2)


def softmax(dim: int, classes: int, l2: float = 0.01) -> TinyModel:
    """Softmax regression with an accuracy."""

    def init(key):
        return {"W": 0.1 * jax.random.normal(key, (dim, classes)), "b": jnp.zeros(classes)}

    def logits(params, x):
        return x @ params["W"] + params["b"]

    def loss(params, batch):
        x, y = batch
        logp = jax.nn.log_softmax(logits(params, x))
        nll = -jnp.mean(jnp.take_along_axis(logp, y[:, None], axis=1))
        return nll + l2 * jnp.sum(params["W"] ** 2)

    def accuracy(params, batch):
        x, y = batch
        return jnp.mean(jnp.argmax(logits(params, x), axis=1) == y)

    return TinyModel("softmax", init, loss, accuracy, True, l2)


def regression_data(n: int = 64, dim: int = 3, seed: int = 0, noise: float = 0.1) -> TinyData:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, dim))
    y = x @ rng.normal(size=dim) + 0.5 + noise * rng.normal(size=n)
    return TinyData(x, y, x, y)


def class_data(n: int = 60, dim: int = 4, classes: int = 3, seed: int = 0) -> TinyData:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, classes, size=n).astype(np.int32)
    x = rng.normal(size=(n, dim)) + np.eye(classes, dim)[y] * 2.0
    return TinyData(x, y, x, y, classes, "classification")


def make_trace(
    variant: str,
    rows: Sequence[Sequence[tuple[int, int]]],
    *,
    num_learners: int,
    k: int,
    seed: int = 0,
    local_steps: int = 1,
) -> Trace:
    """A trace from rows of ``(learner, version)`` pairs; update j happens at time j + 1."""
    u, kmax = len(rows), max(len(r) for r in rows)
    learner = np.full((u, kmax), -1)
    version = np.full((u, kmax), -1)
    start = np.full((u, kmax), np.nan)
    finish = np.full((u, kmax), np.nan)
    for j, row in enumerate(rows):
        for s, (lrn, ver) in enumerate(row):
            learner[j, s], version[j, s] = lrn, ver
            start[j, s], finish[j, s] = float(ver), j + 1.0
    empty_i, empty_f = np.zeros(0, dtype=int), np.zeros(0)
    return Trace(
        variant=variant,
        num_learners=num_learners,
        k=k,
        seed=seed,
        update_time=np.arange(1.0, u + 1.0),
        learner=learner,
        version=version,
        start=start,
        finish=finish,
        mask=learner >= 0,
        cancelled_learner=empty_i,
        cancelled_start=empty_f,
        cancelled_stop=empty_f,
        local_steps=local_steps,
    )


def np_tree(tree: Any) -> dict:
    return {k: np.asarray(v, dtype=np.float64) for k, v in tree.items()}


def reference_replay(
    trace: Trace,
    model: TinyModel,
    data: TinyData,
    *,
    batch_size: int,
    rule: str,
    lr: float | None = None,
    c: float = 0.0,
    eval_every: int = 1,
    lr_at=None,
) -> tuple[np.ndarray, list[dict]]:
    """Plain float64 loop; keeps every past model. Returns (eval losses, all models).

    Update j's rate is ``lr``, or ``lr_at(j)`` when given (a schedule: the compensated
    rule's ceiling eta_max too, C as given)."""
    with jax.enable_x64(True):
        init_key, data_key = replay_keys(trace.seed)
        w0 = np_tree(model.init(init_key))
        grad = jax.jit(jax.grad(model.loss))
        loss = jax.jit(model.loss)
        x, y = jnp.asarray(data.x, jnp.float64), jnp.asarray(data.y)
        n = x.shape[0]
        versions = [w0]

        def g_at(w, j, slot, step=0):
            idx = minibatch_indices(
                data_key, j, slot, num_examples=n, batch_size=batch_size, local_step=step
            )
            return np_tree(grad({k: jnp.asarray(v) for k, v in w.items()}, (x[idx], y[idx])))

        for j in range(trace.num_updates):
            w = versions[j]
            if lr_at is not None:
                lr = lr_at(j)
            slots = np.flatnonzero(trace.mask[j])
            kk = len(slots)
            if trace.variant == "k-avg":
                finals = []
                for s in slots:
                    v = dict(w)
                    for t in range(trace.local_steps):
                        g = g_at(v, j, s, t)
                        v = {n_: v[n_] - lr * g[n_] for n_ in v}
                    finals.append(v)
                versions.append({n_: sum(f[n_] for f in finals) / kk for n_ in w})
                continue
            new = {n_: v.copy() for n_, v in w.items()}
            for s in slots:
                tau = trace.version[j, s]
                read = versions[tau]
                g = g_at(read, j, s)
                if rule == "fixed":
                    eta = lr
                elif rule == "damped":
                    eta = lr / (1 + j - tau)
                else:
                    sq = sum(np.sum((read[n_] - w[n_]) ** 2) for n_ in w)
                    eta = lr if sq == 0 else min(c / sq, lr)
                for n_ in w:
                    new[n_] -= eta / kk * g[n_]
            versions.append(new)
        u = trace.num_updates
        points = sorted(set(range(0, u + 1, eval_every)) | {u})
        ev = (jnp.asarray(data.x_eval, jnp.float64), jnp.asarray(data.y_eval))
        losses = np.array(
            [float(loss({k: jnp.asarray(v) for k, v in versions[p].items()}, ev)) for p in points]
        )
    return losses, versions


# --------------------------------------------------------------------------- traces
#: P = 3 fully asynchronous (K = 1): learner l pushes into update a, then reads w_{a+1}.
ASYNC_ROWS = [
    [(0, 0)],
    [(1, 0)],
    [(0, 1)],
    [(2, 0)],
    [(1, 2)],
    [(0, 3)],
    [(0, 6)],
    [(2, 4)],
    [(1, 5)],
    [(0, 7)],
]

#: P = 3, K = 2 batch-async: a learner that pushes into update a reads w_a right away
#: (version == its previous update index), so its next slot may be stale or fresh.
BATCH_ASYNC_ROWS = [
    [(0, 0), (1, 0)],
    [(0, 0), (2, 0)],  # learner 0 read w_0 at its push into update 0
    [(1, 0), (0, 1)],
    [(0, 2), (2, 1)],
    [(0, 3), (1, 2)],  # learner 0: pushed into update 3, read w_3: fresh
    [(2, 3), (0, 3)],
    [(1, 4), (1, 5)],  # the same learner twice in one update
]

#: P = 2 with a lagging server: learner 0 has two stale reads pending (depth 2).
DEEP_ROWS = [
    [(1, 0)],
    [(0, 0)],
    [(1, 1)],
    [(0, 1)],
    [(1, 2)],
    [(0, 2)],
    [(1, 3)],
]

SYNC_ROWS = [[(2, j), (0, j)] for j in range(6)]
BATCH_SYNC_ROWS = [[(0, j), (0, j)] if j % 2 else [(1, j), (0, j)] for j in range(6)]
KAVG_ROWS = [[(lrn, j) for lrn in range(3)] for j in range(4)]
