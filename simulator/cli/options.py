"""The one mapping between command-line options, TOML keys and the experiment spec.

Every spec field has one option (``--learners`` is ``num_learners``, ``--iterations`` is
``updates``, ...). A ``--config FILE.toml`` holds the same settings under their long option
names (dashes or underscores; flat or under ``[timing]`` and ``[training]``); options typed
on the command line override the file, and both override the defaults, which live in
:mod:`simulator.spec` only.
"""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path
from typing import Any

from simulator._spec_policy import POLICY_VARIANTS, READS_LOSS, THEORY_VARIANTS, policy_applies
from simulator.errors import PssimError, SpecError
from simulator.spec import COMMAND_DEFAULTS, TIMING_FIELDS, ExperimentSpec, read_spec_file

__all__ = ["OPTIONS", "CliError", "add_spec_options", "build_spec", "cli_message", "read_config"]


def _ascii_number(convert):
    """An argparse ``type`` like ``convert`` (int or float) that takes ASCII only: Python
    reads Arabic-Indic or fullwidth digits (``-P ٢``) and strips no-break spaces."""

    def parse(text: str):
        if not text.isascii():
            raise ValueError(text)  # argparse: "invalid int value: '٢'"
        return convert(text)

    parse.__name__ = convert.__name__
    return parse


_INT, _FLOAT = _ascii_number(int), _ascii_number(float)


def _whole(text: str) -> int | float:
    """A size as written (``1000000`` or ``1e6``): an int, or a float the spec checks is
    whole."""
    try:
        return _INT(text)
    except ValueError:
        return _FLOAT(text)


_whole.__name__ = "int"


def _rate(text: str) -> float | str:
    """A rate as typed: a number (``0.01``), else the text, an expression in K, m and P
    (``0.01*K``) that the spec checks and resolves."""
    try:
        return _FLOAT(text)
    except ValueError:
        if not text.isascii():
            raise
        return text


_rate.__name__ = "float"


def _limit(text: str) -> int | str:
    """A staleness limit as typed: an integer R, else the text (``auto``, ``auto:EPS``)
    that the spec checks."""
    try:
        return _INT(text)
    except ValueError:
        if not text.isascii():
            raise
        return text


_limit.__name__ = "int"

