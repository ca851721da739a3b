"""Validation and key names of the experiment spec (see :mod:`simulator.spec`).

Every check raises a :class:`~simulator.errors.SpecError` naming the Python field; the CLI
shows its option instead (``TOML_KEY`` and the CLI's option table give the names).
"""

from __future__ import annotations

import functools
import math
import numbers
from collections.abc import Sequence
from typing import Any

from distributions import LawError, law_from, law_symbols
from models import MODEL_NAMES
from simulator._checks import (
    IMPLIED_K,
    MAX_SEED,
    MAX_SEEDS,
    VARIANT_ALIASES,
    VARIANTS,
    check_count,
    check_seed,
    resolve_variant,
)
from simulator._spec_durations import DURATIONS_MODES, check_durations, load_durations
from simulator._spec_methods import check_methods, check_rule_fields
from simulator._spec_network import check_network
from simulator._spec_policy import check_policy, check_policy_run, refuse_rates_in_k
from simulator._spec_rates import TYPED_RATES, check_schedule, resolve_rate
from simulator.errors import PssimError, SpecError, shown

#: Server rules by name (``training.make_rule``) and replay dtypes: defined here, the one
#: place the spec and the training layer both read.
RULES = ("fixed", "compensated", "damped", "dc-asgd", "staleness-weight")
DTYPES = ("float32", "float64")
DATA_KINDS = ("mnist", "cifar10", "cifar10-rgb", "synthetic", "npz")
DATA_FORMS = "digits, mnist:DIR, cifar10:DIR, cifar10-rgb:DIR, synthetic:KIND[,...], npz:PATH"

#: The cluster beyond the papers' idealisation (faults, deadlines, slowdowns, links): each
#: opt-in, left out of a spec's dict when off.
CLUSTER_FIELDS = (
    "failure",
    "repair",
    "availability",
    "deadline",
    "slowdown",
    "slowdown_shared",
    "model_bytes",
    "bandwidth",
    "server_bandwidth",
    "servers",
)
#: Fields that describe the schedule (the timing phase).
TIMING_FIELDS = (
    "variant",
    "num_learners",
    "k",
    "law",
    "laws",
    "speeds",
    "durations",
    "durations_mode",
    "reuse_workers",
    "push_latency",
    "pull_latency",
    "service_time",
    *CLUSTER_FIELDS,
    "staleness_limit",
    "k_policy",
    "k_schedule",
    "k_every",
    "updates",
    "time_budget",
    "seeds",
    "seed",
)
#: Fields that describe the training replayed along the schedule.
TRAINING_FIELDS = (
    "model",
    "data",
    "rule",
    "lr",
    "lr_c",
    "dc_lambda",
    "lr_schedule",
    "batch_size",
    "l2",
    "eval_every",
    "dtype",
    "divergence_factor",
    "diagnostics",
)
#: Keys allowed in a ``[timing]`` / ``[training]`` table (fields and command options).
TIMING = frozenset(TIMING_FIELDS) | {"variants"}
TRAINING = frozenset(TRAINING_FIELDS) | {"target"}
#: The key each field is written under in TOML: the CLI's long option name.
TOML_KEY = {
    "variant": "variant",
    "num_learners": "learners",
    "k": "K",
    "law": "dist",
    "laws": "laws",
    "speeds": "speeds",
    "durations": "durations",
    "durations_mode": "durations-mode",
    "reuse_workers": "reuse-workers",
    "push_latency": "push-latency",
    "pull_latency": "pull-latency",
    "service_time": "service-time",
    "failure": "failure",
    "repair": "repair",
    "availability": "availability",
    "deadline": "deadline",
    "slowdown": "slowdown",
    "slowdown_shared": "slowdown-shared",
    "model_bytes": "model-bytes",
    "bandwidth": "bandwidth",
    "server_bandwidth": "server-bandwidth",
    "servers": "servers",
    "staleness_limit": "staleness-limit",
    "k_policy": "k-policy",
    "k_schedule": "k-schedule",
    "k_every": "k-every",
    "updates": "iterations",
    "time_budget": "time-budget",
    "seeds": "seeds",
    "seed": "seed",
    "model": "model",
    "data": "data",
    "rule": "lr-rule",
    "lr": "lr",
    "lr_c": "lr-c",
    "dc_lambda": "dc-lambda",
    "lr_schedule": "lr-schedule",
    "batch_size": "batch",
    "l2": "l2",
    "eval_every": "eval-every",
    "dtype": "dtype",
    "divergence_factor": "divergence-factor",
    "diagnostics": "diagnostics",
}
#: Every accepted key (dashes read as underscores) -> field.
KEY_ALIASES = {
    **{f: f for f in TOML_KEY},
    **{key.replace("-", "_"): f for f, key in TOML_KEY.items()},
    "P": "num_learners",
    "J": "updates",
}

