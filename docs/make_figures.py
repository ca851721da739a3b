"""Regenerate the figures shown in the README (about two minutes on two CPU cores).

python docs/make_figures.py                 # every figure
python docs/make_figures.py --timing-only   # timelines and figures 5-6 only (no training)

Figures 5 and 6 are drawn from tables (one row per seed) that the studies simulate; the
figures themselves never simulate.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from simulator import (
    runtime_vs_k_figure,
    runtime_vs_k_table,
    save_figure,
    simulate,
    speedup_figure,
    speedup_table,
    timeline_figure,
)

HERE = Path(__file__).resolve().parent


def timing_figures() -> None:
    """Timelines (figures 3-4), speedup vs P (figure 5) and runtime vs K (figure 6)."""
    for variant, name in (("k-sync", "k_sync"), ("k-batch-async", "k_batch_async")):
        trace = simulate(variant, num_learners=3, k=2, law="exp:1", updates=12, seed=0)
        save_figure(timeline_figure(trace), HERE / f"timeline_{name}.png")
    table = speedup_table(
        ("exp:1", "shifted-exp:1,1", "pareto:2,1"),
        (1, 2, 4, 8, 16, 32),
        updates=500,
        seeds=10,
        progress=True,
    )
    save_figure(speedup_figure(table), HERE / "figure5_speedup.png")
    for name, law in (("pareto", "pareto:2,1"), ("shifted_exp", "shifted-exp:1,1")):
        table = runtime_vs_k_table(law, num_learners=8, updates=2000, seeds=10, progress=True)
        save_figure(runtime_vs_k_figure(table), HERE / f"figure6_runtime_vs_k_{name}.png")


def training_figures() -> None:
    """Error vs simulated time on real training (figure 8)."""
    from models import build_model, load_dataset
    from simulator import compare, error_figure, make_rule

    data = load_dataset("digits")
    result = compare(
        model=build_model("softmax", data, l2=0.01),
        dataset=data,
        rule=make_rule("fixed", 0.01),
        updates=20000,
        seeds=5,
    )
    title = "softmax regression on digits, m=1, lr=0.01, P=8, K=4, X ~ exp(1), 5 seeds"
    save_figure(
        error_figure(result.runs, f_star=result.f_star, title=title),
        HERE / "figure8_error_vs_time.png",
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--timing-only", action="store_true", help="skip the training figure")
    args = parser.parse_args(argv)
    timing_figures()
    if not args.timing_only:
        training_figures()


if __name__ == "__main__":
    main()
