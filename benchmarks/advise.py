"""The advisor against brute force: is its pick as good, and how much sooner is it known?

Two settings, each a set of candidates on the embedded ``digits`` data (softmax
regression, l2 = 0.01, m = 4):

1. ``fitted``: the shipped ``llm-se`` trace fitted by ``pssim fit`` (64 learners, per-worker
   speeds x one log-normal law); candidates sync, K-sync K in {16, 32, 48}, async and
   K-batch-async K in {16, 32}, at learning rates 0.05 and 0.2 (14 candidates); target
   error 0.3 within 400 time units.
2. ``heterogeneous``: 8 learners with exp(1) compute times and speeds 1, 1, 1, 1, 2, 2, 4,
   4; candidates sync, K-sync K in {2, 4, 6}, async, K-async K = 4 and K-batch-async
   K in {2, 4}, at learning rates 0.05 and 0.2 (16 candidates); target error 0.3 within 300
   time units.

For each setting, in fresh processes with their own empty compilation caches:

- ``advisor``: :func:`simulator.advise` (theory screen, then seeds added to the leaders);
- ``brute``: a sweep of every candidate with the advisor's ``max-seeds`` seeds, the time to
  target of each from the same :func:`~simulator.results.targets.time_to_target_table`.

``runs_vs_brute`` is the (candidate, seed) training runs the advisor trained over the brute
force's: its saving in execution, which the wall time shows only where execution, not
compilation (one program per candidate and run length, in both), dominates.
``advisor_compile_s`` and ``brute_compile_s`` are their JAX compilation seconds (the sum of
JAX's compile-duration events) and ``wall_less_compile_vs_brute`` the wall-time ratio
without them.
``pick_vs_best`` is the brute-force time to target of the advisor's pick over that of the
brute-force best (target <= 1.10): both read from the brute-force sweep, which has the
most seeds of every candidate. ``wall_vs_brute`` is the advisor's wall time over the
brute-force sweep's (target <= 0.4). Both run ``scheduler="serial"`` (one process).

``--smoke``: two candidates per setting (at both learning rates), a short horizon,
max-seeds 4.

Usage::

    python benchmarks/advise.py [--smoke] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
#: JAX's compile-duration events: tracing, lowering, backend compilation.
COMPILE_EVENTS = (
    "/jax/core/compile/jaxpr_trace_duration",
    "/jax/core/compile/jaxpr_to_mlir_module_duration",
    "/jax/core/compile/backend_compile_duration",
)
#: The training problem shared by both settings.
PROBLEM = {"model": "softmax", "data": "digits", "l2": 0.01, "batch": 4, "eval-every": 20}
SETTINGS = {
    "fitted": {
        "cluster": "fitted",
        "grid": {"lr": [0.05, 0.2]},
        "zip": {
            "variant": [
                *("sync", "k-sync", "k-sync", "k-sync"),
                *("async", "k-batch-async", "k-batch-async"),
            ],
            "K": [64, 16, 32, 48, 1, 16, 32],
        },
        "advise": {"target": 0.3, "time-budget": 400.0, "max-seeds": 8},
        "smoke": {"pick": [1, 5], "time-budget": 150.0, "max-seeds": 4, "target": 0.5},
    },
    "heterogeneous": {
        "timing": {"learners": 8, "dist": "exp:1", "speeds": [1, 1, 1, 1, 2, 2, 4, 4]},
        "grid": {"lr": [0.05, 0.2]},
        "zip": {
            "variant": [
                *("sync", "k-sync", "k-sync", "k-sync"),
                *("async", "k-async", "k-batch-async", "k-batch-async"),
            ],
            "K": [8, 2, 4, 6, 1, 4, 2, 4],
        },
        "advise": {"target": 0.3, "time-budget": 300.0, "max-seeds": 8},
        "smoke": {"pick": [1, 6], "time-budget": 40.0, "max-seeds": 4, "target": 0.5},
    },
}


def _toml(value) -> str:
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    return repr(value)


def advise_file(name: str, folder: Path, smoke: bool) -> Path:
    """The setting's advise file, written in ``folder``."""
    setting = SETTINGS[name]
    advise, zipped = dict(setting["advise"]), dict(setting["zip"])
    if smoke:
        pick = setting["smoke"]["pick"]
        zipped = {k: [v[i] for i in pick] for k, v in zipped.items()}
        advise.update({k: v for k, v in setting["smoke"].items() if k != "pick"})
    lines = ["[timing]"]
    lines += [f"{k} = {_toml(v)}" for k, v in setting.get("timing", {}).items()]
    lines += ["[training]"] + [f"{k} = {_toml(v)}" for k, v in PROBLEM.items()]
    lines += ["[grid]"] + [f"{k} = {_toml(v)}" for k, v in setting["grid"].items()]
    lines += ["[[zip]]"] + [f"{k} = {_toml(v)}" for k, v in zipped.items()]
    lines += ["[advise]"] + [f"{k} = {_toml(v)}" for k, v in advise.items()]
    if setting.get("cluster") == "fitted":
        fitted = folder / "fitted.toml"
        if not fitted.exists():
            import contextlib
            import io

            from simulator.cli.app import main as pssim

            with contextlib.redirect_stdout(io.StringIO()):
                code = pssim(["fit", "llm-se", "--out", str(fitted)])
            if code != 0:
                raise SystemExit(f"pssim fit failed: {code}")
        lines.append('cluster = "fitted.toml"')
    path = folder / f"advise-{name}.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


