"""The ``pssim`` program at its edges: output paths, races, umask, closed pipes, full disks.

Most tests run the installed program as a user does and check the exit status, the one
line on stderr (progress bars aside), the absence of a traceback and what is left on disk.
"""

from __future__ import annotations

import contextlib
import datetime
import errno
import os
import stat
import subprocess
import types
from pathlib import Path

import pytest
from cli_process import HUGE, TINY_TRAIN, entries, messages, one_line, pssim, start, tmpfs

from simulator.cli import main
from simulator.cli import outputs as outputs_module
from simulator.cli.outputs import check_out_dir, check_plot_file, results_folder, run_command
from simulator.errors import USER_ERRORS

# -- output paths are checked before any work --------------------------------------------------

LONG = "n" * 300
OUT_CASES = {  # name: (--out value, words of the refusal)
    "empty": ("", "must name a folder"),
    "dot": (".", "not the current one"),
    "missing parent": ("missing/res", "must be in an existing folder"),
    "parent is a file": ("afile/res", "must be in an existing folder"),
    "existing file": ("afile", "not an existing file"),
    "non-empty folder": ("full", "must be a new or empty folder"),
    "dangling link": ("dangling", "must not be a dangling link"),
    "name too long": (LONG, "must have a name shorter than"),
}
PLOT_CASES = {
    "empty": ("", "must name a .png file"),
    "dot": (".", "must name a .png file"),
    "missing parent": ("missing/t.png", "must be in an existing folder"),
    "non-empty folder": ("full.png", "must name a file, not a folder"),
    "dangling link": ("dangling.png", "must not be a dangling link"),
    "name too long": (LONG + ".png", "must have a name shorter than"),
}


def _refused_at_once(tmp_path, command: list[str], option: str, cases: dict) -> None:
    """Run every case at once (each would work for minutes if it were not refused)."""
    (tmp_path / "afile").write_text("x")
    for name in ("full", "full.png"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "keep").write_text("x")
    (tmp_path / "dangling").symlink_to("nowhere")
    (tmp_path / "dangling.png").symlink_to("nowhere.png")
    before = entries(tmp_path)
    procs = {
        case: start([*command, option, value], cwd=tmp_path) for case, (value, _) in cases.items()
    }
    try:
        for case, proc in procs.items():
            out, err = proc.communicate(timeout=120)
            value, words = cases[case]
            line = one_line(err.decode())
            assert (proc.returncode, out) == (2, b""), case
            assert line.startswith(f"pssim: error: {option} ") and words in line, case
            assert line.endswith(f"got {value!r}"), case
    finally:
        for proc in procs.values():
            if proc.poll() is None:
                proc.kill()
    assert entries(tmp_path) == before  # no results folder, no probe, nothing temporary


def test_bad_out_is_refused_in_one_line_before_any_work(tmp_path):
    _refused_at_once(tmp_path, ["compare", "--variants", "async", *HUGE], "--out", OUT_CASES)


def test_bad_plot_is_refused_in_one_line_before_any_work(tmp_path):
    _refused_at_once(tmp_path, ["runtime", *HUGE], "--plot", PLOT_CASES)


