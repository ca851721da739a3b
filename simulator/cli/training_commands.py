"""``pssim train`` and ``pssim compare``: real training replayed over simulated schedules.

Everything is validated before the first update is simulated; results go to a folder that
appears only when complete (written beside it under a temporary name, then renamed).
"""

from __future__ import annotations

import argparse
import json
import os
import re

from simulator._checks import VARIANT_ALIASES as ALIASES
from simulator.cli.options import build_spec
from simulator.spec import TIMING_FIELDS, TRAINING_FIELDS

__all__ = [
    "COMPARE_FIELDS",
    "TRAIN_FIELDS",
    "add_training_outputs",
    "cmd_compare",
    "cmd_train",
]

TRAIN_FIELDS = TIMING_FIELDS + TRAINING_FIELDS
COMPARE_FIELDS = tuple(f for f in TRAIN_FIELDS if f != "variant")


def add_training_outputs(p: argparse.ArgumentParser) -> None:
    """The options of ``train`` and ``compare`` that are not part of the spec."""
    p.add_argument(
        "--target",
        type=_positive,
        default=None,
        help="level of the error F - F* (of the loss when F* is unknown) for the time-to-"
        "target column (default: the level every variant reaches after its start, else the "
        "level the two best reach)",
    )
    p.add_argument(
        "--bounds",
        action="store_true",
        help="draw each variant's error bound (Lemma 2 or Theorem 3 of Dutta et al. 2018 with "
        "the problem's constants, as pssim bounds computes them) beside its curve",
    )
    p.add_argument("--out", default=None, help="results folder (default: a new folder here)")
    p.add_argument(
        "--no-compile-cache",
        action="store_true",
        help="do not keep compiled replays in the persistent compilation cache (same as "
        "PSSIM_COMPILE_CACHE=0; default: PSSIM_COMPILE_CACHE, else ~/.cache/pssim/jax)",
    )


def _positive(text: str) -> float:
    value = float(text)
    if not (value > 0 and value < float("inf")):
        raise argparse.ArgumentTypeError(f"must be a finite number > 0; got {text}")
    return value


def _run(args: argparse.Namespace, command: str, variants: list[str] | None) -> int:
    from simulator.cli.outputs import check_out_dir, results_folder
    from simulator.studies.comparison import variant_specs

    if command == "train":
        spec = build_spec(command, args, TRAIN_FIELDS)
        variants = [spec.variant]
    else:  # the K of compare is the K-variants' (sync and async imply theirs)
        first_k = next((v for v in variants if v not in ALIASES), None)
        only_aliases = {} if first_k else {"k": None}
        spec = build_spec(
            command, args, COMPARE_FIELDS, variant=first_k or variants[0], **only_aliases
        )
    variant_specs(spec, variants)  # every variant's rules, before data or JAX are touched
    out = check_out_dir(args.out)
    if args.no_compile_cache:  # read at the first replay of the process
        from simulator.training._cache import CACHE_ENV

        os.environ[CACHE_ENV] = "0"

    from models import check_batch_size, load_dataset
    from simulator.studies.comparison import compare

    dataset = load_dataset(spec.data)
    check_batch_size(dataset, spec.batch_size)
    result = compare(spec, variants=variants, dataset=dataset, target=args.target, progress=True)
    bounds = ()
    if args.bounds:
        from simulator.studies.bounds import bound_curves

        bounds = bound_curves(result, dataset=dataset)
        for run, curve in zip(result.runs, bounds, strict=True):
            if curve is None:
                print(
                    f"no error bound for {run.variant}: pssim bounds says why (k-avg, or a "
                    "loss that is not strongly convex)"
                )
    with results_folder(out) as tmp:
        _write_results(
            result,
            tmp,
            title=_title(spec, result),
            command=command,
            target=args.target,
            bounds=bounds,
        )
    if args.json:
        print(json.dumps({**result.to_json(), "results_folder": str(out)}))
    else:
        print(result.table())
        for note in _durations_notes(result):
            print(note)
        print(f"results written to {out}")
    return 0


