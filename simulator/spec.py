"""The experiment spec: one frozen, validated description of a run, timing and training.

An :class:`ExperimentSpec` is built once (from keyword arguments, CLI options or a TOML
file), validated on construction, and trusted by every layer below. Its defaults are the
defaults of the API and of the CLI (``pssim COMMAND --help`` shows them). It round-trips
through a plain dict, JSON and TOML, and :meth:`ExperimentSpec.digest` is a stable hash of
its canonical form (the key of results in a sweep store).

A run is J server updates (``updates``, 1000 by default) or every update within a
simulated-time budget (``time_budget``), never both. ``time_budget`` is left out of the
dict, JSON, TOML and digest of a spec without one, so those of budget-less specs are what
they were before the field existed.

A spec bounds its sizes that need no run to check (seeds, the mini-batch); the memory a
run will allocate is checked where something runs, for the engine that runs it (see
:mod:`simulator.timing._memory`), so a spec for the theory alone is never refused for it.

Example:
    >>> spec = ExperimentSpec(variant="k-async", num_learners=8, k=2, law="pareto:2,1")
    >>> ExperimentSpec.from_toml(spec.to_toml()) == spec
    True
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from simulator import _spec_checks as checks
from simulator._availability_file import AvailabilityFile
from simulator._checks import resolve_variant
from simulator._files import read_text_file
from simulator._spec_durations import DurationsFile
from simulator._spec_methods import METHOD_DEFAULTS
from simulator._spec_network import NETWORK_DEFAULTS, model_transfer_bytes, replace_faults
from simulator._spec_policy import POLICY_DEFAULTS
from simulator._spec_rates import RATE_DEFAULTS, TYPED_RATES
from simulator._spec_toml import read_json, read_toml, write_toml
from simulator.errors import PssimTypeError, SpecError, shown

if TYPE_CHECKING:
    from simulator.measured import MeasuredDurations

__all__ = [
    "COMMAND_DEFAULTS",
    "TIMING_FIELDS",
    "TRAINING_FIELDS",
    "ExperimentSpec",
    "load_spec",
]

TIMING_FIELDS = checks.TIMING_FIELDS
TRAINING_FIELDS = checks.TRAINING_FIELDS
_LAW_FIELDS = ("law", "push_latency", "pull_latency", "service_time", "failure", "repair")
#: Fields written only with a durations file (so other specs keep their form and digest),
#: with their defaults.
_DURATIONS_FIELDS = {"durations": None, "durations_mode": "replay", "reuse_workers": False}
#: Opt-in fields with the value that leaves them out of the dict (and the digest).
_OPT_IN = {**NETWORK_DEFAULTS, **METHOD_DEFAULTS, **POLICY_DEFAULTS, **RATE_DEFAULTS}
#: J of a spec that gives neither ``updates`` nor ``time_budget``.
DEFAULT_UPDATES = 1000

#: Defaults that differ by command (the rest are the field defaults of ExperimentSpec).
#: ``compare`` runs the paper's figure 8 setting; ``train`` a shorter single run.
COMMAND_DEFAULTS: dict[str, dict[str, Any]] = {
    "runtime": {},
    "theory": {},
    "train": {"updates": 2000, "seeds": 5},
    "compare": {"variant": "k-async", "k": 4, "updates": 20000, "seeds": 5},
    "bounds": {"updates": 20000},
}


@dataclasses.dataclass(frozen=True, eq=False)
class ExperimentSpec:
    """A validated experiment: timing (variant, P, K, laws, communication, faults, slowdowns,
    network, J or a time budget, seeds) and training (model, data, rule, m, l2, evaluation,
    dtype, divergence).

    Attributes:
        variant: ``sync``, ``async``, ``k-sync``, ``k-batch-sync``, ``k-async``,
            ``k-batch-async``, ``k-avg`` (kept as named: outputs say ``sync``/``async``) or
            ``all-reduce`` (synchronous SGD whose gradients are averaged by a ring
            all-reduce among the learners: no server, K = P).
        num_learners: P >= 1; default 8, or one learner per worker of ``durations``.
        k: K (1 <= K <= P; local steps for ``k-avg``); None for ``sync``/``async``/
            ``all-reduce``.
        law: compute time of one mini-batch (a law; spec strings such as ``"exp:1"`` and
            frozen scipy.stats laws are converted); None when ``laws`` is given. A spec
            string's values may be expressions in ``m`` (``batch_size``) and ``P``
            (``num_learners``), e.g. ``"shifted-exp:0.5*m,1"``: the field holds the law
            resolved with this spec's m and P, the spec keeps the string as typed (its
            dict, TOML and digest; see :attr:`law_expressions`). So do the other laws.
        laws: one law per learner (heterogeneous learners), or None. With ``durations``
            it holds the empirical law of each learner's worker (derived from the file,
            never written: the file is).
        speeds: (P,) positive factors, learner l's durations divided by ``speeds[l]``
            (measured ones too: a what-if of faster or slower workers).
        durations: measured per-worker durations instead of ``law``/``laws``: a CSV or
            Parquet table (columns ``worker``, ``step``, ``duration``, optional
            ``censored``; see :mod:`simulator.measured`) or ``llm-se``, the measured
            64-GPU cluster shipped with pssim. Kept as typed (dict, TOML); the digest and
            equality use the SHA-256 of the file's bytes, so moving the file changes
            nothing. A relative path is read from the working directory, or from the
            folder of the config or sweep file that gives it (:func:`load_spec`).
        durations_mode: ``replay`` (default: learner l runs worker l's measured durations
            in step order, its n-th task taking the worker's n-th row, from the first row
            again after the last; censored rows at their recorded value, a lower bound) or
            ``resample`` (learner l draws i.i.d. from worker l's durations; censored rows
            are refused). Workers are taken in sorted order of their ids.
        reuse_workers: allow P larger than the number of workers W: learner l then takes
            worker ``l mod W``. Without it such a P is refused.
        push_latency, pull_latency: laws of the push and pull times, or None (zero).
        service_time: law of the server's time per update (updates queue), or None.
        failure, repair, availability, deadline, slowdown, slowdown_shared, model_bytes,
            bandwidth, server_bandwidth, servers: faults (failure and repair laws, or an
            availability file of down periods kept and identified like ``durations``), a
            round deadline, Markov-modulated slowdowns ``(rate_in, rate_out, factor)``, and
            the network (bytes of a transfer, learner and server links in bytes per time
            unit, server shards); all off by default (see :mod:`simulator._spec_network`).
        staleness_limit: R >= 1 of ``ringmaster`` (a gradient whose staleness is >= R is
            discarded), required with it; or ``"auto"`` / ``"auto:EPS"``, the paper's
            R = max(1, ceil(sigma^2 / EPS)), kept as typed and resolved where a model is
            trained (see :mod:`simulator._staleness_auto`); other variants ignore it (a
            template of several variants may carry it); None otherwise.
        k_policy, k_schedule, k_every: a K that changes during training (K-variants):
            ``"schedule"`` with ``k_schedule`` ``"UPDATE:K,..."``, ``"loss"`` (AdaSync) or
            ``"theory"`` (Lemma 2) deciding every ``k_every`` updates; ``k`` is K_0 (see
            :mod:`simulator._spec_policy`). None: K fixed.
        updates: J >= 1 server updates per run; 1000 when neither it nor ``time_budget``
            is given, None with a ``time_budget``.
        time_budget: T > 0 in simulated time units: a run is every update at a time <= T
            (instead of J updates); None: J updates. Give ``updates`` or ``time_budget``,
            not both; :meth:`replace` with one drops the other.
        seeds: 1 <= S <= 10**6 replicate seeds ``seed, ..., seed + S - 1`` (all in
            [0, 2**63)).
        seed: the base seed.
        model: ``softmax``, ``least-squares``, ``mlp`` or ``cnn``.
        data: a dataset spec (``digits``, ``mnist:DIR``, ``synthetic:classes``, ...).
        rule: server rule, ``fixed``, ``compensated`` (eq. 13), ``damped``, ``dc-asgd``
            (delay-compensated, Zheng et al. 2017) or ``staleness-weight`` (each
            contribution weighted by 1 / sqrt(1 + staleness), FedBuff).
        lr: learning rate (eta_max of the compensated rule): a number, or an expression in
            ``K`` (the variant's resolved K), ``m`` and ``P`` such as ``"0.01*K"`` or
            ``"0.05*sqrt(m)"``: the field holds the rate resolved for this spec, the spec
            keeps the string as typed (see :attr:`rate_expressions`). So may ``lr_c`` and
            ``dc_lambda``.
        lr_c: C of the compensated rule, eq. (13); None: 0.005 * lr.
        dc_lambda: lambda >= 0 of the dc-asgd rule; None: 0.04 (refused with other rules).
        lr_schedule: None (a constant rate), or update j's rate is ``lr`` times a factor:
            ``step:FACTOR,EVERY``, ``cosine[:ALPHA]`` (over the run's J updates),
            ``warmup:N`` or ``warmup:N+cosine[:ALPHA]`` (see :mod:`simulator._spec_rates`).
        batch_size: 1 <= m <= 2**24, samples per mini-batch (training also needs m <= the
            number of training examples, checked where the data is loaded).
        l2: L2 regulariser lambda >= 0.
        eval_every: updates between evaluations; None: about J / 100.
        dtype: ``float32`` or ``float64``.
        divergence_factor: a seed whose loss exceeds this multiple of its initial loss
            (or is not finite) is marked diverged and leaves the means; > 1.
    """

    variant: str = "async"
    num_learners: int | None = None
    k: int | None = None
    law: Any = checks.DEFAULT_LAW
    laws: tuple | None = None
    speeds: tuple[float, ...] | None = None
    durations: str | os.PathLike | None = None
    durations_mode: str = "replay"
    reuse_workers: bool = False
    push_latency: Any = None
    pull_latency: Any = None
    service_time: Any = None
    failure: Any = None
    repair: Any = None
    availability: str | os.PathLike | None = None
    deadline: float | None = None
    slowdown: tuple[float, float, float] | None = None
    slowdown_shared: bool = False
    model_bytes: int | None = None
    bandwidth: float | tuple[float, ...] | None = None
    server_bandwidth: float | None = None
    servers: int = 1
    staleness_limit: int | str | None = None
    k_policy: str | None = None
    k_schedule: str | None = None
    k_every: int | None = None
    updates: int | None = None
    time_budget: float | None = None
    seeds: int = 10
    seed: int = 0
    model: str = "softmax"
    data: str = "digits"
    rule: str = "fixed"
    lr: float | str = 0.01
    lr_c: float | str | None = None
    dc_lambda: float | str | None = None
    lr_schedule: str | None = None
    batch_size: int = 1
    l2: float = 0.01
    eval_every: int | None = None
    dtype: str = "float32"
    divergence_factor: float = 100.0
    diagnostics: bool = False

    def __post_init__(self) -> None:
        if self.updates is None and self.time_budget is None:
            object.__setattr__(self, "updates", DEFAULT_UPDATES)
        for name, value in checks.validate(self).items():
            object.__setattr__(self, name, value)  # and the private typed laws, rates

    # -- derived -----------------------------------------------------------------------
    @property
    def canonical(self) -> tuple[str, int]:
        """(canonical variant, K): ``sync`` is (``k-sync``, P), ``async`` (``k-async``, 1)."""
        return resolve_variant(self.variant, self.num_learners, self.k)

    @property
    def seed_list(self) -> list[int]:
        """The replicate seeds ``seed, ..., seed + seeds - 1``."""
        return list(range(self.seed, self.seed + self.seeds))

    @property
    def heterogeneous(self) -> bool:
        """True with per-learner laws, speeds or measured durations (the closed forms
        assume i.i.d. learners)."""
        return self.laws is not None or self.speeds is not None

    @property
    def measured(self) -> MeasuredDurations | None:
        """The table of :attr:`durations` as read (workers sorted, rows by step; its
        ``sha256`` is the spec's identity for it), or None without durations."""
        return None if self.durations is None else self.durations.measured

    @property
    def law_expressions(self) -> dict[str, Any]:
        """The law fields given as expressions in ``m`` and ``P``, as typed (field ->
        string; ``laws`` -> a tuple with the plain entries as spec strings). The fields
        themselves hold the laws resolved with this spec's ``batch_size`` and
        ``num_learners``; ``to_dict`` and the digest keep the typed strings.

        Example:
            >>> spec = ExperimentSpec(law="shifted-exp:0.5*m,1", batch_size=4)
            >>> spec.law_expressions, spec.law.spec
            ({'law': 'shifted-exp:0.5*m,1'}, 'shifted-exp:2.0,1.0')
        """
        return dict(getattr(self, checks.TYPED_LAWS))

    @property
    def rate_expressions(self) -> dict[str, str]:
        """``lr``, ``lr_c`` and ``dc_lambda`` given as expressions in ``K``, ``m`` and ``P``,
        as typed (field -> string); the fields hold them resolved for this spec.

        Example:
            >>> spec = ExperimentSpec(variant="k-sync", k=4, lr="0.01*K")
            >>> spec.rate_expressions, spec.lr
            ({'lr': '0.01*K'}, 0.04)
        """
        return dict(getattr(self, TYPED_RATES))

    @property
    def communication(self) -> bool:
        """True with a push/pull latency, a server service time, or any faults, slowdown,
        deadline or network field (the closed forms and fast paths assume none)."""
        return any(getattr(self, n) is not None for n in _LAW_FIELDS[1:4]) or any(
            getattr(self, n) != default for n, default in NETWORK_DEFAULTS.items()
        )

    @property
    def faults(self) -> bool:
        """True with failures and repairs or an availability file."""
        return self.failure is not None or self.availability is not None

    @property
    def network(self) -> bool:
        """True with a learner or server bandwidth, or more than one server shard."""
        return self.bandwidth is not None or self.server_bandwidth is not None or self.servers > 1

    @property
    def transfer_bytes(self) -> int:
        """Bytes of one push or pull: ``model_bytes``, else the parameter count of ``model``
        on ``data`` times the bytes of ``dtype`` (cached; no JAX): 2600 for softmax on
        ``digits`` in float32, (64 + 1) x 10 parameters."""
        if self.model_bytes is not None:
            return self.model_bytes
        return model_transfer_bytes(self.model, self.data, self.dtype)

    def replace(self, **changes: Any) -> ExperimentSpec:
        """A new, validated spec with some fields changed.

        Laws and rates typed as expressions are kept as typed and resolved again
        (``spec.replace(batch_size=16)`` follows ``shifted-exp:0.5*m,1``,
        ``spec.replace(k=8)`` follows ``lr="0.01*K"``). ``updates`` and
        ``time_budget`` are alternatives: giving one (not None) drops the
        other unless both are given (which is refused). So are ``law``/``laws`` and
        ``durations``: ``spec.replace(laws=[...])`` of a spec with durations drops the
        file (and its mode), ``spec.replace(durations="cluster.csv")`` drops the law; and
        failure/repair and ``availability`` (``failure=None`` drops the repair law too).
        The file of a spec with durations is not read again.
        """
        unknown = sorted(set(changes) - set(TIMING_FIELDS + TRAINING_FIELDS))
        if unknown:
            raise SpecError(f"`{unknown[0]}` is not a spec field", param=unknown[0])
        for one, other in (("time_budget", "updates"), ("updates", "time_budget")):
            if changes.get(one) is not None and other not in changes:
                changes[other] = None
        self._replace_durations(changes)
        replace_faults(changes)
        for name, text in self.law_expressions.items():  # re-resolved with the new m, P
            if {"law": "laws", "laws": "law"}.get(name) not in changes:  # not replaced
                changes.setdefault(name, text)
        for name, text in self.rate_expressions.items():
            changes.setdefault(name, text)
        return dataclasses.replace(self, **changes)

    def _replace_durations(self, changes: dict[str, Any]) -> None:
        """Make ``durations`` and the laws alternatives in ``changes`` (see :meth:`replace`)."""
        if self.durations is not None and "durations" not in changes:
            if changes.get("law") is not None or changes.get("laws") is not None:
                changes["durations"] = None  # a law replaces the file
            else:
                changes.setdefault("laws", None)  # derived from the file: derived again
        if changes.get("durations") is not None:
            changes.setdefault("law", None)
            changes.setdefault("laws", None)
        elif "durations" in changes and self.durations is not None:
            changes.setdefault("law", checks.DEFAULT_LAW)
            changes.setdefault("laws", None)  # the file's, not the user's
            changes.setdefault("durations_mode", _DURATIONS_FIELDS["durations_mode"])
            changes.setdefault("reuse_workers", _DURATIONS_FIELDS["reuse_workers"])

    # -- serialisation -----------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """Plain, JSON-ready dict of every field (laws as spec strings, tuples as lists);
        ``time_budget``, ``diagnostics``, the durations fields and the faults, slowdown and
        network fields only when set (so specs without them keep their canonical form and
        digest).
        A law or rate typed as an expression is written as typed (see
        :attr:`law_expressions`, :attr:`rate_expressions`); the other laws as their
        canonical spec strings. The durations file is written as typed, and ``laws``
        (derived from it) as None."""
        out: dict[str, Any] = {}
        typed = {**getattr(self, checks.TYPED_LAWS), **getattr(self, TYPED_RATES)}
        for f in TIMING_FIELDS + TRAINING_FIELDS:
            value = getattr(self, f)
            if (f == "time_budget" and value is None) or (f == "diagnostics" and not value):
                continue
            if f in _DURATIONS_FIELDS and self.durations is None:
                continue
            if f in _OPT_IN and value == _OPT_IN[f]:
                continue
            if f in ("durations", "availability"):
                value = str(value)
            elif f == "laws" and self.durations is not None:
                value = None
            elif f in typed:
                value = list(typed[f]) if f == "laws" else typed[f]
            elif f in _LAW_FIELDS and value is not None:
                value = value.spec
            elif f == "laws" and value is not None:
                value = [law.spec for law in value]
            elif isinstance(value, tuple):
                value = list(value)
            out[f] = value
        return out

    def to_json(self) -> str:
        """Canonical JSON (sorted keys)."""
        return canonical_json(self.to_dict())

    def digest(self) -> str:
        """Stable 16-hex-digit hash of the canonical JSON form (a durations file by the
        SHA-256 of its bytes, not by its path)."""
        return self._digest

    def identity(self) -> dict[str, Any]:
        """:meth:`to_dict` with a durations or availability file as ``sha256:HEX`` of its
        bytes instead of its path: what :meth:`digest` and equality compare."""
        out = self.to_dict()
        if self.durations is not None:
            out["durations"] = "sha256:" + self.measured.sha256
        if self.availability is not None:
            out["availability"] = "sha256:" + self.availability.sha256
        return out

    @functools.cached_property
    def _identity_json(self) -> str:  # computed once: the spec is frozen
        return canonical_json(self.identity())

    @functools.cached_property
    def _digest(self) -> str:  # computed once: the spec is frozen (sweeps ask it often)
        return digest_of(self.identity())

    def to_toml(
        self, *, variants: Sequence[str] | None = None, extra: dict[str, Any] | None = None
    ) -> str:
        """TOML text with ``[timing]`` and ``[training]`` tables, keyed by the CLI's long
        option names (a file ``pssim COMMAND --config`` reads back). None is omitted.

        With ``variants`` the file is a ``pssim compare`` config: it lists them instead
        of the single ``variant``; ``extra`` adds command options (e.g. ``target``) to the
        ``[training]`` table. A durations or availability file typed as a relative path is
        written as the absolute path of the file read, so the TOML reruns the same run from
        any folder.
        """
        d = self.to_dict()
        if self.durations is not None and not self.durations.shipped:
            d["durations"] = str(self.durations.path.absolute())
        if self.availability is not None:
            d["availability"] = str(self.availability.path.absolute())
        timing = {checks.TOML_KEY[f]: d.get(f) for f in TIMING_FIELDS}
        if variants is not None:
            del timing["variant"]
            timing = {"variants": list(variants), **timing}
        tables = {
            "timing": timing,
            "training": {
                **{checks.TOML_KEY[f]: d.get(f) for f in TRAINING_FIELDS},
                **(extra or {}),
            },
        }
        return write_toml(tables)

    @classmethod
    def from_dict(cls, data: dict[str, Any], *, source: str = "spec") -> ExperimentSpec:
        """A spec from a flat dict or one with ``timing``/``training`` tables; keys are the
        Python field names or the CLI's long option names (dashes or underscores)."""
        return cls(**checks.normalise_keys(data, source=source, allowed=()))

    @classmethod
    def from_json(cls, text: str) -> ExperimentSpec:
        return cls.from_dict(read_json(text), source="JSON")

    @classmethod
    def from_toml(cls, text: str) -> ExperimentSpec:
        return cls.from_dict(read_toml(text, source="TOML"), source="TOML")

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ExperimentSpec):
            return NotImplemented
        return self._identity_json == other._identity_json

    def __hash__(self) -> int:
        return hash(self._identity_json)

    def __repr__(self) -> str:
        d, default = self.to_dict(), {**_DURATIONS_FIELDS, **_default_dict()}
        shown = [
            f
            for f in d
            if f in ("variant", "num_learners")
            or (
                d[f] != default.get(f)
                and not (f == "updates" and d[f] is None)
                and not (f == "law" and self.durations is not None)
            )
        ]
        return "ExperimentSpec(" + ", ".join(f"{f}={d[f]!r}" for f in shown) + ")"


def canonical_json(data: dict[str, Any]) -> str:
    """JSON with sorted keys and no spaces: the form specs and experiments are hashed in."""
    return json.dumps(data, sort_keys=True, separators=(",", ":"))


def digest_of(data: dict[str, Any]) -> str:
    """Stable 16-hex-digit SHA-256 of :func:`canonical_json` (keys results in stores)."""
    return hashlib.sha256(canonical_json(data).encode()).hexdigest()[:16]


#: Evaluation points (besides the initial one) of a run whose ``eval_every`` is None.
DEFAULT_EVALS = 100


def default_eval_every(updates: int) -> int:
    """``eval_every`` of a run of ``updates`` updates that gives none: about J / 100."""
    return max(1, math.ceil(updates / DEFAULT_EVALS))


@functools.cache
def _default_dict() -> dict[str, Any]:
    return ExperimentSpec().to_dict()


def read_toml_text(path: Path) -> str:
    """The text of a TOML file (a regular UTF-8 file of at most 1 MiB); anything else is one
    SpecError line (``param`` is ``path``)."""
    return read_text_file(path, param="path", kind="TOML file")


def read_spec_file(path: str | os.PathLike, *, allowed: Sequence[str] = ()) -> dict[str, Any]:
    """The settings of a TOML file by field name (keys in ``allowed`` kept as named).

    Raises:
        SpecError: an unreadable file (``param`` is ``path``), invalid TOML, or a key that
            is not a setting.
    """
    if isinstance(path, bytes) or not isinstance(path, (str, os.PathLike)):
        raise PssimTypeError(
            f"`path` must be a path (str or os.PathLike); got {shown(path)}", param="path"
        )
    path = Path(path)
    text = read_toml_text(path)
    settings = checks.normalise_keys(
        read_toml(text, source=path.name), source=path.name, allowed=allowed
    )
    if isinstance(settings.get("durations"), str):  # a relative path: from the file's folder
        settings["durations"] = DurationsFile(settings["durations"], path.absolute().parent)
    if isinstance(settings.get("availability"), str):  # so is an availability file
        settings["availability"] = AvailabilityFile(
            settings["availability"], path.absolute().parent
        )
    return settings


def load_spec(path: str | os.PathLike, **overrides: Any) -> ExperimentSpec:
    """Read a TOML experiment file (keys as in :meth:`ExperimentSpec.from_dict`); keyword
    arguments override its values.

    Example:
        >>> spec = load_spec("experiment.toml", seeds=2)  # doctest: +SKIP
    """
    return ExperimentSpec(**{**read_spec_file(path), **overrides})
