"""Synthetic sweep tables in the schema of ``pssim sweep``, with curves known by hand.

A training configuration's seed-mean error is ``a * exp(-b * update)`` exactly and its
seed-mean time ``c * update`` exactly (the seeds' deviations sum to zero), so times to a
target level can be computed by hand. Extra seeds that diverge blow up and then go NaN.
"""

from __future__ import annotations

import hashlib
import math

import numpy as np
import pandas as pd

#: Spec columns of a sweep row, with the values of an unswept setting.
BASE = {
    "variant": "k-sync",
    "num_learners": 8,
    "k": 8,
    "law": "exp:1",
    "laws": None,
    "speeds": None,
    "push_latency": None,
    "pull_latency": None,
    "service_time": None,
    "updates": 100,
    "time_budget": math.nan,
    "seeds": 3,
    "base_seed": 0,
    "model": "softmax",
    "data": "digits",
    "rule": "fixed",
    "dtype": "float32",
    "lr": 0.01,
    "l2": 0.0,
    "divergence_factor": 100.0,
    "lr_c": math.nan,
    "batch_size": 1,
    "eval_every": 10,
}
#: Multiplicative deviations of the seeds from the mean curve (they sum to zero).
NOISE = (-0.2, 0.0, 0.2)
UPDATES = tuple(range(0, 101, 10))
F_STAR = 0.5


def settings(**over) -> dict:
    """A configuration's spec columns, with its 16-hex-digit ``config`` digest."""
    row = {**BASE, **over}
    digest = hashlib.sha256(repr(sorted(row.items(), key=str)).encode()).hexdigest()[:16]
    return {"config": digest, **row}


def training_table(
    configs, *, updates=UPDATES, noise=NOISE, f_star=F_STAR, diverged=0, all_diverged=False
) -> pd.DataFrame:
    """Rows of a training sweep: per configuration ``(settings, a, b, c)``, each seed at
    each update. ``diverged`` extra seeds per configuration diverge at update 30 (huge
    loss there, NaN after); ``all_diverged`` makes every seed diverge. Without F* (NaN)
    the loss follows the curve and the error is NaN."""
    rows = []
    for spec, a, b, c in configs:
        n = len(noise) + diverged
        for s in range(n):
            bad = all_diverged or s >= len(noise)
            eps = noise[s % len(noise)]
            for u in updates:
                error = a * math.exp(-b * u) * (1 + eps)
                if bad and u >= 30:
                    error = 1e6 if u == 30 else math.nan
                rows.append(
                    {
                        **spec,
                        "seeds": n,
                        "seed": s,
                        "update": u,
                        "time": c * u * (1 + eps / 2),
                        "loss": error + (f_star if math.isfinite(f_star) else 0.0),
                        "error": error,
                        "accuracy": 1.0 - 0.5 * math.exp(-b * u),
                        "diverged": bad,
                        "diverged_at": 30 if bad else -1,
                        "f_star": f_star,
                        "theory": c * updates[-1],
                        "relation": "exact",
                    }
                )
    table = pd.DataFrame(rows)
    if not math.isfinite(f_star):
        table["error"] = math.nan
    return table


def timing_table(laws=("exp:1", "pareto:2,1"), ps=(2, 4, 8), seeds=3) -> pd.DataFrame:
    """Rows of a timing sweep of sync and async (and k-sync, which the speedup ignores):
    time_async = 10 (s + 1), time_sync = factor * P * time_async with factor 2 for the
    first law and 3 for the second, so the speedup is exactly factor * P."""
    rows = []
    for f, law in enumerate(laws, start=2):
        for p in ps:
            for variant, k in (("sync", p), ("async", 1), ("k-sync", max(1, p // 2))):
                spec = settings(variant=variant, num_learners=p, k=k, law=law, seeds=seeds)
                for s in range(seeds):
                    t_async = 10.0 * (s + 1)
                    time = {"sync": f * p * t_async, "async": t_async}.get(variant, 7.0)
                    rows.append(
                        {
                            **spec,
                            "seed": s,
                            "time": time,
                            "theory": np.nan,
                            "relation": "none",
                            "source": "",
                            "speedup_theory": f * p + 0.5,
                            "speedup_relation": "exact" if f == 2 else "asymptotic",
                            "staleness_mean": 0.0,
                            "staleness_max": 0,
                            "staleness_p0": 1.0,
                        }
                    )
    return pd.DataFrame(rows)
