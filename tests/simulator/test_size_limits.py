"""Sizes are bounded before any work, one rule from Python, a config, a sweep file and the CLI:
seeds, the mini-batch, the grid of a sweep, and the memory a timing run will allocate."""

from __future__ import annotations

import tracemalloc

import pytest

import simulator.timing._memory as memory
import simulator.timing._updates as updates
from simulator import ExperimentSpec, PssimError, SpecError
from simulator._checks import MAX_SEEDS
from simulator._spec_checks import MAX_BATCH
from simulator.studies.comparison import compare
from simulator.studies.runtime import runtime_study
from simulator.studies.sweeps import _spec as _sweep_spec
from simulator.studies.sweeps._spec import MAX_CONFIGURATIONS, SweepSpec
from simulator.timing._memory import check_timing_memory, expected_updates, run_bytes
from simulator.timing.engine import simulate_spec

GIB = 2**30


@pytest.fixture
def no_simulation(monkeypatch):
    """Any simulation fails the test: a refusal must come before the first event."""

    def forbidden(*args, **kwargs):
        raise AssertionError("a run started before the refusal")

    monkeypatch.setattr(updates, "simulate_fast", forbidden)
    monkeypatch.setattr(updates, "simulate_simpy", forbidden)


@pytest.fixture
def budget(monkeypatch):
    """Sets the memory budget (bytes) of timing runs."""

    def set_budget(nbytes: int) -> None:
        monkeypatch.setattr(memory, "MEMORY_BUDGET", nbytes)

    return set_budget


# -- seeds and the mini-batch: fixed caps in the spec ------------------------------------------
def test_seeds_are_bounded_before_any_seed_list_is_built():
    with pytest.raises(SpecError) as info:
        ExperimentSpec(seeds=2**63 - 1)
    assert info.value.param == "seeds"
    assert str(info.value) == f"`seeds` must be <= {MAX_SEEDS}; got {2**63 - 1}"
    assert len(ExperimentSpec(seeds=MAX_SEEDS).seed_list) == MAX_SEEDS


def test_the_batch_is_bounded_so_no_shape_overflows():
    with pytest.raises(SpecError) as info:
        ExperimentSpec(batch_size=2**63 - 1)
    assert info.value.param == "batch_size"
    assert f"`batch_size` must be <= {MAX_BATCH}" in str(info.value)
    assert ExperimentSpec(batch_size=MAX_BATCH).batch_size == MAX_BATCH


# -- memory: estimated for the engine that runs, only where something runs --------------------
def test_a_spec_that_simulates_nothing_is_not_refused_for_memory():
    """``pssim theory -P 1000000`` builds this spec and simulates nothing."""
    assert ExperimentSpec(num_learners=10**6, updates=10**12).num_learners == 10**6


def test_too_many_updates_are_refused_naming_updates(no_simulation):
    spec = ExperimentSpec(updates=2**53)
    with pytest.raises(SpecError) as info:
        simulate_spec(spec, 0)
    text = str(info.value)
    assert info.value.param == "updates" and text.startswith(f"`updates` J={2**53} with P=8")
    assert "learners" not in text and "\n" not in text
    with pytest.raises(SpecError) as info:  # beyond any memory: refused by the spec itself
        ExperimentSpec(updates=2**63 - 1)
    assert str(info.value) == f"`updates` must be <= {2**53}; got {2**63 - 1}"


def test_too_many_learners_are_refused_naming_num_learners(no_simulation):
    with pytest.raises(SpecError) as info:
        simulate_spec(ExperimentSpec(num_learners=10**9, updates=1), 0)
    assert info.value.param == "num_learners" and str(info.value).startswith("`num_learners` P=")


def test_the_estimate_is_the_chosen_engines(budget):
    # async, P = 8, J = 2e8: the fast merge path keeps about 106 bytes per update, the
    # SimPy engine about 58: with a 16 GiB budget the first is refused, the second fits
    spec = ExperimentSpec(num_learners=8, updates=2 * 10**8)
    budget(16 * GIB)
    with pytest.raises(SpecError) as info:
        check_timing_memory(spec)
    assert info.value.param == "updates"
    check_timing_memory(spec, engine="simpy")
    # async, P = 10**6, J = 1000: about 2 KB per learner on the fast path, not 64 KB
    check_timing_memory(ExperimentSpec(num_learners=10**6), engine="auto")
    budget(1 * GIB)
    with pytest.raises(SpecError, match="`num_learners` P=1000000"):
        check_timing_memory(ExperimentSpec(num_learners=10**6), engine="simpy")


def test_a_time_budget_beyond_memory_is_refused_before_the_pilot_run(no_simulation):
    spec = ExperimentSpec(time_budget=1e300)
    with pytest.raises(SpecError) as info:
        simulate_spec(spec, 0)
    assert info.value.param == "time_budget"
    assert str(info.value).startswith("`time_budget` 1e+300 means runs of about 8e+300 updates")


@pytest.mark.parametrize("budget", [1e17, 1e308])
def test_a_time_budget_beyond_any_run_is_one_line_not_an_overflow(budget, no_simulation):
    spec = ExperimentSpec(variant="async", num_learners=4, time_budget=budget)
    with pytest.raises(SpecError, match="more than the 9007199254740992 a run can hold") as info:
        check_timing_memory(spec)
    assert info.value.param == "time_budget" and "\n" not in str(info.value)