#: Largest count of learners, updates or local steps: beyond it no run can be held in
#: memory, and counts stay exact as floats (2**53).
MAX_COUNT = 2**53
#: P of a spec that gives neither ``num_learners`` nor ``durations``.
DEFAULT_LEARNERS = 8

#: Largest mini-batch m: above the row count of any data set pssim loads, and small enough
#: that no replay shape (slots x m x features) can overflow an int64 extent.
MAX_BATCH = 2**24


def normalise_keys(
    data: dict[str, Any], *, source: str, allowed: Sequence[str] = ()
) -> dict[str, Any]:
    """Flatten ``timing``/``training`` tables and map every key to its field name.

    Keys in ``allowed`` (dashes read as underscores) are kept under that name; any other
    unknown key is refused, naming it and ``source``.
    """
    if not isinstance(data, dict):
        raise SpecError(f"`{source}` must hold a table of settings; got {type(data).__name__}")
    flat: dict[str, tuple[str, Any]] = {}
    for key, value in data.items():
        if key in ("timing", "training") and isinstance(value, dict):
            items = [(k, v, f"[{key}] ") for k, v in value.items()]
        else:
            items = [(key, value, "")]
        for k, v, where in items:
            name = str(k).replace("-", "_")
            field = KEY_ALIASES.get(name) or (name if name in allowed else None)
            if field is None:
                raise SpecError(f"{where}key {shown(k)} in {source} is not a pssim setting")
            table = where.strip("[] ")
            if table and field in (TRAINING if table == "timing" else TIMING):
                other = "training" if table == "timing" else "timing"
                raise SpecError(f"key {shown(k)} in {source} belongs in [{other}], not [{table}]")
            if field in flat:
                raise SpecError(f"key {shown(k)} in {source} repeats {shown(flat[field][0])}")
            flat[field] = (str(k), v)
    return {field: v for field, (_, v) in flat.items()}


def _law(name: str, value: Any, m: int, p: int, *, optional: bool = False):
    """(the law resolved with m and P, the string as typed if it uses m or P else None)."""
    if value is None and optional:
        return None, None
    try:
        if isinstance(value, str):
            text = _law_text if len(value) <= _CACHED_TEXT else _law_text.__wrapped__
            return text(name, value, m, p)
        return law_from(value, name=name, m=m, P=p), None
    except LawError as err:
        text = str(err)
        if f"`{name}`" not in text:
            text = f"`{name}`: {text}"
        raise SpecError(text, param=name) from None


#: Law strings up to this length are parsed once per (field, m, P): laws are immutable, so
#: the configurations of a sweep share them.
_CACHED_TEXT = 256


@functools.lru_cache(maxsize=4096)
def _law_text(name: str, value: str, m: int, p: int):
    """(the law of a spec string resolved with m and P, the string if it uses m or P)."""
    law = law_from(value, name=name, m=m, P=p)
    return law, (value if law_symbols(value, name=name) else None)


def _real(name: str, value: Any, rule: str, *, optional: bool = False) -> float | None:
    if value is None and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise SpecError(f"`{name}` must be a number; got {shown(value)}", param=name)
    try:
        x = float(value)
    except OverflowError:  # an integer beyond the floats
        x = math.inf
    ok = math.isfinite(x) and {"> 0": x > 0, ">= 0": x >= 0, "> 1": x > 1}[rule]
    if not ok:
        raise SpecError(f"`{name}` must be a finite number {rule}; got {shown(value)}", param=name)
    return x


def _rate(name: str, value: Any, rule: str, env: dict[str, int], typed: dict[str, str]):
    """A rate (``lr``, ``lr_c``, ``dc_lambda``; None where optional) as a number, or a
    string resolved with ``env`` (K, m, P); a string using them is kept in ``typed``."""
    if not isinstance(value, str):
        if value is not None and (isinstance(value, bool) or not isinstance(value, numbers.Real)):
            raise SpecError(
                f"`{name}` must be a number or an expression in K, m and P; got {shown(value)}",
                param=name,
            )
        if name == "dc_lambda":  # its own checks (see _spec_methods.check_rule_fields)
            return value
        return _real(name, value, rule, optional=name != "lr")
    x, text = resolve_rate(name, value, env, rule)
    if text is not None:
        typed[name] = text
    return x


