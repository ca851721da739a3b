"""The sweep store reads only the part files it wrote, and faults during a sweep are one line.

Foreign, copied, other sweeps' and damaged files in ``results.parquet/`` are moved aside to
``ignored/`` (never deleted) and reported once; a damaged part's configurations are
recomputed; stores written before the manifest are adopted after checking each part; a
full disk, a lost scheduler and a LocalCluster that cannot start end in one line.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import tempfile
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from simulator import PssimError, SweepSpec, load_sweep, sweep
from simulator.studies.sweeps import SweepFault
from simulator.studies.sweeps import _exec as _sweep_exec
from simulator.studies.sweeps._manifest import Expected
from simulator.studies.sweeps._rows import SPEC_COLUMNS, TIMING_COLUMNS
from simulator.studies.sweeps._scan import scan
from simulator.studies.sweeps._store import IGNORED_NAME, MANIFEST_NAME, SweepStore

#: Four configurations, three seeds: twelve rows, one part file per configuration.
SWEEP = """
[timing]
learners = 4
iterations = 30
seeds = 3
dist = "exp:2"
[grid]
variant = ["k-sync", "async"]
K = [1, 2, 4]
"""
ROWS = 4 * 3


@pytest.fixture(scope="module")
def full(tmp_path_factory):
    """The untouched sweep: its folder and its table."""
    out = tmp_path_factory.mktemp("full")
    result = sweep(SweepSpec.from_toml(SWEEP), out, scheduler="serial", workers=None)
    assert result.complete and not result.ignored
    return out, result.frame()


@pytest.fixture
def store(full, tmp_path):
    """A copy of the finished sweep's folder to tamper with."""
    out = tmp_path / "run"
    shutil.copytree(full[0], out)
    return out


def parts(out) -> list:
    return sorted((out / "results.parquet").glob("part-*.parquet"))


def rerun(out):
    return sweep(SweepSpec.from_toml(SWEEP), out, scheduler="serial")


def assert_exact(out, table: pd.DataFrame) -> None:
    """What every reader sees is the sweep's rows, once each."""
    for frame in (load_sweep(out), pd.read_parquet(out / "results.parquet")):
        assert len(frame) == ROWS and list(frame.columns) == [*SPEC_COLUMNS, *TIMING_COLUMNS]
        assert not frame.duplicated(["config", "seed"]).any()
    pd.testing.assert_frame_equal(load_sweep(out), table)


def test_a_finished_store_lists_every_part_it_wrote(full):
    out, _ = full
    lines = (out / MANIFEST_NAME).read_text().splitlines()
    entries = [json.loads(line) for line in lines]
    assert sorted(e["part"] for e in entries) == [p.name for p in parts(out)]
    assert sum(e["rows"] for e in entries) == ROWS
    # every line carries the store's identity: the digest of the sweep that created it
    identity = SweepSpec.from_toml(SWEEP).digest()
    assert {e["store"] for e in entries} == {identity}
    assert json.loads((out / "store.json").read_text()) == {"store": identity}


def foreign_file(out):
    pq.write_table(pa.table({"x": [1, 2]}), out / "results.parquet" / "foo.parquet")
    return ["foo.parquet"]


def copied_part(out):
    shutil.copy(parts(out)[0], out / "results.parquet" / "part-copy.parquet")
    return ["part-copy.parquet"]


def other_sweep_part(out):
    other = SweepSpec.from_toml(SWEEP.replace("iterations = 30", "iterations = 31"))
    elsewhere = out.parent / "other"
    sweep(other, elsewhere, scheduler="serial")
    shutil.copy(parts(elsewhere)[0], out / "results.parquet" / "part-0000000000000000.parquet")
    return ["part-0000000000000000.parquet"]


def part_named_folder(out):
    (out / "results.parquet" / "part-x.parquet").mkdir()
    (out / "results.parquet" / "part-x.parquet" / "data.parquet").write_bytes(b"PAR1")
    return ["part-x.parquet"]


@pytest.mark.parametrize("tamper", [foreign_file, copied_part, other_sweep_part, part_named_folder])
def test_files_the_sweep_did_not_write_are_moved_aside_and_reported(store, full, tamper):
    names = tamper(store)
    result = rerun(store)
    assert (result.ran, result.skipped, result.complete) == (0, 4, True)
    assert [name for name, _ in result.ignored] == names
    assert result.notes and len(result.notes) == 1
    assert "not written by this sweep" in result.notes[0] and names[0] in result.notes[0]
    assert sorted(p.name for p in (store / IGNORED_NAME).iterdir()) == names  # kept, not lost
    assert_exact(store, full[1])
    assert not rerun(store).ignored  # reported once: the next run finds a clean store


