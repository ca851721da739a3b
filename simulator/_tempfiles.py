"""Temporary names for atomic writes, and the removal of those a killed process left.

pssim writes a file or folder under a hidden temporary name beside its target and renames
it onto the target when complete, so a reader never sees half of it. A process killed with
SIGKILL runs no cleanup, so its temporary stays; the name therefore carries the host and
the process (``.NAME.<host>-<pid>-<token>.pssim-tmp[.SUFFIX]``), and the next write into the
same folder removes the temporaries of this host whose process is gone. Another host's
temporaries (a shared file system) and a live process's are never touched.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import secrets
import shutil
import socket
from pathlib import Path

__all__ = ["remove_stale", "temp_path"]

#: Marks every temporary name pssim writes.
MARK = ".pssim-tmp"
_NAME = re.compile(r"^\..+\.([0-9a-f]{4})-(\d+)-[0-9a-f]{8}" + re.escape(MARK) + r"(\.\w+)?$")


def _host_tag() -> str:
    """Four hex digits of this host's name (short, so names stay within NAME_MAX)."""
    return hashlib.sha256(socket.gethostname().encode()).hexdigest()[:4]


def temp_path(target: Path, *, keep_suffix: bool = False) -> Path:
    """A new hidden temporary name beside ``target`` for this process.

    Args:
        target: the file or folder that the temporary is renamed to.
        keep_suffix: end the name with ``target``'s suffix as well (writers such as
            matplotlib choose the format from it).

    Example:
        >>> temp_path(Path("out/fig.png"), keep_suffix=True).name  # doctest: +SKIP
        '.fig.png.3fa1-4242-9c0e11d2.pssim-tmp.png'
    """
    suffix = target.suffix if keep_suffix else ""
    token = secrets.token_hex(4)
    return target.with_name(f".{target.name}.{_host_tag()}-{os.getpid()}-{token}{MARK}{suffix}")


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # another user's process: alive
        return True
    return True


def remove_stale(folder: Path) -> list[Path]:
    """Remove the temporaries in ``folder`` that a process of this host left when it died.

    Returns:
        The paths removed (an unreadable folder or entry is left as it is).
    """
    removed: list[Path] = []
    host = _host_tag()
    try:
        names = [e.name for e in os.scandir(folder) if e.name.startswith(".")]
    except OSError:
        return removed
    for name in names:
        match = _NAME.match(name)
        if match is None or match.group(1) != host or _alive(int(match.group(2))):
            continue
        path = Path(folder) / name
        with contextlib.suppress(OSError):
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path)
            else:
                path.unlink()
            removed.append(path)
    return removed
