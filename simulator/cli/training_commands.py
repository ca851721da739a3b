"""``pssim train`` and ``pssim compare``: real training replayed over simulated schedules.

Everything is validated before the first update is simulated; results go to a folder that
appears only when complete (written beside it under a temporary name, then renamed).
"""

from __future__ import annotations

import argparse
import json
import os
import re
from pathlib import Path

from simulator._checks import IMPLIED_K
from simulator._checks import VARIANT_ALIASES as ALIASES
from simulator.cli.options import CliError, build_spec
from simulator.errors import PssimError
from simulator.spec import TIMING_FIELDS, TRAINING_FIELDS

__all__ = [
    "COMPARE_FIELDS",
    "TARGET_OPTIONS",
    "TRAIN_FIELDS",
    "add_training_outputs",
    "cmd_compare",
    "cmd_train",
]

TRAIN_FIELDS = TIMING_FIELDS + TRAINING_FIELDS
COMPARE_FIELDS = tuple(f for f in TRAIN_FIELDS if f != "variant")


#: The target options (Python argument of ``compare`` -> option).
TARGET_OPTIONS = {
    "target": "--target",
    "target_accuracy": "--target-accuracy",
    "target_fraction": "--target-fraction",
    "target_window": "--target-window",
}


def add_training_outputs(p: argparse.ArgumentParser) -> None:
    """The options of ``train`` and ``compare`` that are not part of the spec."""
    target = p.add_argument_group(
        "time to target",
        "a seed reaches the target at the first evaluation after its start from which it "
        "stays there for the rest of its run (or --target-window); a variant's time is the "
        "mean over its seeds that reach it, with a bootstrap 95% interval. Give one of "
        "--target, --target-accuracy, --target-fraction (default: a level every variant's "
        "seeds reach and stay under, if one exists)",
    )
    levels = target.add_mutually_exclusive_group()
    levels.add_argument(
        "--target",
        type=_positive,
        metavar="LEVEL",
        default=None,
        help="level of the error F - F* (of the loss when F* is unknown)",
    )
    levels.add_argument(
        "--target-accuracy",
        type=_unit(closed=True),
        metavar="A",
        default=None,
        help="an accuracy in (0, 1], reached at or above it (models with an accuracy)",
    )
    levels.add_argument(
        "--target-fraction",
        type=_unit(closed=False),
        metavar="F",
        default=None,
        help="a fraction in (0, 1) of the initial error (loss), the mean over the seeds",
    )
    target.add_argument(
        "--target-window",
        type=_positive,
        metavar="T",
        default=None,
        help="simulated time a seed must stay at the target (default: the rest of its run)",
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


def _unit(*, closed: bool):
    """An argparse type: a number in (0, 1] (``closed``) or (0, 1)."""

    def parse(text: str) -> float:
        value = float(text)
        if not (0 < value < 1 or (closed and value == 1)):
            interval = "(0, 1]" if closed else "(0, 1)"
            raise argparse.ArgumentTypeError(f"must be a number in {interval}; got {text}")
        return value

    parse.__name__ = "number"  # argparse: "invalid number value: 'abc'"
    return parse


def _target_arguments(args: argparse.Namespace) -> dict:
    """The target options as ``compare`` takes them, checked: typed ones replace the config
    file's (a typed target replaces the file's target of another kind), and a bad value is
    named as typed (the option, or the key and its file)."""
    from simulator.studies._targets import TARGET_KINDS, check_targets

    config = getattr(args, "_config", {})
    values = {name: getattr(args, name, None) for name in TARGET_OPTIONS}
    in_file = {n for n, v in values.items() if v is not None and n in config and v is config[n]}
    if any(values[n] is not None and n not in in_file for n in TARGET_KINDS):
        values.update({n: None for n in TARGET_KINDS if n in in_file})
    names = {n: f"`{n.replace('_', '-')}` in {Path(args.config).name}" for n in in_file}
    given = [n.replace("_", "-") for n in TARGET_KINDS if values[n] is not None]
    if len(given) > 1:  # typed ones are exclusive (argparse): these are the file's
        raise CliError(
            f"give one of target, target-accuracy or target-fraction in "
            f"{Path(args.config).name}, not several; got {' and '.join(given)}"
        )
    try:
        check_targets(
            **{n: values[n] for n in TARGET_KINDS},
            window=values["target_window"],
            window_name="target_window",
        )
    except PssimError as err:
        raise CliError(_target_text(str(err), names)) from None
    return values


def _target_text(text: str, names: dict[str, str] | None = None) -> str:
    """``text`` with the target arguments shown as the options (or ``names``) a user typed."""
    for name, option in TARGET_OPTIONS.items():
        text = text.replace(f"`{name}`", (names or {}).get(name, option))
    return text


def _run(args: argparse.Namespace, command: str, variants: list[str] | None) -> int:
    from simulator.cli.outputs import check_out_dir, results_folder
    from simulator.studies._variant_specs import refuse_unused
    from simulator.studies.comparison import variant_specs

    if command == "train":
        spec = build_spec(command, args, TRAIN_FIELDS)
        variants = [spec.variant]
    else:  # the K of compare is the K-variants' (sync, async, ... imply theirs)
        first_k = next((v for v in variants if v not in ALIASES + IMPLIED_K), None)
        only_aliases = {} if first_k else {"k": None}
        spec = build_spec(
            command, args, COMPARE_FIELDS, variant=first_k or variants[0], **only_aliases
        )
    # every variant's rules, before data or JAX are touched; and a policy or a staleness
    # limit typed for none of the variants is a mistake, not a setting to drop silently
    refuse_unused(spec, variant_specs(spec, variants))
    targets = _target_arguments(args)
    out = check_out_dir(args.out)
    if args.no_compile_cache:  # read at the first replay of the process
        from simulator.training._cache import CACHE_ENV

        os.environ[CACHE_ENV] = "0"

    from models import check_batch_size, load_dataset
    from simulator.studies.comparison import compare

    dataset = load_dataset(spec.data)
    check_batch_size(dataset, spec.batch_size)
    try:
        result = compare(spec, variants=variants, dataset=dataset, progress=True, **targets)
    except PssimError as err:  # a target the model or the runs cannot give
        if err.param not in TARGET_OPTIONS:
            raise
        raise CliError(_target_text(str(err))) from None
    bounds, optimal = (), None
    if args.bounds:
        from simulator.studies.bounds import bound_curves, optimal_curve

        bounds = bound_curves(result, dataset=dataset)
        optimal = optimal_curve(result, dataset=dataset)
        for run, curve in zip(result.runs, bounds, strict=True):
            if curve is None:
                print(
                    f"no error bound for {run.variant}: pssim bounds says why (outside "
                    "Dutta et al.'s analysis, or a loss that is not strongly convex)"
                )
    with results_folder(out) as tmp:
        _write_results(
            result,
            tmp,
            title=_title(spec, result),
            command=command,
            extra={n.replace("_", "-"): v for n, v in targets.items() if v is not None},
            bounds=bounds,
            optimal=optimal,
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
    lr = d["lr"] if spec.lr_schedule is None else f"{d['lr']}, {spec.lr_schedule}"
    return (
        f"{result.model_name} on {result.data_name}, m={spec.batch_size}, lr={lr} "
        f"({spec.rule}), P={spec.num_learners}, {length}, X ~ {law}"
        + (f", {comm}" if comm else "")
        + f", {seeds}"
    )


def _write_results(
    result, folder, *, title: str, command: str, extra: dict, bounds=(), optimal=None
) -> None:
    """Figures (PNG, PDF, SVG), the tidy results with provenance, the JSON summary and the
    spec (with ``extra``, the target options given, that rerun the same experiment);
    ``optimal``: the optimal-time curve drawn beside the runs."""
    from simulator.plots.timeline import save_figure
    from simulator.plots.training import error_figure, staleness_figure

    formats = ("png", "pdf", "svg")
    fig = error_figure(result.runs, f_star=result.f_star, bounds=bounds, optimal=optimal)
    save_figure(fig, folder / "error_vs_time.png", formats=formats)
    save_figure(staleness_figure(result.runs), folder / "staleness.png", formats=formats)
    result.results_frame().to_csv(folder / "results.csv", index=False)
    if any(curve is not None for curve in bounds):
        _bounds_frame(result, bounds).to_csv(folder / "bounds.csv", index=False)
    (folder / "summary.json").write_text(json.dumps(result.to_json(), indent=1))
    variants = result.variants if command == "compare" else None
    (folder / "spec.toml").write_text(result.spec.to_toml(variants=variants, extra=extra or None))


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
