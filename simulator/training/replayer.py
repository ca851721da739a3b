"""Replay: real training along a simulated schedule, as one jitted ``lax.scan``.

A :class:`~simulator.trace.Trace` says, for every server update, which learners contributed
and which model version each read. :func:`replay` trains a model along it: stale reads come
from one model copy per learner (memory O(depth * P * |w|), whatever the staleness tail),
all contributions of an update are one vmapped gradient call, mini-batches are drawn with
``jax.random`` keyed by (seed, update, slot), and replicate seeds run one after another
through one compiled scan, so a seed's curve never depends on its group (or, on request,
vmapped as one batched scan, which accelerators favour). The loss (and
accuracy where the model has one) is recorded every ``eval_every`` updates on the dataset's
evaluation set, together with the simulated time, so error-vs-time curves come out directly.
A learning-rate schedule scales the rule's rate of each update (see
:mod:`simulator.training._schedules`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import numbers
from collections.abc import Sequence
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from simulator._checks import check_batch_rows, check_integer
from simulator._spec_checks import DTYPES
from simulator._spec_rates import check_schedule
from simulator.errors import PssimError, PssimTypeError, shown
from simulator.spec import ExperimentSpec, default_eval_every
from simulator.trace import Trace
from simulator.training._cache import enable_compile_cache
from simulator.training._diagnostics import (
    DIAGNOSTIC_NAMES,
    PROBE_NORM,
    Diagnostics,
    as_diagnostics,
    diagnostic_data,
    fresh_shares,
    p0_estimate,
    running_ratio,
)
from simulator.training._keys import MAX_INDEX, check_index, check_key, root_key
from simulator.training._replay_checks import (
    check_f_star,
    check_factor,
    check_fit,
    check_model,
    check_rule,
    device_data,
)
from simulator.training._scan import (
    SEEDS_MODES,
    Spec,
    Static,
    run,
    sample_indices,
    submit,
    trace_count,
)
from simulator.training._schedules import check_scheduled_rule, lr_factors
from simulator.training._stack import as_trace_list, stack_traces
from simulator.training.rules import ServerRule

__all__ = [
    "DIAGNOSTIC_NAMES",
    "Diagnostics",
    "ReplayResult",
    "compile_count",
    "compile_replay",
    "minibatch_indices",
    "replay",
    "replay_keys",
]

#: Default divergence threshold, a multiple of the initial loss (the spec's default).
DIVERGENCE_FACTOR = ExperimentSpec.divergence_factor


@dataclasses.dataclass(frozen=True, eq=False)
class ReplayResult:
    """Loss curves of S replicate seeds of one configuration.

    Attributes:
        eval_update: (E,) int, number of applied updates at each evaluation point (0 is the
            initial model, the last is U).
        eval_time: (S, E) float, simulated time of the last applied update (0 at update 0).
        loss: (S, E) float, loss on the evaluation set; after a divergence NaN (the loss
            that crossed the threshold, when finite, is kept at ``diverged_at``).
        accuracy: (S, E) float or None (models without accuracy).
        diverged_at: (S,) int, the update count after which the model was first found
            non-finite (-1 if never).
        seeds: (S,) int, the traces' seeds.
        variant: the traces' variant.
        k: K (local steps for ``k-avg``).
        num_learners: P.
        batch_size: m.
        rule: the server rule's name.
        f_star: F*, the optimal loss on the evaluation set (None when unknown).
        diagnostics: None, or (when the replay was asked for them) a dict of (S, E) float
            curves named by :data:`DIAGNOSTIC_NAMES` (NaN where undefined: at update 0 for
            the per-window ones, after a divergence):

            - ``grad_norm2``: ``||grad F(w)||^2`` on the diagnostic rows;
            - ``diversity``: gradient diversity ``Delta(w)`` on the diversity rows;
            - ``staleness_gap``: ``max_l ||grad F(w_j) - grad F(w_tau(l,j))||^2`` at the
              window's last update j, ``gap_ratio`` the same over ``||grad F(w_j)||^2``, and
              ``gamma`` the sum of the gaps so far over the sum of their
              ``||grad F(w_j)||^2`` (Theorem 3's gamma, a ratio of expectations, estimated);
            - ``read_grad_ratio``: the mean over that update's contributions of
              ``||grad F(w_tau(l,j))||^2 / ||grad F(w_j)||^2`` (Lemma 1: >= p0 in
              expectation);
            - ``stale_dist2`` and ``lr_applied``: ``||w_j - w_tau(l,j)||^2`` and the rate the
              rule applied, averaged over the window's contributions (eq. 13; ``lr_applied``
              is NaN for optax rules);
            - ``fresh_share``: the share of the window's contributions that read the current
              model, ``fresh_updates`` the share of its updates with only fresh reads;
            - ``hessian_top``: the top eigenvalue of the Hessian of F on the diagnostic rows
              (Lanczos on Hessian-vector products: 20 at w0, then 4 per point warm-started
              from the previous point's eigenvector; a lower estimate), and
              ``hessian_top_max`` its running maximum, the smoothness L seen along the
              path (see ``constants.with_path_smoothness``).
        p0: None, or (S,) each seed's estimate of Lemma 8's
            ``p0 = inf_j P(tau(l,j) = j | past)``: the smallest fresh-read share over bins
            of the age of the oldest computation in flight
            (:func:`~simulator.training._diagnostics.p0_estimate`, consistent; 1/P for
            exponential laws).
    """

    eval_update: np.ndarray
    eval_time: np.ndarray
    loss: np.ndarray
    accuracy: np.ndarray | None
    diverged_at: np.ndarray
    seeds: np.ndarray
    variant: str
    k: int
    num_learners: int
    batch_size: int
    rule: str
    f_star: float | None = None
    diagnostics: dict[str, np.ndarray] | None = None
    p0: np.ndarray | None = None

    @property
    def error(self) -> np.ndarray:
        """(S, E) ``loss - F*`` (the paper's error); NaN everywhere when F* is unknown."""
        return self.loss - (np.nan if self.f_star is None else self.f_star)

    @property
    def diverged(self) -> np.ndarray:
        """(S,) bool, True for seeds that diverged."""
        return self.diverged_at >= 0


def compile_count() -> int:
    """Number of times the replay scan has been traced for compilation in this process.

    A second :func:`replay` with the same model, rule type, shapes, dtype and
    ``eval_every`` reuses the compiled scan and leaves this number unchanged.

    Example:
        >>> n = compile_count()
        >>> _ = replay(trace, model, data, batch_size=1, rule=FixedRate(0.1))  # doctest: +SKIP
        >>> _ = replay(trace, model, data, batch_size=1, rule=FixedRate(0.2))  # doctest: +SKIP
        >>> compile_count() - n  # doctest: +SKIP
        1
    """
    return trace_count()


def replay_keys(seed: int, key: int | jax.Array | None = None) -> tuple[jax.Array, jax.Array]:
    """The JAX keys of one seed: ``(init_key, data_key)``.

    The root key is ``jax.random.key(seed)`` (or ``fold_in(key, seed)`` when a base ``key``
    is given, an int or a JAX key); it is split into the model-initialisation key and the
    mini-batch key, so variants replayed on the same seed start from the same w0. Seeds of
    2**32 and more fold in their higher 32-bit words (the same key with or without x64).

    Example:
        >>> init_key, data_key = replay_keys(7)
        >>> params = model.init(init_key)  # the w0 of every replay of seed 7  # doctest: +SKIP
    """
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral):
        odd = isinstance(seed, (str, float, type(None)))
        got = shown(seed) if odd else type(seed).__name__
        raise PssimTypeError(f"`seed` must be an integer; got {got}", param="seed")
    root = root_key(seed, check_key(key))
    init_key, data_key = jax.random.split(root)
    return init_key, data_key


def minibatch_indices(
    data_key: jax.Array,
    update: int | jax.Array,
    slot: int | jax.Array,
    *,
    num_examples: int,
    batch_size: int,
    local_step: int | jax.Array = 0,
) -> jax.Array:
    """Training rows of the mini-batch of ``(update, slot, local_step)``, as replayed.

    Traceable (usable inside ``jax.jit``). ``data_key`` comes from :func:`replay_keys`.

    Returns:
        (batch_size,) int32 indices, uniform with replacement in [0, num_examples).

    Example:
        >>> _, data_key = replay_keys(7)
        >>> minibatch_indices(data_key, 3, 0, num_examples=100, batch_size=4).shape
        (4,)
    """
    check_key(data_key, name="data_key", integer=False)
    for name, value in (("update", update), ("slot", slot), ("local_step", local_step)):
        check_index(name, value)
    num_examples = check_integer("num_examples", num_examples)
    batch_size = check_integer("batch_size", batch_size)
    if num_examples > MAX_INDEX or batch_size > MAX_INDEX:
        name = "num_examples" if num_examples > MAX_INDEX else "batch_size"
        raise PssimError(
            f"`{name}` must be <= {MAX_INDEX} (int32 row indices); got {shown(locals()[name])}",
            param=name,
        )
    return sample_indices(
        data_key, update, slot, local_step, num_examples=num_examples, batch_size=batch_size
    )


class _Prepared(NamedTuple):
    """A replay's checked arguments and scan inputs (``run_args``: :func:`_scan.run`'s)."""

    stacked: Any
    options: Diagnostics | None
    first: Trace
    batch_size: int
    run_args: tuple


def _precision(dtype: str) -> Any:
    """float64 enabled for a ``float64`` replay (inside the context only)."""
    return jax.enable_x64(True) if dtype == "float64" else contextlib.nullcontext()


def _prepare(
    traces,
    model,
    dataset,
    batch_size,
    rule,
    eval_every,
    dtype,
    key,
    divergence_factor,
    seeds_mode,
    diagnostics,
    f_star=None,
    lr_schedule=None,
) -> _Prepared:
    """Checks :func:`replay`'s arguments and builds its scan inputs."""
    items = as_trace_list(traces)
    key = check_key(key)
    first = items[0]
    batch_size = check_integer("batch_size", batch_size)
    check_batch_rows(dataset, batch_size)
    if eval_every is None:
        eval_every = default_eval_every(first.num_updates)
    # a period beyond the run evaluates only at its end, as a period of U updates does
    eval_every = min(check_integer("eval_every", eval_every), max(first.num_updates, 1))
    if not isinstance(dtype, str) or dtype not in DTYPES:
        raise PssimError(
            f"`dtype` must be one of {', '.join(DTYPES)}; got {shown(dtype)}", param="dtype"
        )
    check_model(model)
    check_rule(rule, first.variant)
    check_f_star(f_star)
    divergence_factor = check_factor(divergence_factor)
    if not isinstance(seeds_mode, str) or seeds_mode not in SEEDS_MODES:
        raise PssimError(
            f"`seeds_mode` must be one of {', '.join(SEEDS_MODES)}; got {shown(seeds_mode)}",
            param="seeds_mode",
        )
    options = as_diagnostics(diagnostics)
    if lr_schedule is not None:
        lr_schedule = check_schedule(lr_schedule)
        check_scheduled_rule(rule)
    stacked = stack_traces(items, eval_every, batch_size, pad_first=options is not None)
    spec = Spec(
        model=Static(model),
        batch_size=batch_size,
        num_copies=stacked.num_copies,
        local_steps=first.local_steps if first.variant == "k-avg" else 1,
        kavg=first.variant == "k-avg",
        dtype=dtype,
        diagnostics=options is not None,
        scheduled=lr_schedule is not None,
    )
    enable_compile_cache()
    with _precision(dtype):
        data = device_data(dataset, dtype)
        check_fit(model, data)
        if options is not None:
            data += diagnostic_data(options, data[2], data[3])
        keys = jnp.stack([root_key(s, key) for s in stacked.seeds])
        rows = stacked.rows
        if lr_schedule is not None:  # f(j) of every row, over the traces' U updates
            factors = lr_factors(lr_schedule, rows["j"], first.num_updates, dtype)
            rows = {**rows, "lr_factor": factors}
    run_args = (spec, rule, keys, rows, data, divergence_factor, seeds_mode)
    return _Prepared(stacked, options, first, batch_size, run_args)


def compile_replay(
    traces: Trace | Sequence[Trace],
    model: Any,
    dataset: Any,
    *,
    batch_size: int,
    rule: ServerRule,
    eval_every: int | None = None,
    dtype: str = "float32",
    key: int | jax.Array | None = None,
    divergence_factor: float = DIVERGENCE_FACTOR,
    seeds_mode: str = "auto",
    diagnostics: bool | Diagnostics = False,
    lr_schedule: str | None = None,
) -> None:
    """Starts compiling, in a worker thread, the scan a :func:`replay` with the same
    arguments will run, and returns at once (the replay then waits for it, or finds it done).

    A caller that knows several replays in advance (a comparison's variants) compiles them
    while it simulates or replays the others. Arguments are checked as :func:`replay` checks
    them (raising the same errors); nothing runs.

    Example:
        >>> compile_replay(traces, model, data, batch_size=1, rule=rule)  # doctest: +SKIP
        >>> result = replay(traces, model, data, batch_size=1, rule=rule)  # doctest: +SKIP
    """
    prep = _prepare(
        traces, model, dataset, batch_size, rule, eval_every, dtype, key, divergence_factor,
        seeds_mode, diagnostics, lr_schedule=lr_schedule,
    )  # fmt: skip
    with _precision(dtype):
        submit(*prep.run_args)


def replay(
    traces: Trace | Sequence[Trace],
    model: Any,
    dataset: Any,
    *,
    batch_size: int,
    rule: ServerRule,
    eval_every: int | None = None,
    dtype: str = "float32",
    key: int | jax.Array | None = None,
    f_star: float | str | None = "auto",
    divergence_factor: float = DIVERGENCE_FACTOR,
    seeds_mode: str = "auto",
    diagnostics: bool | Diagnostics = False,
    lr_schedule: str | None = None,
) -> ReplayResult:
    """Trains ``model`` along one or more simulated schedules and records the loss curves.

    Update j of a trace turns w_j into w_{j+1} with the rule (Dutta et al. 2018, eqs. 2-4,
    13): each contribution's gradient is taken at the model version it read, on a fresh
    mini-batch of ``batch_size`` training rows. ``k-avg`` traces run Zhou & Cong's
    Algorithm 1: every slot takes K local SGD steps of size ``rule.lr`` from w_j and
    w_{j+1} is the average of the resulting models (only :class:`FixedRate` applies).

    Several traces (replicate seeds of one configuration) are replayed one after another
    by one compiled single-seed scan (or vmapped, see ``seeds_mode``), reused by later calls
    with the same model, rule type, shapes, dtype and ``eval_every`` (learning rates are not
    baked in). Compiled scans are also kept on disk, in JAX's persistent compilation cache
    (see ``simulator.training._cache``: ``PSSIM_COMPILE_CACHE=0`` turns it off).

    Args:
        traces: a Trace or a sequence of traces with the same variant, P, K and U.
        model: has ``init(key) -> params``, ``loss(params, (x, y)) -> scalar``, optional
            ``accuracy(params, (x, y))``, ``convex`` and ``name``.
        dataset: has arrays ``x`` (N, d), ``y`` (N,), ``x_eval``, ``y_eval``.
        batch_size: m >= 1, samples per mini-batch (drawn with replacement).
        rule: the server update rule (see ``simulator.training.rules``).
        eval_every: updates between evaluations; default about U / 100. The initial model
            and the final one are always evaluated.
        dtype: ``float32`` or ``float64`` (enabled only inside this call).
        key: base of the JAX keys (int or key); default: each trace's seed alone.
        f_star: F* to store in the result; ``"auto"`` computes it for convex models with
            :func:`simulator.training.optimum.optimal_loss` (cached), None skips it.
        seeds_mode: ``"sequential"`` replays the seeds one after another (one compiled
            single-seed scan, whatever the number of seeds); ``"vmap"`` replays them as one
            batched scan (compiled per number of seeds; on CPU a curve can then differ from
            the sequential one in the last bits); ``"auto"``, sequential on CPU and vmapped
            on an accelerator.
        diagnostics: True (or a :class:`Diagnostics` choosing the rows) to record the error
            analysis's quantities beside the loss (see :attr:`ReplayResult.diagnostics`).
            Off, the replay compiles and computes exactly what it does without them.
        lr_schedule: None (the rule's rate throughout), or a schedule such as ``"cosine"``
            or ``"warmup:100+cosine"`` (see :mod:`simulator._spec_rates`): update j's rate
            is the rule's times f(j), over the traces' U updates (see
            :mod:`simulator.training._schedules`; the rule needs an ``lr`` or ``lr_max``).

    Returns:
        A :class:`ReplayResult` with (S, E) curves.

    Raises:
        ValueError: incompatible traces or a bad argument.

    Example:
        >>> rule = FixedRate(0.01)
        >>> result = replay(trace, model, data, batch_size=1, rule=rule)  # doctest: +SKIP
        >>> result.loss.shape  # (seeds, evaluation points)  # doctest: +SKIP
    """
    prep = _prepare(
        traces, model, dataset, batch_size, rule, eval_every, dtype, key, divergence_factor,
        seeds_mode, diagnostics, f_star, lr_schedule,
    )  # fmt: skip
    with _precision(dtype):
        out = run(*prep.run_args)
    stacked, options, first, batch_size = prep.stacked, prep.options, prep.first, prep.batch_size
    if f_star == "auto":
        from simulator.training.optimum import optimal_loss

        f_star = optimal_loss(model, dataset)
    curves, p0 = (None, None)
    if options is not None:
        curves = _diagnostic_curves(out, stacked.rows)
        p0 = np.array([_p0_of(t) for t in as_trace_list(traces)], dtype=np.float64)
    return ReplayResult(
        eval_update=stacked.eval_update,
        eval_time=stacked.eval_time,
        loss=np.asarray(out["loss"], dtype=np.float64),
        accuracy=np.asarray(out["accuracy"], np.float64) if "accuracy" in out else None,
        diverged_at=np.asarray(out["diverged_at"], dtype=np.int64),
        seeds=stacked.seeds,
        variant=first.variant,
        k=first.k,
        num_learners=first.num_learners,
        batch_size=batch_size,
        rule=str(getattr(rule, "name", type(rule).__name__)),
        f_star=None if f_star is None else float(f_star),
        diagnostics=curves,
        p0=p0,
    )


def _p0_of(trace) -> float:
    """Lemma 8's p0 of one seed's schedule (:func:`p0_estimate`; NaN with one update)."""
    return p0_estimate(trace).value if trace.num_updates > 1 else float("nan")


def _diagnostic_curves(out: dict, rows: dict) -> dict[str, np.ndarray]:
    """The replay's diagnostic curves (S, E), host side."""
    curves = {name: np.asarray(out[name], np.float64) for name in DIAGNOSTIC_NAMES if name in out}
    curves["fresh_share"], curves["fresh_updates"] = fresh_shares(rows)
    gone = np.isnan(np.asarray(out["loss"], np.float64))
    norms = np.asarray(out[PROBE_NORM], np.float64)
    curves["gamma"] = np.where(gone, np.nan, running_ratio(curves["staleness_gap"], norms))
    # the smoothness seen along the path so far (NaN-skipping)
    curves["hessian_top_max"] = np.fmax.accumulate(curves["hessian_top"], axis=-1)
    for name in ("fresh_share", "fresh_updates", "hessian_top", "hessian_top_max"):
        curves[name] = np.where(gone, np.nan, curves[name])
    return {name: curves[name] for name in DIAGNOSTIC_NAMES}
