"""``pssim train`` and ``pssim compare``: real training replayed over simulated schedules.

Everything is validated before the first update is simulated; results go to a folder that
appears only when complete (written beside it under a temporary name, then renamed).
"""

from __future__ import annotations

import argparse
import datetime
import json
import shutil
import tempfile
from pathlib import Path

__all__ = ["TRAINING_HANDLERS", "add_training_commands"]

MODELS = ("softmax", "least-squares", "mlp", "cnn")
RULES = ("fixed", "compensated", "damped")


def add_training_commands(sub, add_timing_options) -> None:
    """Register ``train`` and ``compare`` on the ``pssim`` sub-parser collection."""
    train = sub.add_parser("train", help="train one variant over simulated schedules")
    add_timing_options(train)
    _add_training_options(train)
    cmp = sub.add_parser("compare", help="several variants on paired seeds (figure 8)")
    add_timing_options(cmp, variant=False)
    cmp.add_argument(
        "--variants",
        default="sync,async,k-sync,k-async,k-batch-async",
        help="comma-separated variants (default: the paper's figure 8 set)",
    )
    _add_training_options(cmp)
    cmp.set_defaults(K=4, iterations=20000, seeds=5)
    train.set_defaults(iterations=2000, seeds=5)


def _add_training_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--data",
        default="digits",
        help="digits, mnist:DIR, cifar10:DIR, synthetic:classes, synthetic:least-squares",
    )
    p.add_argument("--model", default="softmax", help="one of " + ", ".join(MODELS))
    p.add_argument("--batch", type=int, default=1, help="mini-batch size m")
    p.add_argument("--lr", type=float, default=0.01, help="learning rate (eta_max for compensated)")
    p.add_argument("--lr-rule", default="fixed", help="one of " + ", ".join(RULES))
    p.add_argument(
        "--lr-c",
        type=float,
        default=None,
        help="C of the compensated rule eq. (13); default 0.005 * lr",
    )
    p.add_argument("--l2", type=float, default=0.01, help="L2 regulariser lambda")
    p.add_argument("--eval-every", type=int, default=None, help="updates between evaluations")
    p.add_argument(
        "--target",
        type=float,
        default=None,
        help="loss for the time-to-target column (default: one all variants reach)",
    )
    p.add_argument("--dtype", default="float32", choices=("float32", "float64"))
    p.add_argument("--out", default=None, help="results folder (default: a new folder here)")


def _prepare(args: argparse.Namespace):
    """Validate every option and build data, model and rule; nothing runs yet."""
    from models import build_model, check_batch_size, load_dataset
    from simulator._checks import check_positive
    from simulator.training.rules import make_rule

    law_spec = args.dist
    from distributions import parse_law

    law = parse_law(law_spec)
    lr = check_positive("lr", args.lr)
    if args.l2 < 0 or args.l2 != args.l2:
        raise ValueError(f"`l2` must be >= 0; got {args.l2}")
    if args.model not in MODELS:
        raise ValueError(f"`model` must be one of {', '.join(MODELS)}; got {args.model!r}")
    if args.lr_rule not in RULES:
        raise ValueError(f"`lr-rule` must be one of {', '.join(RULES)}; got {args.lr_rule!r}")
    out = _check_out(args.out)
    dataset = load_dataset(args.data)
    check_batch_size(dataset, args.batch)
    model = build_model(args.model, dataset, args.l2)
    rule = make_rule(args.lr_rule, lr, args.lr_c)
    return law, dataset, model, rule, out


def _check_out(out: str | None) -> Path:
    if out is None:
        stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
        return Path.cwd() / f"pssim-results-{stamp}"
    path = Path(out)
    if path.exists() and (not path.is_dir() or any(path.iterdir())):
        raise ValueError(f"`out` must be a new or empty folder; got {out!r}")
    if not path.parent.resolve().is_dir():
        raise ValueError(f"`out` parent folder must exist; got {out!r}")
    return path


def _run(args: argparse.Namespace, variants: list[str]) -> int:
    from simulator._checks import resolve_variant
    from simulator.studies.comparison import compare

    for v in variants:  # the timing rules are checked before data or JAX are touched
        resolve_variant(v, args.learners, None if v in ("sync", "async") else args.K)
    if "k-avg" in variants and args.lr_rule != "fixed":
        raise ValueError(
            f"`lr-rule` must be fixed for k-avg (local SGD steps); got {args.lr_rule!r}"
        )
    law, dataset, model, rule, out = _prepare(args)
    result = compare(
        variants,
        model=model,
        dataset=dataset,
        rule=rule,
        num_learners=args.learners,
        k=args.K,
        law=law,
        iterations=args.iterations,
        seeds=args.seeds,
        seed=args.seed,
        batch_size=args.batch,
        eval_every=args.eval_every,
        target=args.target,
        dtype=args.dtype,
        progress=True,
    )
    _write_results(
        result,
        out,
        title=(
            f"{args.model} on {dataset.name}, m={args.batch}, lr={args.lr} ({args.lr_rule}), "
            f"P={args.learners}, X ~ {law.spec}, {args.seeds} seeds"
        ),
    )
    if args.json:
        print(json.dumps(result.to_json()))
    else:
        print(result.table())
        print(f"results written to {out}")
    return 0


def _write_results(result, out: Path, *, title: str) -> None:
    """Figures, tidy results and the JSON summary, made complete before ``out`` appears."""
    from simulator.plots.timeline import save_figure
    from simulator.plots.training import error_figure, staleness_figure

    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent.resolve()))
    try:
        save_figure(
            error_figure(result.runs, f_star=result.f_star, title=title), tmp / "error_vs_time.png"
        )
        save_figure(staleness_figure(result.runs), tmp / "staleness.png")
        result.history().save(tmp / "results.csv")
        (tmp / "summary.json").write_text(json.dumps(result.to_json(), indent=1))
        if out.exists():
            out.rmdir()  # checked empty before the run
        tmp.replace(out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def cmd_train(args: argparse.Namespace) -> int:
    return _run(args, [args.variant])


def cmd_compare(args: argparse.Namespace) -> int:
    variants = [v.strip() for v in args.variants.split(",") if v.strip()]
    if not variants:
        raise ValueError(f"`variants` must list at least one variant; got {args.variants!r}")
    return _run(args, variants)


TRAINING_HANDLERS = {"train": cmd_train, "compare": cmd_compare}
