"""Replay throughput: the project's scan replay against a naive per-contribution loop.

Both replay the same fully asynchronous trace (K-async, K = 1) of softmax regression on the
MNIST test set (Dutta et al. 2018, supplement sec. 9: 784x10 + bias, l2 = 0.01, N(0, 0.01^2)
init, lr = 0.01) with the same stale-copy semantics and the same mini-batches:

- project: :func:`simulator.replay`, one jitted ``lax.scan`` over all updates;
- naive: a Python loop calling one jitted gradient-and-update function per contribution,
  stale models kept as per-learner references set as :meth:`simulator.Trace.copy_schedule`
  says.

Compile time is excluded from both (each runs once before it is timed); each is timed
``--repeats`` times and the best run counts. Both evaluate the loss on the 10,000 test images
20 times (every U / 20 updates) and the replay's time includes its host-side preparation and
the transfer of the data to the device. The two loss curves must agree (the run stops
otherwise). Workloads: m = 1, P = 8 (the headline, ``replay_vs_naive``), m = 64, P = 8, and
m = 1, P = 100.

``replay_m1_vs_minimal_scan`` measures the replay's own overhead: on the m = 1, P = 8
workload, a minimal jitted ``lax.scan`` written here for exactly this case (K = 1, fixed
rate, one stale copy per learner set as ``Trace.copy_schedule`` says, the same mini-batches,
the same 20 evaluations, its host preparation timed too) against :func:`simulator.replay`;
the ratio is minimal time over project time (1 would mean no overhead at all).

``diagnostics_on_vs_off`` is the cost of the error-analysis diagnostics: the m = 1, P = 8
replay with ``diagnostics=Diagnostics(rows=DIAGNOSTIC_ROWS)`` (full gradients on the first
2,000 test images, diversity on 256, at each of the 20 evaluations) over the same replay
without them; the target is at most 2.

``--memory`` instead reports the peak resident memory of replays of 10^5 and 10^6 updates at
P = 100 (each in a fresh process, the trace built by the inline numpy generator so that no
SimPy objects count in the peak) beside the size of the trace arrays;
``peak_rss_long_vs_short`` is the peak of the longer replay over that of the shorter one.

``--smoke`` runs the same workloads at a tiny size (400 updates, one timed run; 10^3 and
10^4 updates with ``--memory``) in a few seconds, compilation included. The MNIST t10k files
are read from ``$PSSIM_MNIST``, else from ``../shared/data/mnist`` beside the checkout;
without them the script says so and exits with status 77.

Usage::

    python benchmarks/replay.py [--updates 20000] [--repeats 3] [--smoke] [--json]
    python benchmarks/replay.py --memory [--smoke] [--json]
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from models import load_mnist, softmax_regression
from simulator import (
    Diagnostics,
    FixedRate,
    Trace,
    minibatch_indices,
    replay,
    replay_keys,
    simulate,
)

ROOT = Path(__file__).resolve().parents[1]
#: Environment variable naming a folder with the MNIST t10k IDX files.
MNIST_ENV = "PSSIM_MNIST"
#: Where the files are looked for when the variable is unset: beside the checkout.
MNIST_FALLBACK = ROOT.parent / "shared" / "data" / "mnist"
#: Exit status when the data are absent (the conventional "skipped").
EXIT_NO_DATA = 77
LR = 0.01
#: Workloads of the throughput run: name -> (mini-batch size m, learners P).
WORKLOADS = {"m1_p8": (1, 8), "m64_p8": (64, 8), "m1_p100": (1, 100)}
#: Replay lengths of the memory run, full and ``--smoke``.
MEMORY_UPDATES = (100_000, 1_000_000)
SMOKE_MEMORY_UPDATES = (1_000, 10_000)
SMOKE_UPDATES = 400
#: Extra arguments of each mode that ``--smoke --json`` must also cover.
SMOKE_MODES = ((), ("--memory",))
#: Largest loss difference between the two replays (float32 sums in another order).
LOSS_TOLERANCE = 1e-3


# --------------------------------------------------------------------------- data and model
def mnist_dir() -> Path | None:
    """The folder with the MNIST t10k files, or None when they are absent."""
    folder = Path(os.environ.get(MNIST_ENV) or MNIST_FALLBACK)
    names = ("t10k-images-idx3-ubyte", "t10k-images-idx3-ubyte.gz")
    return folder if any((folder / n).is_file() for n in names) else None


def load_data():
    """MNIST test set: x (10000, 784) float32 in [0, 1], y (10000,) int32, evaluated on x."""
    folder = mnist_dir()
    if folder is None:
        print(
            f"MNIST t10k files not found: set {MNIST_ENV} to their folder "
            "(default: ../shared/data/mnist beside the checkout)",
            file=sys.stderr,
        )
        sys.exit(EXIT_NO_DATA)
    return load_mnist(folder, split="test")


def load_model():
    """Softmax regression 784 -> 10, l2 = 0.01 on W."""
    return softmax_regression(784, 10, l2=0.01)


# --------------------------------------------------------------------------- trace
def _inline_async(num_learners: int, updates: int, seed: int) -> Trace:
    """Fully asynchronous schedule with exp(1) compute times (used without the engine)."""
    rngs = [np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(num_learners)]
    start = np.zeros(num_learners)
    read = np.zeros(num_learners, dtype=np.int64)
    finish = np.array([r.exponential() for r in rngs])
    rec = np.empty((updates, 4))
    for j in range(updates):  # the learner that finishes first pushes update j
        lrn = int(np.argmin(finish))
        rec[j] = lrn, read[lrn], start[lrn], finish[lrn]
        start[lrn], read[lrn] = finish[lrn], j + 1
        finish[lrn] += rngs[lrn].exponential()
    col = lambda i: rec[:, i : i + 1]  # noqa: E731
    none = np.zeros(0)
    return Trace(
        "k-async",
        num_learners,
        1,
        seed,
        rec[:, 3],
        col(0).astype(int),
        col(1).astype(int),
        col(2),
        col(3),
        np.ones((updates, 1), bool),
        none.astype(int),
        none,
        none,
    )


def make_trace(
    num_learners: int, updates: int, seed: int = 0, engine: bool = True
) -> tuple[Trace, str]:
    """K-async (K = 1) trace from the project's engine, or the inline generator."""
    if not engine:
        return _inline_async(num_learners, updates, seed), "inline"
    trace = simulate("async", num_learners=num_learners, law="exp:1", updates=updates, seed=seed)
    return trace, "simulator.timing.engine"


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


