"""Every public function of the simulator answers bad input with pssim's own error family
(``simulator.USER_ERRORS``), in one line naming the Python argument: wrong types, empty or
NaN samples, counts and values beyond the float range, unwritable or malformed files."""

from __future__ import annotations

import math

import numpy as np
import pytest
from replay_cases import ASYNC_ROWS, least_squares, make_trace, regression_data

import simulator
from simulator import (
    USER_ERRORS,
    FixedRate,
    History,
    PssimError,
    PssimTypeError,
    asgd_bound,
    async_staleness,
    batch_speedup,
    compensated_rate_bound,
    error_runtime_curve,
    expected_runtime,
    fit_inverse_law,
    kasync_error_bound,
    kavg_bound,
    ksync_error_bound,
    make_rule,
    mean_ci95,
    nonconvex_bound,
    optimal_batch_size,
    optimal_k,
    predictions,
    replay,
    replay_keys,
    scaling_curve,
    sgd_bound,
    stale_can_win,
    step_size_limit,
    sync_async_speedup,
)

HUGE = 10**400


def _one_line(err: pytest.ExceptionInfo) -> str:
    text = str(err.value)
    assert "\n" not in text and len(text) < 300, text
    return text


# ------------------------------------------------------------------ wrong results first
@pytest.mark.parametrize(
    ("counts", "message"),
    [
        ([10, -5, 3], "`updates_to_target` must be >= 0; got -5 at index 1"),
        ([10, 5, math.inf], "`updates_to_target` must be finite; got inf at index 2"),
        ([10, 5, math.nan], "`updates_to_target` must be finite; got nan at index 2"),
        (["a", "b", "c"], "`updates_to_target` must be a number or an array of numbers"),
        ([[1, 2], [3], [4]], "`updates_to_target` must be a number or an array of numbers"),
        ([10, 5, HUGE], "`updates_to_target` must be a number or an array of numbers"),
    ],
)
def test_fit_inverse_law_refuses_counts_that_are_not_counts(counts, message):
    with pytest.raises(PssimError) as err:
        fit_inverse_law([1, 2, 4], counts)
    assert _one_line(err).startswith(message)
    assert err.value.param == "updates_to_target"


def test_fit_inverse_law_refuses_ragged_sizes():
    with pytest.raises(PssimError) as err:
        fit_inverse_law([[1, 2], [4]], [1, 2])
    assert _one_line(err).startswith("`batch_sizes` must be a number or an array of numbers")


@pytest.mark.parametrize(
    ("sample", "message"),
    [
        ([], "`x` must hold at least one value; got 0"),
        (np.array([]), "`x` must hold at least one value; got 0"),
        ([1.0, math.nan, 2.0], "`x` must be finite; got nan at index 1"),
        ([1.0, math.inf], "`x` must be finite; got inf at index 1"),
        (math.nan, "`x` must be finite; got nan"),
        (None, "`x` must be a number or an array of numbers; got None"),
        ("abc", "`x` must be a number or an array of numbers; got 'abc'"),
        ([[1.0, 2.0], [3.0]], "`x` must be a number or an array of numbers"),
        ([[1.0, 2.0], [3.0, 4.0]], "`x` must be one-dimensional; got shape (2, 2)"),
        ([True, False], "`x` must be a number or an array of numbers"),
        ([1, HUGE], "`x` must be a number or an array of numbers"),
    ],
)
def test_mean_ci95_refuses_what_has_no_mean(sample, message):
    with pytest.raises(PssimError) as err:
        mean_ci95(sample)
    assert _one_line(err).startswith(message)


def test_mean_ci95_stays_finite_for_huge_values():
    mean, half = mean_ci95([1e308, 1e308, 1.5e308])
    assert math.isfinite(mean) and math.isfinite(half) and mean == pytest.approx(1.1666e308, 1e-3)
    assert mean_ci95([2.0]) == (2.0, None)
    assert mean_ci95(3.0) == (3.0, None)


