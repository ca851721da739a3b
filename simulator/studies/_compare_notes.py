"""What a comparison's table says about each run's own settings, below the table: the K a
policy chose, the staleness limit an ``"auto"`` resolved to."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from simulator._staleness_auto import is_auto

__all__ = ["k_curve_of", "k_now_column", "run_setting_lines"]


def run_setting_lines(runs: Sequence) -> list[str]:
    """One line per run whose K a policy changed, and per ringmaster run with an
    ``"auto"`` staleness limit."""
    lines = []
    for run in runs:
        if run.k_curve is not None:
            final = run.k_curve[:, -1]
            lines.append(
                f"{run.variant}: K by the {run.spec.k_policy} policy, from {run.k} to "
                f"{final.min()}-{final.max()} at the end over the seeds"
                if final.min() != final.max()
                else f"{run.variant}: K by the {run.spec.k_policy} policy, from "
                f"{run.k} to {final[0]} at the end"
            )
        if is_auto(run.spec.staleness_limit):
            lines.append(
                f"{run.variant}: staleness limit {run.spec.staleness_limit} -> R = "
                f"{run.staleness_limit} (max(1, ceil(sigma^2 / EPS)))"
            )
    return lines


def k_curve_of(traces: Sequence, eval_update: np.ndarray) -> np.ndarray | None:
    """(S, E) the K of the update that follows each evaluation point (the last update's
    at the end); None when no trace's K changed."""
    if not any(t.update_k.size for t in traces):
        return None
    at = np.minimum(np.asarray(eval_update), traces[0].num_updates - 1)
    return np.stack([t.k_per_update()[at] for t in traces])


def k_now_column(runs: Sequence, frame) -> list[int]:
    """Each row's K in force (``k_now``) of a results frame with ``variant``, ``seed`` and
    ``update`` columns: the policy's where one changed K, the run's K otherwise."""
    k_now = {}
    for run in runs:
        r = run.result
        ks = run.k_curve if run.k_curve is not None else np.full(r.loss.shape, run.k)
        for s, seed in enumerate(r.seeds):
            for e, update in enumerate(r.eval_update):
                k_now[run.variant, int(seed), int(update)] = int(ks[s, e])
    keys = zip(frame["variant"], frame["seed"], frame["update"], strict=True)
    return [k_now[v, int(s), int(u)] for v, s, u in keys]
