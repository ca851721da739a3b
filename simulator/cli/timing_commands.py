"""``pssim runtime`` and ``pssim theory``: timing only, no JAX."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from simulator import _spec_checks as checks
from simulator.cli.options import build_spec
from simulator.spec import TIMING_FIELDS

__all__ = ["RUNTIME_FIELDS", "THEORY_FIELDS", "cmd_runtime", "cmd_theory"]

#: The cluster beyond the papers' (each theory says what it does with them).
CLUSTER_FIELDS = ("push_latency", "pull_latency", "service_time", *checks.CLUSTER_FIELDS)
#: ``batch_size`` is m, which a law may use (``shifted-exp:0.5*m,1``); per-learner laws,
#: speeds and measured durations give the theory of independent non-identical learners.
THEORY_FIELDS = (
    "law",
    "laws",
    "speeds",
    "durations",
    "durations_mode",
    "reuse_workers",
    "num_learners",
    "k",
    "updates",
    "batch_size",
    *CLUSTER_FIELDS,
)
RUNTIME_FIELDS = (*TIMING_FIELDS, "batch_size")


def _fmt(x: float | None, width: int = 12) -> str:
    return f"{'—':>{width}}" if x is None else f"{x:>{width}.4g}"


def cmd_runtime(args: argparse.Namespace) -> int:
    from simulator import __version__
    from simulator.cli.outputs import check_plot_file, save_plot
    from simulator.studies.runtime import runtime_study

    spec = build_spec("runtime", args, RUNTIME_FIELDS)
    plot = None if args.plot is None else check_plot_file(args.plot)
    summary = runtime_study(spec, progress=True, keep_trace=plot is not None)
    if plot is not None:
        from simulator.plots.timeline import timeline_figure

        save_plot(timeline_figure(summary.first_trace, spec=spec), plot)
    if args.json:
        files = [] if plot is None else [plot, plot.with_suffix(".pdf"), plot.with_suffix(".svg")]
        plot_info = {"plot": [str(f) for f in files]} if files else {}
        print(json.dumps({"pssim_version": __version__, **summary.to_json(), **plot_info}))
        return 0
    law = law_text(spec) + (" / per-learner speeds" if spec.speeds is not None else "")
    length = f"J={spec.updates}" if spec.time_budget is None else f"T={spec.time_budget:.6g}"
    k_text = f"K={summary.k}" if spec.k_schedule is None else f"K by update {spec.k_schedule}"
    print(
        f"{spec.variant}  P={spec.num_learners}  {k_text}  X ~ {law}"
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
    if summary.durations is not None:  # the file, its mode, wraps and censored rows
        for note in summary.durations.notes():
            print(note)
    print("times in simulated units (the unit of the compute-time law)")
    if plot is not None:
        print(f"timeline written to {plot} (and .pdf, .svg)")
    return 0


def law_text(spec) -> str:
    """The law as typed, with its resolved form where it is an expression in m and P; a
    durations file by its name (never a folder path: outputs and titles travel)."""
    if spec.durations is not None:
        return f"durations {Path(str(spec.durations)).name} ({spec.durations_mode})"
    law = spec.to_dict()["law"] or "per-learner laws"
    if "law" in spec.law_expressions:
        law += f" (= {spec.law.spec} at m={spec.batch_size}, P={spec.num_learners})"
    return law


def _row(label: str, simulated: float, theory, gap: float | None) -> None:
    print(
        f"{label:24}{_fmt(simulated)}{_fmt(theory.mean)}"
        f" {'—' if gap is None else f'{gap:+.2%}':>8}  {theory.relation} ({theory.source})"
    )


def cmd_theory(args: argparse.Namespace) -> int:
    from simulator.theory.runtime import (
        Cluster,
        async_staleness,
        predictions,
        sync_async_speedup,
    )

    # K is checked against P as for a K-variant: -K > P is refused, not dropped.
    k_given = args.k if args.k is not None else args._config.get("k")
    variant = "k-async" if k_given is not None else "async"
    if (args.deadline if args.deadline is not None else args._config.get("deadline")) is not None:
        variant = "k-sync" if k_given is not None else "sync"  # a variant a deadline fits
    # a config's time budget is not this command's: the predictions are for J updates
    spec = build_spec("theory", args, THEORY_FIELDS, variant=variant, time_budget=None)
    law, p, j, k = spec.law, spec.num_learners, spec.updates, spec.k
    who = {"laws": spec.laws, "speeds": spec.speeds}
    cluster = Cluster.from_spec(spec)
    preds = predictions(law, p, k, j, **who, cluster=cluster)
    speed = sync_async_speedup(law, p, **who)
    stale = async_staleness(law, p, **who)
    if args.json:
        from simulator import __version__

        print(
            json.dumps(
                {
                    "pssim_version": __version__,
                    "distribution": None if law is None else law.spec,
                    **_learners_json(spec),
                    "learners": p,
                    "k": k,
                    "iterations": j,
                    "cluster": list(cluster.features),
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
    if spec.heterogeneous:
        _print_learners(spec)
    else:
        print(
            f"X ~ {law_text(spec)}  P={p}  K={k}  J={j}   E[X]={law.mean():.4g}"
            f"  aging={law.aging or 'unknown'}"
        )
    if cluster.features:
        print(
            f"cluster: {', '.join(cluster.features)} (the speedup and staleness below leave it out)"
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


def _learners_json(spec) -> dict:
    """The per-learner laws, speeds and durations file of ``pssim theory --json``, as
    the spec writes them (None when not given; a file's laws are its workers')."""
    typed = spec.to_dict()
    out = {"laws": typed["laws"], "speeds": typed["speeds"]}
    if spec.durations is not None:
        out["durations"] = typed["durations"]
        out["durations_mode"] = typed["durations_mode"]
    return out


def _print_learners(spec) -> None:
    """The header of ``pssim theory`` for non-identical learners: their laws, speeds and
    the means of ``X_l = Y_l / speed_l``."""
    import numpy as np

    p = spec.num_learners
    laws = spec.laws if spec.laws is not None else [spec.law] * p
    speeds = np.ones(p) if spec.speeds is None else np.asarray(spec.speeds)
    means = np.array([law.mean() for law in laws]) / speeds
    agings = sorted({str(law.aging or "unknown") for law in laws})
    if spec.durations is not None:
        what = f"each worker's durations of {spec.durations} (i.i.d. draws: resample model)"
    elif spec.laws is not None:
        shown = ", ".join(law.spec for law in laws[:4]) + (", ..." if p > 4 else "")
        what = f"per-learner laws [{shown}]"
    else:
        what = law_text(spec)
    if spec.speeds is not None:
        what += f" / speeds [{', '.join(f'{s:.4g}' for s in speeds[:4])}{', ...' if p > 4 else ''}]"
    print(f"X_l ~ {what}  P={p}  K={spec.k}  J={spec.updates}")
    print(
        f"E[X_l] from {means.min():.4g} to {means.max():.4g}, sum_l 1/E[X_l] ="
        f" {np.sum(1.0 / means):.4g}  aging={'/'.join(agings)}  (independent learners)"
    )
    if spec.durations is not None and spec.durations_mode == "replay":
        print("(runtime --durations-mode replay runs the measured order: no theory for it)")
