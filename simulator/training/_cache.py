"""JAX's persistent compilation cache, on by default: a compiled replay outlives its process.

Compiling the replay scan takes seconds per shape; with the cache a later process (the next
``pssim compare``, a notebook kernel restarted) loads the executable from disk instead. The
first replay of a process decides, once:

- a cache folder already configured for JAX (``jax_compilation_cache_dir``, e.g. through
  ``JAX_COMPILATION_CACHE_DIR``) is left as it is, thresholds included;
- ``PSSIM_COMPILE_CACHE=0`` (or ``false``, ``no``, ``off``) turns the cache off;
- ``PSSIM_COMPILE_CACHE=DIR`` picks the folder;
- otherwise the folder is ``$XDG_CACHE_HOME/pssim/jax`` (``~/.cache/pssim/jax``).

Every compilation is then stored, however short or small (the thresholds are lowered: the
replay's scans compile in about a second each, below JAX's default minimum). The cache
holds compiled programs only: it never changes a result.

Faults cost one line each (a ``RuntimeWarning`` without a source line), once per process,
and the run goes on:

- a folder that cannot be created or written: the run goes on without the cache;
- a corrupt entry (truncated by a full disk or a killed write, overwritten): JAX would
  warn at every read and never rewrite it (it does not overwrite an existing entry), so in
  pssim's folder the entry is deleted and compiled again, and the fresh program replaces it;
- an entry that cannot be written (a full disk): the program is used without being stored.

The last two wrap the read and write functions of JAX's ``compilation_cache`` module (the
only place that sees an entry's key), and only for the folder pssim set.
"""

from __future__ import annotations

import os
import tempfile
import warnings
from pathlib import Path

import jax

__all__ = ["CACHE_ENV", "cache_folder", "enable_compile_cache"]

#: Environment variable: ``0`` turns the cache off, a path picks its folder.
CACHE_ENV = "PSSIM_COMPILE_CACHE"
_OFF = frozenset({"0", "false", "no", "off"})
#: The folder in use (None: off or not decided yet), whether the decision was taken, and
#: the faults already reported in this process.
_STATE: dict[str, object] = {"decided": False, "folder": None, "reported": set()}
#: Suffixes of JAX's files for one entry (``jax._src.lru_cache``): the program, its use time.
_ENTRY_SUFFIXES = ("-cache", "-atime")


def _warn_once(kind: str, message: str) -> None:
    """``message`` as one line (a RuntimeWarning with no source line), once per ``kind``."""
    reported: set = _STATE["reported"]  # type: ignore[assignment]
    if kind in reported:
        return
    reported.add(kind)
    # lineno 0: Python shows no source line under the message, whoever called.
    warnings.warn_explicit(message, RuntimeWarning, "pssim", 0, module=__name__)


def _reason(err: BaseException) -> str:
    text = " ".join(str(err).split())[:100]
    return f"{type(err).__name__}: {text}" if text else type(err).__name__


def _ours(folder: Path) -> bool:
    return jax.config.jax_compilation_cache_dir == str(folder)


def _repair_entries(folder: Path) -> None:
    """Wraps JAX's cache read and write so that, in ``folder``, a corrupt entry is deleted
    (and so compiled and stored again) and a failed write is reported, each in one line."""
    try:
        from jax._src import compilation_cache as jax_cache
    except ImportError:  # pragma: no cover - another JAX layout: JAX's own warnings remain
        return
    read = getattr(jax_cache, "get_executable_and_time", None)
    write = getattr(jax_cache, "put_executable_and_time", None)
    if read is None or write is None or getattr(read, "_pssim", False):
        return
    keep = getattr(jax_cache, "CacheVerificationError", ())

    def strict(err: BaseException) -> bool:
        return isinstance(err, keep) or bool(jax.config.jax_raise_persistent_cache_errors)

    def get_executable_and_time(cache_key, *args, **kwargs):
        try:
            return read(cache_key, *args, **kwargs)
        except Exception as err:
            if strict(err) or not _ours(folder):
                raise
            try:
                for suffix in _ENTRY_SUFFIXES:
                    (folder / f"{cache_key}{suffix}").unlink(missing_ok=True)
                done = "removed it; it is compiled and stored again"
            except OSError as gone:
                done = f"cannot remove it ({gone.strerror}): delete the folder"
            _warn_once(
                "corrupt",
                f"the compilation cache {folder} held a corrupt entry ({_reason(err)}); {done}",
            )
            return None, None

    def put_executable_and_time(*args, **kwargs):
        try:
            return write(*args, **kwargs)
        except Exception as err:
            if strict(err) or not _ours(folder):
                raise
            _warn_once(
                "write",
                f"cannot write to the compilation cache {folder} ({_reason(err)}); "
                f"going on without storing (set {CACHE_ENV} to another folder, or to 0)",
            )
            return None

    get_executable_and_time._pssim = True  # type: ignore[attr-defined]
    jax_cache.get_executable_and_time = get_executable_and_time
    jax_cache.put_executable_and_time = put_executable_and_time


def cache_folder() -> Path | None:
    """The folder the environment asks for: ``$PSSIM_COMPILE_CACHE``, else the user's cache
    folder (``$XDG_CACHE_HOME/pssim/jax``, ``~/.cache/pssim/jax``); None when turned off.

    Raises:
        RuntimeError: no home folder to put the default under.
    """
    value = os.environ.get(CACHE_ENV, "").strip()
    if value.lower() in _OFF:
        return None
    if value:
        return Path(value).expanduser()
    base = os.environ.get("XDG_CACHE_HOME", "").strip()
    return (Path(base) if base else Path.home() / ".cache") / "pssim" / "jax"


def _usable(folder: Path) -> None:
    """Creates ``folder`` and checks that a file can be written in it (raises OSError)."""
    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=folder, prefix=".probe-"):
        pass


def enable_compile_cache() -> Path | None:
    """Turns JAX's persistent compilation cache on (see the module docstring), once per
    process; later calls return the first call's answer.

    Returns:
        The folder pssim set, or None (turned off, unusable, or configured by the user).
    """
    if _STATE["decided"]:
        return _STATE["folder"]  # type: ignore[return-value]
    _STATE["decided"] = True
    if jax.config.jax_compilation_cache_dir:
        return None
    folder = None
    try:
        folder = cache_folder()
        if folder is None:
            return None
        _usable(folder)
    except (OSError, RuntimeError) as err:
        where = "" if folder is None else f" {folder}"
        reason = getattr(err, "strerror", None) or _reason(err)
        _warn_once(
            "unusable",
            f"cannot use the compilation cache folder{where} ({reason}); going on "
            f"without it (set {CACHE_ENV} to another folder, or to 0 to turn it off)",
        )
        return None
    jax.config.update("jax_compilation_cache_dir", str(folder))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", -1)
    _repair_entries(folder)
    _STATE["folder"] = folder
    return folder