def _durations_notes(result) -> list[str]:
    """How each variant used a measured durations file: the file line once, then each
    variant's wraps and censored rows (as ``runtime`` says them)."""
    lines: list[str] = []
    for run in result.runs:
        if run.durations is None:
            continue
        head, *rest = run.durations.notes()
        if not lines:
            lines.append(head)
        lines += [f"{run.variant}: {line}" for line in rest]
    return lines


def _short_numbers(text: str) -> str:
    """``text`` with every decimal of more than four digits after the point shown to four
    significant digits (a figure title, not a spec: the spec.toml keeps them whole)."""
    return re.sub(r"-?\d+\.\d{5,}(?:e[-+]?\d+)?", lambda m: f"{float(m.group()):.4g}", text)


def _title(spec, result) -> str:
    from simulator.cli.timing_commands import law_text

    d = spec.to_dict()
    law = _short_numbers(law_text(spec))  # a fitted law has 16-digit parameters
    if spec.speeds is not None:
        law += " / per-learner speeds"
    comm = ", ".join(
        f"{name.replace('_', ' ')} ~ {d[name]}"
        for name in ("push_latency", "pull_latency", "service_time")
        if d[name] is not None
    )
    seeds = f"{spec.seeds} seed" + ("s" if spec.seeds > 1 else "")
    if spec.time_budget is None:
        length = f"J={spec.updates}"
    else:  # every variant to the same simulated time, each with its own J
        per_variant = ", ".join(f"{run.variant} {run.num_updates}" for run in result.runs)
        length = f"T={spec.time_budget:.6g} (J: {per_variant})"
    return (
        f"{result.model_name} on {result.data_name}, m={spec.batch_size}, lr={spec.lr} "
        f"({spec.rule}), P={spec.num_learners}, {length}, X ~ {law}"
        + (f", {comm}" if comm else "")
        + f", {seeds}"
    )


def _write_results(
    result, folder, *, title: str, command: str, target: float | None, bounds=()
) -> None:
    """Figures (PNG, PDF, SVG), the tidy results with provenance, and the JSON summary."""
    from simulator.plots.timeline import save_figure
    from simulator.plots.training import error_figure, staleness_figure

    formats = ("png", "pdf", "svg")
    fig = error_figure(result.runs, f_star=result.f_star, title=title, bounds=bounds)
    save_figure(fig, folder / "error_vs_time.png", formats=formats)
    save_figure(staleness_figure(result.runs), folder / "staleness.png", formats=formats)
    result.results_frame().to_csv(folder / "results.csv", index=False)
    if any(curve is not None for curve in bounds):
        _bounds_frame(result, bounds).to_csv(folder / "bounds.csv", index=False)
    (folder / "summary.json").write_text(json.dumps(result.to_json(), indent=1))
    variants = result.variants if command == "compare" else None
    extra = {"target": target} if target is not None else None
    (folder / "spec.toml").write_text(result.spec.to_toml(variants=variants, extra=extra))


def _bounds_frame(result, bounds):
    """The drawn error bounds as a table: variant, iteration, expected time, bound, source."""
    import pandas as pd

    frames = [
        pd.DataFrame(
            {
                "variant": run.variant,
                "iteration": curve.iterations,
                "time": curve.times,
                "error_bound": curve.errors,
                "source": curve.label(),
            }
        )
        for run, curve in zip(result.runs, bounds, strict=True)
        if curve is not None
    ]
    return pd.concat(frames, ignore_index=True)


def cmd_train(args: argparse.Namespace) -> int:
    return _run(args, "train", None)


def cmd_compare(args: argparse.Namespace) -> int:
    from simulator._checks import VARIANTS
    from simulator.errors import PssimError
    from simulator.studies.comparison import DEFAULT_VARIANTS

    raw = args.variants
    if raw is None:
        variants = list(DEFAULT_VARIANTS)
    elif isinstance(raw, list):
        variants = [str(v).strip() for v in raw]
    else:
        variants = [v.strip() for v in str(raw).split(",")]
    names = ALIASES + VARIANTS
    for v in variants:
        if v not in names:
            raise PssimError(f"--variants must list names from {', '.join(names)}; got {raw!r}")
    if len(set(variants)) != len(variants):
        raise PssimError(f"--variants must not repeat a variant; got {raw!r}")
    return _run(args, "compare", variants)
