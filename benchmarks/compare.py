"""Where the time of ``pssim compare`` goes: timing, compilation, execution, output.

The default ``pssim compare`` workload (sync, async, k-sync, k-async and k-batch-async,
P = 8, K = 4, J = 20,000 updates, 5 seeds, softmax regression on the embedded ``digits``
data) runs in a fresh interpreter through the command line's own entry point
(``simulator.cli.app.main``), writing its results folder, as a user's ``pssim compare``
does. Its wall time is split into phases:

- ``timing_s``: simulating the traces (every call of the timing engine);
- ``compile_wait_s``: the time the run waits for JAX compilation: compilations on the
  main thread (F*'s solver included) and the waits for a replay program (compiling it, or
  for the worker thread compiling it while the run went on);
- ``execution_s``: the replays (``simulator.replay`` calls) less the waits for compilation
  and less F*;
- ``f_star_s``: F*, the optimal loss (an L-BFGS solve, once per process), its compilation
  left out;
- ``output_s``: figures, tables and files of the results folder;
- ``other_s``: the rest of the in-process run (loading data, theory, ...);
- ``startup_s``: interpreter start and imports (the process wall time less the run's).

Beside them: ``compile_s``, every compilation of the run, the sum of JAX's own
compile-duration events (tracing to a jaxpr, lowering to MLIR, and the backend compile,
which includes reading the persistent compilation cache), wherever it ran (worker threads
compile the next variants' programs while the main thread replays); ``cpu_s``, the
process's user and system CPU time; ``first_replay_s``, from the process's start to the
first replay program ready to run (``first_replay_in_run_s``, from the run's start, after
the imports); ``f_star_background_s``, F* computed in a worker thread beside the run.

``total_s`` is the wall time of the whole process, as ``time pssim compare`` would show it.
The workload runs twice, each in a fresh process with the same new persistent compilation
cache folder (``PSSIM_COMPILE_CACHE``): ``cold`` starts with an empty cache, ``warm``
finds what the cold run stored. Headlines: ``compile_share`` (cold compilation, summed
over threads, over cold total), ``compile_wait_share`` (cold compile wait over cold
total), ``first_replay_s_warm``, ``first_replay_in_run_s_warm``, ``compile_s_cold``,
``compile_s_warm``, ``total_s_cold``, ``total_s_warm`` and ``warm_vs_cold`` (cold total
over warm total, the speed-up a second run gets); ``load``, the 1-minute load average at the end.

``--smoke`` runs the same variants at a tiny size (200 updates, 2 seeds) in a few seconds.

Usage::

    python benchmarks/compare.py [--updates 20000] [--seeds 5] [--smoke] [--json]
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import resource
import subprocess
import sys
import tempfile
import threading
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
    t_start, t_epoch = time.perf_counter(), time.time()
    import jax.monitoring

    import simulator.cli.training_commands as commands
    import simulator.studies.comparison as comparison
    import simulator.training as training
    import simulator.training._programs as programs
    import simulator.training.optimum as optimum
    from simulator.cli.app import main

    spent: collections.Counter = collections.Counter()
    events: collections.Counter = collections.Counter()
    stack: list[str] = []  # the phase being timed (compilation is charged to it too)

    main_thread = threading.main_thread()
    first: list[float] = []  # when the first replay program was ready to run (epoch s)

    def on_duration(event: str, seconds: float, **_: object) -> None:
        if event in COMPILE_EVENTS:
            spent["compile_" + COMPILE_EVENTS[event]] += seconds
            if threading.current_thread() is main_thread:  # else: overlapped in a worker
                spent["compile_in_" + (stack[-1] if stack else "other")] += seconds

    def on_event(event: str, **_: object) -> None:
        events[event] += 1

    jax.monitoring.register_event_duration_secs_listener(on_duration)
    jax.monitoring.register_event_listener(on_event)

    def timed(name: str, fn):
        def wrapper(*args, **kwargs):
            main = threading.current_thread() is main_thread
            if main:  # a worker thread's phase overlaps the main thread's
                stack.append(name)
            t0 = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                spent[name if main else name + "_background"] += time.perf_counter() - t0
                if main:
                    stack.pop()

        return wrapper

    def program_ready(fn):  # the main thread compiling a replay program, or waiting for one
        def wrapper(*args, **kwargs):
            out = timed("program", fn)(*args, **kwargs)
            first.append(first[0] if first else time.time() - t_epoch)
            return out

        return wrapper

    programs.compiled = program_ready(programs.compiled)
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
    # the main thread's compilation: its own compile events, and its waits for a replay
    # program (compiling it, or waiting for a worker thread's compilation)
    outside = sum(spent["compile_in_" + p] for p in ("timing", "replay", "f_star", "other"))
    outside += spent["compile_in_output"]
    wait_s = spent["program"] + outside - spent["compile_in_program"]
    phases = {
        "timing_s": spent["timing"] - spent["compile_in_timing"],
        "compile_wait_s": wait_s,
        "execution_s": spent["replay"]
        - spent["program"]
        - spent["compile_in_replay"]
        - spent["f_star"],
        "f_star_s": spent["f_star"] - spent["compile_in_f_star"],
        "output_s": spent["output"] - spent["compile_in_output"],
    }
    phases["other_s"] = run_s - sum(phases.values())
    return {
        **phases,
        "compile_s": compile_s,
        "first_replay_in_run_s": first[0] - (t0 - t_start) if first else None,
        "first_replay_at": first[0] + t_epoch if first else None,
        "f_star_background_s": spent["f_star_background"],
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
    t0, epoch0, cpu0 = time.perf_counter(), time.time(), _children_cpu()
    proc = subprocess.run(cmd, env=env, stdout=subprocess.PIPE, text=True, check=True)
    total = time.perf_counter() - t0
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    out["total_s"] = total
    out["cpu_s"] = _children_cpu() - cpu0
    out["startup_s"] = total - out["run_s"]
    first = out.pop("first_replay_at")
    out["first_replay_s"] = None if first is None else first - epoch0
    return out


def _children_cpu() -> float:
    """User and system CPU seconds of this process's finished children."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


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
        "load": os.getloadavg()[0],
        "compile_share": cold["compile_s"] / cold["total_s"],
        "compile_wait_share": cold["compile_wait_s"] / cold["total_s"],
        "first_replay_s_warm": warm["first_replay_s"],
        "first_replay_in_run_s_warm": warm["first_replay_in_run_s"],
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
