"""Reading a measured-durations file: the shipped cluster's shape, ids and steps as written,
and one-line refusals naming the file and the line for every bad file."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from simulator.errors import USER_ERRORS
from simulator.measured import durations_path, read_durations


def _write(tmp_path: Path, text: str, name: str = "d.csv") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_workers_sorted_by_id_and_rows_by_step(tmp_path):
    path = _write(
        tmp_path,
        "worker,step,duration,censored\n10,7,1.5,false\n2,3,2.0,true\n10,2,1.0,0\n2,9,3.0,1\n",
    )
    m = read_durations(path)
    assert m.workers == (2, 10)  # numerically, not as strings ("10" < "2")
    assert [s.tolist() for s in m.steps] == [[3, 9], [2, 7]]
    assert [d.tolist() for d in m.durations] == [[2.0, 3.0], [1.0, 1.5]]
    assert [c.tolist() for c in m.censored] == [[True, True], [False, False]]
    assert m.num_rows == 4 and m.any_censored


def test_host_names_as_ids_and_extra_columns(tmp_path):
    path = _write(
        tmp_path,
        "worker, step, duration, note\nnode-b,1,2.0,x\nnode-a,1,1.0,y\nnode-a,2,1.1,z\n"
        "node-b,2,2.2,w\n",
    )
    m = read_durations(path)
    assert m.workers == ("node-a", "node-b")


def test_parquet_reads_like_csv_and_the_identity_is_the_content(tmp_path):
    frame = pd.DataFrame({"worker": [1, 1, 2, 2], "step": [0, 5, 0, 5], "duration": [1, 2, 3, 4.0]})
    csv = tmp_path / "a.csv"
    frame.to_csv(csv, index=False)
    parquet = tmp_path / "a.parquet"
    frame.to_parquet(parquet)
    a, b = read_durations(csv), read_durations(parquet)
    assert [d.tolist() for d in a.durations] == [d.tolist() for d in b.durations]
    moved = tmp_path / "sub"
    moved.mkdir()
    os.replace(csv, moved / "renamed.csv")
    assert read_durations(moved / "renamed.csv") == a  # same bytes, same identity
    assert a != b  # other bytes


def test_the_shipped_cluster_has_its_documented_shape_and_its_licence():
    m = read_durations("llm-se")
    assert m.source == "llm-SE-compute.csv"
    data = durations_path("LLM-SE").parent
    assert "Apache License" in (data / "LICENSE-Apache-2.0").read_text()
    assert m.num_workers == 64 and {len(d) for d in m.durations} == {43}
    means = np.array([d.mean() for d in m.durations])
    assert means.max() / means.min() == pytest.approx(1.6, abs=0.05)
    grid = np.stack(m.durations)
    assert grid.max(axis=0).mean() / grid.mean() == pytest.approx(1.5, abs=0.05)


BAD = {
    "missing column": ("worker,step\n1,1\n2,1\n", "missing duration"),
    "negative": ("worker,step,duration\n1,1,1\n1,2,-1\n2,1,1\n2,2,1\n", "line 3 has '-1'"),
    "non-finite": ("worker,step,duration\n1,1,1\n1,2,1\n2,1,inf\n2,2,1\n", "line 4 has 'inf'"),
    "not a number": ("worker,step,duration\n1,1,1\n1,2,abc\n2,1,1\n2,2,1\n", "line 3 has 'abc'"),
    "missing value": ("worker,step,duration\n1,1,1\n1,2,\n2,1,1\n2,2,1\n", "line 3"),
    "one worker": ("worker,step,duration\n1,1,1\n1,2,1\n", "at least 2 workers; got 1"),
    "single step": ("worker,step,duration\n1,1,1\n1,2,1\n2,1,1\n", "worker 2 has 1"),
    "empty": ("", "empty file"),
    "header only": ("worker,step,duration\n", "only a header"),
    "step not integer": ("worker,step,duration\n1,1.5,1\n1,2,1\n2,1,1\n2,2,1\n", "line 2"),
    "repeated step": ("worker,step,duration\n1,1,1\n1,1,2\n2,1,1\n2,2,1\n", "line 3 repeats"),
    "bad censored": (
        "worker,step,duration,censored\n1,1,1,maybe\n1,2,1,0\n2,1,1,0\n2,2,1,0\n",
        "line 2 has 'maybe'",
    ),
    "not a table": ("\x00\x01\x02 binary", "d.csv"),
}


@pytest.mark.parametrize("case", BAD, ids=list(BAD))
def test_a_bad_file_is_one_line_naming_the_file_and_the_line(tmp_path, case):
    text, expected = BAD[case]
    with pytest.raises(USER_ERRORS) as err:
        read_durations(_write(tmp_path, text))
    message = str(err.value)
    assert "\n" not in message and "d.csv" in message and expected in message, message
    assert getattr(err.value, "param", None) == "durations"


def test_a_fifo_or_device_is_refused_without_reading(tmp_path):
    fifo = tmp_path / "pipe.csv"
    os.mkfifo(fifo)
    for path in (fifo, Path("/dev/zero")):
        with pytest.raises(USER_ERRORS, match="not a regular file"):
            read_durations(path)


def test_a_gzipped_csv_reads_like_the_csv_and_a_false_parquet_is_named(tmp_path):
    import gzip

    plain = durations_path("llm-se").read_bytes()
    (tmp_path / "log.csv.gz").write_bytes(gzip.compress(plain))
    packed = read_durations(tmp_path / "log.csv.gz")
    shipped = read_durations("llm-se")
    assert [d.tolist() for d in packed.durations] == [d.tolist() for d in shipped.durations]
    (tmp_path / "log.parquet").write_text("worker,step,duration\n")
    with pytest.raises(USER_ERRORS, match=r"'log\.parquet' must be a Parquet file"):
        read_durations(tmp_path / "log.parquet")
    (tmp_path / "bad.csv.gz").write_bytes(b"\x1f\x8b not gzip")
    with pytest.raises(USER_ERRORS, match=r"'bad\.csv\.gz' must be a readable gzip file"):
        read_durations(tmp_path / "bad.csv.gz")
