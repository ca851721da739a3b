"""Output paths and the command runner of the CLI.

Paths are checked before any work: a results folder (``--out``) must be new or empty, in a
folder where a probe entry can really be created and removed (a permission check alone
passes for root); a figure (``--plot``) must end in .png, in such a folder, and neither it
nor its .pdf and .svg siblings may be a folder or a dangling link (an existing figure file
is replaced). A name too long for the file system is refused as well.

The default results folder ``pssim-results-YYYYmmdd-HHMMSS`` (``-2``, ``-3``... when taken)
is reserved at once with an atomic ``mkdir``, so runs started in the same second never
share it; the empty reservation is removed if the command fails. Results are built in a
hidden temporary folder beside the target and renamed onto it when complete (a rename
replaces an empty folder atomically and fails on a non-empty one); folders and files get
the modes the umask gives. A failed or interrupted run leaves nothing half-written.

Exit statuses of :func:`run_command`: 2 for a pssim input error, 1 when an output cannot be
written (disk full, read-only file system...), 130 on Ctrl-C, 128 + N for SIGTERM/SIGHUP,
141 when stdout is a closed pipe; each with at most one line on stderr. A warning
is one line too: ``pssim: warning: ...``. Any other exception
is a bug and propagates with its traceback.
"""

from __future__ import annotations

import contextlib
import datetime
import errno
import itertools
import os
import shutil
import signal
import sys
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path

from simulator._tempfiles import remove_stale, temp_path
from simulator.cli._signals import STOP_SIGNALS, Terminated, deferred, stop_raises
from simulator.errors import USER_ERRORS, PssimError, one_line

__all__ = [
    "OutputError",
    "check_out_dir",
    "check_plot_file",
    "check_toml_file",
    "results_folder",
    "run_command",
    "save_plot",
    "write_text_file",
]

#: Formats written for every figure the CLI saves.
FIGURE_FORMATS = ("png", "pdf", "svg")
#: Room kept in a file name for the temporary names written beside it.
_NAME_ROOM = 48
#: Errors of the machine, not of pssim, that end a write in one line (status 1); the last
#: three come from a rename onto a folder that another process filled or replaced meanwhile.
_WRITE_ERRNOS = frozenset(
    getattr(errno, name)
    for name in "ENOSPC EDQUOT EFBIG EROFS EACCES EPERM EIO ENOTEMPTY EEXIST ENOTDIR".split()
    if hasattr(errno, name)
)
#: Default results folders reserved by this process and not filled yet.
_RESERVED: set[Path] = set()


class OutputError(OSError):
    """An output could not be written; ``str()`` is one line naming the path."""

    def __init__(self, path: Path, err: OSError) -> None:
        super().__init__(err.errno, err.strerror, str(path))

    def __str__(self) -> str:
        return f"cannot write {self.filename}: {self.strerror}"


def _refuse(option: str, rule: str, value: object) -> PssimError:
    return PssimError(f"{option} {rule}; got {str(value)!r}")


def _temp_dir(target: Path) -> Path:
    """A new hidden temporary folder beside ``target`` (named by :func:`temp_path`, so a
    later run removes it if this process is killed), with the mode the umask gives."""
    for _ in range(100):
        path = temp_path(target)
        with contextlib.suppress(FileExistsError):
            os.mkdir(path)
            return path
    raise FileExistsError(errno.EEXIST, "no free temporary name", str(target.parent))


def _check_parent(option: str, path: Path, value: str) -> None:
    """``path``'s folder exists and ``path``'s name, with a temporary prefix, fits in it."""
    parent = path.parent
    if not parent.is_dir():
        raise _refuse(option, "must be in an existing folder", value)
    try:
        max_name = os.pathconf(parent, "PC_NAME_MAX")
    except (OSError, ValueError):  # pragma: no cover - non-POSIX
        max_name = 255
    if len(os.fsencode(path.name)) + _NAME_ROOM > max_name:
        raise _refuse(option, f"must have a name shorter than {max_name - _NAME_ROOM} bytes", value)


def _probe(option: str, parent: Path, value: str) -> None:
    """Create and remove an entry in ``parent``: the only check that root cannot pass by."""
    with deferred():
        try:
            os.rmdir(_temp_dir(parent / "pssim-probe"))
        except OSError as err:
            raise _refuse(option, f"must be in a writable folder ({err.strerror})", value) from None