def truncated(path):
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def emptied(path):
    path.write_bytes(b"")


def bit_flipped(path):
    data = bytearray(path.read_bytes())
    data[len(data) // 3] ^= 0x10
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("damage", [truncated, emptied, bit_flipped])
def test_a_damaged_part_is_moved_aside_reported_and_recomputed(store, full, damage):
    victim = parts(store)[1]
    damage(victim)
    result = rerun(store)
    assert (result.ran, result.skipped, result.complete) == (1, 3, True)
    assert result.ignored == ((victim.name, "damaged"),)
    assert "damaged" in result.notes[0] and victim.name in result.notes[0]
    assert (store / IGNORED_NAME / victim.name).exists()
    assert_exact(store, full[1])
    entries = [json.loads(x) for x in (store / MANIFEST_NAME).read_text().splitlines()]
    assert len(entries) == 4 and len({e["part"] for e in entries}) == 4  # the entry replaced


def test_readers_use_only_verified_parts_and_move_nothing(store, full):
    copied_part(store)
    foreign_file(store)
    bit_flipped(parts(store)[0])
    with pytest.warns(UserWarning, match=r"ignored 3 files in .*: .*damaged") as caught:
        frame = load_sweep(store)
    assert len(caught) == 1 and "\n" not in str(caught[0].message)
    assert len(frame) == ROWS - 3 and not frame.duplicated(["config", "seed"]).any()
    assert list(frame.columns) == [*SPEC_COLUMNS, *TIMING_COLUMNS]
    assert not (store / IGNORED_NAME).exists()
    assert len(list((store / "results.parquet").iterdir())) == 6


def test_a_store_written_before_the_manifest_is_adopted(store, full):
    (store / MANIFEST_NAME).unlink()
    copied_part(store)
    result = rerun(store)
    assert (result.ran, result.skipped) == (0, 4)
    assert [name for name, _ in result.ignored] == ["part-copy.parquet"]
    assert (store / MANIFEST_NAME).exists()
    assert_exact(store, full[1])


def test_an_old_store_without_manifest_is_read_without_duplicates(store, full):
    (store / MANIFEST_NAME).unlink()
    copied_part(store)
    foreign_file(store)
    with pytest.warns(UserWarning, match="ignored 2 files"):
        pd.testing.assert_frame_equal(load_sweep(store), full[1])


def test_a_torn_manifest_line_is_dropped_and_its_task_rerun(store, full):
    manifest = store / MANIFEST_NAME
    lines = manifest.read_text().splitlines(keepends=True)
    manifest.write_text("".join(lines[:-1]) + lines[-1][:20])
    result = rerun(store)
    assert (result.ran, result.skipped) == (1, 3)
    assert_exact(store, full[1])


def test_a_full_disk_is_one_line_naming_the_folder_and_nothing_is_lost(tmp_path, monkeypatch):
    spec = SweepSpec.from_toml(SWEEP)
    real = pq.write_table
    written = []

    def write_table(table, path):
        if len(written) == 2:
            path.write_bytes(b"half a file")
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        written.append(path)
        real(table, path)

    monkeypatch.setattr(pq, "write_table", write_table)
    out = tmp_path / "run"
    with pytest.raises(SweepFault) as caught:
        sweep(spec, out, scheduler="serial")
    message = str(caught.value)
    assert isinstance(caught.value, OSError) and "\n" not in message
    assert str(out / "results.parquet") in message and "No space left on device" in message
    assert "rerun" in message and "2 of 4 configurations (6 of 12 seeds) are stored" in message
    assert sorted(p.name for p in (out / "results.parquet").iterdir()) == [
        p.name for p in parts(out)
    ]  # no temporary file left
    monkeypatch.undo()
    resumed = sweep(spec, out, scheduler="serial")
    assert (resumed.ran, resumed.skipped) == (2, 2)
    assert len(resumed.frame()) == ROWS


def test_a_full_disk_while_listing_a_part_leaves_it_unlisted_and_absent(tmp_path, monkeypatch):
    spec = SweepSpec.from_toml(SWEEP)

    def append(self, entry):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(SweepStore, "_append", append)
    out = tmp_path / "run"
    with pytest.raises(SweepFault, match=r"0 of 4 configurations \(0 of 12 seeds\) are stored"):
        sweep(spec, out, scheduler="serial")
    assert not out.exists()  # nothing stored: the new folder is not left behind
    monkeypatch.undo()
    assert sweep(spec, out, scheduler="serial").ran == 4


def test_workers_are_capped(tmp_path):
    limit = 4 * _sweep_exec.default_workers()
    refusal = rf"`workers` must be <= {limit} .*; got 1000000$"
    with pytest.raises(PssimError, match=refusal):
        _sweep_exec.check_scheduler(None, 1_000_000)
    assert _sweep_exec.check_scheduler(None, limit) == (None, limit)
    with pytest.raises(PssimError, match=refusal):
        sweep(SweepSpec.from_toml(SWEEP), tmp_path / "out", workers=1_000_000)
    assert not (tmp_path / "out").exists()


class _Future:
    """What distributed gives for a task of a scheduler that went away."""

    def __init__(self, status):
        self.status = status

    def exception(self):
        return None

    def release(self):
        pass

    def cancel(self):
        pass


class _Client:
    def __init__(self, statuses):
        self.statuses = list(statuses)

    def submit(self, fn, task, **kw):
        return _Future(self.statuses.pop(0))


def test_a_lost_scheduler_is_one_error_not_one_per_task(monkeypatch):
    import dask.distributed

    monkeypatch.setattr(dask.distributed, "as_completed", lambda futures: list(futures))
    tasks = [object(), object(), object()]
    done, failed = [], []
    client = _Client(["finished", "cancelled", "cancelled"])
    _Future.result = lambda self: "rows"
    with pytest.raises(SweepFault, match="scheduler was lost") as caught:
        _sweep_exec._run_on_dask(client, tasks, lambda t, r: done.append(t), failed.append)
    assert "rerun" in str(caught.value) and "\n" not in str(caught.value)
    assert done == tasks[:1] and failed == []


def test_a_cluster_that_cannot_start_is_retried_then_one_line(monkeypatch):
    import dask.distributed

    attempts = []

    def cluster(**kw):
        attempts.append(kw)
        raise RuntimeError("Nanny failed to start.")

    monkeypatch.setattr(dask.distributed, "LocalCluster", cluster)
    monkeypatch.setattr(_sweep_exec, "START_PAUSE_S", 0.0, raising=False)
    with (
        pytest.raises(SweepFault, match=r"LocalCluster of 2 workers did not start") as caught,
        _sweep_exec.executor(None, 2),
    ):
        pass
    assert len(attempts) == _sweep_exec.START_ATTEMPTS > 1
    assert "Nanny failed to start" in str(caught.value) and "`workers`" in str(caught.value)


def test_rows_with_other_columns_are_a_failed_task_not_a_stored_part(tmp_path, monkeypatch):
    """A worker with another pssim version returns other columns: nothing is stored."""
    real = _sweep_exec.run_task
    monkeypatch.setattr(
        _sweep_exec, "run_task", lambda task: real(task).append_column("extra", pa.array([1] * 3))
    )
    result = sweep(SweepSpec.from_toml(SWEEP), tmp_path, scheduler="serial")
    assert result.ran == 0 and len(result.failures) == 4
    assert "same pssim version on every worker" in result.failures[0][1]
    assert not list((tmp_path / "results.parquet").iterdir())


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(noise=st.binary(max_size=400), keep=st.integers(0, 4))
def test_any_manifest_bytes_keep_only_verified_parts(full, noise, keep):
    """Whole lines of the real manifest and random bytes: the store reads a subset of its
    own parts, each once, and never raises."""
    out, _ = full
    lines = (out / MANIFEST_NAME).read_bytes().splitlines(keepends=True)
    folder = Path(tempfile.mkdtemp())
    try:
        shutil.copytree(out / "results.parquet", folder / "results.parquet")
        (folder / MANIFEST_NAME).write_bytes(
            b"".join(lines[:keep]) + noise + b"\n" + b"".join(lines)
        )
        found = scan(
            folder / "results.parquet",
            folder / MANIFEST_NAME,
            Expected(SweepSpec.from_toml(SWEEP)),
            load=True,
        )
        names = [entry.part for entry, _ in found.kept]
        assert len(set(names)) == len(names) == 4
        assert sum(table.num_rows for _, table in found.kept) == ROWS and not found.ignored
    finally:
        shutil.rmtree(folder)


def test_a_file_moved_aside_never_replaces_one_moved_before(store):
    foreign_file(store)
    rerun(store)
    (store / "results.parquet" / "foo.parquet").write_bytes(b"second")
    assert rerun(store).ignored == (("foo.parquet", "foreign"),)
    assert (store / IGNORED_NAME / "foo-2.parquet").read_bytes() == b"second"
    assert pq.read_table(store / IGNORED_NAME / "foo.parquet").num_rows == 2
