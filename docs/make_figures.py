"""Regenerate the figures shown in the README (about two minutes on two CPU cores).

python docs/make_figures.py
"""

from __future__ import annotations

from pathlib import Path

from models import build_model, load_dataset
from simulator import (
    compare,
    error_figure,
    make_rule,
    runtime_vs_k_figure,
    save_figure,
    simulate,
    speedup_figure,
    timeline_figure,
)

HERE = Path(__file__).resolve().parent


def main() -> None:
    trace = simulate("k-sync", num_learners=3, k=2, law="exp:1", updates=12, seed=0)
    save_figure(timeline_figure(trace), HERE / "timeline_k_sync.png")
    trace = simulate("k-batch-async", num_learners=3, k=2, law="exp:1", updates=12, seed=0)
    save_figure(timeline_figure(trace), HERE / "timeline_k_batch_async.png")
    save_figure(speedup_figure(iterations=500, seeds=10), HERE / "figure5_speedup.png")
    for name, law in (("pareto", "pareto:2,1"), ("shifted_exp", "shifted-exp:1,1")):
        fig = runtime_vs_k_figure(law, learners=8, iterations=2000, seeds=10)
        save_figure(fig, HERE / f"figure6_runtime_vs_k_{name}.png")
    data = load_dataset("digits")
    result = compare(
        model=build_model("softmax", data, l2=0.01),
        dataset=data,
        rule=make_rule("fixed", 0.01),
        iterations=20000,
        seeds=5,
    )
    title = "softmax regression on digits, m=1, lr=0.01, P=8, K=4, X ~ exp(1), 5 seeds"
    save_figure(
        error_figure(result.runs, f_star=result.f_star, title=title),
        HERE / "figure8_error_vs_time.png",
    )


if __name__ == "__main__":
    main()
