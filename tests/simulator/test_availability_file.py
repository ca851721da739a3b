"""Availability files: each learner's down periods read from a CSV file, every broken rule
refused in one line naming the file, the line and the rule; the spec identifies the file by
its bytes and reads a relative path from its config file's folder."""

from __future__ import annotations

import pickle
import re

import numpy as np
import pytest

from simulator import ExperimentSpec, load_spec
from simulator._availability_file import AvailabilityFile, load_availability
from simulator.errors import SpecError

GOOD = """# measured outages
worker , up, down, note
0, 2, 1, a
0, 4.5 ,3, b

3, 30, 7, c
0, 6, 4.5, touches the one before
"""


def _write(tmp_path, text: str, name: str = "down.csv"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_a_file_gives_each_learners_sorted_intervals(tmp_path):
    value = load_availability(str(_write(tmp_path, GOOD)))
    intervals = value.intervals(4)
    assert len(intervals) == 4
    np.testing.assert_array_equal(intervals[0], [[1, 2], [3, 4.5], [4.5, 6]])
    assert intervals[1].shape == (0, 2) and intervals[2].shape == (0, 2)
    np.testing.assert_array_equal(intervals[3], [[7, 30]])
    assert intervals[0].dtype == np.float64 and not intervals[0].flags.writeable
    assert len(value.sha256) == 64 and str(value) == str(tmp_path / "down.csv")
    again = pickle.loads(pickle.dumps(value))
    assert isinstance(again, AvailabilityFile) and again.sha256 == value.sha256
    np.testing.assert_array_equal(again.intervals(4)[3], intervals[3])


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", r"'bad.csv' must hold a header line worker,down,up and rows; got none"),
        ("# only a comment\n\n", r"must hold a header line"),
        ("worker,down,up\n", r"'bad.csv' must hold at least one row after the header; got none"),
        ("worker,down\n0,1\n", r"'bad.csv' line 1: the header must name the columns worker, "
         r"down, up; missing up"),
        ("0,1,2\n", r"line 1: the header must name .*missing worker, down, up"),
        ("worker,down,up\n0,1\n", r"line 2: must have 3 values like the header; got 2"),
        ("worker,down,up\n0,x,2\n", r"line 2: `down` must be a number; got 'x'"),
        ("worker,down,up\n0,1,\n", r"line 2: `up` must be a number; got ''"),
        ("worker,down,up\n0,1,inf\n", r"line 2: `up` must be finite; got 'inf'"),
        ("worker,down,up\n0,nan,2\n", r"line 2: `down` must be finite; got 'nan'"),
        ("worker,down,up\n0,-1,2\n", r"line 2: `down` must be a time >= 0; got '-1'"),
        ("worker,down,up\n0,2,2\n", r"line 2: `down` must be < `up`; got down=2, up=2"),
        ("worker,down,up\n0,3,2\n", r"line 2: `down` must be < `up`; got down=3, up=2"),
        ("worker,down,up\n-1,1,2\n", r"line 2: `worker` must be a learner index \(an integer "
         r">= 0\); got '-1'"),
        ("worker,down,up\n1.5,1,2\n", r"line 2: `worker` must be a learner index"),
        ("worker,down,up\n0,1,3\n1,0,9\n0,2,4\n", r"line 4: down periods of worker 0 must not "
         r"overlap; got \[2, 4\) after \[1, 3\)"),
        ("worker,down,up\n0,5,6\n# later\n0,1,2\n", r"line 4: rows of worker 0 must be sorted "
         r"by `down`; got down=1 after down=5"),
    ],
)  # fmt: skip
def test_each_broken_rule_is_one_line_naming_the_file_and_line(tmp_path, text, message):
    path = _write(tmp_path, text, "bad.csv")
    with pytest.raises(SpecError, match=r"^`availability` file 'bad.csv' ") as info:
        load_availability(str(path))
    assert re.search(message, str(info.value)), str(info.value)
    assert "\n" not in str(info.value) and info.value.param == "availability"


def test_a_worker_beyond_p_is_refused_by_the_spec(tmp_path):
    path = _write(tmp_path, GOOD)
    assert ExperimentSpec(availability=str(path), num_learners=4).faults
    with pytest.raises(
        SpecError,
        match=r"^`availability` file 'down.csv' line 6: worker must be a learner index in "
        r"\[0, P\) with P = 3; got 3$",
    ):
        ExperimentSpec(availability=str(path), num_learners=3)


def test_availability_is_refused_with_failure_and_repair(tmp_path):
    path = _write(tmp_path, GOOD)
    with pytest.raises(SpecError, match=r"^`availability` and `failure` must not both be given"):
        ExperimentSpec(availability=str(path), failure="exp:1", repair="exp:1")


def test_unreadable_values_are_refused(tmp_path):
    with pytest.raises(SpecError, match=r"^`availability` must be a readable availability"):
        ExperimentSpec(availability=str(tmp_path / "missing.csv"))
    with pytest.raises(SpecError, match=r"^`availability` must be an availability file"):
        ExperimentSpec(availability="  ")
    with pytest.raises(SpecError, match=r"^`availability` must be a readable .*folder"):
        ExperimentSpec(availability=str(tmp_path))


def test_the_spec_keeps_the_path_as_typed_and_is_identified_by_the_bytes(tmp_path, monkeypatch):
    path = _write(tmp_path, GOOD)
    monkeypatch.chdir(tmp_path)
    spec = ExperimentSpec(availability="down.csv", num_learners=4)
    assert spec.to_dict()["availability"] == "down.csv"
    assert spec.identity()["availability"].startswith("sha256:")
    moved = tmp_path / "elsewhere"
    moved.mkdir()
    (moved / "renamed.csv").write_bytes(path.read_bytes())
    other = ExperimentSpec(availability=str(moved / "renamed.csv"), num_learners=4)
    assert other == spec and other.digest() == spec.digest()
    changed = _write(tmp_path, GOOD + "1, 1, 0, new\n", "changed.csv")
    assert ExperimentSpec(availability=str(changed), num_learners=4).digest() != spec.digest()
    # TOML writes the absolute path: it reruns from any folder
    assert ExperimentSpec.from_toml(spec.to_toml()) == spec
    assert str(path.absolute()) in spec.to_toml()


def test_a_relative_path_in_a_config_file_is_read_from_its_folder(tmp_path, monkeypatch):
    folder = tmp_path / "cluster"
    folder.mkdir()
    _write(folder, GOOD)
    (folder / "exp.toml").write_text(
        '[timing]\nvariant = "sync"\nlearners = 4\navailability = "down.csv"\n'
    )
    monkeypatch.chdir(tmp_path)
    spec = load_spec(folder / "exp.toml")
    assert spec.availability.path == folder / "down.csv"
    assert spec.availability.intervals(4)[3].tolist() == [[7.0, 30.0]]
