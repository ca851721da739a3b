"""Empirical laws: in memory and from .npy / .csv / .txt files."""

from __future__ import annotations

import numpy as np
import pytest

from distributions import Empirical, parse_law

VALUES = np.array([0.25, 1.5, 1.5, 3.0, 0.75])


def test_from_npy(tmp_path):
    path = tmp_path / "durations.npy"
    np.save(path, VALUES)
    law = Empirical.from_file(path)
    np.testing.assert_array_equal(law.values, VALUES)
    assert law.spec == f"empirical:{path}"
    assert parse_law(law.spec) == law
    assert parse_law(law.spec).source == str(path)


def test_from_npy_column(tmp_path):
    path = tmp_path / "column.npy"
    np.save(path, VALUES[:, None].astype(np.float32))
    np.testing.assert_allclose(Empirical.from_file(path).values, VALUES)


def test_from_csv_with_header_and_blank_lines(tmp_path):
    path = tmp_path / "durations.csv"
    path.write_text("compute_time_s\n" + "\n".join(repr(float(v)) for v in VALUES) + "\n\n")
    law = Empirical.from_file(str(path))
    np.testing.assert_array_equal(law.values, VALUES)
    assert law == Empirical(VALUES)


def test_from_txt_without_header(tmp_path):
    path = tmp_path / "durations.txt"
    path.write_text("1\n2.5e-1\n  3.0  \n")
    np.testing.assert_array_equal(Empirical.from_file(path).values, [1.0, 0.25, 3.0])


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("missing.csv", None, r"^`Empirical.path` must be an existing file; got '.*missing.csv'$"),
        ("empty.csv", "", r"^`Empirical.path` must hold at least 1 value; got 0 in "),
        ("header.csv", "time\n\n", r"^`Empirical.path` must hold at least 1 value; got 0 in "),
        (
            "words.csv",
            "time\nabc\n",
            r"^`Empirical.path` line 2 must be one finite number; got 'abc'",
        ),
        ("nan.txt", "1.0\nnan\n", r"^`Empirical.path` line 2 must be one finite number; got 'nan'"),
        ("nan_first.txt", "nan\n1.0\n", r"line 1 must be one finite number; got 'nan'"),
        ("two.csv", "a,b\n1.0,2.0\n", r"^`Empirical.path` line 2 must be one finite number"),
        ("neg.csv", "1.0\n-2.0\n", r"^`Empirical.values` must be >= 0; got -2.0 at index 1$"),
        ("data.json", "[1.0]", r"^`Empirical.path` must end in .npy, .csv or .txt; got '.json'"),
        ("bad.npy", "not an npy file", r"^`Empirical.path` must be a readable .npy file"),
    ],
)
def test_bad_files_raise_value_error(tmp_path, name, content, message):
    path = tmp_path / name
    if content is not None:
        path.write_text(content)
    with pytest.raises(ValueError, match=message):
        Empirical.from_file(path)
    with pytest.raises(ValueError, match=message):
        parse_law(f"empirical:{path}")


@pytest.mark.parametrize(
    ("array", "message"),
    [
        (np.array([], dtype=float), "must hold at least 1 value"),
        (np.ones((2, 2)), r"must hold a 1-D array \(or one column\); got shape \(2, 2\)"),
        (np.array(["a", "b"]), "must hold real numbers; got dtype <U1"),
        (np.array([1.0, np.inf]), r"^`Empirical.values` must be finite; got inf at index 1$"),
    ],
)
def test_bad_npy_arrays_raise_value_error(tmp_path, array, message):
    path = tmp_path / "bad.npy"
    np.save(path, array)
    with pytest.raises(ValueError, match=message):
        Empirical.from_file(path)


def test_constructor_validation():
    with pytest.raises(ValueError, match=r"^`Empirical.values` must have at least 1 value; got 0$"):
        Empirical([])
    with pytest.raises(
        ValueError, match=r"^`Empirical.values` must be finite; got nan at index 0$"
    ):
        Empirical([np.nan])
    with pytest.raises(ValueError, match=r"^`Empirical.values` must be 1-D; got shape \(1, 2\)$"):
        Empirical([[1.0, 2.0]])
    with pytest.raises(
        TypeError, match=r"^`Empirical.values` must be real numbers; got dtype bool$"
    ):
        Empirical([True, False])


def test_values_are_a_read_only_copy():
    data = VALUES.copy()
    law = Empirical(data)
    data[0] = 100.0
    assert law.values[0] == VALUES[0]
    with pytest.raises(ValueError):
        law.values[0] = 1.0


def test_distribution_functions_are_the_step_functions():
    law = Empirical(VALUES)
    assert law.spec == "empirical(n=5)"
    assert law.mean() == pytest.approx(VALUES.mean()) and law.var() == pytest.approx(VALUES.var())
    x = np.array([-1.0, 0.25, 1.0, 1.5, 2.0, 3.0, 4.0])
    np.testing.assert_allclose(law.cdf(x), [0.0, 0.2, 0.4, 0.8, 0.8, 1.0, 1.0])
    np.testing.assert_allclose(law.sf(x), 1.0 - law.cdf(x))
    for v in VALUES:  # the quantile function inverts the cdf on the data
        assert law.ppf(law.cdf(v)) == v
    np.testing.assert_array_equal(
        law.ppf([0.0, 0.1, 0.2, 0.21, 0.5, 0.99, 1.0]), [0.25, 0.25, 0.25, 0.75, 1.5, 3.0, 3.0]
    )