def _choice(name: str, value: Any, choices: Sequence[str]) -> str:
    if value not in choices:
        raise SpecError(
            f"`{name}` must be one of {', '.join(choices)}; got {shown(value)}", param=name
        )
    return value


def _sequence(name: str, value: Any, p: int) -> list:
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence):
        raise SpecError(
            f"`{name}` must be a list of P ({p}) entries; got {shown(value)}", param=name
        )
    if len(value) != p:
        raise SpecError(
            f"`{name}` must have P ({p}) entries, one per learner; got {len(value)}", param=name
        )
    return list(value)


def _data(value: Any) -> str:
    ok = isinstance(value, str) and (
        value == "digits" or (value.partition(":")[0] in DATA_KINDS and value.partition(":")[2])
    )
    if not ok:
        raise SpecError(f"`data` must be one of {DATA_FORMS}; got {shown(value)}", param="data")
    return value


def _count(name: str, value: Any, optional: bool = False, maximum: int | None = None) -> int | None:
    if value is None and optional:
        return None
    try:
        return check_count(name, value, maximum=maximum)
    except PssimError as err:
        raise SpecError(str(err), param=name) from None


class _DefaultLaw(str):
    """A law string that was not typed (the type of :data:`DEFAULT_LAW`)."""

    __slots__ = ()


#: The spec's default ``law``: ``laws`` replaces it, but not a law the user gave (even
#: ``"exp:1"``: both given is refused), so the default is this one object.
DEFAULT_LAW = _DefaultLaw("exp:1")

#: Key of :func:`validate`'s result holding the law fields typed as expressions in m and P
#: (field -> the string as typed; ``laws``: a tuple, plain entries as their spec strings).
TYPED_LAWS = "_typed_laws"


def _durations_options(mode: Any, reuse: Any, durations: Any) -> tuple[str, bool]:
    """``durations_mode`` and ``reuse_workers``, checked (both apply only with a file)."""
    mode = _choice("durations_mode", mode, DURATIONS_MODES)
    if not isinstance(reuse, bool):
        raise SpecError(
            f"`reuse_workers` must be true or false; got {shown(reuse)}", param="reuse_workers"
        )
    if durations is None:
        for name, value, default in (
            ("durations_mode", mode, "replay"),
            ("reuse_workers", reuse, False),
        ):
            if value != default:
                raise SpecError(
                    f"`{name}` applies only with `durations` (a measured-durations file); "
                    f"got {shown(value)} without one",
                    param=name,
                )
    return mode, reuse


