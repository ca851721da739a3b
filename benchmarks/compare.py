"""Where the time of ``pssim compare`` goes: timing, compilation, execution, output.

The default ``pssim compare`` workload (sync, async, k-sync, k-async and k-batch-async,
P = 8, K = 4, J = 20,000 updates, 5 seeds, softmax regression on the embedded ``digits``
data) runs in a fresh interpreter through the command line's own entry point
(``simulator.cli.app.main``), writing its results folder, as a user's ``pssim compare``
does. Its wall time is split into phases:

- ``timing_s``: simulating the traces (every call of the timing engine);
- ``compile_s``: JAX compilation, the sum of JAX's own compile-duration events (tracing
  to a jaxpr, lowering to MLIR, and the backend compile, which includes reading the
  persistent compilation cache): every compilation of the run, F*'s solver included;
- ``execution_s``: the replays (``simulator.replay`` calls) less the compilation inside them
  and less F*;
- ``f_star_s``: F*, the optimal loss (an L-BFGS solve, once per process), its compilation
  left out;
- ``output_s``: figures, tables and files of the results folder;
- ``other_s``: the rest of the in-process run (loading data, theory, ...);
- ``startup_s``: interpreter start and imports (the process wall time less the run's).

``total_s`` is the wall time of the whole process, as ``time pssim compare`` would show it.
The workload runs twice, each in a fresh process with the same new persistent compilation
cache folder (``PSSIM_COMPILE_CACHE``): ``cold`` starts with an empty cache, ``warm``
finds what the cold run stored. Headlines: ``compile_share`` (cold compilation over cold
total), ``compile_s_cold``, ``compile_s_warm``, ``total_s_cold``, ``total_s_warm`` and
``warm_vs_cold`` (cold total over warm total, the speed-up a second run gets).

``--smoke`` runs the same variants at a tiny size (200 updates, 2 seeds) in a few seconds.

Usage::

    python benchmarks/compare.py [--updates 20000] [--seeds 5] [--smoke] [--json]
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

#: Sizes of ``--smoke``.
SMOKE_UPDATES, SMOKE_SEEDS = 200, 2
#: JAX's compile-duration events (``jax._src.dispatch``): tracing, lowering, backend.
COMPILE_EVENTS = {
    "/jax/core/compile/jaxpr_trace_duration": "trace",
    "/jax/core/compile/jaxpr_to_mlir_module_duration": "lower",
    "/jax/core/compile/backend_compile_duration": "backend",
}
#: Persistent-cache hits (JAX's monitoring event).
CACHE_HIT_EVENT = "/jax/compilation_cache/cache_hits"


def _child(argv: list[str]) -> dict:
    """Runs ``pssim compare ARGV`` in this process and returns its phases in seconds."""
    t_start = time.perf_counter()
    import jax.monitoring

    import simulator.cli.training_commands as commands
    import simulator.studies.comparison as comparison
    import simulator.training as training
    import simulator.training.optimum as optimum
    from simulator.cli.app import main

    spent: collections.Counter = collections.Counter()
    events: collections.Counter = collections.Counter()
    stack: list[str] = []  # the phase being timed (compilation is charged to it too)

    def on_duration(event: str, seconds: float, **_: object) -> None:
        if event in COMPILE_EVENTS:
            spent["compile_" + COMPILE_EVENTS[event]] += seconds
            spent["compile_in_" + (stack[-1] if stack else "other")] += seconds

    def on_event(event: str, **_: object) -> None:
        events[event] += 1

    jax.monitoring.register_event_duration_secs_listener(on_duration)
    jax.monitoring.register_event_listener(on_event)

    def timed(name: str, fn):
        def wrapper(*args, **kwargs):
            stack.append(name)
            t0 = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                spent[name] += time.perf_counter() - t0
                stack.pop()

        return wrapper

    comparison.simulate_spec = timed("timing", comparison.simulate_spec)
    training.replay = timed("replay", training.replay)
    optimum.optimal_loss = timed("f_star", optimum.optimal_loss)
    commands._write_results = timed("output", commands._write_results)
    t0 = time.perf_counter()
    with open(os.devnull, "w") as sink:
        stdout, sys.stdout = sys.stdout, sink
        try:
            status = main(["compare", *argv])
        finally:
            sys.stdout = stdout
    run_s = time.perf_counter() - t0
    if status != 0:
        raise SystemExit(f"pssim compare exited with status {status}")
    compile_s = sum(spent["compile_" + p] for p in COMPILE_EVENTS.values())
    phases = {
        "timing_s": spent["timing"],
        "compile_s": compile_s,
        "execution_s": spent["replay"] - spent["compile_in_replay"] - spent["f_star"],
        "f_star_s": spent["f_star"] - spent["compile_in_f_star"],
        "output_s": spent["output"],
    }
    phases["other_s"] = run_s - sum(phases.values())
    return {
        **phases,
        "run_s": run_s,
        "imports_s": t0 - t_start,
        "compile_trace_s": spent["compile_trace"],
        "compile_lower_s": spent["compile_lower"],
        "compile_backend_s": spent["compile_backend"],
        "compile_in_replay_s": spent["compile_in_replay"],
        "compile_in_f_star_s": spent["compile_in_f_star"],
        "cache_hits": events[CACHE_HIT_EVENT],
    }


def _fresh_process(argv: list[str], cache: Path) -> dict:
    """Runs :func:`_child` in a new interpreter with ``cache`` as the compilation cache."""
    env = {**os.environ, "PSSIM_COMPILE_CACHE": str(cache), "TQDM_DISABLE": "1"}
    cmd = [sys.executable, __file__, "--child", json.dumps(argv)]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, env=env, stdout=subprocess.PIPE, text=True, check=True)
    total = time.perf_counter() - t0
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    out["total_s"] = total
    out["startup_s"] = total - out["run_s"]
    return out


def run(updates: int, seeds: int) -> dict:
    with tempfile.TemporaryDirectory(prefix="pssim-bench-") as tmp:
        root = Path(tmp)
        cache = root / "jax-cache"
        runs = {}
        for name in ("cold", "warm"):
            argv = ["-J", str(updates), "--seeds", str(seeds), "--out", str(root / name)]
            runs[name] = _fresh_process(argv, cache)
    cold, warm = runs["cold"], runs["warm"]
    return {
        "updates": updates,
        "seeds": seeds,
        "variants": 5,
        "compile_share": cold["compile_s"] / cold["total_s"],
        "compile_s_cold": cold["compile_s"],
        "compile_s_warm": warm["compile_s"],
        "total_s_cold": cold["total_s"],
        "total_s_warm": warm["total_s"],
        "warm_vs_cold": cold["total_s"] / warm["total_s"],
        "cold": cold,
        "warm": warm,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--updates", type=int, default=20_000, help="J, updates per run")
    parser.add_argument("--seeds", type=int, default=5, help="replicate seeds")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--smoke", action="store_true", help="tiny size (overrides sizes)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        print(json.dumps(_child(json.loads(args.child))))
        return
    if args.smoke:
        args.updates, args.seeds = SMOKE_UPDATES, SMOKE_SEEDS
    result = run(args.updates, args.seeds)
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
