"""Robust time to target over hand-built sweep tables: a seed's time is when its curve
stays at or below the level (not its first touch), seeds that never get there are counted
and not averaged, diverged seeds are apart, windows, accuracy and fraction targets, the
bootstrap interval of the mean, the default level and the refusals."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from sweep_tables import settings

from simulator.errors import PssimError, PssimTypeError
from simulator.results.targets import (
    default_level,
    first_time_at,
    seed_times_to_target,
    time_to_target_table,
)

UPDATES = np.arange(0, 60, 10)


def rows(config: dict, curves, *, updates=UPDATES, times=None, accuracy=None, diverged=()):
    """One configuration's rows: seed s follows ``curves[s]`` (the error; loss = error +
    0.5) at ``updates``, at ``times[s]`` (default 2 * update); seeds in ``diverged`` are
    marked diverged."""
    out = []
    for s, curve in enumerate(curves):
        time = 2.0 * updates if times is None else np.asarray(times[s], dtype=float)
        for i, u in enumerate(updates):
            out.append(
                {
                    **config,
                    "seed": s,
                    "update": int(u),
                    "time": float(time[i]),
                    "loss": curve[i] + 0.5,
                    "error": curve[i],
                    "accuracy": math.nan if accuracy is None else accuracy[s][i],
                    "diverged": s in diverged,
                }
            )
    return pd.DataFrame(out)


#: Dips below 0.5 at update 10, comes back above it, stays below from update 30 on.
BOUNCE = [1.0, 0.4, 0.8, 0.45, 0.3, 0.2]
#: Stays below 0.5 from update 20 on.
STEADY = [1.0, 0.7, 0.45, 0.35, 0.3, 0.25]
#: Never below 0.5.
FLAT = [1.0, 0.9, 0.8, 0.7, 0.6, 0.55]


def test_a_curve_that_dips_below_and_comes_back_is_timed_where_it_stays():
    table = rows(settings(k=1), [BOUNCE])
    seeds = seed_times_to_target(table, "k", target=0.5)
    assert list(seeds.columns) == ["k", "seed", "time", "status", "target", "target_on"]
    assert seeds["status"].tolist() == ["reached"] and seeds["time"].tolist() == [60.0]
    first_touch = first_time_at(UPDATES, 2.0 * UPDATES, np.array(BOUNCE), 0.5)
    assert first_touch == 20.0 != seeds["time"].iloc[0]
    out = time_to_target_table(table, "k", target=0.5)
    assert out["time_to_target"].tolist() == [60.0] and out["reached"].tolist() == [True]


def test_seeds_that_never_reach_are_counted_not_averaged():
    table = rows(settings(k=1), [BOUNCE, STEADY, FLAT])
    seeds = seed_times_to_target(table, "k", target=0.5)
    assert seeds["status"].tolist() == ["reached", "reached", "never"]
    assert seeds["time"].iloc[:2].tolist() == [60.0, 40.0] and math.isnan(seeds["time"].iloc[2])
    out = time_to_target_table(table, "k", target=0.5).iloc[0]
    assert out["time_to_target"] == 50.0  # the two that reached, the third left out
    assert (out["reached_seeds"], out["never_seeds"], out["diverged_seeds"]) == (2, 1, 0)
    assert out["seeds"] == 3 and not out["reached"]  # a seed that never reaches: not reached


def test_a_diverged_seed_is_apart_from_those_that_never_reach():
    blown = [1.0, 0.3, 0.2, 1e6, math.nan, math.nan]  # below 0.5 before it blew up
    table = rows(settings(k=1), [BOUNCE, STEADY, blown], diverged=(2,))
    seeds = seed_times_to_target(table, "k", target=0.5)
    assert seeds["status"].tolist() == ["reached", "reached", "diverged"]
    assert math.isnan(seeds["time"].iloc[2])
    out = time_to_target_table(table, "k", target=0.5).iloc[0]
    assert out["reached"] and out["time_to_target"] == 50.0
    assert (out["reached_seeds"], out["never_seeds"], out["diverged_seeds"]) == (2, 0, 1)


def test_a_cell_whose_seeds_all_diverged_is_not_reached():
    table = rows(settings(k=1), [STEADY, STEADY], diverged=(0, 1))
    out = time_to_target_table(table, "k", target=0.5).iloc[0]
    assert not out["reached"] and math.isnan(out["time_to_target"])
    assert math.isnan(out["ci95_low"]) and out["diverged_seeds"] == 2


def test_a_window_asks_only_that_long_a_stay():
    curve = [1.0, 0.4, 0.45, 0.8, 0.3, 0.2]  # times 0, 20, ..., 100
    table = rows(settings(k=1), [curve])

    def time(**kw):
        return seed_times_to_target(table, "k", target=0.5, **kw)["time"].iloc[0]

    assert time() == 80.0  # the rest of the run
    assert time(window=20.0) == 20.0  # [20, 40]: 0.4 and 0.45
    assert time(window=39.0) == 20.0  # 60 is beyond 20 + 39
    assert time(window=40.0) == 80.0  # [20, 60] holds 0.8 at 60; so does [40, 80]
    # near the end a window is cut at the end of the run, but the last point alone is no
    # stay, with or without a window: a later point must show it
    late = rows(settings(k=1), [[1.0, 0.9, 0.8, 0.7, 0.4, 0.3]])
    assert seed_times_to_target(late, "k", target=0.5, window=1e9)["time"].iloc[0] == 80.0
    last = rows(settings(k=1), [[1.0, 0.9, 0.8, 0.7, 0.6, 0.3]])
    for window in (None, 1e9):
        got = seed_times_to_target(last, "k", target=0.5, window=window)
        assert got["status"].tolist() == ["never"]


def test_an_accuracy_target_is_at_or_above_and_stays():
    accuracy = [[0.1, 0.75, 0.6, 0.7, 0.8, 0.85], [0.1, 0.2, 0.3, 0.4, 0.5, 0.6]]
    table = rows(settings(k=1), [STEADY, STEADY], accuracy=accuracy)
    seeds = seed_times_to_target(table, "k", target_accuracy=0.7)
    assert seeds["status"].tolist() == ["reached", "never"]
    assert seeds["time"].iloc[0] == 60.0  # 0.75 at 20 was a touch; 0.7 from 60 on stays
    assert (seeds["target"] == 0.7).all() and (seeds["target_on"] == "accuracy").all()
    out = time_to_target_table(table, "k", target_accuracy=0.7)
    assert out["target_on"].tolist() == ["accuracy"] and out["never_seeds"].tolist() == [1]


def test_a_fraction_target_is_one_level_from_every_rows_start():
    table = pd.concat(
        [
            rows(settings(k=1), [STEADY, STEADY]),
            rows(settings(k=2), [[2.0 * v for v in STEADY], [2.0 * v for v in STEADY]]),
        ]
    )
    start = table.loc[table["update"] == 0, "error"].mean()  # (1 + 1 + 2 + 2) / 4
    out = time_to_target_table(table, "k", target_fraction=0.4)
    assert out["target"].tolist() == pytest.approx([0.4 * start] * 2)
    level = 0.4 * start
    expected = [
        2.0 * UPDATES[np.flatnonzero(np.array(c) <= level)[0]]
        for c in (STEADY, [2.0 * v for v in STEADY])
    ]
    assert out["time_to_target"].tolist() == pytest.approx(expected)
    loss = time_to_target_table(table, "k", target_fraction=0.4, value="loss")
    assert loss["target"].iloc[0] == pytest.approx(0.4 * (start + 0.5))
    assert loss["target_on"].iloc[0] == "loss"


def _times_table(times) -> pd.DataFrame:
    """Seeds whose curves stay below 0.5 from update 10 on, reached at ``times``."""
    ts = [np.array([0.0, t, t + 1, t + 2, t + 3, t + 4]) for t in times]
    return rows(settings(k=1), [STEADY[:1] + [0.3] * 5] * len(times), times=ts)


def test_the_interval_of_two_times_is_the_two_times():
    out = time_to_target_table(_times_table([10.0, 30.0]), "k", target=0.5).iloc[0]
    assert out["time_to_target"] == 20.0
    # resampling two values: both low with probability 1/4, both high 1/4
    assert (out["ci95_low"], out["ci95_high"]) == (10.0, 30.0)


def test_the_interval_is_the_percentile_interval_of_the_resampled_mean():
    a, b = 10.0, 30.0
    out = time_to_target_table(_times_table([a, a, a, b]), "k", target=0.5).iloc[0]
    # the mean of 4 draws is a + (b - a) N / 4, N ~ Binomial(4, 1/4) draws of b: its 2.5%
    # and 97.5% points are the interval, when no bootstrap draw count can move them
    n, p, resamples = 4, 0.25, 9999
    law = stats.binom(n, p)
    lo, hi = law.ppf(0.025), law.ppf(0.975)
    sd = math.sqrt(0.025 * 0.975 / resamples)
    assert law.cdf(lo) > 0.025 + 6 * sd and law.cdf(hi - 1) < 0.975 - 6 * sd
    assert law.cdf(hi) > 0.975 + 6 * sd
    assert out["ci95_low"] == a + (b - a) * lo / n
    assert out["ci95_high"] == a + (b - a) * hi / n
    assert out["ci95_high"] < b  # not merely the range of the times


def test_one_reached_seed_has_no_interval_and_equal_times_a_point():
    one = time_to_target_table(_times_table([10.0]), "k", target=0.5).iloc[0]
    assert one["time_to_target"] == 10.0
    assert math.isnan(one["ci95_low"]) and math.isnan(one["ci95_high"])
    same = time_to_target_table(_times_table([7.0, 7.0, 7.0]), "k", target=0.5).iloc[0]
    assert (same["ci95_low"], same["time_to_target"], same["ci95_high"]) == (7.0, 7.0, 7.0)


def test_intervals_are_reproducible_and_do_not_depend_on_other_cells():
    table = _times_table([3.0, 10.0, 11.0, 40.0, 41.0])
    other = _times_table([5.0, 6.0]).assign(k=2)
    first = time_to_target_table(table, "k", target=0.5)
    again = time_to_target_table(pd.concat([table, other]), "k", target=0.5)
    pd.testing.assert_frame_equal(first, again.iloc[:1])
    assert first["ci95_low"].iloc[0] < first["time_to_target"].iloc[0]
    assert first["time_to_target"].iloc[0] < first["ci95_high"].iloc[0]


def _noisy_table() -> pd.DataFrame:
    """Three K, three seeds each, curves that bounce on their way down, one diverged."""
    rng = np.random.default_rng(5)
    updates = np.arange(0, 210, 10)
    frames = []
    for k, rate in ((1, 0.05), (2, 0.02), (4, 0.01)):
        curves = [
            np.exp(-rate * updates) + np.r_[0.0, rng.uniform(0.0, 0.1, updates.size - 1)]
            for _ in range(3)
        ]
        curves.append(np.r_[1.0, np.full(updates.size - 1, 1e-6)])  # diverged: left out
        frames.append(rows(settings(k=k), curves, updates=updates, diverged=(3,)))
    return pd.concat(frames, ignore_index=True)


def test_the_default_target_is_stayed_under_by_every_seed_of_every_cell():
    table = _noisy_table()
    out = time_to_target_table(table, "k")
    level = out["target"].iloc[0]
    tails = []
    for _, seed in table[~table["diverged"]].groupby(["k", "seed"]):
        after = seed[seed["update"] > 0].sort_values("update")["error"].to_numpy()
        tails.append(after[-math.ceil(after.size / 4) :].max())  # its last quarter
    assert level == max(tails)
    assert out["reached"].all() and (out["never_seeds"] == 0).all()
    assert (out["reached_seeds"] == 3).all() and (out["diverged_seeds"] == 1).all()
    seeds = seed_times_to_target(table, "k")
    assert (seeds["target"] == level).all()
    assert set(seeds["status"]) == {"reached", "diverged"}
    # the first touch of the seed-mean curve would have been earlier for the slow cell
    assert level < 1.0


def test_default_level_of_seed_curves():
    u = np.array([0, 10, 20, 30, 40])
    fast = [(u, np.array([1.0, 0.4, 0.3, 0.2, 0.25]))]
    slow = [(u, np.array([1.0, 0.8, 0.5, 0.45, 0.4])), (u, np.array([1.0, 0.7, 0.5, 0.3, 0.35]))]
    assert default_level([fast, slow]) == 0.45  # the worst maximum of the last 2 points
    assert default_level([fast, []]) == 0.25  # a group without seeds (all diverged) is apart
    assert default_level([[], []]) is None
    up = [(u, np.array([1.0, 0.8, 0.9, 1.1, 1.2]))]
    assert default_level([fast, up]) is None  # 1.2 is not below the start of every group
    with_nan = [(u, np.array([1.0, 0.5, 0.4, 0.3, math.nan]))]
    assert default_level([fast, with_nan]) is None


def test_no_default_target_gives_nan_and_nothing_reached():
    up = [1.0, 1.1, 1.2, 1.3, 1.4, 1.5]
    table = pd.concat([rows(settings(k=1), [STEADY]), rows(settings(k=2), [up])])
    out = time_to_target_table(table, "k")
    assert out["target"].isna().all() and not out["reached"].any()
    assert out["time_to_target"].isna().all() and (out["reached_seeds"] == 0).all()
    seeds = seed_times_to_target(table, "k")
    assert seeds["target"].isna().all() and (seeds["status"] == "never").all()


def test_the_table_keeps_its_columns_and_adds_the_interval_and_counts():
    out = time_to_target_table(rows(settings(k=1), [BOUNCE, STEADY]), "k", target=0.5)
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
    assert out["reached"].dtype == bool and out["ci95_low"].dtype == float


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        (
            {"target": 0.5, "target_fraction": 0.5},
            PssimError,
            "^give one of `target`, `target_accuracy` or `target_fraction`; got `target` and "
            "`target_fraction`$",
        ),
        (
            {"target_accuracy": 0.5, "target_fraction": 0.5},
            PssimError,
            "got `target_accuracy` and `target_fraction`",
        ),
        (
            {"target_fraction": 0.0},
            PssimError,
            "^`target_fraction` must be in \\(0, 1\\); got 0.0$",
        ),
        ({"target_fraction": 1.0}, PssimError, "^`target_fraction` must be in \\(0, 1\\); got 1.0"),
        ({"target_fraction": math.nan}, PssimError, "`target_fraction` must be in \\(0, 1\\)"),
        ({"target_fraction": "a"}, PssimTypeError, "`target_fraction` must be a number; got 'a'"),
        ({"target_accuracy": 0.0}, PssimError, "^`target_accuracy` must be in \\(0, 1\\]; got 0.0"),
        ({"target_accuracy": 1.5}, PssimError, "`target_accuracy` must be in \\(0, 1\\]; got 1.5"),
        ({"target": 0.5, "window": 0.0}, PssimError, "^`window` must be > 0; got 0.0$"),
        ({"target": 0.5, "window": -1}, PssimError, "^`window` must be > 0; got -1$"),
        ({"target": 0.5, "window": math.nan}, PssimError, "^`window` must be finite; got nan"),
        ({"target": 0.5, "window": math.inf}, PssimError, "^`window` must be finite; got inf"),
        ({"target": 0.5, "window": "1"}, PssimTypeError, "^`window` must be a number; got '1'"),
        ({"target": 0.5, "window": True}, PssimTypeError, "^`window` must be a number; got True"),
        (
            {"target_accuracy": 0.5, "value": "error"},
            PssimError,
            "^`value` must be left out with `target_accuracy` .*; got 'error'$",
        ),
    ],
)
def test_bad_targets_are_refused_in_one_line(kwargs, error, match):
    table = rows(settings(k=1), [STEADY], accuracy=[[0.1] * 6])
    for function in (time_to_target_table, seed_times_to_target):
        with pytest.raises(error, match=match) as info:
            function(table, "k", **kwargs)
        assert "\n" not in str(info.value)
        assert info.value.param in {
            "target",
            "target_accuracy",
            "target_fraction",
            "window",
            "value",
        }


def test_an_accuracy_target_names_the_missing_accuracy():
    table = rows(settings(k=1), [STEADY])
    with pytest.raises(
        PssimError,
        match=r"^`target_accuracy` needs accuracy values in `table`; its "
        r"accuracy column is NaN in every row \(a model without accuracy\)$",
    ):
        time_to_target_table(table, "k", target_accuracy=0.5)
    with pytest.raises(
        PssimError, match=r"^`target_accuracy` needs the column accuracy in `table`; it has none$"
    ) as info:
        seed_times_to_target(table.drop(columns="accuracy"), "k", target_accuracy=0.5)
    assert info.value.param == "target_accuracy"


def test_a_fraction_target_names_a_missing_start():
    table = rows(settings(k=1), [STEADY])
    with pytest.raises(PssimError, match=r"`target_fraction` needs the initial error.*update 0"):
        time_to_target_table(table[table["update"] > 0], "k", target_fraction=0.5)
    zero = rows(settings(k=1), [[0.0] * 6])
    with pytest.raises(PssimError, match="`target_fraction` needs a positive initial error; "):
        time_to_target_table(zero, "k", target_fraction=0.5)


def test_a_window_needs_times_that_do_not_decrease():
    table = rows(settings(k=1), [STEADY], times=[[0.0, 10.0, 5.0, 20.0, 30.0, 40.0]])
    with pytest.raises(PssimError, match="`table` times must not decrease with update"):
        time_to_target_table(table, "k", target=0.5, window=5.0)


def test_a_grown_sweeps_seed_counts_do_not_split_a_configuration():
    """Parts of a sweep that grew by seeds hold the seed count each was run with."""
    table = pd.concat(
        [rows(settings(k=1, seeds=2), [STEADY, BOUNCE]), rows(settings(k=1, seeds=3), [FLAT])]
    )
    table["seed"] = np.repeat([0, 1, 2], len(UPDATES))
    table["config"] = table["config"].iloc[0]  # one key: the seed count is not in it
    out = time_to_target_table(table, "k", target=0.5).iloc[0]
    assert (out["seeds"], out["reached_seeds"], out["never_seeds"]) == (3, 2, 1)
    other = table.assign(lr=np.where(table["seed"] == 2, 0.2, 0.1))
    with pytest.raises(PssimError, match="mixes several values of lr"):
        time_to_target_table(other, "k", target=0.5)
