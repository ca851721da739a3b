"""The laws' public functions answer bad input with a LawError naming the argument, in one
line: wrong types, NaN, values beyond the float range, ragged arrays, sizes beyond memory,
and duration files that are not regular files under the size cap."""

from __future__ import annotations

import os
import threading

import numpy as np
import pytest

from distributions import (
    Empirical,
    Exponential,
    Gamma,
    HyperExponential,
    LawError,
    LawTypeError,
    Pareto,
    ShiftedExponential,
    parse_law,
)

LAWS = [Exponential(1.0), Pareto(2.0, 1.0), Gamma(2.0, 1.0), Empirical([1.0, 2.0, 4.0])]
HUGE = 10**400


def _one_line(err: pytest.ExceptionInfo) -> str:
    text = str(err.value)
    assert "\n" not in text and len(text) < 300, text
    return text


# ------------------------------------------------------------------ distribution functions
@pytest.mark.parametrize("law", LAWS, ids=lambda law: type(law).__name__)
@pytest.mark.parametrize("method", ["cdf", "sf", "ppf", "isf"])
@pytest.mark.parametrize(
    ("value", "error", "message"),
    [
        ("a", LawTypeError, "must be a number or an array of numbers; got 'a'"),
        (None, LawTypeError, "must be a number or an array of numbers; got None"),
        (object(), LawTypeError, "must be a number or an array of numbers"),
        ([[0.1, 0.2], [0.3]], LawTypeError, "must be a number or an array of numbers"),
        (True, LawTypeError, "must be a number or an array of numbers; got True"),
        (1 + 2j, LawTypeError, "must be a number or an array of numbers"),
        (HUGE, LawError, "must be finite floats; got an integer of 401 digits"),
        (float("nan"), LawError, "must not be NaN; got nan"),
        ([0.5, float("nan")], LawError, "must not be NaN; got nan at index 1"),
    ],
)
def test_distribution_functions_refuse_bad_input(law, method, value, error, message):
    name = "q" if method in ("ppf", "isf") else "x"
    if name == "q" and "NaN" in message:  # a probability's rule covers NaN
        message = "must be in [0, 1]; got nan"
    with pytest.raises(error) as err:
        getattr(law, method)(value)
    assert _one_line(err).startswith(f"`{name}` {message}")


@pytest.mark.parametrize("method", ["cdf", "sf", "ppf", "isf"])
def test_distribution_functions_still_take_numbers_and_arrays(method):
    law = Exponential(2.0)
    assert np.isfinite(getattr(law, method)(0.5))
    out = getattr(law, method)(np.array([[0.1, 0.2], [0.3, 0.4]], dtype=np.float32))
    assert out.shape == (2, 2) and out.dtype == np.float64
    assert getattr(law, method)([]).shape == (0,)


def test_cdf_of_infinite_times_is_still_defined():
    assert Exponential(1.0).cdf(np.inf) == 1.0 and Exponential(1.0).sf(np.inf) == 0.0


# ---------------------------------------------------------- order statistics, sums, samples
@pytest.mark.parametrize("law", LAWS, ids=lambda law: type(law).__name__)
def test_order_statistic_sizes_beyond_float_precision_are_refused(law):
    with pytest.raises(LawError) as err:
        law.order_statistic_mean(1, HUGE)
    assert _one_line(err).startswith("`n` must be <= 9007199254740992 (2**53)")
    with pytest.raises(LawError) as err:
        law.order_statistic_mean(HUGE, HUGE)
    assert "`n` must be" in _one_line(err)


@pytest.mark.parametrize("law", [Exponential(1.0), Gamma(2.0, 1.0), ShiftedExponential(1, 1)])
def test_sum_of_too_many_draws_is_refused(law):
    with pytest.raises(LawError) as err:
        law.sum_law(HUGE)
    assert _one_line(err).startswith("`k` must be <= 9007199254740992 (2**53)")