def _reserve_default(option: str) -> Path:
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    try:
        base = Path.cwd() / f"pssim-results-{stamp}"
    except OSError as err:
        raise _refuse(option, f"is needed here ({err.strerror})", ".") from None
    for n in itertools.count(1):
        path = base if n == 1 else base.with_name(f"{base.name}-{n}")
        with deferred():
            try:
                os.mkdir(path)
            except FileExistsError:
                continue
            except OSError as err:
                rule = f"is needed: cannot create a results folder here ({err.strerror})"
                raise _refuse(option, rule, str(path)) from None
            _RESERVED.add(path)
            return path
    raise AssertionError("unreachable")  # pragma: no cover


def _release_reserved(path: Path | None = None) -> None:
    """Remove this process's (still empty) reservations: ``path``, or all of them."""
    for p in [path] if path is not None else list(_RESERVED):
        if p in _RESERVED:
            _RESERVED.discard(p)
            with contextlib.suppress(OSError):
                os.rmdir(p)  # only an empty folder goes


def check_out_dir(value: str | None, *, option: str = "--out") -> Path:
    """The results folder to write: ``value`` checked, or a new reserved folder here.

    Args:
        value: the folder typed by the user, or None for ``pssim-results-<time>`` in the
            current folder (created empty at once to reserve its name).
        option: the option named in refusals.

    Returns:
        The folder that :func:`results_folder` fills.

    Raises:
        PssimError: the path is unusable (one line naming ``option`` and ``value``).
    """
    if value is None:
        return _reserve_default(option)
    if not isinstance(value, str) or not value.strip():
        raise _refuse(option, "must name a folder", value)
    path = Path(value)
    if path.name in ("", ".", ".."):
        raise _refuse(option, "must name a new folder, not the current one", value)
    try:
        _check_parent(option, path, value)
        if path.is_symlink() and not path.exists():
            raise _refuse(option, "must not be a dangling link", value)
        if path.is_symlink() and path.is_dir():
            path = path.resolve()  # results go where the link points
            _check_parent(option, path, value)
        if path.resolve() == Path.cwd().resolve():
            raise _refuse(option, "must name a new folder, not the current one", value)
        if path.exists() and not path.is_dir():
            raise _refuse(option, "must be a new or empty folder, not an existing file", value)
        if path.is_dir() and any(path.iterdir()):
            raise _refuse(option, "must be a new or empty folder", value)
    except OSError as err:
        raise _refuse(option, f"must be a usable path ({err.strerror})", value) from None
    _probe(option, path.parent, value)
    return path


def _check_file(value: str, option: str, suffix: str, siblings: tuple[str, ...] = ()) -> Path:
    """A ``suffix`` file path in a writable folder: neither it nor the ``siblings``
    written beside it (other suffixes) may be a folder or a dangling link."""
    if not isinstance(value, str) or not value.strip():
        raise _refuse(option, f"must name a {suffix} file", value)
    path = Path(value)
    if path.suffix.lower() != suffix or path.name.startswith(suffix):
        raise _refuse(option, f"must name a {suffix} file", value)
    try:
        _check_parent(option, path, value)
        for target in [path, *(path.with_suffix(s) for s in siblings)]:
            what = "" if target == path else f" ({target.name} is written beside it)"
            if target.is_symlink() and not target.exists():
                raise _refuse(option, f"must not be a dangling link{what}", value)
            if target.is_dir():
                raise _refuse(option, f"must name a file, not a folder{what}", value)
    except OSError as err:
        raise _refuse(option, f"must be a usable path ({err.strerror})", value) from None
    _probe(option, path.parent, value)
    return path


def check_plot_file(value: str, *, option: str = "--plot") -> Path:
    """A .png figure path in a writable folder (its .pdf and .svg go beside it).

    An existing figure is replaced; a folder or a dangling link in the way is refused.
    """
    others = tuple(f".{fmt}" for fmt in FIGURE_FORMATS if fmt != "png")
    return _check_file(value, option, ".png", others)


def check_toml_file(value: str, *, option: str = "--out") -> Path:
    """A .toml file path in a writable folder (an existing file is replaced)."""
    return _check_file(value, option, ".toml")


def _write_error(path: Path, err: OSError) -> OSError:
    return OutputError(path, err) if err.errno in _WRITE_ERRNOS else err


def save_plot(fig, path: Path) -> None:
    """Write ``fig`` as PNG, PDF and SVG beside each other (each atomically).

    Raises:
        OutputError: the disk is full or the folder no longer takes files.
    """
    from simulator.plots.timeline import save_figure

    try:
        save_figure(fig, path, formats=FIGURE_FORMATS)
    except OSError as err:
        raise _write_error(path, err) from err


