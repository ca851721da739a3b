"""Compiling the replay: programs compiled ahead of time (in a worker thread) and shared,
XLA options that compile faster without changing a bit, and ``compare`` overlapping its
variants' compilations with its simulations and replays."""

from __future__ import annotations

import sys
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from replay_cases import (
    ASYNC_ROWS,
    SYNC_ROWS,
    class_data,
    make_trace,
    softmax,
)

from simulator.errors import PssimError
from simulator.training import FixedRate, _programs, _scan
from simulator.training._keys import root_key
from simulator.training._stack import stack_traces
from simulator.training.replayer import (
    compile_count,
    compile_replay,
    device_data,
    replay,
)

CASES = {
    "async": ("k-async", ASYNC_ROWS, 3, 1),
    "sync": ("k-sync", SYNC_ROWS, 3, 2),
}


def _traces(case: str, seeds=(1, 2)):
    variant, rows, p, k = CASES[case]
    return [make_trace(variant, rows, num_learners=p, k=k, seed=s) for s in seeds]


@pytest.mark.parametrize("case", sorted(CASES))
def test_cpu_options_change_no_bit(case):
    """The replay program compiled with XLA's defaults and with ``CPU_OPTIONS`` (faster to
    compile) gives the same bits."""
    if jax.default_backend() != "cpu":
        pytest.skip("the options are the CPU backend's")
    model, data = softmax(4, 3), class_data()
    stacked = stack_traces(_traces(case), 2, 3)
    spec = _scan.Spec(
        model=_scan.Static(model),
        batch_size=3,
        num_copies=stacked.num_copies,
        local_steps=1,
        kavg=False,
        dtype="float32",
    )
    rows = {name: jnp.asarray(a[0]) for name, a in stacked.rows.items()}
    args = (FixedRate(0.3), root_key(1, None), rows, device_data(data, "float32"))
    args += (jnp.asarray(1e3),)
    lowered = _scan._run_seed_jit.trace(spec, *args).lower()
    default = jax.device_get(lowered.compile()(*args))
    fast = jax.device_get(lowered.compile(compiler_options=_programs.CPU_OPTIONS)(*args))
    assert default.keys() == fast.keys()
    for name in default:
        assert np.array_equal(default[name], fast[name], equal_nan=True), name


def test_replay_runs_with_the_cpu_options():
    """Where the backend is the CPU, a replay's program is compiled with ``CPU_OPTIONS``."""
    expected = _programs.CPU_OPTIONS if jax.default_backend() == "cpu" else None
    assert _programs.compiler_options() == expected


def test_an_xla_without_the_options_compiles_with_its_defaults(monkeypatch):
    """An option this XLA does not know (a later or earlier version) is dropped, not an
    error: the program compiles with XLA's defaults; any other failure still raises."""
    monkeypatch.setattr(_programs, "compiler_options", lambda: {"xla_no_such_option": True})
    fn = jax.jit(lambda spec, x: x * spec, static_argnums=0)
    _programs.clear()
    program = _programs.compiled(fn, 2.0, (jnp.ones(3),))
    assert np.array_equal(jax.device_get(program(jnp.ones(3))), np.full(3, 2.0))

    def broken(spec, x):
        raise ValueError("no program")

    with pytest.raises(ValueError, match="no program"):
        _programs.compiled(jax.jit(broken, static_argnums=0), "s", (jnp.zeros(2),))
    _programs.clear()


def test_compile_replay_then_replay_traces_once():
    """``compile_replay`` compiles in a worker thread; the replay with the same arguments
    uses that program (no second tracing) and gives the bits of a replay alone."""
    traces, model, data = _traces("async"), softmax(4, 3), class_data()
    kwargs = dict(batch_size=3, rule=FixedRate(0.3), eval_every=2, f_star=None)
    _programs.clear()
    before = compile_count()
    compile_replay(traces, model, data, **{k: v for k, v in kwargs.items() if k != "f_star"})
    first = replay(traces, model, data, **kwargs)
    assert compile_count() - before == 1
    _programs.clear()
    alone = replay(traces, model, data, **kwargs)
    assert np.array_equal(first.loss, alone.loss, equal_nan=True)
    assert np.array_equal(first.accuracy, alone.accuracy, equal_nan=True)


def test_compile_replay_checks_like_replay():
    """Bad arguments raise the replay's own one-line error, before any compilation."""
    traces, model, data = _traces("async"), softmax(4, 3), class_data()
    for call in (compile_replay, replay):
        with pytest.raises(PssimError, match=r"^`batch_size` must be an integer >= 1; got 0$"):
            call(traces, model, data, batch_size=0, rule=FixedRate(0.3))


def test_a_failed_compilation_reaches_the_replay():
    """A compilation that fails in the worker thread raises in the caller waiting for it,
    and is forgotten (a later call compiles again)."""

    def broken(spec, x):
        raise ValueError("no program")

    fn = jax.jit(broken, static_argnums=0)
    future = _programs.submit(fn, "s", (jnp.zeros(2),))
    with pytest.raises(ValueError, match="no program"):
        future.result()
    with pytest.raises(ValueError, match="no program"):
        _programs.compiled(fn, "s", (jnp.zeros(2),))


@pytest.mark.slow
def test_compare_overlapped_equals_one_by_one():
    """``compare`` (variants simulated ahead, compiled in worker threads, F* beside) gives
    the bits of each variant replayed alone."""
    from simulator.studies.comparison import compare, variant_specs
    from simulator.timing.engine import simulate_spec

    variants = ["sync", "async", "k-async"]
    cmp = compare(variants=variants, updates=200, seeds=2)
    _programs.clear()
    from models import build_model, load_dataset

    spec = cmp.spec
    dataset = load_dataset(spec.data)
    model = build_model(spec.model, dataset, spec.l2)
    from simulator.training import make_rule

    rule = make_rule(spec.rule, spec.lr, spec.lr_c)
    for run, vspec in zip(cmp.runs, variant_specs(spec, variants), strict=True):
        traces = [simulate_spec(vspec, s) for s in vspec.seed_list]
        alone = replay(traces, model, dataset, batch_size=spec.batch_size, rule=rule)
        assert np.array_equal(run.result.loss, alone.loss, equal_nan=True), run.variant
        assert run.result.f_star == alone.f_star