# ---------------------------------------------------------------- results files
def test_history_save_to_an_unwritable_place_names_the_path(tmp_path):
    with pytest.raises(PssimError) as err:
        History().save("/proc/x.csv")
    text = _one_line(err)
    assert text.startswith("`path` cannot be written: '/proc/x.csv' (") and ".tmp" not in text
    assert err.value.param == "path"
    with pytest.raises(PssimError) as err:
        History().save(tmp_path / "no" / "such" / "folder.csv")
    assert _one_line(err).startswith("`path` cannot be written: ")
    assert not list(tmp_path.rglob("*.tmp"))


@pytest.mark.parametrize("path", [123, None, ["a.csv"]])
def test_history_paths_must_be_paths(path):
    with pytest.raises(PssimTypeError) as err:
        History().save(path)
    assert _one_line(err).startswith("`path` must be a path (str or os.PathLike); got ")
    with pytest.raises(PssimTypeError) as err:
        History.load(path)
    assert _one_line(err).startswith("`path` must be a path (str or os.PathLike); got ")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "`path` must be a table written by History.save; got an empty file"),
        (b"a,b\n1,2\n", "`path` must be a table written by History.save; missing columns "),
        (b"\xff\xfe\x00garbage\n\x00\x01", "`path` must be a table written by History.save"),
        (b'variant,"k\n1,2', "`path` must be a table written by History.save"),
    ],
)
def test_history_load_of_a_bad_csv_is_one_line(tmp_path, content, message):
    path = tmp_path / "h.csv"
    path.write_bytes(content)
    with pytest.raises(PssimError) as err:
        History.load(path)
    assert _one_line(err).startswith(message)


def test_history_load_of_a_csv_with_bad_values_is_one_line(tmp_path):
    frame = History(_result()).to_frame()
    frame["k"] = "x"
    path = tmp_path / "h.csv"
    frame.to_csv(path, index=False)
    with pytest.raises(PssimError) as err:
        History.load(path)
    assert _one_line(err).startswith("`path` must be a table written by History.save; column k")


def test_history_load_refuses_a_fifo_and_a_folder(tmp_path):
    import os

    os.mkfifo(tmp_path / "fifo.csv")
    with pytest.raises(PssimError) as err:
        History.load(tmp_path / "fifo.csv")
    assert _one_line(err).startswith("`path` must be a readable results table; got ")
    assert "(a FIFO, not a regular file)" in _one_line(err)
    (tmp_path / "d.parquet").mkdir()
    with pytest.raises(PssimError) as err:
        History.load(tmp_path / "d.parquet")
    assert "(a folder, not a regular file)" in _one_line(err)


def test_history_load_of_a_bad_parquet_is_one_line(tmp_path):
    path = tmp_path / "h.parquet"
    path.write_bytes(b"PAR1 not really")
    with pytest.raises(PssimError) as err:
        History.load(path)
    assert _one_line(err).startswith("`path` must be a table written by History.save")


def test_history_time_to_loss_needs_a_number():
    history = History(_result())
    with pytest.raises(PssimError) as err:
        history.time_to_loss("k-async", math.nan)
    assert _one_line(err).startswith("`target` must be a finite number; got nan")
    with pytest.raises(PssimError) as err:
        history.time_to_loss("k-async", "low")
    assert _one_line(err).startswith("`target` must be a finite number; got 'low'")


def _result():
    from simulator.training.replayer import ReplayResult

    return ReplayResult(
        eval_update=np.array([0, 10]),
        eval_time=np.array([[0.0, 5.0]]),
        loss=np.array([[2.0, 1.0]]),
        accuracy=None,
        diverged_at=np.array([-1]),
        seeds=np.array([0]),
        variant="k-async",
        k=1,
        num_learners=4,
        batch_size=8,
        rule="fixed",
        f_star=0.5,
    )


# --------------------------------------------------------------------- the replay
TRACE = make_trace("k-async", ASYNC_ROWS, num_learners=3, k=1, seed=4)
MODEL, DATA = least_squares(3), regression_data()


@pytest.mark.parametrize("key", ["abc", 1.5, [1, 2], object(), True, np.zeros(3)])
def test_replay_refuses_a_key_that_is_not_a_key(key):
    with pytest.raises(PssimTypeError) as err:
        replay(TRACE, MODEL, DATA, batch_size=2, rule=FixedRate(0.1), key=key, f_star=None)
    assert _one_line(err).startswith("`key` must be an int or a JAX key (jax.random.key(seed))")
    with pytest.raises(PssimTypeError):
        replay_keys(0, key=key)


