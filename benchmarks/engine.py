"""Timing engines in one run: the SimPy engine against a bare SimPy loop, and the fast
paths against the SimPy engine.

1. ``engine_vs_bare``: the SimPy engine on fully asynchronous runs against a bare SimPy
   loop that produces the same events (P learner processes, one timeout per push, same
   durations from the same per-learner streams) and records nothing; pushes/s of both per
   P and their ratio (at P = 100 in the JSON key).
2. ``fast_vs_simpy_*``: wall time of ``simulate(engine="simpy")`` over that of
   ``simulate(engine="fast")`` on the same spec and seed, each the best of ``--repeats``,
   trace construction included; the two traces must be equal array for array (the run
   stops otherwise; ``*_equal`` records it). Workloads: ``async`` P = 100, 10^6 updates;
   ``ksync`` K-sync P = 100, K = 50, 2000 rounds; ``kasync`` K-async P = 100, K = 10,
   20000 updates.
3. ``features``: the cost of each cluster feature (failures, deadline, slowdowns, learner
   and server links, server shards, all-reduce) in microseconds per simulated update and
   its ratio to the plain SimPy engine on the same variant, P, K, law, J and seed
   (``k-sync`` P = 16, K = 12; ``async`` P = 16; ``sync`` P = 16 and P = 100 against
   ``all-reduce``; see ``benchmarks/_engine_features.py``).

``--smoke`` runs everything at a tiny size with one run (a few seconds) and prints the
same keys; ``--sections`` runs some of them only. ``load_1min`` in the JSON: the machine's
1-minute load average at the end.

    python benchmarks/engine.py [--updates 100000] [--repeats 3] [--smoke] [--json]
        [--sections bare fast features]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import time

import simpy
from _engine_features import features, print_features  # beside this script

from distributions import Exponential
from simulator import simulate
from simulator.timing._draws import learner_streams

#: The sections a run can time (all by default).
SECTIONS = ("bare", "fast", "features")
#: Updates of a ``--smoke`` run (one timed run per engine and P).
SMOKE_UPDATES = 5_000
#: Fast-path workloads: name -> (variant, P, K, updates, updates with --smoke).
FAST_WORKLOADS = {
    "async": ("async", 100, 1, 1_000_000, 5_000),
    "ksync": ("k-sync", 100, 50, 2_000, 50),
    "kasync": ("k-async", 100, 10, 20_000, 500),
}


def bare_loop(p: int, updates: int, seed: int) -> float:
    """Run the bare loop to ``updates`` pushes; returns the simulated end time."""
    env = simpy.Environment()
    draws = learner_streams([Exponential(1.0)] * p, [1.0] * p, seed)
    done = env.event()
    count = [0]

    def learner(draw):
        timeout = env.timeout
        while True:
            yield timeout(draw())
            count[0] += 1
            if count[0] == updates:
                done.succeed()

    for draw in draws:
        env.process(learner(draw))
    env.run(until=done)
    return env.now


def engine(p: int, updates: int, seed: int) -> float:
    return simulate(
        "async", num_learners=p, law=Exponential(1.0), updates=updates, seed=seed, engine="simpy"
    ).end_time


def same_trace(a, b) -> bool:
    """Every field of two traces equal (arrays bit for bit, same dtype)."""
    for field in dataclasses.fields(a):
        x, y = getattr(a, field.name), getattr(b, field.name)
        if hasattr(x, "dtype"):
            if x.dtype != y.dtype or not (x.shape == y.shape and (x == y).all()):
                return False
        elif x != y:
            return False
    return True


def fast_vs_simpy(variant: str, p: int, k: int, updates: int, repeats: int) -> dict:
    """Best wall time of each engine on one spec and seed; their traces must be equal."""
    kwargs = dict(num_learners=p, law=Exponential(1.0), updates=updates, seed=1)
    if variant not in ("async", "sync"):
        kwargs["k"] = k
    best, traces = {}, {}
    for name in ("fast", "simpy"):
        best[name] = float("inf")
        for _ in range(repeats):
            t0 = time.perf_counter()
            traces[name] = simulate(variant, engine=name, **kwargs)
            best[name] = min(best[name], time.perf_counter() - t0)
    equal = same_trace(traces["fast"], traces["simpy"])
    if not equal:
        raise SystemExit(f"{variant}: the fast and SimPy traces differ")
    return {
        "fast_s": best["fast"],
        "simpy_s": best["simpy"],
        "ratio": best["simpy"] / best["fast"],
        "equal": equal,
        "updates": updates,
    }


def best_rate(fn, p: int, updates: int, repeats: int) -> tuple[float, float]:
    """Best pushes/s over ``repeats`` runs (the least disturbed), and the end time."""
    best, end = 0.0, 0.0
    for r in range(repeats):
        t0 = time.perf_counter()
        end = fn(p, updates, r)
        best = max(best, updates / (time.perf_counter() - t0))
    return best, end


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--updates", type=int, default=100_000)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--learners", type=int, nargs="+", default=[8, 100, 1000])
    ap.add_argument("--sections", nargs="+", choices=SECTIONS, default=list(SECTIONS))
    ap.add_argument("--json", action="store_true")
    ap.add_argument(
        "--smoke", action="store_true", help="tiny size, same comparison and keys (overrides sizes)"
    )
    args = ap.parse_args()
    if args.smoke:
        args.updates, args.repeats = SMOKE_UPDATES, 1
    rows, fast, feats = {}, {}, {}
    if "bare" in args.sections:
        for p in args.learners:
            bare, t_bare = best_rate(bare_loop, p, args.updates, args.repeats)
            eng, t_eng = best_rate(engine, p, args.updates, args.repeats)
            # same durations, same events: both must end at the same simulated instant
            assert abs(t_bare - t_eng) <= 1e-9 * max(1.0, t_bare), (t_bare, t_eng)
            rows[p] = {"bare_pushes_per_s": bare, "engine_pushes_per_s": eng, "ratio": eng / bare}
    if "fast" in args.sections:
        fast = {
            name: fast_vs_simpy(variant, p, k, smoke if args.smoke else updates, args.repeats)
            for name, (variant, p, k, updates, smoke) in FAST_WORKLOADS.items()
        }
    if "features" in args.sections:
        feats = features(args.smoke, args.repeats)
    load = os.getloadavg()[0]
    if args.json:
        out = {"updates": args.updates}
        if rows:
            out["engine_vs_bare"] = rows[100 if 100 in rows else args.learners[0]]["ratio"]
        for name, r in fast.items():
            out[f"fast_vs_simpy_{name}"] = r["ratio"]
            out[f"fast_vs_simpy_{name}_equal"] = r["equal"]
        out |= {"per_learners": rows, "fast_workloads": fast, "features": feats}
        out["load_1min"] = load
        print(json.dumps(out))
        return
    if rows:
        print(f"fully asynchronous, {args.updates} updates, best of {args.repeats}")
        print(f"{'P':>6}{'bare pushes/s':>16}{'engine pushes/s':>18}{'ratio':>8}")
        for p, r in rows.items():
            print(
                f"{p:>6}{r['bare_pushes_per_s']:>16,.0f}{r['engine_pushes_per_s']:>18,.0f}"
                f"{r['ratio']:>8.2f}"
            )
    if fast:
        print(f"\n{'fast path':<10}{'updates':>10}{'simpy s':>10}{'fast s':>10}{'ratio':>8}  equal")
        for name, r in fast.items():
            print(
                f"{name:<10}{r['updates']:>10}{r['simpy_s']:>10.3f}{r['fast_s']:>10.4f}"
                f"{r['ratio']:>8.1f}  {r['equal']}"
            )
    if feats:
        print_features(feats, args.repeats)
    print(f"\nmachine load (1 min) at the end: {load:.2f}")


if __name__ == "__main__":
    main()