#: field -> (flags, argparse keywords, help). The first long flag is the TOML key.
OPTIONS: dict[str, tuple[tuple[str, ...], dict[str, Any], str]] = {
    "variant": (
        ("--variant",),
        {},
        "sync, async, k-sync, k-batch-sync, k-async, k-batch-async, k-avg, all-reduce, "
        "rennala, ringmaster",
    ),
    "num_learners": (
        ("-P", "--learners"),
        {"type": _INT, "metavar": "P"},
        "number of learners (with --durations: one per worker unless given)",
    ),
    "k": (("-K",), {"type": _INT, "metavar": "K"}, "K of the K-variants (local steps for k-avg)"),
    "law": (
        ("--dist",),
        {},
        "compute-time law of one mini-batch, e.g. exp:1, pareto:2,1, deterministic:0.5; "
        "values may use m (the mini-batch size, batch) and P: shifted-exp:0.5*m,1",
    ),
    "laws": (("--laws",), {"nargs": "+", "metavar": "LAW"}, "one law per learner (P laws)"),
    "speeds": (
        ("--speeds",),
        {"nargs": "+", "type": _FLOAT, "metavar": "S"},
        "one speed factor per learner: durations are divided by it",
    ),
    "durations": (
        ("--durations",),
        {"metavar": "FILE"},
        "measured per-worker compute times instead of --dist/--laws: a CSV or Parquet table "
        "(columns worker, step, duration, optional censored) or llm-se (the shipped 64-GPU "
        "cluster); a relative path is read from the working directory (in a config file: "
        "from the file's folder); -P defaults to the number of workers",
    ),
    "durations_mode": (
        ("--durations-mode",),
        {"metavar": "MODE"},
        "replay (learner l runs worker l's durations in step order, from the first again "
        "after the last) or resample (i.i.d. draws from worker l's durations)",
    ),
    "reuse_workers": (
        ("--reuse-workers",),
        {"action": "store_const", "const": True},
        "allow -P larger than the number of workers: learner l takes worker l mod W",
    ),
    "push_latency": (("--push-latency",), {"metavar": "LAW"}, "law of a push's transit time"),
    "pull_latency": (("--pull-latency",), {"metavar": "LAW"}, "law of a pull's transit time"),
    "service_time": (
        ("--service-time",),
        {"metavar": "LAW"},
        "law of the server's time per update (updates queue), e.g. deterministic:0.002*P",
    ),
    "failure": (
        ("--failure",),
        {"metavar": "LAW"},
        "law of the time a learner stays up before it fails, e.g. exp:0.01 (with --repair)",
    ),
    "repair": (
        ("--repair",),
        {"metavar": "LAW"},
        "law of the time a failed learner stays down (with --failure); its work in flight is lost",
    ),
    "availability": (
        ("--availability",),
        {"metavar": "FILE"},
        "measured down periods instead of --failure/--repair: a CSV file with columns "
        "worker, down, up (learner worker is down in [down, up)); a relative path is read "
        "like --durations's",
    ),
    "deadline": (
        ("--deadline",),
        {"type": _FLOAT, "metavar": "D"},
        "round-based variants: update at the K-th arrival or D after the round started, "
        "with what has arrived",
    ),
    "slowdown": (
        ("--slowdown",),
        {"metavar": "RATE_IN,RATE_OUT,FACTOR"},
        "Markov-modulated slowdowns: a learner turns slow at rate RATE_IN and fast again at "
        "RATE_OUT (per time unit), working FACTOR > 1 times slower while slow",
    ),
    "slowdown_shared": (
        ("--slowdown-shared",),
        {"action": "store_const", "const": True},
        "one slowdown chain for the whole cluster instead of one per learner",
    ),
    "model_bytes": (
        ("--model-bytes",),
        {"type": _whole, "metavar": "N"},
        "bytes of a gradient and of a model (None: the model's parameter count x the dtype's size)",
    ),
    "bandwidth": (
        ("--bandwidth",),
        {"metavar": "B"},
        "each learner's link in bytes per time unit: one value, or P values B1,B2,...",
    ),
    "server_bandwidth": (
        ("--server-bandwidth",),
        {"type": _FLOAT, "metavar": "B"},
        "each server shard's link in bytes per time unit, shared by the transfers in flight",
    ),
    "servers": (
        ("--servers",),
        {"type": _INT, "metavar": "S"},
        "parameter server shards, each with its own --server-bandwidth link",
    ),
    "staleness_limit": (
        ("--staleness-limit",),
        {"type": _limit, "metavar": "R"},
        "ringmaster: discard a gradient whose staleness is >= R; auto or auto:EPS: the "
        "paper's R = max(1, ceil(sigma^2/EPS)), sigma^2 the variance of a learner's "
        "mini-batch gradient and EPS the target of E||grad F||^2 (default: the level of "
        "the optimal-time row of pssim bounds), for the commands that train (runtime "
        "refuses it)",
    ),
    "k_policy": (
        ("--k-policy",),
        {"metavar": "POLICY"},
        "K that changes during training (K-variants): none, schedule (--k-schedule), loss "
        "(AdaSync: K grows as the error falls) or theory (the K with the smallest predicted "
        "time to half the error, Lemmas 2-3); -K is K_0; loss and theory run with "
        "training (compare, train, sweep)",
    ),
    "k_schedule": (
        ("--k-schedule",),
        {"metavar": "UPDATE:K,..."},
        "with --k-policy schedule: K from each UPDATE on, e.g. 0:1,200:4 (0:4 is -K 4)",
    ),
    "k_every": (
        ("--k-every",),
        {"type": _INT, "metavar": "N"},
        "updates between two decisions of --k-policy loss or theory (none: J/10)",
    ),
    "updates": (("--iterations", "-J"), {"type": _INT, "metavar": "J"}, "server updates per run"),
    "time_budget": (
        ("--time-budget",),
        {"type": _FLOAT, "metavar": "T"},
        "run to simulated time T instead of J updates (compare: every variant to the same T)",
    ),
    "seeds": (("--seeds",), {"type": _INT, "metavar": "S"}, "replicate seeds"),
    "seed": (("--seed",), {"type": _INT}, "first seed (seeds are SEED .. SEED+S-1)"),
    "model": (("--model",), {}, "softmax, softmax-nobias, least-squares, mlp or cnn"),
    "data": (
        ("--data",),
        {},
        "digits, mnist:DIR, cifar10:DIR, synthetic:classes, synthetic:least-squares, npz:PATH",
    ),
    "rule": (
        ("--lr-rule",),
        {},
        "server rule: fixed, compensated (eq. 13), damped, dc-asgd or staleness-weight",
    ),
    "lr": (
        ("--lr",),
        {"type": _rate},
        "learning rate (eta_max of the compensated rule): a number or an expression in K "
        "(the variant's K: P for sync, 1 for async), m and P, e.g. 0.01*K or 0.05*sqrt(m)",
    ),
    "lr_c": (
        ("--lr-c",),
        {"type": _rate},
        "C of the compensated rule eq. (13) (None: 0.005*lr); may use K, m and P like --lr",
    ),
    "dc_lambda": (
        ("--dc-lambda",),
        {"type": _rate},
        "lambda of the dc-asgd rule (None: 0.04); may use K, m and P like --lr",
    ),
    "lr_schedule": (
        ("--lr-schedule",),
        {"metavar": "SCHEDULE"},
        "update j's rate is lr times f(j): step:FACTOR,EVERY (times FACTOR every EVERY "
        "updates), cosine[:ALPHA] (to ALPHA*lr over the run's J updates), warmup:N (from 0 "
        "over N updates), or a warm-up then one of the others (warmup:N+cosine); None: "
        "constant",
    ),
    "batch_size": (("--batch",), {"type": _INT}, "mini-batch size m"),
    "l2": (("--l2",), {"type": _FLOAT}, "L2 regulariser lambda"),
    "eval_every": (("--eval-every",), {"type": _INT}, "updates between evaluations (None: J/100)"),
    "dtype": (("--dtype",), {}, "float32 or float64"),
    "divergence_factor": (
        ("--divergence-factor",),
        {"type": _FLOAT},
        "a seed whose loss exceeds this multiple of its initial loss is marked diverged",
    ),
    "diagnostics": (
        ("--diagnostics",),
        {"action": "store_const", "const": True},
        "record ||grad F||^2, gamma, p0, ||w_j - w_tau||^2, the applied rate and the "
        "gradient diversity as results columns",
    ),
}