@pytest.mark.parametrize("seed", [None, "abc", 1.5, math.nan, [1]])
def test_replay_keys_refuses_a_seed_that_is_not_an_int(seed):
    with pytest.raises(PssimTypeError) as err:
        replay_keys(seed)
    assert _one_line(err).startswith("`seed` must be an integer; got ")


@pytest.mark.parametrize("traces", [None, 3, "trace", [TRACE, "x"], []])
def test_replay_refuses_what_is_not_a_trace(traces):
    with pytest.raises(USER_ERRORS) as err:
        replay(traces, MODEL, DATA, batch_size=2, rule=FixedRate(0.1), f_star=None)
    assert _one_line(err).startswith("`traces` must be a Trace or a non-empty sequence of Trace")


# --------------------------------------------------------- messages name the argument
@pytest.mark.parametrize(
    ("call", "param"),
    [
        (
            lambda: expected_runtime("sync", num_learners=2, k=None, law="exp:1", updates=0),
            "updates",
        ),
        (lambda: async_staleness("exp:1", 0), "num_learners"),
        (lambda: sync_async_speedup("exp:1", 0), "num_learners"),
        (lambda: predictions("exp:1", 4, None, 0), "updates"),
        (lambda: make_rule("x", 0.1), "name"),
        (lambda: make_rule(3, 0.1), "name"),
    ],
)
def test_messages_name_the_python_argument(call, param):
    with pytest.raises(PssimError) as err:
        call()
    assert _one_line(err).startswith(f"`{param}` ") and err.value.param == param


