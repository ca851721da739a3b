"""Tidy runtime tables: one row per seed, paired seeds, theory beside, checks before runs."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import simulator
from simulator.errors import PssimError, PssimTypeError
from simulator.studies import runtime_tables
from simulator.studies.runtime_tables import (
    RUNTIME_VS_K_COLUMNS,
    SPEEDUP_COLUMNS,
    runtime_vs_k_table,
    speedup_table,
)
from simulator.theory.runtime import expected_runtime, sync_async_speedup
from simulator.timing.engine import simulate


def test_speedup_table_rows_are_paired_runs_beside_theorem_1():
    table = speedup_table(["exp:1", "pareto:2,1"], [1, 3], updates=30, seeds=2, seed=5)
    assert tuple(table.columns) == SPEEDUP_COLUMNS
    assert len(table) == 2 * 2 * 2
    assert sorted(table["seed"].unique()) == [5, 6]
    row = table[(table["law"] == "pareto:2.0,1.0") & (table["num_learners"] == 3)].iloc[1]
    assert row["seed"] == 6 and row["updates"] == 30
    sync = simulate("sync", num_learners=3, law="pareto:2,1", updates=30, seed=6)
    fast = simulate("async", num_learners=3, law="pareto:2,1", updates=30, seed=6)
    assert row["t_sync"] == sync.end_time and row["t_async"] == fast.end_time
    assert row["speedup"] == pytest.approx(sync.end_time / fast.end_time)
    theory = sync_async_speedup("pareto:2,1", 3)
    assert row["theory"] == pytest.approx(theory.mean)
    assert row["relation"] == "asymptotic" and row["source"] == theory.source
    # P = 1: sync and async are the same schedule
    one = table[table["num_learners"] == 1]
    np.testing.assert_allclose(one["speedup"], 1.0)


def test_runtime_vs_k_table_rows_and_theory():
    table = runtime_vs_k_table(
        "shifted-exp:1,1",
        num_learners=3,
        variants=("k-sync", "k-async", "k-batch-sync"),
        updates=20,
        seeds=2,
    )
    assert tuple(table.columns) == RUNTIME_VS_K_COLUMNS
    assert len(table) == 3 * 3 * 2
    assert table["theory"].dtype == np.float64
    row = table[(table["variant"] == "k-async") & (table["k"] == 2)].iloc[0]
    trace = simulate("k-async", num_learners=3, k=2, law="shifted-exp:1,1", updates=20, seed=0)
    assert row["time"] == trace.end_time
    pred = expected_runtime("k-async", num_learners=3, k=2, law="shifted-exp:1,1", updates=20)
    assert row["theory"] == pytest.approx(pred.mean) and row["relation"] == pred.relation
    # no theory: NaN in the table, relation "none"
    none = table[table["variant"] == "k-batch-sync"]
    assert none["theory"].isna().all() and (none["relation"] == "none").all()


def test_aliases_keep_their_name_and_resolve_k():
    table = runtime_vs_k_table(
        "exp:1", num_learners=4, ks=[1], variants=["async"], updates=10, seeds=1
    )
    assert table[["variant", "k"]].values.tolist() == [["async", 1]]


def test_same_seed_same_table():
    kwargs = {"num_learners": 3, "ks": [1, 3], "updates": 15, "seeds": 2, "seed": 7}
    pd.testing.assert_frame_equal(
        runtime_vs_k_table("exp:1", **kwargs), runtime_vs_k_table("exp:1", **kwargs)
    )


def test_table_round_trips_through_csv(tmp_path):
    table = speedup_table(["exp:1"], [2], updates=10, seeds=2)
    table.to_csv(tmp_path / "t.csv", index=False)
    back = pd.read_csv(tmp_path / "t.csv")
    pd.testing.assert_frame_equal(back, table, check_dtype=False)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"ks": [1, 5]}, PssimError, r"`k` must be <= .*\(4\); got 5"),
        ({"variants": ["k-fast"]}, PssimError, "`variant` must be one of"),
        ({"variants": "k-sync"}, PssimError, "`variants` must be a non-empty sequence"),
        ({"ks": []}, PssimError, "`ks` must be a non-empty sequence"),
        ({"updates": 0}, PssimError, "`updates` must be >= 1; got 0"),
        ({"seeds": 0}, PssimError, "`seeds` must be >= 1; got 0"),
        ({"seed": -1}, PssimError, "`seed` must be >= 0; got -1"),
        ({"num_learners": 2.5}, PssimTypeError, "`num_learners` must be an integer"),
    ],
)
def test_runtime_vs_k_refuses_before_any_run(monkeypatch, kwargs, error, match):
    def boom(*args, **kw):
        raise AssertionError("simulated before checking")

    monkeypatch.setattr(runtime_tables, "simulate_spec", boom)
    args = {"num_learners": 4, "updates": 10, "seeds": 2, **kwargs}
    with pytest.raises(error, match=match):
        runtime_vs_k_table("exp:1", **args)


@pytest.mark.parametrize(
    ("laws", "learners", "match"),
    [
        ([], [2], "`laws` must be a non-empty sequence"),
        (["exp:1"], [0], "`learners` must be >= 1; got 0"),
        ("exp:1", [2], "`laws` must be a non-empty sequence"),
    ],
)
def test_speedup_refuses_before_any_run(monkeypatch, laws, learners, match):
    monkeypatch.setattr(runtime_tables, "simulate_spec", None)
    with pytest.raises(PssimError, match=match):
        speedup_table(laws, learners, updates=10, seeds=2)


def test_public_names():
    assert simulator.speedup_table is speedup_table
    assert simulator.runtime_vs_k_table is runtime_vs_k_table
    assert {"speedup_table", "runtime_vs_k_table"} <= set(simulator.__all__)
