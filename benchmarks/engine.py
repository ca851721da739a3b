"""Engine throughput on fully asynchronous runs against a bare SimPy loop, in one run.

The bare loop produces the same events (P learner processes, one timeout per push, same
durations from the same per-learner streams) and records nothing. Prints pushes/s of both
per P and their ratio; ``--json`` prints one object whose ``engine_vs_bare`` is the ratio at
P = 100. ``--smoke`` runs the same comparison at every P with 5,000 updates and one run (a
second or two) and prints the same keys.

    python benchmarks/engine.py [--updates 100000] [--repeats 3] [--smoke] [--json]
"""

from __future__ import annotations

import argparse
import json
import time

import simpy

from distributions import Exponential
from simulator import simulate
from simulator.timing._draws import learner_streams

#: Updates of a ``--smoke`` run (one timed run per engine and P).
SMOKE_UPDATES = 5_000


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
        "async", num_learners=p, law=Exponential(1.0), updates=updates, seed=seed
    ).end_time


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
    ap.add_argument("--json", action="store_true")
    ap.add_argument(
        "--smoke", action="store_true", help="tiny size, same comparison and keys (overrides sizes)"
    )
    args = ap.parse_args()
    if args.smoke:
        args.updates, args.repeats = SMOKE_UPDATES, 1
    rows = {}
    for p in args.learners:
        bare, t_bare = best_rate(bare_loop, p, args.updates, args.repeats)
        eng, t_eng = best_rate(engine, p, args.updates, args.repeats)
        # same durations, same events: both must end at the same simulated instant
        assert abs(t_bare - t_eng) <= 1e-9 * max(1.0, t_bare), (t_bare, t_eng)
        rows[p] = {"bare_pushes_per_s": bare, "engine_pushes_per_s": eng, "ratio": eng / bare}
    if args.json:
        key = 100 if 100 in rows else args.learners[0]
        print(
            json.dumps(
                {
                    "updates": args.updates,
                    "engine_vs_bare": rows[key]["ratio"],
                    "per_learners": rows,
                }
            )
        )
        return
    print(f"fully asynchronous, {args.updates} updates, best of {args.repeats}")
    print(f"{'P':>6}{'bare pushes/s':>16}{'engine pushes/s':>18}{'ratio':>8}")
    for p, r in rows.items():
        print(
            f"{p:>6}{r['bare_pushes_per_s']:>16,.0f}{r['engine_pushes_per_s']:>18,.0f}"
            f"{r['ratio']:>8.2f}"
        )


if __name__ == "__main__":
    main()