def test_budget_runs_are_estimated_at_their_expected_updates():
    # exponential(1): 4 learners push at rate 4, K = 1; K-sync waits for X_{4:4}, H_4 = 25/12
    assert (
        expected_updates(ExperimentSpec(variant="async", num_learners=4, time_budget=100.0)) == 400
    )
    sync = ExperimentSpec(variant="sync", num_learners=4, time_budget=100.0)
    assert expected_updates(sync) == 48  # ceil(100 / (25/12))
    avg = ExperimentSpec(variant="k-avg", num_learners=4, k=5, time_budget=100.0)
    assert expected_updates(avg) == 20  # 5 local steps of every learner per update
    assert expected_updates(ExperimentSpec(updates=7)) == 7


def test_runtime_counts_the_first_trace_it_keeps(budget, no_simulation):
    spec = ExperimentSpec(num_learners=4, updates=10**6, seeds=2)
    one, two = run_bytes(spec), run_bytes(spec, kept=1)
    budget((one + two) // 2)
    check_timing_memory(spec)  # one seed fits
    with pytest.raises(SpecError, match="timing and 1 kept trace need about"):
        runtime_study(spec)


def test_runtime_keeps_no_staleness_array_per_seed():
    """The pooled staleness is summed seed by seed: memory does not grow with the seeds."""

    def peak(seeds: int) -> int:
        tracemalloc.start()
        runtime_study(ExperimentSpec(num_learners=4, updates=20000, seeds=seeds))
        top = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        return top

    peak(1)  # first-call caches
    two = peak(2)
    # both keep the first trace for the timeline; a staleness array kept per seed would
    # add 8 bytes per contribution (160 kB) for each of the 7 more seeds
    assert peak(9) < two + 8 * 20000


def test_compare_counts_every_kept_trace_before_loading_data(budget, monkeypatch, no_simulation):
    import models

    def no_data(*args, **kwargs):
        raise AssertionError("data loaded before the refusal")

    monkeypatch.setattr(models, "load_dataset", no_data)
    spec = ExperimentSpec(num_learners=4, updates=10**5, seeds=200)
    budget(run_bytes(spec, kept=100))
    with pytest.raises(SpecError) as info:
        compare(spec, variants=["async"])
    assert info.value.param == "seeds" and str(info.value).startswith("`seeds` 200: their traces")


def test_batch_beyond_the_training_set_is_refused_by_compare_and_replay(no_simulation):
    from models import build_model, load_dataset
    from simulator.timing._draws import compute_blocks
    from simulator.timing._fast_async import batch_async
    from simulator.training import FixedRate, replay

    digits = load_dataset("digits")
    refusal = "`batch_size` must be <= the number of training examples (1797); got 1798"
    spec = ExperimentSpec(num_learners=2, updates=10, seeds=1, batch_size=1798)
    with pytest.raises(PssimError) as info:
        compare(spec, variants=["async"], dataset=digits)
    assert info.value.param == "batch_size" and str(info.value) == refusal
    small = ExperimentSpec(num_learners=2, updates=4)
    trace = batch_async(compute_blocks(small, 0), "k-async", 1, 4, 0)
    model = build_model("softmax", digits, 0.01)
    with pytest.raises(PssimError) as info:
        replay(trace, model, digits, batch_size=1798, rule=FixedRate(0.1))
    assert info.value.param == "batch_size" and str(info.value) == refusal


# -- sweeps: every configuration and the grid's size, before any task -------------------------
@pytest.mark.parametrize(
    "base, param",
    [
        ({"timing": {"time-budget": 1e300}}, "time_budget"),
        ({"timing": {"seeds": 2**63 - 1}}, "seeds"),
        ({"training": {"batch": 2**63 - 1}}, "batch_size"),
        ({"timing": {"iterations": 2**63 - 1}}, "updates"),
    ],
)
def test_a_sweep_refuses_what_its_tasks_could_not_run(base, param):
    with pytest.raises(SpecError) as info:
        SweepSpec(base=base, grid={"learners": [2, 4]})
    assert info.value.param == param and "\n" not in str(info.value)


def test_a_grid_is_counted_from_its_axes_before_it_is_expanded(monkeypatch):
    def expand(*args, **kwargs):
        raise AssertionError("the grid was expanded")

    grid = {"seed": list(range(1001)), "learners": list(range(1, 101))}
    with pytest.raises(SpecError) as info:
        SweepSpec(base={}, grid=grid, source="big.toml")
    assert str(info.value) == (
        "[grid] and [[zip]] of big.toml make 100100 configurations (seed 1001 x learners 100), "
        f"more than the cap of {MAX_CONFIGURATIONS}; sweep fewer values"
    )
    monkeypatch.setattr(_sweep_spec.itertools, "product", expand)
    huge = {"seed": list(range(1000)), "learners": list(range(1, 1001)), "K": list(range(1000))}
    zipped = [{"lr": [0.1] * 10, "batch": [1] * 10}]
    with pytest.raises(SpecError, match=r"make 10000000000 configurations \(.* x lr,batch 10\)"):
        SweepSpec(base={"variant": "k-avg"}, grid=huge, zips=zipped)


def test_a_training_sweep_checks_the_batch_against_its_data_before_any_task(
    tmp_path, no_simulation
):
    from simulator import USER_ERRORS
    from simulator.studies.sweeps import sweep

    spec = SweepSpec(base={"iterations": 10, "seeds": 1, "training": {}}, grid={"batch": [1, 1798]})
    with pytest.raises(USER_ERRORS) as info:
        sweep(spec, tmp_path / "out", scheduler="serial")
    assert str(info.value) == "`batch` must be <= the number of training examples (1797); got 1798"
    assert not (tmp_path / "out").exists()


def test_the_tables_seed_lists_have_the_specs_cap():
    from simulator.results import seed_list

    with pytest.raises(PssimError) as info:
        seed_list(2**62)
    assert str(info.value) == f"`seeds` must be <= {MAX_SEEDS}; got {2**62}"
