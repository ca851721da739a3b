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
replay's scans compile in about a second each, below JAX's default minimum). A folder that
cannot be created or written is reported once (a warning) and the run goes on without it.
The cache holds compiled programs only: it never changes a result.
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
#: The folder in use (None: off or not decided yet) and whether the decision was taken.
_STATE: dict[str, object] = {"decided": False, "folder": None}


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
        warnings.warn(
            f"pssim: cannot use the compilation cache folder{where} ({err}); going on "
            f"without it (set {CACHE_ENV} to another folder, or to 0 to turn it off)",
            RuntimeWarning,
            stacklevel=3,
        )
        return None
    jax.config.update("jax_compilation_cache_dir", str(folder))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", -1)
    _STATE["folder"] = folder
    return folder
