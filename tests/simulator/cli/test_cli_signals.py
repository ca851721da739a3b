"""The ``pssim`` program under signals, and which errors become its one line.

Ctrl-C, SIGTERM and SIGHUP end a run with one line, 130 or 128 + N, and nothing left on
disk; only pssim's input errors become the one-line exit-2 message.
"""

from __future__ import annotations

import errno
import signal
import subprocess
import sys
import threading
import time

import pytest
from cli_process import DEFAULT_SIGNALS, entries, messages, one_line, start

from simulator.cli import main
from simulator.errors import USER_ERRORS

# -- signals: one line, 130 or 143, nothing half-written ---------------------------------------


def _until_training(proc: subprocess.Popen, err: bytearray, limit: float = 60) -> None:
    """Read stderr in the background; return once the replay (JAX) is running."""

    def pump():
        while chunk := proc.stderr.read1(4096):
            err.extend(chunk)

    threading.Thread(target=pump, daemon=True).start()
    end = time.monotonic() + limit
    while b"training" not in err and proc.poll() is None and time.monotonic() < end:
        time.sleep(0.1)
    time.sleep(1.0)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("signum", "code", "line"),
    [
        (signal.SIGINT, 130, "pssim: interrupted"),
        (signal.SIGTERM, 143, "pssim: terminated by SIGTERM"),
    ],
    ids=["SIGINT", "SIGTERM"],
)
def test_signal_during_training_ends_in_one_line_and_leaves_nothing(tmp_path, signum, code, line):
    args = ["compare", "--variants", "async", "-P", "2", "--iterations", "300000", "--seeds", "1"]
    proc = start(args, cwd=tmp_path)
    err = bytearray()
    _until_training(proc, err)
    assert proc.poll() is None, err.decode()
    assert [p.name.startswith("pssim-results-") for p in tmp_path.iterdir()] == [True]
    proc.send_signal(signum)
    proc.wait(timeout=60)
    time.sleep(0.2)  # the reader drains the pipe
    text = err.decode()
    assert proc.returncode == code, text  # not -11: no crash at shutdown
    assert "Traceback" not in text and "Fatal Python error" not in text, text
    lines = messages(text)  # a bar cut short by the signal may leave a fragment before it
    assert lines[-1] == line and all(s.startswith("compare") for s in lines[:-1]), text
    assert entries(tmp_path) == []  # the reserved folder is gone too


_MID_WRITE = """
import os, signal, sys, time
from simulator.cli.outputs import check_out_dir, check_plot_file, results_folder, run_command

def command():
    with results_folder(check_out_dir(None)) as tmp:
        (tmp / "results.csv").write_text("half")
        os.kill(os.getpid(), getattr(signal, sys.argv[1]))
        time.sleep(30)
    return 0

sys.exit(run_command(command))
"""


@pytest.mark.parametrize(("name", "code"), [("SIGINT", 130), ("SIGTERM", 143), ("SIGHUP", 129)])
def test_signal_while_writing_results_removes_them(tmp_path, name, code):
    proc = subprocess.run(
        [*DEFAULT_SIGNALS, sys.executable, "-c", _MID_WRITE, name],
        cwd=tmp_path,
        capture_output=True,
        timeout=60,
    )
    line = one_line(proc.stderr.decode())
    assert proc.returncode == code and line.startswith("pssim: ")
    assert entries(tmp_path) == []


def test_handlers_are_restored_after_an_in_process_call(capsys):
    before = signal.getsignal(signal.SIGTERM)
    assert main(["theory", "--json"]) == 0
    assert signal.getsignal(signal.SIGTERM) is before


# -- only input errors become one line; a bug keeps its traceback ------------------------------


def test_a_bug_propagates_with_its_traceback(monkeypatch):
    def broken(args):
        raise RuntimeError("a bug")

    monkeypatch.setattr("simulator.cli.app.cmd_theory", broken)
    with pytest.raises(RuntimeError, match="a bug"):
        main(["theory"])


def test_an_os_error_outside_the_outputs_propagates(monkeypatch):
    def broken(args):
        raise OSError(errno.ENOSPC, "raised by a bug, not by a write of results")

    monkeypatch.setattr("simulator.cli.app.cmd_theory", broken)
    with pytest.raises(OSError, match="raised by a bug"):
        main(["theory"])