def _child(job: dict) -> dict:
    """One phase in this (fresh) process: the advisor or the brute-force sweep."""
    import jax.monitoring

    import simulator
    from simulator.results.targets import time_to_target_table
    from simulator.studies._advise_spec import candidates_of, read_advise_config
    from simulator.studies.advise import _round_spec, _run_lengths
    from simulator.studies.sweeps import sweep

    compile_s = [0.0]

    def on_duration(event: str, seconds: float, **_: object) -> None:
        if event in COMPILE_EVENTS:
            compile_s[0] += seconds

    jax.monitoring.register_event_duration_secs_listener(on_duration)
    start = time.perf_counter()
    if job["phase"] == "advisor":
        advice = simulator.advise(job["file"], job["out"], scheduler="serial")
        wall = time.perf_counter() - start
        best = advice.recommendation
        return {
            "wall_s": wall,
            "pick": best.candidate.label,
            "certainty": advice.certainty,
            "runs": advice.trained,
            "compile_s": compile_s[0],
        }
    spec, settings = read_advise_config(job["file"])
    candidates = candidates_of(spec)
    horizon = settings.time_budget
    full = _round_spec(spec, candidates, settings.max_seeds, _run_lengths(candidates, horizon))
    sweep(full, job["out"], scheduler="serial")
    wall = time.perf_counter() - start
    frame = sweep(full, job["out"], scheduler="serial").frame()
    from simulator.studies.sweeps._units import config_key

    index = {config_key(c): i for i, c in enumerate(full.configurations())}
    frame["candidate"] = frame["config"].map(index)
    table = time_to_target_table(frame, "candidate", target=settings.target)
    rows = {candidates[int(r.candidate)].label: r for r in table.itertuples()}
    times = {k: _finite(r.time_to_target) for k, r in rows.items()}
    every = {k: bool(r.reached_seeds == r.seeds) for k, r in rows.items()}
    runs = len(candidates) * settings.max_seeds
    return {
        "wall_s": wall,
        "times": times,
        "every_seed": every,
        "runs": runs,
        "compile_s": compile_s[0],
    }


def _finite(value) -> float | None:
    value = float(value)
    return value if value == value and abs(value) != float("inf") else None


def _fresh(job: dict) -> dict:
    env = {**os.environ, "PSSIM_COMPILE_CACHE": job["cache"]}
    env.pop("JAX_COMPILATION_CACHE_DIR", None)
    proc = subprocess.run(
        [sys.executable, __file__, "--child", json.dumps(job)],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        check=False,
    )
    if proc.returncode != 0:
        raise SystemExit(f"{job['phase']} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def run_setting(name: str, root: Path, smoke: bool) -> dict:
    file = advise_file(name, root, smoke)
    phases = {}
    for phase in ("advisor", "brute"):
        job = {
            "phase": phase,
            "file": str(file),
            "out": str(root / f"{name}-{phase}"),
            "cache": str(root / f"cache-{name}-{phase}"),
        }
        phases[phase] = _fresh(job)
    brute = phases["brute"]
    pick = phases["advisor"]["pick"]
    fair = {k: v for k, v in brute["times"].items() if v is not None and brute["every_seed"][k]}
    best = min(fair, key=fair.get)
    return {
        "pick": pick,
        "best": best,
        "certainty": phases["advisor"]["certainty"],
        "pick_reached_every_seed": brute["every_seed"].get(pick, False),
        "pick_vs_best": brute["times"][pick] / fair[best],
        "wall_vs_brute": phases["advisor"]["wall_s"] / phases["brute"]["wall_s"],
        "runs_vs_brute": phases["advisor"]["runs"] / brute["runs"],
        "wall_less_compile_vs_brute": (
            (phases["advisor"]["wall_s"] - phases["advisor"]["compile_s"])
            / (brute["wall_s"] - brute["compile_s"])
        ),
        "advisor_compile_s": phases["advisor"]["compile_s"],
        "brute_compile_s": brute["compile_s"],
        "advisor_s": phases["advisor"]["wall_s"],
        "brute_s": phases["brute"]["wall_s"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--smoke", action="store_true", help="tiny size")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        print(json.dumps(_child(json.loads(args.child))))
        return
    with tempfile.TemporaryDirectory(prefix="pssim-advise-") as tmp:
        result = {name: run_setting(name, Path(tmp), args.smoke) for name in SETTINGS}
    settings = list(result.values())
    result["pick_vs_best"] = max(r["pick_vs_best"] for r in settings)
    result["wall_vs_brute"] = max(r["wall_vs_brute"] for r in settings)
    if args.json:
        print(json.dumps(result))
        return
    for key, value in result.items():
        print(f"{key}: {value}")


if __name__ == "__main__":
    main()