@pytest.mark.parametrize("shape", [2**62, (2**31, 2**31), HUGE, (10**6, 10**6)])
def test_sample_shapes_beyond_memory_are_refused_before_allocating(shape):
    with pytest.raises(LawError) as err:
        Exponential(1.0).sample(shape, rng=np.random.default_rng(0))
    assert _one_line(err).startswith("`shape` must ask for at most")


# ------------------------------------------------------------------------ parameters
@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: Exponential(HUGE), "`Exponential.rate` must be finite; got an integer of 401"),
        (lambda: Pareto(2.0, HUGE), "`Pareto.scale` must be finite; got an integer of 401"),
        (lambda: parse_law("exp:m", m=HUGE), "must be finite; got an integer of 401 digits"),
        (lambda: HyperExponential([[0.5, 0.5], [1.0]], (1.0, 2.0)), "`HyperExponential.probs"),
        (lambda: HyperExponential((0.5, 0.5), [[1.0], 2.0]), "`HyperExponential.rates"),
        (lambda: Empirical([[1.0, 2.0], [3.0]]), "`Empirical.values` must be real numbers"),
    ],
)
def test_parameters_beyond_floats_or_ragged_are_refused(make, message):
    with pytest.raises(LawError) as err:
        make()
    assert message in _one_line(err)


# ------------------------------------------------------------------------- files
@pytest.mark.parametrize("path", [123, None, 1.5, ["a.csv"], b"\xff.csv", object()])
def test_from_file_refuses_what_is_not_a_path(path):
    with pytest.raises(LawTypeError) as err:
        Empirical.from_file(path)
    assert _one_line(err).startswith("`Empirical.path` must be a path (str or os.PathLike)")


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_from_file_refuses_a_fifo_without_waiting_for_a_writer(tmp_path):
    fifo = tmp_path / "durations.csv"
    os.mkfifo(fifo)
    result: dict = {}

    def read():
        try:
            Empirical.from_file(fifo)
        except LawError as exc:
            result["error"] = str(exc)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    reader.join(timeout=20)
    if reader.is_alive():  # the reader hangs in open(): free it before failing
        with open(fifo, "w"):
            pass
        reader.join(timeout=5)
        pytest.fail("Empirical.from_file blocked on a FIFO")
    assert result["error"].startswith("`Empirical.path` must be a regular file; got a FIFO")


@pytest.mark.skipif(not os.path.exists("/dev/zero"), reason="needs /dev/zero")
def test_from_file_refuses_a_device(tmp_path):
    link = tmp_path / "zero.npy"
    link.symlink_to("/dev/zero")
    with pytest.raises(LawError) as err:
        Empirical.from_file(link)
    assert _one_line(err).startswith("`Empirical.path` must be a regular file; got a device")


def test_from_file_refuses_a_folder(tmp_path):
    folder = tmp_path / "d.csv"
    folder.mkdir()
    with pytest.raises(LawError) as err:
        Empirical.from_file(folder)
    assert _one_line(err).startswith("`Empirical.path` must be a regular file; got a folder")


def test_from_file_refuses_a_file_over_the_size_cap(tmp_path, monkeypatch):
    from distributions import _files

    monkeypatch.setattr(_files, "MAX_FILE_BYTES", 64)
    path = tmp_path / "big.txt"
    path.write_text("1.0\n" * 20)
    with pytest.raises(LawError) as err:
        Empirical.from_file(path)
    assert _one_line(err).startswith("`Empirical.path` must be at most 64 bytes; got 80 in ")
    small = tmp_path / "small.txt"
    small.write_text("1.0\n2.0\n")
    assert Empirical.from_file(small).values.tolist() == [1.0, 2.0]


def test_from_file_accepts_a_symlink_to_a_regular_file(tmp_path):
    target = tmp_path / "real.npy"
    np.save(target, np.array([1.0, 3.0]))
    link = tmp_path / "link.npy"
    link.symlink_to(target)
    assert Empirical.from_file(link).values.tolist() == [1.0, 3.0]
