"""Sweeps run for real: on a LocalCluster of two worker processes and in this process.

The timing sweep is checked against the runtime theory where it is exact (a t-test per
configuration at a family-wise 99.8% confidence), the training sweep against ``compare``
run one configuration at a time, and the store against resuming and refusals.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from simulator import (
    ExperimentSpec,
    PssimError,
    SpecError,
    SweepSpec,
    compare,
    load_sweep,
    sweep,
)
from simulator.studies.sweeps._rows import SPEC_COLUMNS, TIMING_COLUMNS, TRAINING_COLUMNS
from simulator.studies.sweeps._units import config_key
from simulator.timing.engine import simulate_spec

#: Exact theory for an exponential law: K-sync J E[X_{K:P}] (Lemma 3), async J E[X_{1:P}]
#: (Lemma 5, with equality). Each
#: configuration is tested at 1 - 0.002/4.
THEORY_SWEEP = """
[timing]
learners = 4
iterations = 60
seeds = 160
dist = "exp:2"
[grid]
variant = ["k-sync", "async"]
K = [1, 2, 4]
"""

TRAINING_SWEEP = """
[timing]
variant = "k-sync"
learners = 4
iterations = 60
seeds = 2
[training]
lr = 0.05
eval-every = 20
[grid]
K = [1, 4]
batch = [1, 3]
"""


@pytest.fixture(scope="module")
def cluster_timing(tmp_path_factory):
    out = tmp_path_factory.mktemp("timing")
    result = sweep(SweepSpec.from_toml(THEORY_SWEEP), out, workers=2)
    return result, out


@pytest.fixture(scope="module")
def cluster_training(tmp_path_factory):
    out = tmp_path_factory.mktemp("training")
    result = sweep(SweepSpec.from_toml(TRAINING_SWEEP), out, workers=2)
    return result, out


def test_timing_sweep_on_a_local_cluster_agrees_with_exact_theory(cluster_timing):
    result, out = cluster_timing
    assert result.complete and result.ran == 4 and not result.failures
    frame = pd.read_parquet(out / "results.parquet")
    assert list(frame.columns) == [*SPEC_COLUMNS, *TIMING_COLUMNS]
    assert len(frame) == 4 * 160
    assert not frame.duplicated(["config", "seed"]).any()
    assert set(frame["relation"]) == {"exact"}
    level = 1 - 0.002 / 4
    for _, group in frame.groupby("config"):
        t = group["time"].to_numpy()
        half = stats.t.ppf(1 - (1 - level) / 2, len(t) - 1) * t.std(ddof=1) / np.sqrt(len(t))
        theory = group["theory"].iloc[0]
        assert abs(t.mean() - theory) <= half, (group["variant"].iloc[0], group["k"].iloc[0])
    # sync/async speedup of Theorem 1 travels with every row: P E[X_{P:P}]/E[X] = P H_P
    assert np.allclose(frame["speedup_theory"], 4 * (1 + 1 / 2 + 1 / 3 + 1 / 4))


def test_timing_rows_equal_the_engine_run_seed_by_seed(cluster_timing):
    result, _ = cluster_timing
    frame = result.frame()
    for spec in result.spec.configurations():
        rows = frame[frame["config"] == config_key(spec)]
        for seed in (0, 77, 159):
            trace = simulate_spec(spec, seed)
            row = rows[rows["seed"] == seed].iloc[0]
            assert row["time"] == trace.end_time
            staleness = trace.staleness()[trace.mask]
            assert row["staleness_max"] == staleness.max()
            assert row["staleness_p0"] == np.mean(staleness == 0)
            assert row["variant"] == spec.variant and row["k"] == spec.canonical[1]


def test_serial_and_cluster_give_the_same_table(cluster_timing, tmp_path):
    result, _ = cluster_timing
    serial = sweep(result.spec, tmp_path, scheduler="serial")
    pd.testing.assert_frame_equal(serial.frame(), result.frame())


def test_training_sweep_rows_equal_compare_run_one_configuration_at_a_time(cluster_training):
    result, out = cluster_training
    assert result.complete and not result.failures
    frame = load_sweep(out)
    assert list(frame.columns) == [*SPEC_COLUMNS, *TRAINING_COLUMNS]
    assert len(frame) == 4 * 2 * 4  # configurations x seeds x evaluation points
    assert not frame.duplicated(["config", "seed", "update"]).any()
    from models import build_model, load_dataset

    dataset = load_dataset("digits")
    model = build_model("softmax", dataset, 0.01)
    for spec in result.spec.configurations():
        rows = frame[frame["config"] == config_key(spec)].sort_values(["seed", "update"])
        run = compare(spec, variants=[spec.variant], model=model, dataset=dataset).runs[0]
        r = run.result
        np.testing.assert_array_equal(rows["loss"].to_numpy(), np.asarray(r.loss).ravel())
        np.testing.assert_array_equal(rows["time"].to_numpy(), np.asarray(r.eval_time).ravel())
        np.testing.assert_array_equal(rows["update"].to_numpy(), np.tile(r.eval_update, 2))
        assert rows["batch_size"].iloc[0] == spec.batch_size and rows["k"].iloc[0] == spec.k
        assert (rows["f_star"] == r.f_star).all()  # computed once, by the calling process
        assert np.allclose(rows["error"], rows["loss"] - r.f_star)


def test_compare_takes_a_known_f_star(tmp_path):
    spec = SweepSpec.from_toml(TRAINING_SWEEP).configurations()[0]
    run = compare(spec, variants=[spec.variant], f_star=0.5).runs[0]
    assert run.result.f_star == 0.5
    np.testing.assert_array_equal(run.mean_curve()["error"], run.mean_curve()["loss"] - 0.5)


def test_rerun_skips_everything_and_a_changed_sweep_is_refused(cluster_timing):
    result, out = cluster_timing
    again = sweep(result.spec, out, scheduler="serial")
    assert (again.ran, again.skipped, again.complete) == (0, 4, True)
    changed = SweepSpec.from_toml(THEORY_SWEEP.replace("iterations = 60", "iterations = 61"))
    with pytest.raises(SpecError, match="holds another sweep"):
        sweep(changed, out, scheduler="serial")
    assert len(load_sweep(out)) == 4 * 160


def test_partial_store_resumes_with_nothing_lost_or_duplicated(tmp_path):
    spec = SweepSpec.from_toml(THEORY_SWEEP.replace("seeds = 160", "seeds = 3"))
    full = sweep(spec, tmp_path / "full", scheduler="serial").frame()
    part = tmp_path / "part"
    first = sweep(spec, part, scheduler="serial")
    files = sorted((part / "results.parquet").glob("part-*.parquet"))
    assert len(files) >= 2
    files[0].unlink()  # a task that never finished
    (part / "results.parquet" / ".part-0123-abcd.tmp").write_bytes(b"half a file")
    resumed = sweep(spec, part, scheduler="serial")
    assert resumed.ran >= 1 and resumed.ran + resumed.skipped == first.configurations
    assert not list((part / "results.parquet").glob(".*.tmp"))
    pd.testing.assert_frame_equal(resumed.frame(), full)


def test_a_failing_configuration_is_retried_reported_and_the_rest_completes(tmp_path, monkeypatch):
    from simulator.studies.sweeps import _exec as _sweep_exec

    spec = SweepSpec.from_toml(THEORY_SWEEP.replace("seeds = 160", "seeds = 2"))
    bad = config_key(spec.configurations()[1])
    attempts = []

    def flaky(task):
        if bad in task.configs:
            attempts.append(task)
            raise RuntimeError("worker lost")
        return real(task)

    real = _sweep_exec.run_task
    monkeypatch.setattr(_sweep_exec, "run_task", flaky)
    result = sweep(spec, tmp_path, scheduler="serial")
    assert len(attempts) == 1 + _sweep_exec.RETRIES
    assert not result.complete and result.ran + 1 == result.configurations
    assert [c for configs, _ in result.failures for c in configs] == [bad]
    assert "RuntimeError: worker lost" in result.failures[0][1]
    assert bad not in set(result.frame()["config"])
    monkeypatch.undo()
    rerun = sweep(spec, tmp_path, scheduler="serial")  # retried on the next run
    assert (rerun.ran, rerun.complete) == (1, True)


def test_a_missing_dataset_is_refused_before_anything_runs(tmp_path):
    text = TRAINING_SWEEP.replace("batch = [1, 3]", 'data = ["digits", "npz:missing.npz"]')
    with pytest.raises(ValueError, match=r"missing\.npz"):
        sweep(SweepSpec.from_toml(text), tmp_path / "out", scheduler="serial")
    assert not (tmp_path / "out").exists()


def test_bad_arguments(tmp_path):
    spec = SweepSpec.from_toml(THEORY_SWEEP)
    with pytest.raises(PssimError, match="`workers` must be an integer >= 1"):
        sweep(spec, tmp_path, workers=0)
    with pytest.raises(PssimError, match="an existing cluster"):
        sweep(spec, tmp_path, scheduler="tcp://127.0.0.1:8786", workers=2)
    with pytest.raises(TypeError, match="`config` must be a SweepSpec"):
        sweep({"grid": {}}, tmp_path)
    with pytest.raises(PssimError, match="must be a sweep folder"):
        load_sweep(tmp_path / "nothing")
    assert not (tmp_path / "nothing").exists()


def test_a_time_budget_sweep_ends_every_run_within_the_budget(tmp_path):
    text = """
