"""Time to target over a training sweep table: hand-computed times, diverged seeds out of
the means, never-reached cells, Parquet round trips and the refusals of bad tables."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from sweep_tables import NOISE, UPDATES, settings, training_table

from simulator.errors import PssimError, PssimTypeError
from simulator.results.targets import (
    check_constant,
    default_level,
    first_time_at,
    mean_curves,
    time_to_target_table,
)

U = np.array(UPDATES, dtype=float)


def three_k(**kw) -> pd.DataFrame:
    """K = 1, 2, 4: error exp(-b u) with b = 0.05, 0.02, 0.001; time c u with c = 2, 1.5, 0.5."""
    configs = [
        (settings(k=1), 1.0, 0.05, 2.0),
        (settings(k=2), 1.0, 0.02, 1.5),
        (settings(k=4), 1.0, 0.001, 0.5),
    ]
    return training_table(configs, **kw)


def by_hand(b: float, c: float, level: float) -> float:
    """Mean over the seeds of three_k's curve ``exp(-b u) (1 + eps)`` (decreasing, so it
    stays once below) of the time ``c u (1 + eps / 2)`` of its first update <= level."""
    times = []
    for eps in NOISE:
        u = next(u for u in UPDATES[1:] if math.exp(-b * u) * (1 + eps) <= level)
        times.append(c * u * (1 + eps / 2))
    return sum(times) / len(times)


def test_the_studies_module_reexports_the_moved_functions():
    from simulator.studies import _targets

    assert _targets.default_level is default_level
    assert _targets.first_time_at is first_time_at


def test_mean_curves_are_the_seed_means():
    curves = mean_curves(three_k(), "k")
    assert list(curves.columns) == [
        "k",
        "update",
        "time",
        "mean",
        "low",
        "high",
        "seeds",
        "diverged_seeds",
        "quantity",
    ]
    k2 = curves[curves["k"] == 2]
    np.testing.assert_allclose(k2["mean"], np.exp(-0.02 * U), rtol=1e-12)
    np.testing.assert_allclose(k2["low"], 0.8 * np.exp(-0.02 * U), rtol=1e-12)
    np.testing.assert_allclose(k2["high"], 1.2 * np.exp(-0.02 * U), rtol=1e-12)
    np.testing.assert_allclose(k2["time"], 1.5 * U, rtol=1e-12)
    assert (curves["quantity"] == "error").all() and (curves["seeds"] == 3).all()
    assert curves["k"].tolist() == [1] * 11 + [2] * 11 + [4] * 11


def test_time_to_a_given_target_by_hand():
    out = time_to_target_table(three_k(), "k", target=0.5)
    assert list(out.columns) == [
        "k",
        "time_to_target",
        "ci95_low",
        "ci95_high",
        "reached",
        "target",
        "target_on",
        "seeds",
        "reached_seeds",
        "never_seeds",
        "diverged_seeds",
    ]
    # seed by seed: 18, 40 and 44 for K = 1 (not 40, where the seed-mean curve gets there)
    expected = [by_hand(0.05, 2.0, 0.5), by_hand(0.02, 1.5, 0.5)]
    assert out["time_to_target"].iloc[:2].tolist() == pytest.approx(expected)
    assert out["reached"].tolist() == [True, True, False]
    assert math.isnan(out["time_to_target"].iloc[2])  # exp(-0.1) = 0.905 > 0.5: never
    assert (out["target"] == 0.5).all() and (out["target_on"] == "error").all()
    assert out["time_to_target"].dtype == float and out["reached"].dtype == bool


def test_a_target_above_the_start_is_reached_after_the_start_never_at_0():
    out = time_to_target_table(three_k(), "k", target=1.5)
    assert out["time_to_target"].tolist() == pytest.approx([20.0, 15.0, 5.0])  # u = 10


def test_default_target_is_the_level_every_cell_reaches():
    table = three_k()
    out = time_to_target_table(table[table["k"] < 4], "k")
    # the largest of the seeds' last-quarter (u = 80, 90, 100) maxima: K = 2's noisiest seed
    level = 1.2 * math.exp(-0.02 * 80)
    assert out["target"].iloc[0] == pytest.approx(level)
    expected = [by_hand(b, c, level) for b, c in ((0.05, 2.0), (0.02, 1.5))]
    assert out["time_to_target"].tolist() == pytest.approx(expected)
    assert out["reached"].all() and (out["never_seeds"] == 0).all()
    # K = 4 barely improves: its noisiest seed ends at 1.2 exp(-0.1), above the start 1
    assert time_to_target_table(table, "k")["target"].isna().all()


def test_diverged_seeds_leave_the_means_and_are_counted():
    clean = time_to_target_table(three_k(), "k", target=0.5)
    table = three_k(diverged=1)
    assert table["diverged"].any() and not np.isfinite(table["loss"]).all()
    out = time_to_target_table(table, "k", target=0.5)
    pd.testing.assert_series_equal(out["time_to_target"], clean["time_to_target"])
    assert out["seeds"].tolist() == [4, 4, 4] and out["diverged_seeds"].tolist() == [1, 1, 1]
    curves = mean_curves(table, "k")
    np.testing.assert_allclose(curves[curves["k"] == 1]["mean"], np.exp(-0.05 * U), rtol=1e-12)


def test_a_cell_whose_seeds_all_diverged_never_reaches():
    ok = training_table([(settings(k=1), 1.0, 0.05, 2.0), (settings(k=2), 1.0, 0.02, 1.5)])
    bad = training_table([(settings(k=4), 1.0, 0.05, 2.0)], all_diverged=True)
    out = time_to_target_table(pd.concat([ok, bad]), "k", target=0.5)
    assert out["reached"].tolist() == [True, True, False]
    assert math.isnan(out["time_to_target"].iloc[2]) and out["diverged_seeds"].iloc[2] == 3
    curve = mean_curves(pd.concat([ok, bad]), "k").query("k == 4")
    assert len(curve) == len(UPDATES) and curve["mean"].isna().all()


def test_no_default_level_gives_nan_targets_not_zero_times():
    flat = training_table([(settings(k=1), 1.0, -0.01, 1.0), (settings(k=2), 1.0, -0.02, 1.0)])
    out = time_to_target_table(flat, "k")
    assert out["target"].isna().all() and not out["reached"].any()
    assert out["time_to_target"].isna().all()


def test_two_columns_one_row_per_combination():
    configs = [
        (settings(k=k, batch_size=m), 1.0, 0.01 * k * m, 1.0 + k) for k in (1, 2) for m in (1, 4)
    ]
    out = time_to_target_table(training_table(configs), ["k", "batch_size"], target=0.5)
    assert out[["k", "batch_size"]].values.tolist() == [[1, 1], [1, 4], [2, 1], [2, 4]]
    expected = [by_hand(0.01 * k * m, 1.0 + k, 0.5) for k in (1, 2) for m in (1, 4)]
    assert out["time_to_target"].tolist() == pytest.approx(expected)


def test_loss_when_f_star_is_unknown():
    table = three_k(f_star=math.nan)
    assert table["error"].isna().all() and table["loss"].notna().all()
    out = time_to_target_table(table, "k", target=0.5)
    assert (out["target_on"] == "loss").all()
    expected = [by_hand(0.05, 2.0, 0.5), by_hand(0.02, 1.5, 0.5)]
    assert out["time_to_target"].iloc[:2].tolist() == pytest.approx(expected)
    assert mean_curves(table, "k")["quantity"].eq("loss").all()
    with pytest.raises(PssimError, match="F\\* is unknown for these models; use value='loss'"):
        time_to_target_table(table, "k", value="error")


def test_parquet_round_trip_gives_the_same_table(tmp_path):
    pytest.importorskip("pyarrow")
    table = three_k(diverged=1)
    table.to_parquet(tmp_path / "results.parquet")
    back = pd.read_parquet(tmp_path / "results.parquet")
    pd.testing.assert_frame_equal(
        time_to_target_table(back, "k"), time_to_target_table(table, "k"), check_dtype=False
    )


def test_a_time_budget_lets_j_vary_within_a_series():
    table = three_k()
    table["time_budget"] = 200.0
    # seed 1 ran 90 updates within the budget: the curves stop where every seed has a point
    table = table[(table["seed"] != 1) | (table["update"] <= 90)].copy()
    table.loc[table["seed"] == 1, "updates"] = 90
    curves = mean_curves(table, "k")
    assert curves.groupby("k")["update"].max().tolist() == [90, 90, 90]
    np.testing.assert_allclose(curves.query("k == 2")["mean"], np.exp(-0.02 * U[:-1]))
    table["time_budget"] = math.nan
    with pytest.raises(PssimError, match="several values of updates"):
        time_to_target_table(table, "k", target=0.5)


def test_a_setting_that_varies_within_a_series_is_refused_with_one_message():
    table = pd.concat([three_k(), training_table([(settings(k=1, lr=0.1), 1.0, 0.1, 1.0)])])
    with pytest.raises(PssimError) as info:
        time_to_target_table(table, "k")
    text = str(info.value)
    assert "several values of lr (0.01/0.1) within k=1" in text
    assert "filter it to one (e.g. table[table['lr'] == 0.01])" in text
    assert "or add 'lr' to `by`" in text and info.value.param == "table"
    assert len(time_to_target_table(table, ["k", "lr"], target=0.5)) == 4
    with pytest.raises(PssimError, match="several values of lr") as info:
        check_constant(table, ["k"], by_param=None)
    assert "`by`" not in str(info.value)


def test_rows_of_one_seed_twice_are_refused():
    table = three_k()
    with pytest.raises(PssimError, match="several rows for seed 0 at update 0 \\(k=1\\)"):
        mean_curves(pd.concat([table, table]), "k")


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"by": "nope"}, PssimError, "`by` must name setting columns of the table \\(variant,"),
        ({"by": "time"}, PssimError, "got 'time'"),
        ({"by": ["k", "k"]}, PssimError, "must not repeat"),
        ({"by": 3}, PssimTypeError, "`by` must be a column name"),
        ({"by": "k", "target": math.nan}, PssimError, "`target` must be a finite number"),
        ({"by": "k", "target": True}, PssimError, "`target` must be a finite number"),
        ({"by": "k", "value": "accuracy"}, PssimError, "`value` must be one of error, loss;"),
    ],
)
def test_bad_arguments_name_the_parameter(kwargs, error, match):
    with pytest.raises(error, match=match):
        time_to_target_table(three_k(), **kwargs)


def test_bad_tables_are_refused():
    with pytest.raises(PssimTypeError, match="`table` must be a pandas DataFrame"):
        time_to_target_table({"k": [1]}, "k")
    with pytest.raises(PssimError, match=r"training sweep table; missing diverged$"):
        time_to_target_table(three_k().drop(columns="diverged"), "k")
    with pytest.raises(PssimError, match="at least one row"):
        mean_curves(three_k().iloc[:0], "k")
