"""Compiled replay programs: compiled once per configuration and argument shapes, ahead of
time, possibly in a background thread, and shared by every replay of that shape.

A replay scan is small (a few hundred jaxpr equations) but XLA's CPU backend spends seconds
on it, most of it in LLVM: each of the program's ~180 fused kernels (a third of them the
Threefry hashes of the mini-batch draws, rolled loops of 4 rounds) is compiled on its own.
Two of XLA's CPU options cut that compile time by about 40% without changing a bit of the
results: the legacy elemental emitters instead of the MLIR fusion emitters, and LLVM
without its expensive passes (checked in the tests; the run time is unchanged).

:func:`submit` starts a compilation in a worker thread (XLA releases the GIL), so a caller
that knows several shapes in advance (``compare``'s variants) compiles them while it
simulates or replays; :func:`compiled` returns the program, waiting for a compilation in
flight or compiling in the calling thread. Compiled programs still go through JAX's
persistent compilation cache (see ``_cache``), which keys them by these options too.
"""

from __future__ import annotations

import collections
import concurrent.futures
import os
import threading
from typing import Any

import jax

__all__ = ["CPU_OPTIONS", "clear", "compiled", "compiler_options", "submit"]

#: XLA options of a replay program on the CPU (faster compilation, the same results).
CPU_OPTIONS = {"xla_cpu_use_fusion_emitters": False, "xla_llvm_disable_expensive_passes": True}
#: Most programs kept in memory (the least recently used one is dropped beyond).
MAX_PROGRAMS = 64

_LOCK = threading.Lock()
_PROGRAMS: collections.OrderedDict[tuple, concurrent.futures.Future] = collections.OrderedDict()
_POOL: list[concurrent.futures.ThreadPoolExecutor] = []


def compiler_options() -> dict[str, Any] | None:
    """The XLA options of a replay program on the default backend (None: XLA's defaults)."""
    return dict(CPU_OPTIONS) if jax.default_backend() == "cpu" else None


def _abstract(leaf: Any) -> jax.ShapeDtypeStruct:
    """Shape, dtype and weak type of an argument (an array, a number or a shape already)."""
    if isinstance(leaf, jax.ShapeDtypeStruct):
        return leaf
    aval = jax.typeof(leaf)
    return jax.ShapeDtypeStruct(aval.shape, aval.dtype, weak_type=aval.weak_type)


def _signature(fn: Any, static: Any, args: tuple) -> tuple:
    """What a program depends on: the function, its static argument, the arguments' tree
    and abstract values (shape, dtype, weak type), and whether float64 is on."""
    leaves, tree = jax.tree_util.tree_flatten(args)
    avals = tuple((a.shape, a.dtype, a.weak_type) for a in map(_abstract, leaves))
    return (fn, static, tree, avals, bool(jax.config.jax_enable_x64))


def _compile(fn: Any, static: Any, args: tuple, x64: bool) -> Any:
    with jax.enable_x64(x64):
        lowered = fn.trace(static, *args).lower()
        options = compiler_options()
        if options:
            try:
                return lowered.compile(compiler_options=options)
            except Exception as err:  # an XLA without these options: its defaults
                if not any(name in str(err) for name in options):
                    raise
        return lowered.compile()


def _pool() -> concurrent.futures.ThreadPoolExecutor:
    if not _POOL:
        workers = max(1, min(4, os.cpu_count() or 1))
        _POOL.append(
            concurrent.futures.ThreadPoolExecutor(workers, thread_name_prefix="pssim-compile")
        )
    return _POOL[0]


def _entry(fn: Any, static: Any, args: tuple, background: bool) -> concurrent.futures.Future:
    """The program's future, created (and started, in the pool or by the caller) if new."""
    key = _signature(fn, static, args)
    x64 = key[-1]
    with _LOCK:
        future = _PROGRAMS.get(key)
        if future is not None:
            _PROGRAMS.move_to_end(key)
            return future
        future = concurrent.futures.Future()
        _PROGRAMS[key] = future
        while len(_PROGRAMS) > MAX_PROGRAMS:
            _PROGRAMS.popitem(last=False)
    # abstract values only: the worker never holds the caller's arrays
    shapes = jax.tree_util.tree_map(_abstract, args)

    def work() -> None:
        if not future.set_running_or_notify_cancel():
            return
        try:
            future.set_result(_compile(fn, static, shapes, x64))
        except BaseException as err:  # handed to whoever waits for the program
            with _LOCK:
                if _PROGRAMS.get(key) is future:
                    del _PROGRAMS[key]
            future.set_exception(err)

    if background:
        _pool().submit(work)
    else:
        work()
    return future


def submit(fn: Any, static: Any, args: tuple) -> concurrent.futures.Future:
    """Starts compiling ``fn(static, *args)`` in a worker thread unless it is compiled or
    compiling already; returns the program's future."""
    return _entry(fn, static, args, background=True)


def compiled(fn: Any, static: Any, args: tuple) -> Any:
    """The compiled ``fn(static, *args)``, called as ``program(*args)``: from memory, from
    a compilation in flight (waited for), or compiled now in the calling thread."""
    return _entry(fn, static, args, background=False).result()


def clear() -> None:
    """Forgets the compiled programs (a later replay compiles, or reads the disk cache)."""
    with _LOCK:
        _PROGRAMS.clear()
