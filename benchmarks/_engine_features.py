"""The cost of the cluster features in the SimPy engine (the ``features`` section of
``benchmarks/engine.py``).

Each feature is timed against the plain SimPy engine (``engine="simpy"``) on the same
variant, P, K, law (exponential, mean :data:`MEAN_COMPUTE`), J and seed, in the same run:
microseconds of wall time per simulated update, best of the repeats, trace construction
included, and its ratio to the plain run's; the same in CPU time of this process (less
moved by the machine's other load). The repeats go round the rows (row after row,
then again), so a change in the machine's load touches every row alike.

Rows (:func:`feature_specs`): ``failures`` (up times exponential of mean 50x the mean
compute, repairs of mean 5x), ``deadline`` (round-based only: D = the plain run's median
round time), ``slowdown`` (rates 0.1 in, 0.5 out, factor 4), ``slowdown_shared`` (one chain
for all), ``bandwidth`` (learner links only: a transfer takes :data:`LINK_TIME` x the mean
compute), ``server_link`` (plus a server link sized so that it carries about
:data:`SERVER_BUSY` of its capacity, see :func:`server_bandwidth_for`), ``servers_4`` (the
same total capacity in 4 shards, which the engine runs as one link 4 times wider:
``shards_same_times`` says the update times match). Round-based and synchronous runs:
``sync`` against ``bandwidth``, ``all_reduce`` (no links: a ring of zero duration) and
``all_reduce_bandwidth`` (the learner links), at P = 16 and at P = 100.
"""

from __future__ import annotations

import time

import numpy as np

from distributions import Exponential
from simulator import ExperimentSpec
from simulator.timing.engine import simulate_spec
from simulator.trace import TRANSFER_KINDS

#: Mean compute time of a mini-batch (simulated time units).
MEAN_COMPUTE = 1.0
#: Workloads: name -> (variant, P, K, updates, updates with --smoke).
WORKLOADS = {
    "ksync": ("k-sync", 16, 12, 10_000, 200),
    "async": ("async", 16, 1, 100_000, 2_000),
    "sync": ("sync", 16, 16, 5_000, 100),
    "sync_p100": ("sync", 100, 100, 500, 10),  # the ring's cost grows with P
}
#: Mean up time and mean repair time, in mean compute times.
FAILURE_MEAN, REPAIR_MEAN = 50.0, 5.0
#: Slowdown chain: rate into the slow state, rate out, factor.
SLOWDOWN = (0.1, 0.5, 4.0)
#: Bytes of a push or a pull, and a transfer's time over a learner link in mean computes.
MODEL_BYTES, LINK_TIME = 1_000_000, 0.1
#: Share of its capacity the server link carries, and the shards of ``servers_4``.
SERVER_BUSY, SHARDS = 0.5, 4
#: Fixed-point steps sizing the server link, and the updates of each step's run (at most).
CALIBRATION_STEPS, CALIBRATION_UPDATES = 3, 2_000
#: Transfer kinds that cross the server link.
_SERVER_KINDS = [TRANSFER_KINDS.index("push"), TRANSFER_KINDS.index("pull")]


def plain_spec(variant: str, p: int, k: int, updates: int) -> ExperimentSpec:
    kwargs = {"k": k} if variant not in ("async", "sync") else {}
    law = Exponential(1.0 / MEAN_COMPUTE)
    return ExperimentSpec(variant=variant, num_learners=p, law=law, updates=updates, **kwargs)


def median_round(trace) -> float:
    """Median time between two updates (the first from time 0)."""
    return float(np.median(np.diff(trace.update_time, prepend=0.0)))


def link_busy(trace, capacity: float) -> float:
    """Share of a server link of ``capacity`` (bytes per time unit) that the run's completed
    pushes and pulls used on average (transfers cut short are left out)."""
    crossed = np.isin(trace.transfer_kind, _SERVER_KINDS).sum() * MODEL_BYTES
    return float(crossed / (capacity * trace.end_time))


def server_bandwidth_for(links: ExperimentSpec, seed: int, busy: float = SERVER_BUSY) -> float:
    """A server bandwidth under which the run of ``links`` (learner links, no server link)
    keeps its server link ``busy`` (share of its capacity) on average.

    Starts from the bytes per time unit the run moves without a server link over ``busy``,
    then steps ``c <- c * measured share / busy`` (:data:`CALIBRATION_STEPS` times, on runs
    of at most :data:`CALIBRATION_UPDATES` updates): a narrower link slows the run down,
    less than in proportion, so the step converges.
    """
    pilot = links.replace(updates=min(links.updates, CALIBRATION_UPDATES))
    capacity = link_busy(simulate_spec(pilot, seed, engine="simpy"), 1.0) / busy
    for _ in range(CALIBRATION_STEPS):
        trace = simulate_spec(pilot.replace(server_bandwidth=capacity), seed, engine="simpy")
        capacity *= link_busy(trace, capacity) / busy
    return capacity


