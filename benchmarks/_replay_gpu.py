"""The GPU mode of ``benchmarks/replay.py``: the same figures on a GPU and on the CPU, in one run.

- replica-updates/s: S >= 32 replicate seeds of one fully asynchronous schedule (K = 1,
  P = 8, exp(1) compute times) replayed as one vmapped scan (``seeds_mode="vmap"``) on MNIST
  softmax regression, on each device under ``jax.default_device`` (compiled first, best
  of ``repeats``); S x U over the replay's wall time;
- the default ``pssim compare``: each device's run in a fresh process (the GPU's with the
  environment as it is, the CPU's with ``JAX_PLATFORMS=cpu``), twice with one new
  compilation cache folder per device: ``cold`` (empty cache), then ``warm``.

Ratios are CPU time over GPU time (above 1: the GPU is faster).
"""

from __future__ import annotations

import contextlib
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import jax
import numpy as np
from _replay_refs import LR

from simulator import FixedRate, replay

#: Replicate seeds vmapped in the replica-updates/s figures.
GPU_SEEDS = 32
#: Workloads of the replica figures: name -> (mini-batch size m, learners P).
GPU_WORKLOADS = {"m1_p8": (1, 8), "m64_p8": (64, 8)}
#: ``pssim compare`` arguments: its defaults, and the ``--smoke`` size.
COMPARE_ARGS: tuple[str, ...] = ()
SMOKE_COMPARE_ARGS = ("-J", "200", "--seeds", "2", "--variants", "sync")
#: Updates of the replica figures at the ``--smoke`` size.
SMOKE_UPDATES = 100


def find_accelerator(platform: str = "gpu"):
    """The first device of ``platform``, or None when JAX has none."""
    try:
        return jax.devices(platform)[0]
    except RuntimeError:
        return None


def no_gpu_line() -> str:
    """The one line said where JAX sees no GPU."""
    seen = ", ".join(sorted({d.platform for d in jax.devices()}))
    return (
        f"no GPU: JAX {jax.__version__} sees only {seen}; nothing measured (on a machine "
        'with an NVIDIA GPU: pip install -U "jax[cuda12]")'
    )


def replica_rates(
    devices: dict, traces: list, model, data, batch_size: int, eval_every: int, repeats: int, timed
) -> dict:
    """Replica-updates/s of the vmapped replay of ``traces`` on each of ``devices``
    (name -> jax device; names ``gpu`` and ``cpu``); ``timed(repeats, fn)`` gives (best wall
    s, its CPU s, result)."""
    kw = dict(
        batch_size=batch_size,
        rule=FixedRate(LR),
        eval_every=eval_every,
        f_star=None,
        seeds_mode="vmap",
    )
    out: dict = {"seeds": len(traces), "updates": traces[0].num_updates}
    losses = {}
    work = len(traces) * traces[0].num_updates
    for name, device in devices.items():
        with jax.default_device(device):
            replay(traces, model, data, **kw)  # compile
            wall, cpu, res = timed(repeats, lambda: replay(traces, model, data, **kw))
        out[f"{name}_replica_updates_per_s"] = work / wall
        out[f"{name}_s"], out[f"{name}_cpu_s"] = wall, cpu
        losses[name] = res.loss
    out["ratio"] = out["gpu_replica_updates_per_s"] / out["cpu_replica_updates_per_s"]
    out["max_abs_loss_diff"] = float(np.max(np.abs(losses["gpu"] - losses["cpu"])))
    return out


def _children_cpu() -> float:
    use = resource.getrusage(resource.RUSAGE_CHILDREN)
    return use.ru_utime + use.ru_stime


def _compare_process(script: str, argv: list[str], env: dict) -> dict:
    """One ``pssim compare ARGV`` in a fresh interpreter: wall and CPU seconds, backend."""
    cmd = [sys.executable, script, "--compare-child", json.dumps(argv)]
    t0, c0 = time.perf_counter(), _children_cpu()
    proc = subprocess.run(cmd, env=env, stdout=subprocess.PIPE, text=True, check=True)
    wall, cpu = time.perf_counter() - t0, _children_cpu() - c0
    return {"wall_s": wall, "cpu_s": cpu, **json.loads(proc.stdout.strip().splitlines()[-1])}


def compare_times(script: str, accelerator, smoke: bool) -> dict:
    """The default ``pssim compare``, cold then warm, on ``accelerator`` and on the CPU."""
    argv = list(SMOKE_COMPARE_ARGS if smoke else COMPARE_ARGS)
    base = {**os.environ, "TQDM_DISABLE": "1"}
    envs = {
        # the environment as it is picks the GPU; a CPU standing in for it is named
        "gpu": {**base, "JAX_PLATFORMS": "cpu"} if accelerator.platform == "cpu" else base,
        "cpu": {**base, "JAX_PLATFORMS": "cpu"},
    }
    out: dict = {"argv": " ".join(argv) or "(defaults)"}
    with tempfile.TemporaryDirectory(prefix="pssim-bench-gpu-") as tmp:
        for name, env in envs.items():
            env = {**env, "PSSIM_COMPILE_CACHE": str(Path(tmp) / f"cache-{name}")}
            row = {}
            for phase in ("cold", "warm"):
                run = _compare_process(
                    script, [*argv, "--out", str(Path(tmp) / f"{name}-{phase}")], env
                )
                want = accelerator.platform if name == "gpu" else "cpu"
                assert run["backend"] == want, (name, run["backend"], want)
                row[f"total_s_{phase}"], row[f"cpu_s_{phase}"] = run["wall_s"], run["cpu_s"]
            out[name] = row
    for phase in ("cold", "warm"):
        out[f"{phase}_ratio"] = out["cpu"][f"total_s_{phase}"] / out["gpu"][f"total_s_{phase}"]
    return out


def compare_child(argv: list[str]) -> None:
    """Runs ``pssim compare ARGV`` here (its output silenced); prints the backend as JSON."""
    from simulator.cli.app import main

    with open(os.devnull, "w") as sink, contextlib.redirect_stdout(sink):
        status = main(["compare", *argv])
    if status != 0:
        raise SystemExit(f"pssim compare exited with status {status}")
    print(json.dumps({"backend": jax.default_backend()}))
