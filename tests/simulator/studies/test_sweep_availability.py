"""Availability files in sweeps, set in ``[timing]`` or swept in ``[grid]``/``[[zip]]``: read
from the sweep file's folder whatever the working directory, identified by their bytes (not
their path), written by absolute path in the stored ``sweep.toml``, and a store whose files
moved resumes as the same sweep."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from simulator import SpecError, sweep
from simulator.studies.sweeps._spec import read_sweep_file

#: Learner 0 is down in [1, 2); learner 1 always up.
AVAIL = "worker,down,up\n0,1,2\n"
#: Learner 1 is down in [0.5, 3) and [4, 5); learner 0 always up.
OTHER = "worker,down,up\n1,0.5,3\n1,4,5\n"
#: The smallest timing sweep: 20 updates, one seed, two learners.
TIMING = (
    '[sweep]\nkind = "timing"\n[timing]\nvariant = "async"\nlearners = 2\nupdates = 20\nseeds = 1\n'
)
#: The availability file in ``[timing]`` (relative to the sweep file), two compute laws.
SET = TIMING + 'availability = "{a}"\n[grid]\ndist = ["exp:1", "exp:2"]\n'
#: Two availability files swept in ``[grid]``.
GRID = TIMING + '[grid]\navailability = ["{a}", "{b}"]\n'


def write(folder: Path, text: str, files: dict[str, str], **names: str) -> Path:
    """A sweep file ``folder/sweep.toml`` of ``text`` (``{a}``, ``{b}`` filled from
    ``names``), with the ``files`` (relative name -> content) beside it."""
    for name, content in files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(content)
    path = folder / "sweep.toml"
    path.write_text(text.format(**names))
    return path


@pytest.fixture
def elsewhere(tmp_path: Path, monkeypatch) -> Path:
    """A working directory that is not the sweep files' folder (nothing there to read)."""
    cwd = tmp_path / "elsewhere"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    return cwd


def test_a_set_file_is_read_from_the_sweep_files_folder(tmp_path, elsewhere):
    path = write(tmp_path / "a", SET, {"avail.csv": AVAIL}, a="avail.csv")
    configs = read_sweep_file(path).configurations()
    assert len(configs) == 2
    for spec in configs:
        down = spec.availability.intervals(2)
        assert down[0].tolist() == [[1.0, 2.0]] and down[1].shape == (0, 2)
        assert spec.availability.path == tmp_path / "a" / "avail.csv"


def test_swept_files_are_read_from_the_sweep_files_folder(tmp_path, elsewhere):
    files = {"a.csv": AVAIL, "b.csv": OTHER}
    configs = read_sweep_file(write(tmp_path, GRID, files, a="a.csv", b="b.csv")).configurations()
    assert [c.availability.intervals(2)[1].tolist() for c in configs] == [
        [],
        [[0.5, 3.0], [4.0, 5.0]],
    ]


def test_a_swept_file_that_cannot_be_read_is_one_line_naming_its_table(tmp_path, elsewhere):
    path = write(tmp_path, GRID, {"a.csv": AVAIL}, a="a.csv", b="gone.csv")
    with pytest.raises(SpecError) as err:
        read_sweep_file(path)
    assert err.value.param == "availability"
    assert str(err.value).startswith("[grid] `availability` must be a readable availability")
    assert "\n" not in str(err.value)


@pytest.mark.parametrize(
    "text, files, moved",
    [
        (SET, {"a": AVAIL}, {"a": "data/kept.csv"}),
        (GRID, {"a": AVAIL, "b": OTHER}, {"a": "x/one.csv", "b": "y/two.csv"}),
        (
            TIMING + '[[zip]]\navailability = ["{a}", "{b}"]\ndist = ["exp:1", "exp:2"]\n',
            {"a": AVAIL, "b": OTHER},
            {"a": "x/one.csv", "b": "two.csv"},
        ),
    ],
    ids=["set", "grid", "zip"],
)
def test_the_digest_holds_the_files_bytes_not_their_paths(tmp_path, elsewhere, text, files, moved):
    names = {key: f"{key}.csv" for key in files}
    first = read_sweep_file(
        write(tmp_path / "one", text, {names[k]: files[k] for k in files}, **names)
    )
    # the same bytes under other names in another folder: the same sweep
    same = read_sweep_file(
        write(tmp_path / "two", text, {moved[k]: files[k] for k in files}, **moved)
    )
    assert same.digest() == first.digest() and same == first
    # one byte more in one file, under the first names: another sweep
    changed = {names[k]: files[k] for k in files}
    changed["a.csv"] += "1,7,8\n"
    other = read_sweep_file(write(tmp_path / "three", text, changed, **names))
    assert other.digest() != first.digest()


