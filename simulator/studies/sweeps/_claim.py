"""Which sweeps a sweep folder accepts.

A folder accepts a new or empty folder, the sweep it holds (``DIR/sweep.toml``), any other
sweep of the same kind that shares at least one configuration with it (the stored sweep's
configurations or those of the parts listed in its manifest), and any sweep when it holds
no rows yet: a sweep grows (more seeds, more grid values) or shrinks in its own folder,
and the rows it does not ask for stay stored. A sweep of another kind, or one that shares
no configuration with the folder's, is refused in one line: it belongs in a folder of its
own.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path

from simulator._files import shown_path
from simulator.errors import PssimError, SpecError
from simulator.studies.sweeps._files import STORE_NAME
from simulator.studies.sweeps._files_in_sweep import FILE_KEYS, moved_files
from simulator.studies.sweeps._manifest import read_manifest, schema_fingerprint
from simulator.studies.sweeps._spec import SweepSpec, read_sweep_file
from simulator.studies.sweeps._units import config_key

__all__ = ["Claim", "claim", "stored_sweep"]

#: Files of an unfinished sweep's folder that do not make it another sweep's.
_OWN = (".lock", STORE_NAME)


@dataclasses.dataclass(frozen=True)
class Claim:
    """What a folder holds for a sweep that it accepts.

    Attributes:
        stored: the sweep of the folder's ``sweep.toml`` (None: none, or one whose
            durations or availability files cannot be read any more).
        write: whether ``sweep.toml`` must be written for the new sweep (a new folder,
            another sweep of the store, or the same sweep whose files moved).
    """

    stored: SweepSpec | None
    write: bool


def stored_sweep(spec_path: Path, root: Path) -> SweepSpec:
    """The sweep of a folder's ``sweep.toml``, or one line saying it cannot be read."""
    try:
        return read_sweep_file(spec_path)
    except PssimError as err:
        raise _unreadable(root, spec_path, err) from None


def claim(root: Path, spec_path: Path, results: Path, manifest: Path, sweep: SweepSpec) -> Claim:
    """Whether the folder ``root`` accepts ``sweep`` (read only).

    Raises:
        SpecError: the folder holds files of something else, an unreadable ``sweep.toml``,
            or another sweep that shares no configuration with ``sweep``.
    """
    if not spec_path.exists():
        if root.exists() and (not root.is_dir() or any(_foreign(root, results))):
            raise SpecError(
                f"`out` must be a new or empty folder, or a sweep's folder (with "
                f"{spec_path.name}); got {shown_path(root)}",
                param="out",
            )
        return Claim(None, True)
    keys = {config_key(c) for c in sweep.configurations()}
    listed = _listed_keys(manifest, sweep.kind)
    try:
        stored = read_sweep_file(spec_path)
    except PssimError as err:
        if err.param not in FILE_KEYS:
            raise _unreadable(root, spec_path, err) from None
        if moved_files(spec_path, sweep.to_toml()):  # its files moved: their content is the same
            return Claim(sweep, True)
        if keys & listed:  # the stored sweep's files are gone; its rows share keys
            return Claim(None, True)
        raise _unreadable(root, spec_path, err) from None
    if stored == sweep:
        return Claim(stored, False)
    if not _has_rows(results):
        return Claim(stored, True)
    if stored.kind != sweep.kind:
        why = f"a {stored.kind} sweep; this one is {sweep.kind}"
    elif keys & ({config_key(c) for c in stored.configurations()} | listed):
        return Claim(stored, True)
    else:
        why = "no configuration in common with this one"
    raise SpecError(
        f"`out` {shown_path(root)} holds another sweep (spec {stored.digest()}, this one "
        f"{sweep.digest()}: {why}); rerun its own {spec_path.name} there, or choose another "
        "folder",
        param="out",
    )


def _unreadable(root: Path, spec_path: Path, err: PssimError) -> SpecError:
    return SpecError(
        f"`out` {shown_path(root)} holds an unreadable {spec_path.name} ({err}); "
        "choose another folder",
        param="out",
    )


def _listed_keys(manifest: Path, kind: str) -> set[str]:
    """Keys of the configurations the manifest lists in parts of a sweep of ``kind``."""
    listed = read_manifest(manifest)
    fingerprint = schema_fingerprint(kind)
    return {
        c
        for entry in (listed[0] if listed else [])
        if entry.replicates is not None and entry.schema == fingerprint
        for c in entry.configs
    }


def _has_rows(results: Path) -> bool:
    """Whether the results folder holds anything a reader would read."""
    try:
        return any(not p.name.startswith((".", "_")) for p in results.iterdir())
    except OSError:
        return False


def _foreign(root: Path, results: Path) -> Iterator[Path]:
    """What a folder holds besides an unfinished sweep's own files (its lock, its
    identity, an empty results folder)."""
    for path in root.iterdir():
        if path.name in _OWN:
            continue
        if path == results and path.is_dir() and not any(path.iterdir()):
            continue
        yield path