def feature_specs(plain: ExperimentSpec, seed: int) -> tuple[dict, dict]:
    """The rows of one workload (name -> spec; ``plain`` first) and what was derived for
    them (``deadline``, ``server_bandwidth``)."""
    variant = plain.variant
    links = plain.replace(
        model_bytes=MODEL_BYTES, bandwidth=MODEL_BYTES / (LINK_TIME * MEAN_COMPUTE)
    )
    if variant == "sync":
        rows = {
            "plain": plain,
            "bandwidth": links,
            "all_reduce": plain.replace(variant="all-reduce"),
            "all_reduce_bandwidth": links.replace(variant="all-reduce"),
        }
        return rows, {}
    slowdown = plain.replace(slowdown=SLOWDOWN)
    rows = {
        "plain": plain,
        "failures": plain.replace(
            failure=Exponential(1.0 / (FAILURE_MEAN * MEAN_COMPUTE)),
            repair=Exponential(1.0 / (REPAIR_MEAN * MEAN_COMPUTE)),
        ),
    }
    derived = {}
    if variant != "async":
        derived["deadline"] = median_round(simulate_spec(plain, seed, engine="simpy"))
        rows["deadline"] = plain.replace(deadline=derived["deadline"])
    capacity = server_bandwidth_for(links, seed)
    derived["server_bandwidth"] = capacity
    rows |= {
        "slowdown": slowdown,
        "slowdown_shared": slowdown.replace(slowdown_shared=True),
        "bandwidth": links,
        "server_link": links.replace(server_bandwidth=capacity),
        f"servers_{SHARDS}": links.replace(server_bandwidth=capacity / SHARDS, servers=SHARDS),
    }
    return rows, derived


def time_rows(rows: dict, seed: int, repeats: int) -> tuple[dict, dict, dict]:
    """Best wall seconds and best CPU seconds of each row's run over ``repeats`` rounds of
    all rows, and each row's trace."""
    wall, cpu = dict.fromkeys(rows, float("inf")), dict.fromkeys(rows, float("inf"))
    traces = {}
    for _ in range(repeats):
        for name, spec in rows.items():
            t0, c0 = time.perf_counter(), time.process_time()
            traces[name] = simulate_spec(spec, seed, engine="simpy")
            cpu[name] = min(cpu[name], time.process_time() - c0)
            wall[name] = min(wall[name], time.perf_counter() - t0)
    return wall, cpu, traces


def workload(variant: str, p: int, k: int, updates: int, repeats: int, seed: int = 1) -> dict:
    """One workload's rows: microseconds per update and ratio to plain, with what the rows
    were derived from and the server link's measured share."""
    rows, derived = feature_specs(plain_spec(variant, p, k, updates), seed)
    wall, cpu, traces = time_rows(rows, seed, repeats)
    out = {"variant": variant, "P": p, "K": k, "updates": updates, **derived}
    if "deadline" in derived:  # rounds the deadline closed with fewer than K
        cut = traces["deadline"].mask.shape[1] > traces["deadline"].mask.sum(axis=1)
        out["deadline_cut_share"] = float(cut.mean())
    if "server_bandwidth" in derived:
        out["server_link_busy"] = link_busy(traces["server_link"], derived["server_bandwidth"])
        shards = traces[f"servers_{SHARDS}"]
        out["shards_same_times"] = bool(
            np.array_equal(shards.update_time, traces["server_link"].update_time)
        )
    out["rows"] = {
        name: {
            "us_per_update": wall[name] / updates * 1e6,
            "ratio": wall[name] / wall["plain"],
            "cpu_us_per_update": cpu[name] / updates * 1e6,
            "cpu_ratio": cpu[name] / cpu["plain"],
        }
        for name in rows
    }
    return out


def features(smoke: bool, repeats: int) -> dict:
    """Every workload of :data:`WORKLOADS` at its full or ``smoke`` size."""
    return {
        name: workload(variant, p, k, small if smoke else full, repeats)
        for name, (variant, p, k, full, small) in WORKLOADS.items()
    }


def print_features(results: dict, repeats: int) -> None:
    print(f"\ncluster features, SimPy engine, best of {repeats}: us per simulated update")
    print(f"  {'':<22}{'wall us':>10}{'ratio':>8}{'CPU us':>10}{'ratio':>8}")
    for name, w in results.items():
        extra = []
        if "deadline" in w:
            extra.append(f"D {w['deadline']:.3g} cuts {w['deadline_cut_share']:.0%} of rounds")
        if "server_link_busy" in w:
            extra.append(f"server link {w['server_link_busy']:.0%} busy")
        head = f"{w['variant']} P={w['P']} K={w['K']}, {w['updates']} updates"
        print(f"{name}: {head}" + (f" ({', '.join(extra)})" if extra else ""))
        for row, r in w["rows"].items():
            print(
                f"  {row:<22}{r['us_per_update']:>10.1f}{r['ratio']:>8.2f}"
                f"{r['cpu_us_per_update']:>10.1f}{r['cpu_ratio']:>8.2f}"
            )