def test_the_stored_sweep_names_absolute_paths_and_reads_back_from_anywhere(
    tmp_path, elsewhere, monkeypatch
):
    folder = tmp_path / "sweeps"
    files = {"a.csv": AVAIL, "data/b.csv": OTHER}
    spec = read_sweep_file(write(folder, GRID, files, a="a.csv", b="data/b.csv"))
    result = sweep(spec, tmp_path / "runs", scheduler="serial")
    assert result.units_ran == 2 and not result.failures
    stored = (tmp_path / "runs" / "sweep.toml").read_text()
    line = next(s for s in stored.splitlines() if s.startswith("availability"))
    paths = [str((folder / name).absolute()) for name in files]
    assert line == f'availability = ["{paths[0]}", "{paths[1]}"]'
    (tmp_path / "another").mkdir()
    (tmp_path / "another" / "a.csv").write_text(OTHER)  # not what a relative path would read
    monkeypatch.chdir(tmp_path / "another")
    assert read_sweep_file(tmp_path / "runs" / "sweep.toml") == spec

    one = read_sweep_file(write(tmp_path / "set", SET, {"avail.csv": AVAIL}, a="avail.csv"))
    written = one.to_toml()
    assert f'availability = "{(tmp_path / "set" / "avail.csv").absolute()}"' in written


@pytest.mark.parametrize(
    "text, files",
    [(SET, {"a": AVAIL}), (GRID, {"a": AVAIL, "b": OTHER})],
    ids=["set", "grid"],
)
def test_a_store_whose_files_moved_resumes(tmp_path, elsewhere, text, files):
    names = {key: f"data/{key}.csv" for key in files}
    path = write(tmp_path, text, {names[k]: files[k] for k in files}, **names)
    out = tmp_path / "runs"
    first = sweep(path, out, scheduler="serial")
    assert first.units_ran == 2 and not first.failures
    shutil.move(tmp_path / "data", tmp_path / "moved")  # the stored sweep.toml names data/
    moved = {key: name.replace("data/", "moved/") for key, name in names.items()}
    path.write_text(text.format(**moved))
    again = sweep(path, out, scheduler="serial")
    assert (again.units_ran, again.units_skipped) == (0, 2)  # the same sweep: nothing rerun
    stored = (out / "sweep.toml").read_text()
    assert str(tmp_path / "moved") in stored and str(tmp_path / "data") not in stored
    assert read_sweep_file(out / "sweep.toml") == read_sweep_file(path)
    # other bytes under the moved name: other configurations, which run
    (tmp_path / "moved" / "a.csv").write_text(AVAIL + "1,7,8\n")
    changed = sweep(path, out, scheduler="serial")
    assert changed.units_ran == (2 if len(files) == 1 else 1)
    assert np.isfinite(changed.frame()["time"]).all()


def test_a_folder_holding_only_the_sweep_file_is_that_sweeps_after_its_files_moved(
    tmp_path, elsewhere
):
    names = {"a": "data/a.csv", "b": "data/b.csv"}
    path = write(tmp_path, GRID, {names["a"]: AVAIL, names["b"]: OTHER}, **names)
    out = tmp_path / "runs"
    out.mkdir()  # what a run stopped before its first rows leaves: its sweep.toml, no rows
    (out / "sweep.toml").write_text(read_sweep_file(path).to_toml())
    shutil.move(tmp_path / "data", tmp_path / "moved")
    path.write_text(GRID.format(a="moved/a.csv", b="moved/b.csv"))
    result = sweep(path, out, scheduler="serial")
    assert result.units_ran == 2 and not result.failures
    assert str(tmp_path / "moved" / "a.csv") in (out / "sweep.toml").read_text()
