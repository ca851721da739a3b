"""Running the installed ``pssim`` program in tests: start it as a user does, read its
stderr without progress bars, and look at what it leaves on disk."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

_SCRIPT = Path(sys.executable).with_name("pssim")
#: The program: the console script, else the same entry point through the interpreter.
PSSIM = (
    [str(_SCRIPT)]
    if _SCRIPT.is_file()
    else [sys.executable, "-c", "import sys; from simulator.cli import main; sys.exit(main())"]
)
#: Work that takes minutes: a refusal must come before any of it.
HUGE = ["-P", "2", "--iterations", "2000000", "--seeds", "50"]
#: The smallest training run that writes a full results folder.
TINY_TRAIN = ["--variants", "async", "-P", "2", "--iterations", "20", "--seeds", "1"]
#: A tqdm bar: 'desc:  33%|###   | 1/3 [00:02<00:04,  2.3s/step, async: timing]'.
_BAR = re.compile(r"[^\r\n]*?\d+%\|[^\r\n]*?\| *\S+/\S+ \[[^\]\r\n]*\]")


#: Runs argv[1:] with the default signal dispositions, whatever the test runner set. (An exec
#: wrapper rather than ``preexec_fn``: forking a process that has loaded JAX with Python code
#: to run in the child can deadlock.)
DEFAULT_SIGNALS = [
    sys.executable,
    "-c",
    "import os, signal, sys\n"
    "for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):\n"
    "    signal.signal(s, signal.SIG_DFL)\n"
    "os.execv(sys.argv[1], sys.argv[1:])",
]


def start(args, *, cwd, umask=0o022, stdout=subprocess.PIPE) -> subprocess.Popen:
    return subprocess.Popen(
        [*DEFAULT_SIGNALS, *PSSIM, *args],
        cwd=cwd,
        stdout=stdout,
        stderr=subprocess.PIPE,
        umask=umask,
        env={**os.environ, "PSSIM_PROGRESS": "1"},  # bars on the pipe: tests see the stage
    )


def pssim(args, *, cwd, timeout=120, **kw) -> tuple[int, str, str]:
    proc = start(args, cwd=cwd, **kw)
    out, err = proc.communicate(timeout=timeout)
    return proc.returncode, (out or b"").decode(), err.decode()


def messages(err: str) -> list[str]:
    """The lines of stderr, progress bars removed."""
    return [s.strip() for s in re.split(r"[\r\n]", _BAR.sub("", err)) if s.strip()]


def one_line(err: str) -> str:
    assert "Traceback" not in err and "Exception ignored" not in err, err
    lines = messages(err)
    assert len(lines) == 1, err
    return lines[0]


def entries(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


@contextlib.contextmanager
def tmpfs(path: Path, options: str):
    """A tmpfs mounted at ``path`` (the test is skipped where mounting is not allowed)."""
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("mounting a tmpfs needs root and mount(8)")
    path.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(path)], capture_output=True
    )
    if done.returncode:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode().strip()}")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)
