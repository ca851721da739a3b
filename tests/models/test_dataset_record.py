"""Dataset validation, the default evaluation set, digits, synthetic data, batch checks."""

from __future__ import annotations

import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from models import (
    Dataset,
    check_batch_size,
    from_arrays,
    load_digits,
    synthetic_classes,
    synthetic_least_squares,
)


def test_digits() -> None:
    ds = load_digits()
    assert ds.name == "digits" and ds.task == "classification"
    assert ds.x.shape == (1797, 64) and ds.x.dtype == np.float32
    assert ds.y.shape == (1797,) and ds.y.dtype == np.int32
    assert ds.num_classes == 10 and ds.num_examples == 1797 and ds.num_features == 64
    assert ds.x.min() == 0.0 and ds.x.max() == 1.0
    assert np.all(np.isin(ds.x * 16, np.arange(17)))  # pixels were 0..16
    counts = np.bincount(ds.y, minlength=10)
    assert counts.shape == (10,) and counts.min() >= 170 and counts.max() <= 190
    assert ds.image_shape == (8, 8, 1)
    np.testing.assert_array_equal(ds.x_eval, ds.x)
    np.testing.assert_array_equal(ds.y_eval, ds.y)
    assert ds.y[0] == 0 and ds.y[1] == 1  # the well-known first rows of the UCI set


def test_eval_set_is_a_fixed_subset_beyond_10000_rows() -> None:
    n = 12_000
    x = np.arange(n, dtype=np.float32)[:, None] * np.ones((1, 2), np.float32)
    y = np.arange(n) % 3
    a, b = from_arrays(x, y), from_arrays(x, y)
    assert a.x_eval.shape == (10_000, 2) and a.y_eval.shape == (10_000,)
    rows = a.x_eval[:, 0].astype(int)
    assert len(np.unique(rows)) == 10_000 and np.all(np.diff(rows) > 0)
    np.testing.assert_array_equal(a.y_eval, y[rows])
    np.testing.assert_array_equal(a.x_eval, b.x_eval)  # seeded, not random per call


def test_explicit_eval_set_and_image_inputs() -> None:
    x = np.zeros((6, 4, 4, 3))
    ds = from_arrays(x, np.arange(6) % 2, name="imgs")
    assert ds.x.shape == (6, 48) and ds.image_shape == (4, 4, 3) and ds.name == "imgs"
    ds = from_arrays(np.zeros((6, 5, 7)), np.arange(6) % 2)
    assert ds.image_shape == (5, 7, 1)
    ds = Dataset("e", np.zeros((4, 2)), np.arange(4) % 2, np.ones((3, 2)), np.array([1, 0, 1]))
    assert ds.x_eval.shape == (3, 2) and ds.x_eval.dtype == np.float32
    assert ds.y_eval.dtype == np.int32


def test_task_inference_and_num_classes() -> None:
    reg = from_arrays(np.zeros((3, 2)), np.array([0.5, 1.0, 2.0]))
    assert reg.task == "regression" and reg.num_classes is None and reg.y.dtype == np.float32
    cls = from_arrays(np.zeros((3, 2)), np.array([0, 4, 2]))
    assert cls.task == "classification" and cls.num_classes == 5
    forced = from_arrays(np.zeros((3, 2)), np.array([0.0, 1.0, 2.0]), task="classification")
    assert forced.y.dtype == np.int32 and forced.num_classes == 3
    assert from_arrays(np.zeros((3, 2)), np.array([0, 1, 1]), num_classes=4).num_classes == 4


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"x": np.array([[0.0, np.nan]])}, "`Dataset.x` must be finite; got 1 bad values"),
        ({"x": np.zeros(3)}, "`Dataset.x` must have shape (N, d) with N, d >= 1; got (3,)"),
        ({"x": np.array([["a", "b"]])}, "`Dataset.x` must hold real numbers; got dtype <U1"),
        ({"y": np.array([0, 1])}, "`Dataset.y` must have shape (1,) to match the features"),
        ({"y": np.array([-1])}, "`Dataset.y` labels must lie in [0, num_classes); got range"),
        ({"y": np.array([3]), "num_classes": 3}, "`Dataset.y` labels must lie in [0, 3)"),
        (
            {"y": np.array([0.5]), "task": "classification"},
            "`Dataset.y` class labels must be integers",
        ),
        ({"y": np.array([np.inf])}, "`Dataset.y` must be finite"),
        ({"task": "ranking"}, "`Dataset.task` must be one of classification, regression"),
        ({"num_classes": 1}, "`Dataset.num_classes` must be an integer >= 2; got 1"),
        ({"image_shape": (1, 1, 3)}, "`Dataset.image_shape` must multiply to the 2 features"),
        ({"x_eval": np.zeros((1, 2))}, "`Dataset.x_eval` and `Dataset.y_eval` must be given"),
        (
            {"x_eval": np.zeros((1, 3)), "y_eval": np.zeros(1, int)},
            "`Dataset.x_eval` must have 2 columns; got 3",
        ),
        ({"name": ""}, "`Dataset.name` must be a non-empty string"),
    ],
)
def test_dataset_rejects_bad_input(kwargs: dict, message: str) -> None:
    base = {"name": "bad", "x": np.zeros((1, 2)), "y": np.array([0])}
    with pytest.raises(ValueError, match="^" + re.escape(message)):
        Dataset(**{**base, **kwargs})