#: Options of the commands that are not spec fields (allowed in a config file too).
COMMAND_KEYS = (
    "variants",
    "target",
    "target_accuracy",
    "target_fraction",
    "target_window",
    "out",
    "plot",
    "json",
    "no_compile_cache",
    "bounds",
    "gamma",
    "p0",
    "level",
)


#: The learners' compute times: one law, one law per learner or a durations file, one
#: typed replacing the others from a config file.
_LAWS = tuple(
    (one, other)
    for one in ("law", "laws", "durations")
    for other in ("law", "laws", "durations")
    if one != other
)
#: A run's length: J updates or a simulated-time budget, one replacing the other.
_RUN_LENGTH = (("updates", "time_budget"), ("time_budget", "updates"))
#: Down periods: failure and repair laws or an availability file, one typed replacing the
#: other from a config file.
_FAULTS = (
    ("failure", "availability"),
    ("repair", "availability"),
    ("availability", "failure"),
    ("availability", "repair"),
)


def flag_of(field: str) -> str:
    """The option a user types for ``field`` (its first long flag, else its short one)."""
    flags = OPTIONS[field][0]
    return next((f for f in flags if f.startswith("--")), flags[0])


def add_spec_options(parser: argparse.ArgumentParser, command: str, fields) -> None:
    """Add the options of ``fields`` to ``parser``; help shows the command's defaults."""
    unset = {f.name: f.default for f in dataclasses.fields(ExperimentSpec)}  # not in to_dict
    defaults = {**unset, **ExperimentSpec().to_dict(), **COMMAND_DEFAULTS[command]}
    timing = parser.add_argument_group("timing")
    training = parser.add_argument_group("training")
    for field in fields:
        flags, kwargs, text = OPTIONS[field]
        group = timing if field in TIMING_FIELDS else training
        shown = defaults.get(field)
        group.add_argument(
            *flags,
            dest=field,
            default=None,
            help=f"{text} (default: {shown})".replace("%", "%%"),
            **kwargs,
        )
    parser.add_argument(
        "--config",
        metavar="FILE.toml",
        default=None,
        help="read settings from a TOML file (keys: the long option names); options "
        "typed here override it",
    )


def read_config(path: str) -> dict[str, Any]:
    """Settings of a TOML config file (a regular file of at most 1 MiB): spec fields by
    field name, command keys as named; a file that cannot be read is refused naming
    ``--config``."""
    try:
        return read_spec_file(path, allowed=COMMAND_KEYS)
    except SpecError as err:
        if err.param != "path":
            raise
        raise CliError(err.renamed("--config")) from None