def validate(spec: Any) -> dict[str, Any]:
    """Check every field of ``spec``; return the normalised values to store.

    Laws are resolved with the spec's ``m`` (``batch_size``) and ``P`` (``num_learners``);
    the strings typed with those symbols are returned under :data:`TYPED_LAWS`.
    """
    g = spec.__getattribute__
    out: dict[str, Any] = {}
    variant = g("variant")
    if variant not in VARIANT_ALIASES + VARIANTS:
        _choice("variant", variant, VARIANT_ALIASES + VARIANTS)
    # a durations file gives the default P (one learner per worker): read it first
    durations = g("durations")
    if durations is not None:
        durations = load_durations(durations)
    p = g("num_learners")
    if p is None:
        p = DEFAULT_LEARNERS if durations is None else durations.measured.num_workers
    p = out["num_learners"] = _count("num_learners", p, maximum=MAX_COUNT)
    k = _count("k", g("k"), optional=True, maximum=MAX_COUNT)
    policy = check_policy(g, variant, p)
    k = policy.pop("k", k)  # a schedule's first K
    try:
        canonical, resolved_k = resolve_variant(variant, p, k)
    except PssimError as err:
        raise SpecError(str(err), param=err.param) from None
    out["k"] = None if variant in VARIANT_ALIASES + IMPLIED_K else k
    # m before the laws: a law may depend on it (``shifted-exp:0.5*m,1``)
    m = out["batch_size"] = _count("batch_size", g("batch_size"), maximum=MAX_BATCH)
    typed: dict[str, Any] = {}  # law fields given as expressions in m and P, as typed
    laws, law = g("laws"), g("law")
    mode, reuse = _durations_options(g("durations_mode"), g("reuse_workers"), durations)
    out["durations"], out["durations_mode"], out["reuse_workers"] = durations, mode, reuse
    if durations is not None:
        for name, value in (("law", law), ("laws", laws)):
            if value is not None and value is not DEFAULT_LAW:
                raise SpecError(
                    f"`durations` and `{name}` must not both be given (the file gives every "
                    "learner's durations); got both",
                    param="durations",
                )
        out["law"] = None  # the learners' laws come from the file (see _spec_durations)
        out["laws"] = check_durations(durations, mode, p, reuse)
    elif laws is not None:
        if law is not None and law is not DEFAULT_LAW:
            raise SpecError("`law` and `laws` must not both be given; got both", param="laws")
        out["law"] = None
        pairs = [_law("laws", x, m, p) for x in _sequence("laws", laws, p)]
        out["laws"] = tuple(law for law, _ in pairs)
        if any(text is not None for _, text in pairs):
            typed["laws"] = tuple(text or law.spec for law, text in pairs)
    else:
        out["law"], typed["law"] = _law("law", law, m, p)
    if g("speeds") is not None:
        out["speeds"] = tuple(
            _real("speeds", s, "> 0") for s in _sequence("speeds", g("speeds"), p)
        )
    for name in ("push_latency", "pull_latency", "service_time", "failure", "repair"):
        out[name], typed[name] = _law(name, g(name), m, p, optional=True)
    out[TYPED_LAWS] = {f: text for f, text in typed.items() if text is not None}
    out.update(check_network(g, out, variant, canonical, p))
    out.update(check_methods(g, canonical))
    out["time_budget"] = _real("time_budget", g("time_budget"), "> 0", optional=True)
    if out["time_budget"] is not None and g("updates") is not None:
        raise SpecError(
            "give `updates` or `time_budget`, not both; got "
            f"{g('updates')!r} updates and a budget of {out['time_budget']!r}",
            param="time_budget",
        )
    out["updates"] = _count(
        "updates", g("updates"), optional=out["time_budget"] is not None, maximum=MAX_COUNT
    )
    out.update(check_policy_run(policy, out["updates"], out["time_budget"]))
    out["seeds"] = _count("seeds", g("seeds"), maximum=MAX_SEEDS)
    try:
        out["seed"] = check_seed("seed", g("seed"))
    except PssimError as err:
        raise SpecError(str(err), param="seed") from None
    if out["seed"] + out["seeds"] - 1 > MAX_SEED:
        raise SpecError(
            f"`seeds` must keep every seed below 2**63 (seed + seeds - 1 <= {MAX_SEED}); "
            f"got seed {out['seed']} and {out['seeds']} seeds",
            param="seeds",
        )
    out["model"] = _choice("model", g("model"), MODEL_NAMES)
    out["data"] = _data(g("data"))
    out["rule"] = _choice("rule", g("rule"), RULES)
    if variant == "k-avg" and out["rule"] != "fixed":
        raise SpecError(
            f"`rule` must be fixed for k-avg (local SGD steps); got {out['rule']!r}", param="rule"
        )
    # rates may be expressions in K, m and P: resolved for this configuration
    env, rates = {"K": resolved_k, "m": m, "P": p}, {}
    out["lr"] = _rate("lr", g("lr"), "> 0", env, rates)
    out["lr_c"] = _rate("lr_c", g("lr_c"), "> 0", env, rates)
    if out["lr_c"] is not None and out["rule"] != "compensated":
        raise SpecError(
            f"`lr_c` applies to the compensated rule only; got rule {out['rule']!r}",
            param="lr_c",
        )
    dc_lambda = _rate("dc_lambda", g("dc_lambda"), ">= 0", env, rates)
    out.update(check_rule_fields(lambda name: dc_lambda, out["rule"]))
    out[TYPED_RATES] = rates
    refuse_rates_in_k(rates, out["k_policy"], variant)
    out["l2"] = _real("l2", g("l2"), ">= 0")
    out["eval_every"] = _count("eval_every", g("eval_every"), optional=True)
    if out["eval_every"] is not None and out["eval_every"] > (out["updates"] or math.inf):
        raise SpecError(
            f"`eval_every` must be <= updates ({out['updates']}); got {out['eval_every']}",
            param="eval_every",
        )
    out["lr_schedule"] = check_schedule(g("lr_schedule"))

    out["dtype"] = _choice("dtype", g("dtype"), DTYPES)
    out["divergence_factor"] = _real("divergence_factor", g("divergence_factor"), "> 1")
    if not isinstance(g("diagnostics"), bool):
        raise SpecError(
            f"`diagnostics` must be true or false; got {shown(g('diagnostics'))}",
            param="diagnostics",
        )
    return out
