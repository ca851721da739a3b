"""The jitted replay: one ``lax.scan`` over server updates, compiled per seed's shapes.

The scan is nested: an outer scan over evaluation chunks of E updates, a scan over blocks of
a chunk (each block draws its mini-batch indices in one vectorised ``jax.random`` call), and
an inner scan over the updates of a block. Only the outer scan emits outputs (the evaluation
losses), so memory does not grow with the number of updates beyond the per-update inputs.

Per update ``j`` and seed: every slot reads either the current model or its learner's stale
copy; the slots' mini-batch gradients are one vmapped ``jax.grad`` call; the copies named
by the trace's snapshot schedule are set to ``w_j``; the server rule (or, for ``k-avg``, the
average of the learners' models after K local steps) gives ``w_{j+1}``. A non-finite model
(a leaf whose sum is not finite), or an evaluation loss above the divergence threshold,
marks the seed diverged: its model is frozen (no further updates) and its later losses
are NaN. With a learning-rate schedule, the rule's rate for update j is its own times the
row's ``lr_factor`` f(j) (see :mod:`simulator.training._schedules`); without one the
program is the one it always was.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from simulator.training import _diagnostics as diag
from simulator.training import _programs
from simulator.training._schedules import at_rate
from simulator.training.rules import squared_distance

_TRACES = [0]
#: Updates per iteration of the compiled inner loop (fewer loop-control steps on CPU).
UNROLL = 2


def trace_count() -> int:
    """How many times the replay body has been traced (compiled) in this process."""
    return _TRACES[0]


class Static:
    """Wraps a model for use as a static jit argument; hashed by value, else by identity."""

    def __init__(self, obj: Any) -> None:
        self.obj = obj
        try:
            self._hash = hash(obj)
            self._by_value = True
        except TypeError:
            self._hash = id(obj)
            self._by_value = False

    def __hash__(self) -> int:
        return self._hash

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Static):
            return NotImplemented
        if self.obj is other.obj:
            return True
        if not (self._by_value and other._by_value):
            return False
        try:
            return bool(self.obj == other.obj)
        except Exception:
            return False


@dataclasses.dataclass(frozen=True)
class Spec:
    """Static configuration of one compiled replay (shapes come from the arrays).

    Attributes:
        model: the model, wrapped.
        batch_size: m, samples per mini-batch.
        num_copies: P * depth stale-model copies (0 when no contribution is stale).
        local_steps: K local SGD steps per slot (``k-avg``), else 1.
        kavg: average the slots' models after local steps instead of a server rule.
        dtype: ``float32`` or ``float64``, the dtype of the model parameters.
        diagnostics: record the diagnostics of ``_diagnostics`` (``data`` then holds the
            diagnostic rows after the evaluation set).
        scheduled: scale the rule's rate of each update by its row's ``lr_factor``.
    """

    model: Static
    batch_size: int
    num_copies: int
    local_steps: int
    kavg: bool
    dtype: str
    diagnostics: bool = False
    scheduled: bool = False


def sample_indices(
    data_key: jax.Array,
    update: jax.Array | int,
    slot: jax.Array | int,
    local_step: jax.Array | int,
    *,
    num_examples: int,
    batch_size: int,
) -> jax.Array:
    """Training-set rows of one mini-batch: uniform with replacement.

    The key is ``fold_in(fold_in(fold_in(data_key, update), slot), local_step)``;
    ``local_step`` is 0 except for ``k-avg``'s local steps.

    Returns:
        (batch_size,) int32 indices in [0, num_examples).
    """
    key = jax.random.fold_in(jax.random.fold_in(data_key, update), slot)
    key = jax.random.fold_in(key, local_step)
    return jax.random.randint(key, (batch_size,), 0, num_examples, dtype=jnp.int32)


def _all_finite(tree: Any) -> jax.Array:
    """True when the sum of every float leaf of ``tree`` is finite.

    A NaN or infinite entry makes its leaf's sum non-finite; so does a finite sum that
    overflows, which only happens for models far gone anyway (|entries| ~ 1e34 in float32).
    One float sum per leaf is much cheaper on CPU than a boolean reduction.
    """
    ok = jnp.asarray(True)
    for x in jax.tree_util.tree_leaves(tree):
        if jnp.issubdtype(x.dtype, jnp.inexact):
            ok = ok & jnp.isfinite(jnp.sum(x))
    return ok


def _select(pred: jax.Array, a: Any, b: Any) -> Any:
    return jax.tree_util.tree_map(lambda x, y: jnp.where(pred, x, y), a, b)


def _masked_mean(tree: Any, mask: jax.Array) -> Any:
    count = jnp.maximum(jnp.sum(mask), 1)

    def leaf(x):
        m = mask.reshape(mask.shape + (1,) * (x.ndim - 1))
        return (jnp.sum(jnp.where(m, x, 0), axis=0) / count).astype(x.dtype)

    return jax.tree_util.tree_map(leaf, tree)


def _snapshot(copies: jax.Array, p: jax.Array, snap: jax.Array, one: jax.Array) -> jax.Array:
    """Writes ``p`` into rows ``snap`` (W,) of ``copies``; unused entries hit the scratch row.

    ``one`` is 1.0 computed from the update's result: multiplying by it makes the writes
    depend on every read of ``copies`` in the step, which lets XLA update ``copies`` in
    place instead of copying the whole buffer each step.
    """
    value = p * one.astype(p.dtype)
    for i in range(snap.shape[0]):
        copies = lax.dynamic_update_index_in_dim(copies, value, snap[i], axis=0)
    return copies


def _block_indices(spec: Spec, data_key, j, kmax: int, n: int) -> jax.Array:
    """(b, Kmax, steps, m) mini-batch indices of a block of updates ``j`` (b,)."""
    draw = functools.partial(sample_indices, num_examples=n, batch_size=spec.batch_size)
    per_step = jax.vmap(draw, in_axes=(None, None, None, 0))
    per_slot = jax.vmap(per_step, in_axes=(None, None, 0, None))
    per_row = jax.vmap(per_slot, in_axes=(None, 0, None, None))
    return per_row(data_key, j, jnp.arange(kmax), jnp.arange(spec.local_steps))


def _run_seed(
    spec: Spec, rule: Any, root_key: jax.Array, rows: dict, data: tuple, factor: jax.Array
) -> dict:
    """Replays one seed; ``rows`` arrays are (C, nb, b, ...). Returns (C + 1,) eval curves.

    An evaluation whose loss is not finite, or above ``factor`` times the initial loss (when
    that is > 0), marks the seed diverged at the last update applied before it.
    """
    _TRACES[0] += 1  # runs once per compilation (tracing), not per call
    model = spec.model.obj
    x, y, x_eval, y_eval = data[:4]
    ddata = data[4:]
    n = x.shape[0]
    kmax = rows["mask"].shape[-1]
    init_key, data_key = jax.random.split(root_key)
    dtype = jnp.dtype(spec.dtype)
    params = jax.tree_util.tree_map(
        lambda p: p.astype(dtype) if jnp.issubdtype(p.dtype, jnp.floating) else p,
        model.init(init_key),
    )
    grad = jax.grad(model.loss)
    accuracy = getattr(model, "accuracy", None)
    noop = bool(getattr(rule, "masked_noop", False))

    def evaluate(w, vector=None):
        """The curves at ``w``; with diagnostics also the Hessian's vector for the next
        point (``vector``: the previous point's, None at w0)."""
        out = {"loss": jnp.asarray(model.loss(w, (x_eval, y_eval)), dtype)}
        acc = accuracy(w, (x_eval, y_eval)) if accuracy is not None else None
        if acc is not None:
            out["accuracy"] = jnp.asarray(acc, dtype)
        if spec.diagnostics:
            values, vector = diag.evaluation_diagnostics(model.loss, w, ddata, dtype, vector)
            out |= values
        return out, vector

    def kavg_update(w, idx, mask, lr):
        def local(slot_idx):  # (steps, m) indices of one learner
            def body(v, i):
                g = grad(v, (x[i], y[i]))
                return jax.tree_util.tree_map(lambda a, b: (a - lr * b).astype(a.dtype), v, g), None

            return lax.scan(body, w, slot_idx)[0]

        return _masked_mean(jax.vmap(local)(idx), mask)

    def step(carry, inputs, probe=False):
        (w, copies, state, div, *acc), (row, idx) = carry, inputs
        live = row["active"] & (div < 0)
        reads, out = None, None
        rule_j = at_rate(rule, row["lr_factor"]) if spec.scheduled else rule
        if spec.kavg:
            new_w, new_state = kavg_update(w, idx, row["mask"], rule_j.lr), state
        else:
            batch = (x[idx[:, 0]], y[idx[:, 0]])  # (Kmax, m, ...)
            if spec.num_copies:
                fresh = row["copy"] < 0
                src = jnp.maximum(row["copy"], 0)

                def read(c, p):
                    return jnp.where(fresh.reshape((kmax,) + (1,) * p.ndim), p[None], c[src])

                reads = jax.tree_util.tree_map(read, copies, w)
                grads = jax.vmap(grad)(reads, batch)
            else:
                reads = jax.tree_util.tree_map(lambda p: jnp.broadcast_to(p, (kmax, *p.shape)), w)
                grads = jax.vmap(grad, in_axes=(None, 0))(w, batch)
            mask = row["mask"] & live if noop else row["mask"]
            new_w, new_state = rule_j.apply(state, w, grads, reads, mask, row["stale"])
        if spec.diagnostics:
            acc, out = _diagnose(rule_j, w, reads, row, live, acc[0], probe)
        ok = _all_finite(new_w)
        if spec.num_copies:
            one = ok.astype(dtype) * 0 + 1
            copies = jax.tree_util.tree_map(
                lambda c, p: _snapshot(c, p, row["snap"], one), copies, w
            )
        # Gating on ``live`` (known before the update) rather than on ``ok`` keeps the update
        # in place; a diverged seed keeps its first non-finite model, unused from then on.
        if noop and not spec.kavg:  # masked out already: w_{j+1} = w_j exactly
            w, state = new_w, new_state
        else:
            w, state = _select(live, new_w, w), _select(live, new_state, state)
        div = jnp.where(live & ~ok, row["j"] + 1, div)
        return (w, copies, state, div, *acc), out

    def _diagnose(rule, w, reads, row, live, sums, probe):
        """Adds update j's distances and rates to the window sums; probes the gap."""
        real = row["mask"] & live
        if spec.kavg:
            sq = jnp.zeros(real.shape, dtype)
            rates = jnp.full(real.shape, rule.lr, dtype)
        else:
            sq = squared_distance(reads, w) if spec.num_copies else jnp.zeros(real.shape, dtype)
            rates_of = getattr(rule, "rates", None)
            rates = (
                rates_of(w, reads, row["mask"], row["stale"])
                if rates_of is not None
                else jnp.full(real.shape, jnp.nan, dtype)
            )
        sums = sums + diag.update_sums(sq, rates, real)
        out = None
        if probe:
            stale_reads = reads if (spec.num_copies and not spec.kavg) else None
            out = diag.probe(model.loss, w, stale_reads, row["mask"], live, ddata, dtype)
        return (sums,), out

    def block(carry, rows_b):
        idx = _block_indices(spec, data_key, rows_b["j"], kmax, n)
        return lax.scan(step, carry, (rows_b, idx), unroll=UNROLL)[0], None

    def probed_block(carry, rows_b):
        """A block whose last update is probed (the staleness gap of the window)."""
        idx = _block_indices(spec, data_key, rows_b["j"], kmax, n)
        head = jax.tree_util.tree_map(lambda a: a[:-1], (rows_b, idx))
        carry = lax.scan(step, carry, head, unroll=UNROLL)[0]
        return step(carry, jax.tree_util.tree_map(lambda a: a[-1], (rows_b, idx)), probe=True)

    def chunk(carry, rows_c):
        vector = None
        if spec.diagnostics:  # the Hessian's vector waits outside the updates' scans
            carry, vector = carry[:-1], carry[-1]
            head = jax.tree_util.tree_map(lambda a: a[:-1], rows_c)
            carry, _ = lax.scan(block, carry, head)
            carry, probed = probed_block(carry, jax.tree_util.tree_map(lambda a: a[-1], rows_c))
            w, copies, state, div, sums = carry
            carry = (w, copies, state, div, jnp.zeros_like(sums))
        else:
            carry, _ = lax.scan(block, carry, rows_c)
            w, copies, state, div = carry
        ev, vector = evaluate(w, vector)
        if spec.diagnostics:
            ev |= probed | diag.window_means(sums, dtype)
        u_end = jnp.max(jnp.where(rows_c["active"], rows_c["j"] + 1, 0))
        # A loss above the threshold is kept at the evaluation that found it (the curve
        # shows where it went); everything after a divergence is NaN.
        found = (~jnp.isfinite(ev["loss"]) | (ev["loss"] > limit)) & (div < 0)
        div = jnp.where(found, u_end, div)
        ev = {k: jnp.where((div >= 0) & ~found, jnp.nan, v) for k, v in ev.items()}
        tail = (*carry[4:], vector) if spec.diagnostics else ()  # window sums, Ritz vector
        return (w, copies, state, div, *tail), ev

    # Every copy starts as w_0 (so version 0 needs no snapshot); the last row is scratch.
    copies = jax.tree_util.tree_map(
        lambda p: jnp.broadcast_to(p, (spec.num_copies + 1, *p.shape)) if spec.num_copies else p,
        params,
    )
    ev0, vector = evaluate(params)
    if spec.diagnostics:  # no update yet: no gap, distance or rate
        ev0 |= {name: jnp.asarray(jnp.nan, dtype) for name in diag.SCAN_NAMES[2:]}
        ev0[diag.PROBE_NORM] = jnp.asarray(jnp.nan, dtype)
    limit = jnp.where(ev0["loss"] > 0, factor.astype(dtype) * ev0["loss"], jnp.inf)
    div0 = jnp.where(jnp.isfinite(ev0["loss"]) & _all_finite(params), -1, 0).astype(jnp.int32)
    ev0 = {k: jnp.where(div0 >= 0, jnp.nan, v) for k, v in ev0.items()}
    carry = (params, copies, rule.init(params), div0)
    if spec.diagnostics:
        carry += (jnp.zeros(3, dtype), vector)
    (_, _, _, div, *_), evs = lax.scan(chunk, carry, rows)
    out = {k: jnp.concatenate([ev0[k][None], evs[k]]) for k in ev0}
    out["diverged_at"] = div
    return out


_run_seed_jit = jax.jit(_run_seed, static_argnames=("spec",))


def _run_seeds(
    spec: Spec, rule: Any, root_keys: jax.Array, rows: dict, data: tuple, factor: jax.Array
) -> dict:
    """:func:`_run_seed` vmapped over seeds (leading axis of ``root_keys`` and ``rows``)."""
    return jax.vmap(lambda key, r: _run_seed(spec, rule, key, r, data, factor))(root_keys, rows)


_run_seeds_jit = jax.jit(_run_seeds, static_argnames=("spec",))

#: How replicate seeds are replayed (see :func:`run`).
SEEDS_MODES = ("auto", "sequential", "vmap")


def resolve_seeds_mode(mode: str) -> str:
    """``sequential`` or ``vmap``; ``auto`` is sequential on CPU, vmapped on accelerators."""
    if mode == "auto":
        return "sequential" if jax.default_backend() == "cpu" else "vmap"
    return mode


def run(
    spec: Spec,
    rule: Any,
    root_keys: jax.Array,
    rows: dict,
    data: tuple,
    factor: float,
    seeds_mode: str = "sequential",
) -> dict:
    """Replays S seeds, one after another with one compiled single-seed scan, or vmapped.

    Sequentially, a seed's result never depends on the seeds replayed beside it (same
    shapes, same compiled program, no batching across seeds). Vmapped, the S seeds are one
    batched scan (one program per S); on CPU its curves may differ from the sequential
    ones in the last bits (batched kernels add in another order), never in which seeds run.

    Args:
        spec: static configuration.
        rule: the server rule (a pytree: its numbers are traced, not baked in).
        root_keys: (S,) JAX keys, one per seed.
        rows: per-update host arrays, each (S, C, nb, b, ...) (see ``_stack.Stacked``).
        data: ``(x, y, x_eval, y_eval)`` device arrays.
        factor: divergence threshold as a multiple of the initial loss (> 1).
        seeds_mode: ``sequential``, ``vmap`` or ``auto`` (see :func:`resolve_seeds_mode`).

    Returns:
        dict with ``loss`` (S, C + 1), ``accuracy`` (S, C + 1) where the model has one, and
        ``diverged_at`` (S,) int32 (-1 if never), as host numpy arrays.
    """
    limit = jnp.asarray(factor)
    if resolve_seeds_mode(seeds_mode) == "vmap":
        seed_rows = {name: jnp.asarray(a) for name, a in rows.items()}
        args = (rule, root_keys, seed_rows, data, limit)
        out = jax.device_get(_programs.compiled(_run_seeds_jit, spec, args)(*args))
        return {name: np.asarray(a) for name, a in out.items()}
    outs, program = [], None
    for i in range(root_keys.shape[0]):
        seed_rows = {name: jnp.asarray(a[i]) for name, a in rows.items()}
        args = (rule, root_keys[i], seed_rows, data, limit)
        program = program or _programs.compiled(_run_seed_jit, spec, args)
        outs.append(jax.device_get(program(*args)))
    return {name: np.stack([o[name] for o in outs]) for name in outs[0]}


def submit(
    spec: Spec,
    rule: Any,
    root_keys: jax.Array,
    rows: dict,
    data: tuple,
    factor: float,
    seeds_mode: str = "sequential",
) -> None:
    """Starts compiling, in a worker thread, the program :func:`run` will use for these
    arguments (nothing when it is compiled or compiling already)."""
    limit = jnp.asarray(factor)
    if resolve_seeds_mode(seeds_mode) == "vmap":
        seed_rows = {name: jax.ShapeDtypeStruct(a.shape, a.dtype) for name, a in rows.items()}
        _programs.submit(_run_seeds_jit, spec, (rule, root_keys, seed_rows, data, limit))
        return
    seed_rows = {name: jax.ShapeDtypeStruct(a.shape[1:], a.dtype) for name, a in rows.items()}
    _programs.submit(_run_seed_jit, spec, (rule, root_keys[0], seed_rows, data, limit))
