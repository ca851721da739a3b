"""Runtime figures of Dutta et al. 2018: speedup vs P (figure 5) and runtime vs K (figure 6).

Simulated points carry Student-t 95% confidence intervals over seeds; theory is drawn as
a line (solid where exact or asymptotic, dashed where a bound).
"""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure
from tqdm.auto import tqdm

from distributions import law_from
from simulator.results.stats import mean_ci95
from simulator.studies.runtime import runtime_study
from simulator.theory.runtime import expected_runtime, sync_async_speedup

__all__ = ["runtime_vs_k_figure", "speedup_figure"]

PAPER_LAWS = ("exp:1", "shifted-exp:1,1", "pareto:2,1")


def _mean_ci(x) -> tuple[float, float]:
    """Mean and 95% half-width for error bars (0 for a single value)."""
    mean, half = mean_ci95(x)
    return mean, 0.0 if half is None else half


def speedup_figure(
    laws: Sequence = PAPER_LAWS,
    learners: Sequence[int] = (1, 2, 4, 8, 16, 32),
    *,
    iterations: int = 200,
    seeds: int = 10,
    progress: bool = False,
) -> Figure:
    """Figure 5: E[T_sync]/E[T_async] vs P, simulated (paired seeds) beside Theorem 1.

    The simulated ratio per seed is T_sync / T_async on the same seed; points show its mean
    and 95% interval. The y axis is logarithmic like the paper's log speedup.
    """
    fig, ax = plt.subplots(figsize=(6.4, 4.6))
    grid = np.unique(np.geomspace(min(learners), max(learners), 60).round().astype(int))
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    total = len(laws) * len(learners)
    with tqdm(total=total, disable=not progress, delay=1.0, desc="figure 5") as bar:
        for law, color in zip(map(law_from, laws), colors, strict=False):
            theory = [sync_async_speedup(law, p).mean for p in grid]
            ax.plot(grid, theory, color=color, lw=1.5, label=f"{law.spec}: Theorem 1")
            means, halves = [], []
            for p in learners:
                run = {
                    v: runtime_study(
                        v, num_learners=p, k=None, law=law, iterations=iterations, seeds=seeds
                    ).times
                    for v in ("sync", "async")
                }
                m, h = _mean_ci(run["sync"] / run["async"])
                means.append(m)
                halves.append(h)
                bar.update()
            ax.errorbar(
                learners,
                means,
                yerr=halves,
                fmt="o",
                color=color,
                capsize=3,
                ms=4,
                label=f"{law.spec}: simulated (95% CI)",
            )
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xlabel("number of learners P")
    ax.set_ylabel("speedup E[T_sync] / E[T_async]")
    ax.set_title(f"Async over sync speedup (J={iterations}, {seeds} seeds)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


def runtime_vs_k_figure(
    law="pareto:2,1",
    *,
    learners: int = 8,
    iterations: int = 2000,
    seeds: int = 5,
    variants: Sequence[str] = ("k-sync", "k-async", "k-batch-async"),
    ks: Sequence[int] | None = None,
    ax=None,
    progress: bool = False,
) -> Figure:
    """Figure 6: expected runtime of J iterations vs K for several variants.

    Markers: simulated means with 95% intervals. Lines: theory (dashed for bounds; absent
    where no theory exists).
    """
    law = law_from(law)
    ks = list(range(1, learners + 1)) if ks is None else list(ks)
    if ax is None:
        fig, ax = plt.subplots(figsize=(6.4, 4.6))
    else:
        fig = ax.figure
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    styles = {"exact": "-", "asymptotic": "-", "upper-bound": "--", "lower-bound": ":"}
    with tqdm(
        total=len(variants) * len(ks), disable=not progress, delay=1.0, desc="figure 6"
    ) as bar:
        for variant, color in zip(variants, colors, strict=False):
            sims, theory = [], []
            for k in ks:
                run = runtime_study(
                    variant, num_learners=learners, k=k, law=law, iterations=iterations, seeds=seeds
                )
                sims.append(_mean_ci(run.times))
                theory.append(
                    expected_runtime(
                        variant, num_learners=learners, k=k, law=law, updates=iterations
                    )
                )
                bar.update()
            m, h = np.array(sims).T
            ax.errorbar(
                ks, m, yerr=h, fmt="o", color=color, capsize=3, ms=4, label=f"{variant}: simulated"
            )
            for relation, style in styles.items():
                pts = [
                    (k, t.mean) for k, t in zip(ks, theory, strict=True) if t.relation == relation
                ]
                if pts:
                    ax.plot(
                        *zip(*pts, strict=True),
                        style,
                        color=color,
                        lw=1.2,
                        marker="x",
                        ms=5,
                        label=f"{variant}: theory ({relation})",
                    )
    ax.set_xlabel("K")
    ax.set_ylabel(f"runtime of J={iterations} iterations")
    ax.set_title(f"X ~ {law.spec}, P = {learners}, {seeds} seeds")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    return fig
