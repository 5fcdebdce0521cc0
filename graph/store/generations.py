"""The on-disk Oxigraph store: opening it, and swapping in a new generation atomically.

Layout: ``store_path`` is a symlink to a generation directory ``<name>.gen-<timestamp>`` next
to it, with the generation's Turtle dump beside it (:func:`dump_path`). A build writes a new generation, then points a temporary symlink at it and
``os.replace``-s it over ``store_path`` (atomic on POSIX). Readers that opened the previous
generation keep it; it is deleted by the build after next. Nothing is ever written into a
generation that ``store_path`` points at, so a kill at any moment leaves the old store intact.
"""
from __future__ import annotations

import fcntl
import os
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from pyoxigraph import Store

from graph.errors import UserError

GEN_MARK = ".gen-"


def open_store(store_path: Path, read_only: bool = True) -> Store:
    """Open the store the path points at now (the symlink is resolved once, at opening).

    A missing store is a :class:`UserError` telling the user to build it.
    """
    path = Path(store_path)
    target = path.resolve()
    if not target.is_dir():
        raise UserError(f"no store at {path}: run `jllm-kg build` first (or pass --store)")
    try:
        return Store.read_only(str(target)) if read_only else Store(str(target))
    except OSError as err:
        raise UserError(f"cannot open the store at {path}: {err}") from None


def generations(store_path: Path) -> list[Path]:
    """Generation directories of ``store_path``, oldest first."""
    path = Path(store_path)
    return sorted(p for p in path.parent.glob(path.name + GEN_MARK + "*") if p.is_dir() and not p.is_symlink())


def dump_path(generation: Path) -> Path:
    """The Turtle dump the build writes next to ``generation`` (``<generation>.dump.ttl``), removed with it.

    >>> dump_path(Path("/data/store.gen-20261201T120000-000000001")).name
    'store.gen-20261201T120000-000000001.dump.ttl'
    """
    generation = Path(generation)
    return generation.parent / f"{generation.name}.dump.ttl"


def _remove_generation(generation: Path) -> None:
    shutil.rmtree(generation, ignore_errors=True)
    for extra in (dump_path(generation), dump_path(generation).with_name(dump_path(generation).name + ".tmp")):
        try:
            extra.unlink()
        except FileNotFoundError:
            pass


def new_generation(store_path: Path) -> Path:
    """A fresh, not yet existing generation path: ``<store_path>.gen-<UTC timestamp>-<ns>``."""
    path = Path(store_path)
    path.parent.mkdir(parents=True, exist_ok=True)
    seconds, nanos = divmod(time.time_ns(), 1_000_000_000)  # one clock read: names sort in build order
    stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime(seconds)) + f"-{nanos:09d}"
    return path.parent / f"{path.name}{GEN_MARK}{stamp}"


@contextmanager
def build_lock(store_path: Path) -> Iterator[None]:
    """Hold an exclusive lock so two builds of the same store do not race."""
    path = Path(store_path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.parent / f".{path.name}.lock", "w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise UserError(f"another build of {path} is running") from None
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def swap_in(store_path: Path, generation: Path) -> Path | None:
    """Point ``store_path`` at ``generation`` atomically; return the previous generation.

    A plain directory at ``store_path`` (older layout) is first renamed to a generation.
    Generations older than the previous one are deleted; the previous one is kept for
    readers that still have it open.
    """
    path = Path(store_path)
    previous: Path | None = None
    if path.is_symlink():
        previous = path.resolve()
    elif path.is_dir():
        previous = path.parent / f"{path.name}{GEN_MARK}00000000T000000-legacy"
        if previous.exists():
            shutil.rmtree(previous)
        os.rename(path, previous)
    elif path.exists():
        raise UserError(f"{path} exists and is not a store directory: move it away")
    tmp = path.parent / f".{path.name}.swap-{os.getpid()}"
    if tmp.is_symlink() or tmp.exists():
        tmp.unlink()
    os.symlink(generation.name, tmp)
    os.replace(tmp, path)
    _fsync_dir(path.parent)
    keep = {generation.resolve(), *(p for p in [previous] if p is not None)}
    for old in generations(path):
        if old.resolve() not in keep:
            _remove_generation(old)
    return previous


def discard(generation: Path) -> None:
    """Remove a generation that was not swapped in (and its dump)."""
    _remove_generation(generation)


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