# --------------------------------------------------------------------------- minimal scan
def make_minimal(model, data, batch_size: int, eval_every: int):
    """The minimal scan replay of a K = 1 trace: ``run(trace) -> (E + 1,) losses``."""
    x, y = jnp.asarray(data.x), jnp.asarray(data.y)
    ev = (jnp.asarray(data.x_eval), jnp.asarray(data.y_eval))
    n = x.shape[0]
    grad = jax.grad(model.loss)

    @functools.partial(jax.jit, static_argnames="rows")
    def scan(w0, data_key, reads, snaps, j, rows):
        copies = jax.tree_util.tree_map(lambda p: jnp.broadcast_to(p, (rows, *p.shape)), w0)

        def step(carry, inp):
            w, copies = carry
            jj, c, snap = inp
            read = jax.tree_util.tree_map(
                lambda cp, p: jnp.where(c >= 0, cp[jnp.maximum(c, 0)], p), copies, w
            )
            idx = minibatch_indices(data_key, jj, 0, num_examples=n, batch_size=batch_size)
            g = grad(read, (x[idx], y[idx]))
            copies = jax.tree_util.tree_map(lambda cp, p: cp.at[snap].set(p), copies, w)
            w = jax.tree_util.tree_map(lambda p, gg: p - LR * gg, w, g)
            return (w, copies), None

        def chunk(carry, inp):
            carry, _ = lax.scan(step, carry, inp)
            return carry, model.loss(carry[0], ev)

        _, losses = lax.scan(chunk, (w0, copies), (j, reads, snaps))
        return jnp.concatenate([model.loss(w0, ev)[None], losses])

    def run(trace: Trace) -> np.ndarray:
        init_key, data_key = replay_keys(trace.seed)
        copy_index, snap_version, snap_copy, depth = trace.copy_schedule()
        u = trace.num_updates
        scratch = trace.num_learners * depth
        width = max(1, int(np.bincount(snap_version).max())) if snap_version.size else 1
        snaps = np.full((u, width), scratch, dtype=np.int32)  # unused writes: scratch row
        first = np.searchsorted(snap_version, snap_version, side="left")
        snaps[snap_version, np.arange(snap_version.size) - first] = snap_copy
        snaps[0, 0] = scratch  # the scratch row exists even without snapshots
        shape = (u // eval_every, eval_every)
        out = scan(
            model.init(init_key),
            data_key,
            jnp.asarray(copy_index[:, 0].astype(np.int32).reshape(shape)),
            jnp.asarray(snaps.reshape(*shape, width)),
            jnp.arange(u, dtype=jnp.int32).reshape(shape),
            rows=scratch + 1,
        )
        return np.asarray(out)

    return run


def minimal_vs_project(trace: Trace, model, data, eval_every: int, repeats: int) -> dict:
    """Times the minimal scan and the project's replay of ``trace`` (m = 1, compiled first)."""
    assert trace.num_updates % eval_every == 0 and trace.max_k == 1
    run = make_minimal(model, data, 1, eval_every)
    kw = dict(batch_size=1, rule=FixedRate(LR), eval_every=eval_every, f_star=None)
    run(trace)  # compile
    t_min, losses = _best_of(repeats, lambda: run(trace))
    replay(trace, model, data, **kw)  # compile
    t_proj, res = _best_of(repeats, lambda: replay(trace, model, data, **kw))
    diff = float(np.max(np.abs(res.loss[0] - losses)))
    assert diff <= LOSS_TOLERANCE, (diff, res.loss[0], losses)
    u = trace.num_updates
    return {
        "updates": u,
        "replay_updates_per_s": u / t_proj,
        "minimal_updates_per_s": u / t_min,
        "ratio": t_min / t_proj,
        "max_abs_loss_diff": diff,
    }


# --------------------------------------------------------------------------- timing
def _best_of(repeats: int, fn):
    """(smallest wall time in seconds, last result) over ``repeats`` calls."""
    best, out = float("inf"), None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def compare(trace: Trace, model, data, batch_size: int, eval_every: int, repeats: int, fns) -> dict:
    """Times both replays of ``trace`` (each compiled beforehand; best of ``repeats``).

    ``fns`` are the naive loop's functions for ``batch_size`` (see :func:`make_naive`).
    """
    kw = dict(batch_size=batch_size, rule=FixedRate(LR), eval_every=eval_every, f_star=None)
    replay(trace, model, data, **kw)  # compile
    t_replay, res = _best_of(repeats, lambda: replay(trace, model, data, **kw))
    naive_replay(_head(trace, eval_every), model, fns, eval_every=eval_every)  # compile
    t_naive, naive = _best_of(
        repeats, lambda: naive_replay(trace, model, fns, eval_every=eval_every)
    )
    diff = float(np.max(np.abs(res.loss[0] - naive)))
    # both must train the same model, or the ratio compares different work
    assert diff <= LOSS_TOLERANCE, (diff, res.loss[0], naive)
    u = trace.num_updates
    return {
        "updates": u,
        "replay_updates_per_s": u / t_replay,
        "naive_updates_per_s": u / t_naive,
        "ratio": t_naive / t_replay,
        "max_abs_loss_diff": diff,
        "final_loss": float(res.loss[0, -1]),
    }


#: Evaluation rows of the diagnostics' full gradients in ``diagnostics_on_vs_off``.
DIAGNOSTIC_ROWS = 2000


def diagnostics_cost(trace: Trace, model, data, eval_every: int, repeats: int) -> dict:
    """Replay time with diagnostics over the time without (each compiled beforehand)."""
    kw = dict(batch_size=1, rule=FixedRate(LR), eval_every=eval_every, f_star=None)
    on = dict(kw, diagnostics=Diagnostics(rows=DIAGNOSTIC_ROWS))
    times = {}
    for name, args in (("off", kw), ("on", on)):
        replay(trace, model, data, **args)  # compile
        times[name], res = _best_of(repeats, lambda args=args: replay(trace, model, data, **args))
        if name == "on":
            gamma = float(np.nanmax(res.diagnostics["gamma"]))
    return {
        "off_s": times["off"],
        "on_s": times["on"],
        "ratio": times["on"] / times["off"],
        "gamma_max": gamma,
    }


def _head(trace: Trace, n: int) -> Trace:
    """The first ``n`` updates of ``trace``."""
    names = ("update_time", "learner", "version", "start", "finish", "mask")
    return dataclasses.replace(trace, **{k: getattr(trace, k)[:n] for k in names})


def run_throughput(updates: int, repeats: int) -> dict:
    data, model = load_data(), load_model()
    out = {"device": jax.devices()[0].device_kind, "updates": updates}
    naive_fns: dict[int, tuple] = {}  # one naive loop per m: built (and compiled) once
    for name, (m, p) in WORKLOADS.items():
        trace, source = make_trace(p, updates)
        out["trace_source"] = source
        fns = naive_fns.setdefault(m, make_naive(model, data, m))
        out[name] = compare(trace, model, data, m, max(1, updates // 20), repeats, fns)
    out["replay_vs_naive"] = out["m1_p8"]["ratio"]
    trace, _ = make_trace(8, updates)
    out["m1_p8_minimal"] = minimal_vs_project(trace, model, data, max(1, updates // 20), repeats)
    out["replay_m1_vs_minimal_scan"] = out["m1_p8_minimal"]["ratio"]
    out["m1_p8_diagnostics"] = diagnostics_cost(trace, model, data, max(1, updates // 20), repeats)
    out["diagnostics_on_vs_off"] = out["m1_p8_diagnostics"]["ratio"]
    return out


# --------------------------------------------------------------------------- memory
def _memory_child(updates: int) -> dict:
    data, model = load_data(), load_model()
    trace, _ = make_trace(100, updates, engine=False)  # no SimPy objects in the peak
    trace_bytes = sum(
        getattr(trace, f).nbytes
        for f in ("update_time", "learner", "version", "start", "finish", "mask")
    )
    kw = dict(batch_size=1, rule=FixedRate(LR), eval_every=max(1, updates // 100), f_star=None)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    t0 = time.perf_counter()
    res = replay(trace, model, data, **kw)
    seconds = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {
        "updates": updates,
        "trace_mib": trace_bytes / 2**20,
        "peak_rss_before_replay_mib": before,
        "peak_rss_mib": after,
        "replay_added_mib": after - before,
        "seconds_with_compile": seconds,
        "final_loss": float(res.loss[0, -1]),
    }


def run_memory(sizes: tuple[int, int]) -> dict:
    if mnist_dir() is None:
        load_data()  # says where it looked and exits
    out = {}
    for updates in sizes:
        cmd = [sys.executable, __file__, "--memory-child", str(updates)]
        line = subprocess.run(cmd, check=True, stdout=subprocess.PIPE, text=True).stdout
        out[f"u{updates}"] = json.loads(line.strip().splitlines()[-1])
    short, long = (out[f"u{u}"]["peak_rss_mib"] for u in sizes)
    out["peak_rss_long_vs_short"] = long / short
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--updates", type=int, default=20_000)
    parser.add_argument("--repeats", type=int, default=3, help="timed runs; the best counts")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--memory", action="store_true", help="peak RSS at 1e5 vs 1e6 updates")
    parser.add_argument(
        "--smoke", action="store_true", help="tiny size, same workloads and keys (overrides sizes)"
    )
    parser.add_argument("--memory-child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.memory_child:
        print(json.dumps(_memory_child(args.memory_child)))
        return
    if args.smoke:
        args.updates, args.repeats = SMOKE_UPDATES, 1
    if args.memory:
        result = run_memory(SMOKE_MEMORY_UPDATES if args.smoke else MEMORY_UPDATES)
    else:
        result = run_throughput(args.updates, args.repeats)
    if args.json:
        print(json.dumps(result))
        return
    for key, value in result.items():
        if isinstance(value, dict):
            print(key + ": " + ", ".join(f"{k}={_fmt(v)}" for k, v in value.items()))
        else:
            print(f"{key}: {_fmt(value)}")


def _fmt(v: object) -> str:
    return f"{v:.4g}" if isinstance(v, float) else str(v)


if __name__ == "__main__":
    main()
