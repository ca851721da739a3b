"""Where the faults, slowdowns and network fields travel besides the spec: a sweep row has a
column for each, a figure title says each in words, sweep costs accept all-reduce, and an
all-reduce trace replays as fully synchronous SGD."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pandas as pd
import pytest
from replay_cases import least_squares, regression_data

from simulator import ExperimentSpec
from simulator.plots._titles import setting_phrases, spec_settings, table_settings
from simulator.studies.sweeps._cost import program_key, timing_seconds
from simulator.studies.sweeps._rows import SPEC_COLUMNS, Task, run_task
from simulator.timing import simulate

NEW = ("failure", "repair", "availability", "deadline", "slowdown", "slowdown_shared")
NEW += ("model_bytes", "bandwidth", "server_bandwidth", "servers")


def _null(value) -> bool:
    """A missing float as a row holds it: null (NaN written through pandas)."""
    return value is None or math.isnan(value)


def test_a_timing_row_has_a_typed_column_per_new_field():
    assert all(name in SPEC_COLUMNS for name in NEW)
    spec = ExperimentSpec(
        variant="sync",
        num_learners=3,
        failure="exp:0.1",
        repair="exp:1",
        deadline=4.0,
        slowdown="0.1,0.5,4",
        model_bytes=1000,
        bandwidth="1e3,2e3,3e3",
        server_bandwidth=1e4,
        servers=2,
        updates=20,
        seeds=1,
    )
    row = run_task(Task("timing", (spec,))).to_pylist()[0]
    assert row["failure"] == "exp:0.1" and row["repair"] == "exp:1.0"
    assert row["availability"] is None and row["deadline"] == 4.0
    assert row["slowdown"] == "0.1;0.5;4.0" and row["slowdown_shared"] is False
    assert row["model_bytes"] == 1000 and row["bandwidth"] == "1000.0;2000.0;3000.0"
    assert row["server_bandwidth"] == 1e4 and row["servers"] == 2
    plain = run_task(Task("timing", (ExperimentSpec(updates=20, seeds=1, bandwidth=5.0),)))
    row = plain.to_pylist()[0]
    assert row["bandwidth"] == "5.0" and row["servers"] == 1 and row["failure"] is None
    assert row["model_bytes"] is None and _null(row["deadline"])
    assert _null(row["server_bandwidth"]) and row["slowdown_shared"] is False


def test_titles_say_each_setting_in_words():
    spec = ExperimentSpec(
        variant="k-sync",
        k=2,
        failure="exp:100",
        repair="exp:10",
        deadline=2,
        slowdown="0.1,0.5,4",
        slowdown_shared=True,
        model_bytes=31_000,
        bandwidth=1e9,
        server_bandwidth=1e9,
        servers=2,
    )
    phrases = setting_phrases(spec_settings([spec]))
    for phrase in (
        "failures exp:100 / repairs exp:10",
        "deadline 2",
        "slowdowns 0.1,0.5,x4 (shared)",
        "bandwidth 1e9 B/t",
        "server link 1e9 B/t x 2 shards",
        "model 31 kB",
    ):
        assert phrase in phrases, phrases
    reduce = setting_phrases(
        spec_settings([ExperimentSpec(variant="all-reduce", num_learners=2, bandwidth=[1e9, 4e9])])
    )
    assert reduce[:3] == ["all-reduce", "P=2", "X ~ exp:1"]  # K implied: not said
    assert "bandwidth 1e9 to 4e9 B/t" in reduce
    # a sweep table's joined values say the same
    table = pd.DataFrame(
        {"slowdown": ["0.1;0.5;4.0"], "slowdown_shared": [False], "server_bandwidth": [1e9]}
    )
    table["servers"] = 1
    words = setting_phrases(table_settings(table))
    assert words == ["slowdowns 0.1,0.5,x4", "server link 1e9 B/t"]


def test_sweep_costs_accept_all_reduce():
    spec = ExperimentSpec(variant="all-reduce", num_learners=8)
    assert timing_seconds(spec) > 0
    assert program_key(spec)[0] == "fresh"


def test_an_all_reduce_trace_replays_as_fully_synchronous_sgd():
    from simulator.training.replayer import replay
    from simulator.training.rules import FixedRate

    trace = simulate(ExperimentSpec(variant="sync", num_learners=3, updates=12), seed=4)
    reduced = dataclasses.replace(trace, variant="all-reduce")
    model, data = least_squares(3), regression_data()
    kw = dict(batch_size=2, rule=FixedRate(0.1), eval_every=3, dtype="float64", f_star=None)
    want = replay(trace, model, data, **kw)
    got = replay(reduced, model, data, **kw)
    np.testing.assert_array_equal(got.loss, want.loss)
    assert got.variant == "all-reduce"


@pytest.mark.parametrize(
    ("model", "data"),
    [
        *((m, "digits") for m in ("softmax", "softmax-nobias", "mlp", "cnn")),
        ("softmax", "synthetic:classes,40,6,3"),
        ("mlp", "synthetic:classes"),
        ("least-squares", "synthetic:least-squares"),
    ],
)
def test_param_count_is_the_size_of_the_built_model(model, data):
    import jax

    from models import build_model, data_shape, load_dataset, param_count

    ds = load_dataset(data)
    built = build_model(model, ds, 0.01)
    leaves = jax.tree_util.tree_leaves(built.init(jax.random.key(0)))
    shape = data_shape(data)
    assert param_count(model, shape.num_features, shape.num_classes, shape.image_shape) == sum(
        leaf.size for leaf in leaves
    )
    assert (shape.num_features, shape.num_classes, shape.image_shape) == (
        ds.num_features,
        ds.num_classes,
        ds.image_shape,
    )


def test_a_row_carries_the_staleness_limit_and_the_dc_lambda():
    spec = ExperimentSpec(
        variant="ringmaster", staleness_limit=3, rule="dc-asgd", dc_lambda=0.1, updates=20, seeds=1
    )
    row = run_task(Task("timing", (spec,))).to_pylist()[0]
    assert row["staleness_limit"] == 3 and row["dc_lambda"] == 0.1
    plain = run_task(Task("timing", (ExperimentSpec(updates=20, seeds=1),))).to_pylist()[0]
    assert _null(plain["staleness_limit"]) and _null(plain["dc_lambda"])