@settings(max_examples=40, deadline=None)
@given(
    n=st.integers(1, 30),
    d=st.integers(1, 6),
    classes=st.integers(2, 5),
    seed=st.integers(0, 2**16),
)
def test_from_arrays_keeps_values(n: int, d: int, classes: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, d))
    y = rng.integers(0, classes, size=n)
    ds = from_arrays(x, y, num_classes=classes)
    assert ds.x.dtype == np.float32 and ds.y.dtype == np.int32
    np.testing.assert_array_equal(ds.x, x.astype(np.float32))
    np.testing.assert_array_equal(ds.y, y)
    assert (ds.num_examples, ds.num_features, ds.num_classes) == (n, d, classes)


@settings(max_examples=60, deadline=None)
@given(m=st.integers(-3, 2000))
def test_check_batch_size(m: int) -> None:
    ds = DIGITS
    if 1 <= m <= 1797:
        assert check_batch_size(ds, m) == m
    else:
        with pytest.raises(ValueError, match=r"^`batch` must be (>= 1|<= the number)"):
            check_batch_size(ds, m)


DIGITS = load_digits()


def test_check_batch_size_messages() -> None:
    with pytest.raises(
        ValueError,
        match=r"^`batch` must be <= the number of training examples \(1797\); got 5000$",
    ):
        check_batch_size(DIGITS, 5000)
    with pytest.raises(ValueError, match=r"^`batch` must be >= 1; got 0$"):
        check_batch_size(DIGITS, 0)
    with pytest.raises(ValueError, match=r"^`batch` must be an integer; got 2.5$"):
        check_batch_size(DIGITS, 2.5)
    assert check_batch_size(DIGITS, np.int64(8)) == 8


def test_synthetic_classes() -> None:
    ds = synthetic_classes(num_examples=400, num_features=6, num_classes=4, separation=3.0)
    assert ds.x.shape == (400, 6) and ds.num_classes == 4
    np.testing.assert_array_equal(np.bincount(ds.y), [100] * 4)
    again = synthetic_classes(num_examples=400, num_features=6, num_classes=4, separation=3.0)
    np.testing.assert_array_equal(ds.x, again.x)
    other = synthetic_classes(num_examples=400, num_features=6, num_classes=4, seed=1)
    assert not np.array_equal(ds.x, other.x)
    means = np.stack([ds.x[ds.y == c].mean(axis=0) for c in range(4)])
    # each class mean sits about `separation` from the origin (sd of the estimate ~ 0.25)
    np.testing.assert_allclose(np.linalg.norm(means, axis=1), 3.0, atol=0.6)
    with pytest.raises(ValueError, match=r"^`num_examples` must be >= `num_classes` \(4\); got 3"):
        synthetic_classes(num_examples=3)
    with pytest.raises(ValueError, match=r"^`separation` must be a finite number >= 0; got -1"):
        synthetic_classes(separation=-1)


def test_synthetic_least_squares_shape_and_validation() -> None:
    ds = synthetic_least_squares(num_examples=300, dim=4, noise=0.0)
    assert ds.task == "regression" and ds.num_classes is None and ds.y.dtype == np.float32
    assert ds.x.shape == (300, 4)
    np.testing.assert_allclose(ds.optimum["w_star"], ds.optimum["w_true"], atol=1e-5)
    assert ds.optimum["f_star"] < 1e-10
    with pytest.raises(ValueError, match=r"^`num_examples` must be >= `dim` \(10\); got 5$"):
        synthetic_least_squares(num_examples=5)
    with pytest.raises(ValueError, match=r"^`condition` must be a finite number >= 1; got 0.5"):
        synthetic_least_squares(condition=0.5)