def write_text_file(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` atomically (a temporary beside it, renamed).

    Raises:
        OutputError: the disk is full or the folder no longer takes files.
    """
    tmp = None
    try:
        with deferred():
            remove_stale(path.parent)
            tmp = temp_path(path)
            tmp.write_text(text, encoding="utf-8")
            os.replace(tmp, path)
    except OSError as err:
        if tmp is not None and tmp.exists():
            tmp.unlink()
        raise OutputError(path, err) from err


@contextlib.contextmanager
def results_folder(out: Path) -> Iterator[Path]:
    """A temporary folder beside ``out``, renamed to ``out`` when the block completes.

    If the block fails (or is interrupted) the temporary folder is removed, and ``out``
    too when it is an empty reservation of :func:`check_out_dir`.

    Raises:
        OutputError: writing failed for want of space or permission (the path is ``out``).
    """
    tmp = None
    try:
        with deferred():
            remove_stale(out.parent)
            tmp = _temp_dir(out)
        yield tmp
        with deferred():
            os.replace(tmp, out)  # atomic; onto an empty folder too, never a full one
            _RESERVED.discard(out)
    except BaseException as exc:
        with deferred():
            if tmp is not None:
                shutil.rmtree(tmp, ignore_errors=True)
            _release_reserved(out)
        if isinstance(exc, OSError):
            raise _write_error(out, exc) from exc
        raise


def _say(line: str) -> None:
    with contextlib.suppress(OSError, ValueError):
        sys.stderr.write(line + "\n")
        sys.stderr.flush()


def _silence_stdout() -> None:
    """Point stdout at /dev/null so the flush at exit cannot fail again."""
    with contextlib.suppress(OSError, ValueError, AttributeError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    """A warning as the program prints it: one line, ``pssim: warning: ...``."""
    _say(f"pssim: warning: {one_line(str(message))}")


def _run(command: Callable[[], int]) -> int:
    try:
        with warnings.catch_warnings():
            warnings.showwarning = _show_warning
            status = command()
    except USER_ERRORS as err:
        _say(f"pssim: error: {err}")
        status = 2
    except OutputError as err:
        _say(f"pssim: error: {err}")
        status = 1
    except BrokenPipeError:
        _silence_stdout()
        return 141
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        _silence_stdout()
        return status or 141
    return status


def _is_program() -> bool:
    """Whether this process is the ``pssim`` program (not a notebook or test calling main)."""
    top = sys.modules.get("__main__")
    spec = getattr(top, "__spec__", None)
    if spec is not None and spec.name == "simulator.cli.app":
        return True
    cli = sys.modules.get("simulator.cli")
    return cli is not None and getattr(top, "main", None) is getattr(cli, "main", object())


def _stop_now_on_signals() -> None:
    """From now on a stop signal ends this program at once with its one line and 128 + N.

    Installed once a command of the ``pssim`` program is done, outputs complete: the
    interpreter's shutdown (its exit handlers; JAX's take about half a second) would
    otherwise die silently on the default action.
    """

    def stop_now(signum, _frame) -> None:
        name = signal.Signals(signum).name
        _say(f"pssim: terminated by {name} after its outputs were written")
        os._exit(128 + signum)

    for signum in (signal.SIGINT, *STOP_SIGNALS):
        if signal.getsignal(signum) not in (signal.SIG_IGN, None):
            signal.signal(signum, stop_now)


def run_command(command: Callable[[], int]) -> int:
    """Run a CLI command and return its exit status.

    A pssim input error (``simulator.errors.USER_ERRORS``) becomes one line on stderr and
    status 2; an :class:`OutputError` one line and 1; Ctrl-C ``pssim: interrupted`` and
    130; SIGTERM or SIGHUP one line and 128 + N; a closed stdout pipe ends quietly with 141.
    Temporary files are removed first in every case. Anything else propagates.

    After an interrupt the ``pssim`` program ends at once (``os._exit``, once its files are
    cleaned up and stdio flushed): library threads (XLA's) may still be busy, and letting
    the interpreter shut down around them can crash it. After a finished command, a stop
    signal during the program's shutdown still gets its line (:func:`_stop_now_on_signals`).
    """
    try:
        with stop_raises():
            status = _run(command)
        if _is_program():
            _stop_now_on_signals()
        return status
    except KeyboardInterrupt:
        status, line = 130, "pssim: interrupted"
    except Terminated as stop:
        status = 128 + stop.signum
        line = f"pssim: terminated by {signal.Signals(stop.signum).name}"
    finally:
        _release_reserved()
    _say(line)
    if _is_program():
        with contextlib.suppress(OSError, ValueError):
            sys.stdout.flush()
        os._exit(status)
    return status