[timing]
learners = 4
time-budget = 30.0
seeds = 3
[training]
eval-every = 10
[grid]
variant = ["sync", "async"]
"""
    timing = sweep(
        SweepSpec.from_toml(text + '[sweep]\nkind = "timing"\n'), tmp_path / "t", scheduler="serial"
    ).frame()
    assert (timing["time"] <= 30.0).all() and (timing["time_budget"] == 30.0).all()
    for _, row in timing.iterrows():  # the next update would come after the budget
        spec = ExperimentSpec(variant=row["variant"], num_learners=4, updates=row["updates"] + 1)
        assert simulate_spec(spec, row["seed"]).end_time > 30.0
    by_variant = timing.groupby("variant")["updates"].mean()
    assert by_variant["async"] > 2 * by_variant["sync"]  # async does more updates in T
    training = sweep(SweepSpec.from_toml(text), tmp_path / "j", scheduler="serial").frame()
    last = training.groupby(["config", "seed"])["time"].max()
    assert (last <= 30.0).all()
    for _, rows in training.groupby("config"):
        assert rows["updates"].nunique() == 1  # every seed of a configuration runs J_v


def test_timing_rows_carry_the_speedup_of_independent_learners(tmp_path):
    """Per-learner laws give Theorem 1's extension (E[X_{P:P}] sum_l 1/E[X_l]), a replayed
    log none: the rows say so instead of leaving the speedup empty."""
    from simulator.theory import sync_async_speedup

    laws = ["exp:0.5", "exp:1", "exp:2", "exp:4"]
    text = f"[timing]\nlearners = 4\niterations = 5\nseeds = 1\nlaws = {laws}\n"
    text += '[grid]\nvariant = ["sync", "async"]\n'
    result = sweep(
        SweepSpec.from_toml(text.replace("'", '"')), tmp_path / "laws", scheduler="serial"
    )
    frame = result.frame()
    expected = sync_async_speedup(None, 4, laws=laws)
    assert np.allclose(frame["speedup_theory"], expected.mean)
    assert set(frame["speedup_relation"]) == {expected.relation} == {"exact"}
    replayed = '[timing]\nlearners = 4\niterations = 5\nseeds = 1\ndurations = "llm-se"\n'
    replayed += '[grid]\nvariant = ["sync", "async"]\n'
    frame = sweep(SweepSpec.from_toml(replayed), tmp_path / "replay", scheduler="serial").frame()
    assert frame["speedup_theory"].isna().all() and set(frame["speedup_relation"]) == {"none"}