def test_more_paths_in_process(tmp_path, monkeypatch):
    """Cases the program refuses the same way, checked without starting it."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "keep").write_text("x")
    (tmp_path / "empty").mkdir()
    (tmp_path / "sib.svg").mkdir()
    (tmp_path / "link-full").symlink_to("full")
    (tmp_path / "link-empty").symlink_to("empty")
    refused = {
        "..": (check_out_dir, "--out must name a new folder, not the current one"),
        "link-full": (check_out_dir, "--out must be a new or empty folder"),
        "full/..": (check_out_dir, "--out must name a new folder, not the current one"),
        "afile": (check_plot_file, "--plot must name a .png file"),
        "full/keep/t.png": (check_plot_file, "--plot must be in an existing folder"),
        "sib.png": (check_plot_file, "--plot must name a file, not a folder (sib.svg is"),
    }
    for value, (check, words) in refused.items():
        with pytest.raises(USER_ERRORS) as info:
            check(value)
        assert str(info.value).startswith(words), value
    assert check_out_dir("link-empty") == (tmp_path / "empty").resolve()  # results go there
    assert check_out_dir("empty") == Path("empty")
    assert entries(tmp_path) == ["empty", "full", "link-empty", "link-full", "sib.svg"]


@pytest.mark.parametrize("option", ["--out", "--plot"])
def test_read_only_parent_is_refused(tmp_path, option):
    """A real probe, not a permission check: root passes those, a read-only mount does not."""
    if os.geteuid() == 0:
        ctx = tmpfs(tmp_path / "ro", "ro,size=64k")
    else:
        (tmp_path / "ro").mkdir(mode=0o555)
        ctx = contextlib.nullcontext(tmp_path / "ro")
    with ctx as ro:
        if option == "--out":
            args = ["compare", "--variants", "async", *HUGE, "--out", str(ro / "res")]
        else:
            args = ["runtime", *HUGE, "--plot", str(ro / "t.png")]
        code, _, err = pssim(args, cwd=tmp_path)
        assert code == 2 and "must be in a writable folder" in one_line(err)
        assert entries(ro) == []


def test_existing_figure_is_replaced_and_modes_follow_the_umask(tmp_path):
    (tmp_path / "t.png").write_text("old")
    small = ["runtime", "-P", "2", "--iterations", "30", "--seeds", "1", "--plot", "t.png"]
    code, out, err = pssim(small, cwd=tmp_path, umask=0o077)
    assert code == 0 and "timeline written to t.png" in out and "Traceback" not in err
    assert entries(tmp_path) == ["t.pdf", "t.png", "t.svg"]
    assert (tmp_path / "t.png").read_bytes().startswith(b"\x89PNG")
    for name in entries(tmp_path):
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == 0o600
    (tmp_path / "b").mkdir()
    code, _, _ = pssim([*small[:-1], "b/t.png"], cwd=tmp_path, umask=0o022)
    assert code == 0
    assert {stat.S_IMODE(p.stat().st_mode) for p in (tmp_path / "b").iterdir()} == {0o644}


# -- default result folders never collide, and follow the umask --------------------------------


def _folder(here: Path, out: str) -> Path:
    return here / Path(out.strip().splitlines()[-1].removeprefix("results written to ")).name


@pytest.mark.slow
def test_default_folders_never_collide_and_follow_the_umask(tmp_path):
    """Two ``pssim compare`` runs started together here, without --out, umasks 022 and 077."""
    procs = [start(["compare", *TINY_TRAIN], cwd=tmp_path, umask=m) for m in (0o022, 0o077)]
    runs = [(p, *p.communicate(timeout=300)) for p in procs]
    folders = []
    for proc, out, err in runs:
        assert proc.returncode == 0 and "Traceback" not in err.decode(), err.decode()
        assert messages(err.decode()) == [] and b"results written to " in out
        folders.append(_folder(tmp_path, out.decode()))
    assert folders[0] != folders[1]
    assert entries(tmp_path) == sorted(f.name for f in folders)  # nothing hidden left over
    for folder, mode in zip(folders, (0o755, 0o700), strict=True):
        assert folder.name.startswith("pssim-results-")
        assert {"results.csv", "summary.json", "spec.toml"} <= set(entries(folder))
        assert stat.S_IMODE(folder.stat().st_mode) == mode
        assert {stat.S_IMODE(p.stat().st_mode) for p in folder.iterdir()} == {mode & 0o666}


def test_same_second_reservations_differ_and_are_released(tmp_path, monkeypatch):
    """The race made certain: two reservations in the same second get different names."""
    monkeypatch.chdir(tmp_path)

    frozen = datetime.datetime(2024, 5, 6, 7, 8, 9)
    clock = types.SimpleNamespace(datetime=types.SimpleNamespace(now=lambda: frozen))
    monkeypatch.setattr(outputs_module, "datetime", clock)
    taken = []

    def command() -> int:
        taken.extend([check_out_dir(None), check_out_dir(None)])
        assert all(p.is_dir() for p in taken)  # reserved at once
        return 0

    assert run_command(command) == 0
    stamp = "pssim-results-20240506-070809"
    assert [p.name for p in taken] == [stamp, f"{stamp}-2"]
    assert entries(tmp_path) == []  # never filled: released when the command ended


# -- closed pipes and full disks ---------------------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [
        ["runtime", "-P", "2", "--iterations", "300", "--seeds", "2", "--json"],
        ["theory", "--dist", "pareto:2.5,1"],
    ],
    ids=["runtime-json", "theory-table"],
)
def test_closed_pipe_ends_quietly(tmp_path, args):
    read, write = os.pipe()
    os.close(read)  # nobody will ever read: every write fails with EPIPE
    try:
        code, _, err = pssim(args, cwd=tmp_path, stdout=write)
    finally:
        os.close(write)
    assert code == 141 and err == ""  # what a shell shows for a program ended by SIGPIPE


def test_pipe_into_head_ends_quietly(tmp_path):
    first = start(
        ["runtime", "-P", "2", "--iterations", "300", "--seeds", "2", "--json"], cwd=tmp_path
    )
    head = subprocess.Popen(["head", "-c", "10"], stdin=first.stdout, stdout=subprocess.PIPE)
    first.stdout.close()
    shown, _ = head.communicate(timeout=60)
    _, err = first.communicate(timeout=60)
    assert shown == b'{"pssim_ve' and first.returncode in (0, 141) and err == b""


def test_full_disk_while_writing_a_figure(tmp_path):
    with tmpfs(tmp_path / "tiny", "size=16k") as tiny:
        args = ["runtime", "-P", "2", "--iterations", "30", "--seeds", "1"]
        code, _, err = pssim([*args, "--plot", "tiny/t.png"], cwd=tmp_path)
        assert code == 1
        assert one_line(err) == "pssim: error: cannot write tiny/t.png: No space left on device"
        assert entries(tiny) == []


@pytest.mark.slow
def test_full_disk_while_writing_results_removes_the_half_written_folder(tmp_path):
    with tmpfs(tmp_path / "tiny", "size=64k") as tiny:
        code, out, err = pssim(["compare", *TINY_TRAIN, "--out", "tiny/res"], cwd=tmp_path)
        assert code == 1 and "results written" not in out
        assert one_line(err) == "pssim: error: cannot write tiny/res: No space left on device"
        assert entries(tiny) == []


def test_full_disk_in_process(tmp_path, monkeypatch, capsys):
    """Without a tmpfs: every write of a figure fails half-way, in ``main`` itself."""
    from matplotlib.figure import Figure

    def savefig(self, fname, **kw):
        Path(fname).write_bytes(b"half")
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(Figure, "savefig", savefig)
    png = tmp_path / "t.png"
    argv = ["runtime", "-P", "2", "--iterations", "30", "--seeds", "1", "--plot", str(png)]
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert one_line(err) == f"pssim: error: cannot write {png}: No space left on device"
    assert entries(tmp_path) == []

    def command() -> int:
        with results_folder(check_out_dir(str(tmp_path / "res"))) as tmp:
            (tmp / "results.csv").write_text("half")
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    assert run_command(command) == 1
    assert str(tmp_path / "res") in one_line(capsys.readouterr().err)
    assert entries(tmp_path) == []