@pytest.mark.parametrize("error", USER_ERRORS)
def test_every_input_error_is_one_line_and_status_2(monkeypatch, capsys, error):
    def refuse(args):
        raise error("--foo must be > 0; got -1")

    monkeypatch.setattr("simulator.cli.app.cmd_theory", refuse)
    assert main(["theory"]) == 2
    assert one_line(capsys.readouterr().err) == "pssim: error: --foo must be > 0; got -1"


def test_a_stop_swallowed_by_a_finalizer_is_sent_again():
    """A stop raised inside a finalizer or gc callback (JAX has one) cannot propagate there:
    Python reports it and goes on. The stop is delivered again to ordinary code."""
    from simulator.cli._signals import Terminated, stop_raises

    class Finalizer:
        def __del__(self):
            raise Terminated(signal.SIGTERM)  # what the handler raises, caught by __del__

    before = sys.unraisablehook
    with pytest.raises(Terminated) as info, stop_raises():
        Finalizer()  # collected at once: its exception is unraisable
        for _ in range(200):
            time.sleep(0.005)
    assert info.value.signum == signal.SIGTERM
    assert sys.unraisablehook is before


# -- a stop after the outputs are written; what SIGKILL leaves behind ---------------------------

_SLOW_EXIT = """
import atexit, sys, time
from simulator.cli import main  # noqa: F401 - makes this process the pssim program
from simulator.cli.outputs import run_command

atexit.register(time.sleep, 20)  # a slow interpreter shutdown (JAX's takes about 0.5 s)

def command():
    print("written", flush=True)
    return 0

sys.exit(run_command(command))
"""


@pytest.mark.parametrize(("name", "code"), [("SIGTERM", 143), ("SIGHUP", 129), ("SIGINT", 130)])
def test_a_stop_after_the_outputs_are_written_still_gets_its_line(tmp_path, name, code):
    proc = subprocess.Popen(
        [*DEFAULT_SIGNALS, sys.executable, "-c", _SLOW_EXIT],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert proc.stdout.readline() == b"written\n"
    time.sleep(0.5)  # in the exit handlers now
    proc.send_signal(getattr(signal, name))
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == code, err.decode()
    assert one_line(err.decode()) == f"pssim: terminated by {name} after its outputs were written"


_KILLED_MID_WRITE = """
import os, signal, sys
from pathlib import Path
from simulator.cli.outputs import check_out_dir, results_folder, run_command
from simulator.plots.timeline import save_figure
import matplotlib.pyplot as plt

def command():
    with results_folder(check_out_dir(sys.argv[2])) as tmp:
        (tmp / "results.csv").write_text("rows")
        if sys.argv[1] == "kill":
            os.kill(os.getpid(), signal.SIGKILL)
    save_figure(plt.figure(), Path(sys.argv[2] + ".png"))
    return 0

sys.exit(run_command(command))
"""


def test_the_next_write_removes_what_a_killed_run_left(tmp_path):
    script = [*DEFAULT_SIGNALS, sys.executable, "-c", _KILLED_MID_WRITE]
    killed = subprocess.run([*script, "kill", "first"], cwd=tmp_path, timeout=60)
    assert killed.returncode == -signal.SIGKILL
    left = entries(tmp_path)
    assert len(left) == 1 and left[0].startswith(".first."), left  # SIGKILL runs no cleanup
    done = subprocess.run([*script, "write", "second"], cwd=tmp_path, timeout=60)
    assert done.returncode == 0
    assert entries(tmp_path) == ["second", "second.png"]


def test_a_warning_is_one_line_of_the_program(monkeypatch, capsys):
    import warnings

    def warn(args):
        warnings.warn(
            "a compilation cache entry was corrupt;\nit is compiled again",
            RuntimeWarning,
            stacklevel=1,
        )
        return 0

    monkeypatch.setattr("simulator.cli.app.cmd_theory", warn)
    assert main(["theory"]) == 0
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("pssim: warning: a compilation cache"), err