# ------------------------------------------------ the walk: huge, ragged, odd values
THEORY = dict(lr=0.01, L=1.0, c=0.5, sigma2=1.0, m=4, initial_error=1.0)
CASES = {
    "ksync K huge": (lambda: ksync_error_bound(10, K=HUGE, **THEORY), "K"),
    "ksync m huge": (lambda: ksync_error_bound(10, K=2, **{**THEORY, "m": HUGE}), "m"),
    "ksync lr huge": (lambda: ksync_error_bound(10, K=2, **{**THEORY, "lr": HUGE}), "lr"),
    "ksync iterations ragged": (
        lambda: ksync_error_bound([[1, 2], [3]], K=2, **THEORY),
        "iterations",
    ),
    "kasync K huge": (
        lambda: kasync_error_bound(10, K=HUGE, gamma=1.0, p0=0.5, **THEORY),
        "K",
    ),
    "compensated m huge": (
        lambda: compensated_rate_bound(
            10, C=1e-3, L=1.0, c=0.5, sigma2=1.0, m=HUGE, p0=0.5, initial_error=1.0
        ),
        "m",
    ),
    "compensated L 1e308": (
        lambda: compensated_rate_bound(
            10, C=1e-3, L=1e308, c=0.5, sigma2=1.0, m=4, p0=0.5, initial_error=1.0, eta_max=0.01
        ),
        None,
    ),
    "compensated c 1e308": (
        lambda: compensated_rate_bound(
            10, C=1e-3, L=1.0, c=1e308, sigma2=1.0, m=4, p0=0.5, initial_error=1.0, eta_max=0.01
        ),
        None,
    ),
    "compensated iterations 2**62": (
        lambda: compensated_rate_bound(
            2**62, C=1e-3, L=1.0, c=0.5, sigma2=1.0, m=4, p0=0.5, initial_error=1.0, eta_max=0.01
        ),
        "iterations",
    ),
    "nonconvex K huge": (
        lambda: nonconvex_bound(
            10, lr=0.01, L=1.0, sigma2=1.0, K=HUGE, m=4, gamma=1.0, p0=0.5, initial_gap=1.0
        ),
        "K",
    ),
    "step_size_limit K huge": (lambda: step_size_limit(1.0, 0.0, HUGE, 4), "K"),
    "step_size_limit result list": (lambda: step_size_limit(1.0, 0.0, 2, 4, result=[]), "result"),
    "error_runtime_curve P huge": (
        lambda: error_runtime_curve(
            "k-sync", law="exp:1", num_learners=HUGE, iterations=10, k=2, **THEORY
        ),
        "num_learners",
    ),
    "stale_can_win P huge": (lambda: stale_can_win(0.3, 1.0, num_learners=HUGE), "num_learners"),
    "optimal_k steps huge": (
        lambda: optimal_k(
            total_steps=HUGE,
            learners=4,
            batch_size=4,
            step=0.01,
            lipschitz=1.0,
            variance=1.0,
            gap=1.0,
        ),
        "total_steps",
    ),
    "optimal_k step 1e308": (
        lambda: optimal_k(
            total_steps=100,
            learners=4,
            batch_size=4,
            step=1e308,
            lipschitz=1.0,
            variance=1.0,
            gap=1.0,
        ),
        None,
    ),
    "optimal_k gap 1e308": (
        lambda: optimal_k(
            total_steps=100,
            learners=4,
            batch_size=4,
            step=0.01,
            lipschitz=1.0,
            variance=1.0,
            gap=1e308,
        ),
        None,
    ),
    "kavg step 1e308": (
        lambda: kavg_bound(
            updates=10,
            k=2,
            learners=4,
            batch_size=4,
            step=1e308,
            lipschitz=1.0,
            variance=1.0,
            gap=1.0,
        ),
        None,
    ),
    "kavg updates huge": (
        lambda: kavg_bound(
            updates=HUGE,
            k=2,
            learners=4,
            batch_size=4,
            step=0.01,
            lipschitz=1.0,
            variance=1.0,
            gap=1.0,
        ),
        "updates",
    ),
    "sgd batch huge": (
        lambda: sgd_bound(100, batch_size=HUGE, step=0.01, lipschitz=1.0, variance=1.0, gap=1.0),
        "batch_size",
    ),
    "sgd step 1e308": (
        lambda: sgd_bound(100, batch_size=4, step=1e308, lipschitz=1.0, variance=1.0, gap=1.0),
        None,
    ),
    "sgd samples ragged": (
        lambda: sgd_bound(
            [[1, 2], [3]], batch_size=4, step=0.01, lipschitz=1.0, variance=1.0, gap=1.0
        ),
        "samples",
    ),
    "asgd lipschitz 1e308": (
        lambda: asgd_bound(
            100, batch_size=4, learners=4, step=0.01, lipschitz=1e308, variance=1.0, gap=1.0
        ),
        None,
    ),
    "optimal_batch_size n_inf huge": (
        lambda: optimal_batch_size(4, n_inf=HUGE, alpha=6400, gamma=0.01, m_t=8, delta=0.25),
        "n_inf",
    ),
    "optimal_batch_size learners ragged": (
        lambda: optimal_batch_size(
            [[4, 2], [1]], n_inf=100, alpha=6400, gamma=0.01, m_t=8, delta=0.25
        ),
        "learners",
    ),
    "scaling_curve learners ragged": (
        lambda: scaling_curve(
            [[1, 2], [4]],
            "weak",
            per_learner=8,
            n_inf=100,
            alpha=6400,
            gamma=0.01,
            m_t=8,
            delta=0.5,
        ),
        "learners",
    ),
    "batch_speedup P huge": (lambda: batch_speedup("exp:1", HUGE, 2), "num_learners"),
    "expected_runtime J huge": (
        lambda: expected_runtime("sync", num_learners=2, k=None, law="exp:1", updates=HUGE),
        "updates",
    ),
    "async_staleness P huge": (lambda: async_staleness("exp:1", HUGE), "num_learners"),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_public_functions_refuse_in_one_line_naming_the_argument(name):
    call, param = CASES[name]
    with pytest.raises(USER_ERRORS) as err:
        call()
    text = _one_line(err)
    if param is not None:
        assert text.startswith(f"`{param}` "), text


def test_the_walk_covers_every_public_theory_function():
    walked = {name.split()[0] for name in CASES} | {"fit_inverse_law", "mean_ci95"}
    theory = {
        "ksync_error_bound", "kasync_error_bound", "compensated_rate_bound", "nonconvex_bound",
        "step_size_limit", "error_runtime_curve", "stale_can_win", "optimal_k", "kavg_bound",
        "sgd_bound", "asgd_bound", "optimal_batch_size", "scaling_curve", "batch_speedup",
        "expected_runtime", "async_staleness",
    }  # fmt: skip
    short = {"ksync": "ksync_error_bound", "kasync": "kasync_error_bound"}
    short |= {"compensated": "compensated_rate_bound", "nonconvex": "nonconvex_bound"}
    short |= {"kavg": "kavg_bound", "sgd": "sgd_bound", "asgd": "asgd_bound"}
    walked = {short.get(name, name) for name in walked}
    assert theory <= walked and theory <= set(simulator.__all__)


# ---------------------------------------------- the walk: training, results, studies
def _history():
    return History(_result())


MORE = {
    "minibatch_indices key str": (
        lambda: simulator.minibatch_indices("abc", 0, 0, num_examples=10, batch_size=2),
        "data_key",
    ),
    "minibatch_indices update -1": (
        lambda: simulator.minibatch_indices(
            replay_keys(0)[1], -1, 0, num_examples=10, batch_size=2
        ),
        "update",
    ),
    "minibatch_indices slot str": (
        lambda: simulator.minibatch_indices(
            replay_keys(0)[1], 0, "a", num_examples=10, batch_size=2
        ),
        "slot",
    ),
    "minibatch_indices batch 2**62": (  # used to abort the process inside XLA
        lambda: simulator.minibatch_indices(
            replay_keys(0)[1], 0, 0, num_examples=10, batch_size=2**62
        ),
        "batch_size",
    ),
    "minibatch_indices examples None": (
        lambda: simulator.minibatch_indices(
            replay_keys(0)[1], 0, 0, num_examples=None, batch_size=2
        ),
        "num_examples",
    ),
    "replay f_star huge": (
        lambda: replay(TRACE, MODEL, DATA, batch_size=2, rule=FixedRate(0.1), f_star=HUGE),
        "f_star",
    ),
    "replay divergence_factor huge": (
        lambda: replay(
            TRACE, MODEL, DATA, batch_size=2, rule=FixedRate(0.1), divergence_factor=HUGE
        ),
        "divergence_factor",
    ),
    "replay dtype list": (
        lambda: replay(TRACE, MODEL, DATA, batch_size=2, rule=FixedRate(0.1), dtype=[]),
        "dtype",
    ),
    "optimal_loss dataset None": (lambda: simulator.optimal_loss(MODEL, None), "dataset"),
    "History.mean_curve variant list": (lambda: _history().mean_curve([]), "variant"),
    "History.mean_curve k list": (lambda: _history().mean_curve("k-async", k=[]), "k"),
    "History.time_to_loss huge": (lambda: _history().time_to_loss("k-async", HUGE), "target"),
    "time_to_target_table huge": (
        lambda: simulator.time_to_target_table(_history().to_frame(), "variant", target=HUGE),
        "target",
    ),
    "load_trace None": (lambda: simulator.load_trace(None), "path"),
    "error_bounds points huge": (
        lambda: _error_bounds()(simulator.ExperimentSpec(), points=2**62),
        "points",
    ),
    "diversity_from_gradients 1e200": (  # inf / inf was NaN
        lambda: _diversity()([[1e200, 0.0], [0.0, 1e200]]),
        "gradients",
    ),
    "error_bounds constants str": (
        lambda: _error_bounds()(simulator.ExperimentSpec(), constants="abc"),
        "constants",
    ),
}


def _diversity():
    from simulator.theory.minibatch_size import diversity_from_gradients

    return diversity_from_gradients


def _error_bounds():
    from simulator.studies.bounds import error_bounds

    return error_bounds


@pytest.mark.parametrize("name", sorted(MORE))
def test_training_results_and_studies_refuse_in_one_line(name):
    call, param = MORE[name]
    with pytest.raises(USER_ERRORS) as err:
        call()
    assert _one_line(err).startswith(f"`{param}` ")


def test_an_evaluation_period_beyond_the_run_evaluates_at_its_end():
    kw = dict(batch_size=2, rule=FixedRate(0.1), f_star=None)
    long = replay(TRACE, MODEL, DATA, eval_every=10**15, **kw)  # no 10**15 padding rows
    whole = replay(TRACE, MODEL, DATA, eval_every=TRACE.num_updates, **kw)
    np.testing.assert_array_equal(long.eval_update, [0, TRACE.num_updates])
    np.testing.assert_array_equal(long.loss, whole.loss)
