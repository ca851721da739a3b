"""Replay throughput: the project's scan replay against a naive per-contribution loop.

Both replay the same fully asynchronous trace (K-async, K = 1) of softmax regression on the
MNIST test set (Dutta et al. 2018, supplement sec. 9: 784x10 + bias, l2 = 0.01, N(0, 0.01^2)
init, lr = 0.01) with the same stale-copy semantics and the same mini-batches:

- project: :func:`simulator.training.replayer.replay`, one jitted ``lax.scan`` over all updates;
- naive: a Python loop calling one jitted gradient-and-update function per contribution,
  stale models kept as per-learner references.

Compile time is excluded from both (each runs once before it is timed); each is timed
``--repeats`` times and the best run counts. Both evaluate the loss on the 10,000 test images
20 times (every U / 20 updates) and the replay's time includes its host-side preparation and
the transfer of the data to the device. Workloads: m = 1,
P = 8 (the headline, ``replay_vs_naive``), m = 64, P = 8, and m = 1, P = 100.

``--memory`` instead reports the peak resident memory of replays of 10^5 and 10^6 updates at
P = 100 (each in a fresh process, the trace built by the inline numpy generator so that no
SimPy objects count in the peak) beside the size of the trace arrays.

Usage::

    python benchmarks/replay.py [--updates 20000] [--json]
    python benchmarks/replay.py --memory [--json]
"""

from __future__ import annotations

import argparse
import gzip
import json
import resource
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import jax
import jax.numpy as jnp
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from simulator.training.replayer import minibatch_indices, replay, replay_keys  # noqa: E402
from simulator.training.rules import FixedRate  # noqa: E402
from simulator.trace import Trace  # noqa: E402

MNIST = ROOT.parent / "shared" / "data" / "mnist"
LR = 0.01


# --------------------------------------------------------------------------- data and model
def _read_idx(path: Path, offset: int) -> np.ndarray:
    with gzip.open(path, "rb") as f:
        return np.frombuffer(f.read(), dtype=np.uint8, offset=offset)


def load_data() -> SimpleNamespace:
    """MNIST test set, x (10000, 784) float32 in [0, 1], y (10000,) int32."""
    try:
        from models import load_mnist

        ds = load_mnist(MNIST, split="test")
        x, y = np.asarray(ds.x), np.asarray(ds.y)
    except ImportError:
        x = _read_idx(MNIST / "t10k-images-idx3-ubyte.gz", 16).reshape(-1, 784)
        x = x.astype(np.float32) / np.float32(255.0)
        y = _read_idx(MNIST / "t10k-labels-idx1-ubyte.gz", 8).astype(np.int32)
    return SimpleNamespace(x=x, y=y, x_eval=x, y_eval=y, num_classes=10, task="classification")


def load_model():
    """Softmax regression 784 -> 10, l2 = 0.01 on W."""
    try:
        from models import softmax_regression

        return softmax_regression(784, 10, l2=0.01)
    except ImportError:

        def init(key):
            kw, kb = jax.random.split(key)
            return {
                "W": 0.01 * jax.random.normal(kw, (784, 10)),
                "b": 0.01 * jax.random.normal(kb, (10,)),
            }

        def loss(params, batch):
            x, y = batch
            logp = jax.nn.log_softmax(x @ params["W"] + params["b"])
            nll = -jnp.mean(jnp.take_along_axis(logp, y[:, None], axis=1))
            return nll + 0.01 * jnp.sum(params["W"] ** 2)

        return SimpleNamespace(name="softmax", init=init, loss=loss, accuracy=None, convex=True)


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
    try:
        from simulator.timing.engine import simulate

        trace = simulate(
            "async", num_learners=num_learners, law="exp:1", updates=updates, seed=seed
        )
        return trace, "simulator.timing.engine"
    except ImportError:
        return _inline_async(num_learners, updates, seed), "inline"


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

    Stale models are per-learner references set as ``Trace.copy_schedule`` says.
    """
    step, loss = fns
    init_key, data_key = replay_keys(trace.seed)
    w = model.init(init_key)
    copy_index, snapshots, _ = trace.copy_schedule()
    rows, cols = np.nonzero(snapshots >= 0)
    snaps: dict[int, list[int]] = {}
    for j, c in zip(rows.tolist(), snapshots[rows, cols].tolist(), strict=True):
        snaps.setdefault(j, []).append(c)
    reads = copy_index[:, 0].tolist()
    copies: dict[int, object] = {}
    losses = [loss(w)]
    for j in range(trace.num_updates):
        c = reads[j]
        read = copies[c] if c >= 0 else w
        for s in snaps.get(j, ()):
            copies[s] = w
        w = step(w, read, data_key, j)
        if (j + 1) % eval_every == 0 or j + 1 == trace.num_updates:
            losses.append(loss(w))
    return np.asarray(jax.block_until_ready(losses))


# --------------------------------------------------------------------------- timing
def _best_of(repeats: int, fn):
    """(smallest wall time in seconds, last result) over ``repeats`` calls."""
    best, out = float("inf"), None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def compare(trace: Trace, model, data, batch_size: int, eval_every: int, repeats: int) -> dict:
    """Times both replays of ``trace`` (each compiled beforehand; best of ``repeats``)."""
    kw = dict(batch_size=batch_size, rule=FixedRate(LR), eval_every=eval_every, f_star=None)
    replay(trace, model, data, **kw)  # compile
    t_replay, res = _best_of(repeats, lambda: replay(trace, model, data, **kw))
    fns = make_naive(model, data, batch_size)
    short = Trace(**{**trace.__dict__, **_head(trace, eval_every)})
    naive_replay(short, model, fns, eval_every=eval_every)  # compile
    t_naive, naive = _best_of(
        repeats, lambda: naive_replay(trace, model, fns, eval_every=eval_every)
    )
    u = trace.num_updates
    return {
        "updates": u,
        "replay_updates_per_s": u / t_replay,
        "naive_updates_per_s": u / t_naive,
        "ratio": t_naive / t_replay,
        "max_abs_loss_diff": float(np.max(np.abs(res.loss[0] - naive))),
        "final_loss": float(res.loss[0, -1]),
    }


def _head(trace: Trace, n: int) -> dict:
    names = ("update_time", "learner", "version", "start", "finish", "mask")
    return {k: getattr(trace, k)[:n] for k in names}


def run_throughput(updates: int, repeats: int) -> dict:
    data, model = load_data(), load_model()
    out = {"device": jax.devices()[0].device_kind, "updates": updates}
    for name, (m, p) in {"m1_p8": (1, 8), "m64_p8": (64, 8), "m1_p100": (1, 100)}.items():
        trace, source = make_trace(p, updates)
        out["trace_source"] = source
        out[name] = compare(trace, model, data, m, max(1, updates // 20), repeats)
    out["replay_vs_naive"] = out["m1_p8"]["ratio"]
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


def run_memory() -> dict:
    out = {}
    for updates in (100_000, 1_000_000):
        cmd = [sys.executable, __file__, "--memory-child", str(updates)]
        line = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
        out[f"u{updates}"] = json.loads(line.strip().splitlines()[-1])
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--updates", type=int, default=20_000)
    parser.add_argument("--repeats", type=int, default=3, help="timed runs; the best counts")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--memory", action="store_true", help="peak RSS at 1e5 vs 1e6 updates")
    parser.add_argument("--memory-child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.memory_child:
        print(json.dumps(_memory_child(args.memory_child)))
        return
    result = run_memory() if args.memory else run_throughput(args.updates, args.repeats)
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