#: Commands that run the one variant of their spec (a staleness limit must be ringmaster's).
_ONE_VARIANT = ("runtime", "train", "bounds")


def build_spec(command: str, args: argparse.Namespace, fields, **fixed: Any) -> ExperimentSpec:
    """The spec of a command: its defaults, then ``--config``, then the options typed.

    ``law``, ``laws`` and ``durations`` are alternatives: one typed on the command line
    replaces the others from the file (two typed, or two in the file, are refused; typed
    durations with the file's speeds too, which would count each worker's speed twice); so
    are ``failure``/``repair`` and ``availability``, and ``updates`` and ``time_budget``,
    and a time budget (typed or in the file) replaces the command's default J. A bad value
    is reported under the name the
    user gave it: the option, or the key and file it came from.
    """
    config = getattr(args, "_config", {})
    typed = {f: getattr(args, f) for f in fields if getattr(args, f, None) is not None}
    from_file = {f: v for f, v in config.items() if f in OPTIONS}
    for one, other in (*_LAWS, *_RUN_LENGTH, *_FAULTS):
        if one in typed and other not in typed:
            from_file.pop(other, None)
    defaults = dict(COMMAND_DEFAULTS[command])
    if "time_budget" in {**from_file, **typed}:
        defaults.pop("updates", None)
    pairs = (("law", "laws"), ("law", "durations"), ("laws", "durations"))
    for one, other in (*pairs, ("updates", "time_budget")):
        if one in from_file and other in from_file:  # alternatives, neither typed
            keys = f"`{flag_of(one).lstrip('-')}` or `{flag_of(other).lstrip('-')}`"
            raise CliError(f"give {keys} in {Path(args.config).name}, not both; got both")
    if "durations" in typed and "speeds" in from_file and "speeds" not in typed:
        raise CliError(
            f"--durations replaces the law of {Path(args.config).name}, whose `speeds` would "
            "divide the measured durations again (they already hold each worker's speed); "
            "type --speeds as well, or leave them out of the file"
        )
    values = {**defaults, **from_file, **typed, **fixed}
    try:
        spec = ExperimentSpec(**values)
    except PssimError as err:
        raise CliError(_renamed(err, typed, from_file, args)) from None
    if command in _ONE_VARIANT and spec.k_policy is not None:
        if not policy_applies(spec):
            raise CliError(
                f"--k-policy applies to --variant {', '.join(POLICY_VARIANTS)} only; got "
                f"--variant {spec.variant}"
            )
        if spec.k_policy == "theory" and spec.variant not in THEORY_VARIANTS:
            raise CliError(
                "--k-policy theory predicts with Lemma 2 (K fresh gradients per update), so "
                f"it applies to --variant {', '.join(THEORY_VARIANTS)}; got --variant "
                f"{spec.variant}"
            )
        if command != "train" and spec.k_policy in READS_LOSS:
            raise CliError(
                f"--k-policy {spec.k_policy} reads the training loss, so it runs with "
                f"training (pssim train, compare or sweep), not pssim {command}; use "
                "--k-policy schedule here"
            )
    if command in _ONE_VARIANT and spec.staleness_limit is not None:
        if spec.canonical[0] != "ringmaster":
            raise CliError(
                f"--staleness-limit applies to --variant ringmaster only; got --variant "
                f"{spec.variant}"
            )
    return spec


def _renamed(err: PssimError, typed: dict, from_file: dict, args: argparse.Namespace) -> str:
    field = err.param
    if field in OPTIONS and field in from_file and field not in typed:
        key = flag_of(field).lstrip("-")
        text = cli_message(err.renamed("\0"))  # other names become options, not this one
        return text.replace("\0", f"`{key}` in {Path(args.config).name}")
    return cli_message(err)


def cli_message(err: Exception) -> str:
    """``err``'s message with every spec name in backticks shown as the option a user types
    (``--iterations`` for `updates`, ``--batch`` for `batch`, ...)."""
    text = str(err)
    for field in OPTIONS:
        flag = flag_of(field)
        for name in {field, flag.lstrip("-"), flag.lstrip("-").replace("-", "_")}:
            text = text.replace(f"`{name}`", flag)
    return text


class CliError(PssimError):
    """A message already phrased for the command line."""
