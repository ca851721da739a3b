"""``pssim runtime`` and ``pssim theory``: timing only, no JAX."""

from __future__ import annotations

import argparse
import json

from simulator.cli.options import build_spec
from simulator.spec import TIMING_FIELDS

__all__ = ["RUNTIME_FIELDS", "THEORY_FIELDS", "cmd_runtime", "cmd_theory"]

#: ``batch_size`` is m, which a law may use (``shifted-exp:0.5*m,1``).
THEORY_FIELDS = ("law", "num_learners", "k", "updates", "batch_size")
RUNTIME_FIELDS = (*TIMING_FIELDS, "batch_size")


def _fmt(x: float | None, width: int = 12) -> str:
    return f"{'—':>{width}}" if x is None else f"{x:>{width}.4g}"


def cmd_runtime(args: argparse.Namespace) -> int:
    from simulator import __version__
    from simulator.cli.outputs import check_plot_file, save_plot
    from simulator.studies.runtime import runtime_study

    spec = build_spec("runtime", args, RUNTIME_FIELDS)
    plot = None if args.plot is None else check_plot_file(args.plot)
    summary = runtime_study(spec, progress=True)
    if plot is not None:
        from simulator.plots.timeline import timeline_figure

        save_plot(timeline_figure(summary.first_trace), plot)
    if args.json:
        files = [] if plot is None else [plot, plot.with_suffix(".pdf"), plot.with_suffix(".svg")]
        plot_info = {"plot": [str(f) for f in files]} if files else {}
        print(json.dumps({"pssim_version": __version__, **summary.to_json(), **plot_info}))
        return 0
    law = _law_text(spec)
    length = f"J={spec.updates}" if spec.time_budget is None else f"T={spec.time_budget:.6g}"
    print(
        f"{spec.variant}  P={spec.num_learners}  K={summary.k}  X ~ {law}"
        f"  {length}  seeds={spec.seeds} (from {spec.seed})"
    )
    print(f"{'':24}{'simulated':>12}{'theory':>12}{'gap':>9}  relation")
    if spec.time_budget is None:
        _row("time of J-th update", summary.mean, summary.theory, summary.relative_gap())
        ci, std = summary.ci95(), summary.std
    else:
        counts = summary.counts
        _row("updates by T", float(counts.mean()), summary.count_theory, summary.count_gap())
        ci = summary.count_ci95()
        std = float(counts.std(ddof=1)) if counts.size > 1 else None
    if ci is not None:
        print(f"{'95% CI of the mean':24}  [{ci[0]:.4g}, {ci[1]:.4g}]   std {std:.4g}")
    if spec.time_budget is not None:
        print(f"{'time of last update':24}{_fmt(summary.mean)}   (mean over seeds, <= T)")
    st = summary.staleness
    print(f"{'staleness':24}  mean {st['mean']:.3f}  max {st['max']}  p0 {st['p0']:.3f}")
    print("times in simulated units (the unit of the compute-time law)")
    if plot is not None:
        print(f"timeline written to {plot} (and .pdf, .svg)")
    return 0


def _law_text(spec) -> str:
    """The law as typed, with its resolved form where it is an expression in m and P."""
    law = spec.to_dict()["law"] or "per-learner laws"
    if "law" in spec.law_expressions:
        law += f" (= {spec.law.spec} at m={spec.batch_size}, P={spec.num_learners})"
    return law


def _row(label: str, simulated: float, theory, gap: float | None) -> None:
    print(
        f"{label:24}{_fmt(simulated)}{_fmt(theory.mean)}"
        f"{'—' if gap is None else f'{gap:+.2%}':>9}  {theory.relation} ({theory.source})"
    )


def cmd_theory(args: argparse.Namespace) -> int:
    from simulator.theory.runtime import async_staleness, predictions, sync_async_speedup

    # K is checked against P as for a K-variant: -K > P is refused, not dropped.
    k_given = args.k if args.k is not None else args._config.get("k")
    variant = "k-async" if k_given is not None else "async"
    # a config's time budget is not this command's: the predictions are for J updates
    spec = build_spec("theory", args, THEORY_FIELDS, variant=variant, time_budget=None)
    law, p, j, k = spec.law, spec.num_learners, spec.updates, spec.k
    preds = predictions(law, p, k, j)
    speed = sync_async_speedup(law, p)
    stale = async_staleness(law, p)
    if args.json:
        from simulator import __version__

        print(
            json.dumps(
                {
                    "pssim_version": __version__,
                    "distribution": law.spec,
                    "learners": p,
                    "k": k,
                    "iterations": j,
                    "runtime": {
                        v: {"mean": x.mean, "relation": x.relation, "source": x.source}
                        for v, x in preds.items()
                    },
                    "sync_async_speedup": {"mean": speed.mean, "relation": speed.relation},
                    "async_staleness": {
                        n: {"mean": x.mean, "relation": x.relation} for n, x in stale.items()
                    },
                }
            )
        )
        return 0
    print(
        f"X ~ {_law_text(spec)}  P={p}  K={k}  J={j}   E[X]={law.mean():.4g}"
        f"  aging={law.aging or 'unknown'}"
    )
    print(f"{'variant':15}{'E[T_J]':>12}  relation      source")
    for name, x in preds.items():
        print(f"{name:15}{_fmt(x.mean)}  {x.relation:13} {x.source}")
    if k is None:
        print("(give -K for the K-variants)")
    print(f"sync/async speedup (Theorem 1): {_fmt(speed.mean, 0)}  {speed.relation}")
    print(
        f"async staleness: p0 {_fmt(stale['p0'].mean, 0)} ({stale['p0'].relation}),"
        f" mean {_fmt(stale['mean'].mean, 0)} ({stale['mean'].relation})"
    )
    return 0
