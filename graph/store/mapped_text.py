"""The mapping children's N-Quads on their way into the store: copied into segment files, then
bulk-loaded from them.

A thread (:class:`MappedText`) copies whole lines from the children's pipes into a row of segment files
of about :data:`AUTO_PART_BYTES` each, as fast as the children write them; with the ``zstd`` command on the
machine (:func:`graph.store.zstd.zstd_command`), each segment is compressed on its way to disk by a ``zstd`` child of its
own. N-Quads compress about 20 times (zstd's default level: 642 MB of a 16,000-family build to 31 MB,
1.1 s; decompressed in 0.6 s), so the text that waited on disk beside the growing store (10 GB at 256,000
families, 40 GB projected at 1 M) takes a twentieth of that, and is written and read once instead of
being the largest file of the build after the store. Without ``zstd`` (or with ``$JLLM_KG_ZSTD=0``) the
segments are plain files.

When every child is done, the engine loads the segments (:func:`load_segments`): in one
``Store.bulk_load`` call over all of them, or in parts of a given size (``jllm-kg build --load-part-mb``;
a part is a run of whole segments), :func:`loader_count` parts at a time on as many threads (the engine
releases the GIL while it loads). Each part is read from a ``zstd -dc`` (or ``cat``) child's pipe. By
default (:func:`part_size`) a text up to :data:`AUTO_ABOVE` is one call and a larger one goes in parts of
:data:`AUTO_PART_BYTES`, two at a time on two cores.

pyoxigraph's bulk loader sizes its batches by quads (about a million per batch and thread, "around 2 GB
per thread" by its documentation) and exposes no memory setting: one call over a large input holds
two full batches at once. A part bounds what its call holds. Parts loaded one after another are slower:
a call leaves the second core idle for part of its time. Measured on the same 1.26 GB of N-Quads
(32,000 families, the loader alone, 2 cores; wall time, CPU time, peak RSS; plain text then):

=====================================  ==========  =========  ========
how                                    wall        CPU        RSS
=====================================  ==========  =========  ========
one call                               40-42 s     66-71 s    1.8 GB
parts of 256 MB, one at a time         58-59 s     79-80 s    1.2 GB
parts of 700 MB, one at a time         46-48 s     73-80 s    1.7 GB
parts of 64 MB, two at a time          42-45 s     77-84 s    0.6-0.7 GB
=====================================  ==========  =========  ========

Up to :data:`AUTO_ABOVE` (about 6,000 families) the text goes in one call. At 10,000 families (0.4 GB
of N-Quads) whole builds took the same time either way, and parts held less than half the memory
(`jllm-kg build --load-part-mb 64` against `0`, alternating: 40.6 and 42.4 s at 0.65-0.68 GB of peak RSS,
against 40.7 and 43.9 s at 1.48-1.52 GB).

The parts overlap in key order, so the engine compacts them (in the background during the load, and in
the build's ``optimize``). Before that compaction the engine's files are about 1.6 times the text, against
0.9 times once compacted (:data:`ENGINE_GROWTH`, :data:`COMPACTED`), so on a short disk :func:`load_rounds`
loads the text in rounds with the store compacted between two (:func:`round_count`;
``jllm-kg build --load-round-mb``). Segments end at line ends, so no N-Quads statement is split. The same segments
are the text the Turtle dump is sorted from (:class:`graph.build._Dump`), which starts when the mapping
ends, beside the load.

Mapping first, loading second: earlier builds loaded the text while the children were still writing
it. On two cores that made the children and the loader share the cores for the whole load. In sequence
the children have both cores (70 s at 128,000 families), and the dump's sort uses what the loader leaves
of the second core. A same-hour A/B pair at 128,000 families measured the whole builds equal (580 s
against 573 s), so the order is chosen for those reasons and its simplicity, not for a measured speed-up
(bench/scale.md).

Each call scopes blank-node labels anew; the mapping writes none (every node it makes is an IRI or a
literal).
"""
from __future__ import annotations

import math
import os
import selectors
import subprocess
import threading
from pathlib import Path
from typing import Callable, NamedTuple

from pyoxigraph import RdfFormat, Store

from graph.store.zstd import zstd_command

class Segment(NamedTuple):
    """One segment file of the mapped text: its path and how many bytes of N-Quads it holds."""

    path: Path
    size: int


def read_command(segments: list[Segment]) -> list[str]:
    """The command that writes the N-Quads of ``segments``, in order, to its standard output."""
    paths = [str(s.path) for s in segments]
    if paths and paths[0].endswith(".zst"):
        return [zstd_command() or "zstd", "-dcq", "--", *paths]
    return ["cat", "--", *paths]


class MappedText:
    """Segment files (``path`` with ``.00000``, ``.00001``, … and ``.zst`` when compressed) that a thread
    fills with the whole N-Quads lines read from ``pipes``, until each is closed; a segment is closed once
    it holds ``segment_bytes`` or more (:attr:`segments`, when :attr:`done`)."""

    def __init__(self, pipes: list, path: Path, segment_bytes: int = 64 << 20, zstd: str | None = None) -> None:
        self.path, self.segment_bytes, self.zstd = path, max(segment_bytes, 1), zstd
        self.written = 0
        self.done = False
        self.stopped = False
        self.error: BaseException | None = None
        self.segments: list[Segment] = []
        self._fd, self._child = -1, None
        self._open()  # a scratch file that cannot be made fails here, in the caller
        self.thread = threading.Thread(target=self._copy, args=(pipes,), name="mapped-text", daemon=True)
        self.thread.start()

    def _open(self) -> None:
        name = f"{self.path.name}.{len(self.segments):05d}{'.zst' if self.zstd else ''}"
        target = self.path.with_name(name)
        out = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        if self.zstd:
            try:
                self._child = subprocess.Popen([self.zstd, "-q", "-c"], stdin=subprocess.PIPE, stdout=out)
            finally:
                os.close(out)
            self._fd = self._child.stdin.fileno()
        else:
            self._fd = out
        self.segments.append(Segment(target, 0))

    def _close(self) -> None:
        """End the current segment (its compressor's exit status checked)."""
        fd, child, self._fd, self._child = self._fd, self._child, -1, None
        if child is None:
            if fd >= 0:
                os.close(fd)
            return
        child.stdin.close()
        if child.wait() != 0:
            raise OSError(f"zstd exit status {child.returncode}")

    def _copy(self, pipes: list) -> None:
        selector = selectors.DefaultSelector()
        try:
            for pipe in pipes:
                selector.register(pipe, selectors.EVENT_READ, bytearray())
            while selector.get_map() and not self.stopped:
                for key, _ in selector.select(timeout=1.0):
                    chunk = os.read(key.fd, 1 << 20)
                    rest: bytearray = key.data
                    if not chunk:  # a child ended; a last line without its end is a syntax error the loader reports
                        selector.unregister(key.fileobj)
                        lines = bytes(rest) + (b"\n" if rest and not rest.endswith(b"\n") else b"")
                    else:
                        rest += chunk
                        cut = rest.rfind(b"\n") + 1
                        lines = bytes(rest[:cut])
                        del rest[:cut]
                    self._append(lines)
            self._close()
        except BaseException as err:  # reported by wait_done
            child, fd, self._child, self._fd = self._child, self._fd, None, -1
            if child is not None:  # a write to the compressor failed: it ended (its message is above) or stops now
                if child.poll() is None:
                    child.kill()
                code = child.wait()
                if isinstance(err, BrokenPipeError):
                    err = OSError(f"zstd exit status {code}")
            elif fd >= 0:
                os.close(fd)
            self.error = err
        finally:
            selector.close()
            self.done = True

    def _append(self, lines: bytes) -> None:
        if not lines:
            return
        if self.segments[-1].size >= self.segment_bytes:
            self._close()
            self._open()
        view = memoryview(lines)
        while view:
            view = view[os.write(self._fd, view):]
        self.written += len(lines)
        last = self.segments[-1]
        self.segments[-1] = Segment(last.path, last.size + len(lines))

    def stop(self) -> None:
        """Stop copying (a failed build); the thread ends within a second."""
        self.stopped = True
        self.thread.join()

    def wait_done(self) -> None:
        """Wait until every pipe is closed and copied; a failed copy (a full disk, say) as :class:`OSError`."""
        self.thread.join()
        if self.error is not None:
            raise OSError(f"copying the mapped N-Quads to {self.path}.* failed: {self.error}")

    def remove(self) -> None:
        """Delete the segment files."""
        for segment in self.segments:
            segment.path.unlink(missing_ok=True)


#: By default (no part size given), texts larger than this are loaded in parts.
AUTO_ABOVE = 256 << 20
#: The parts' size then (see the module's docstring for the measurements), and the segments' size.
AUTO_PART_BYTES = 64 << 20
LOADERS_ENV = "JLLM_KG_BUILD_LOADERS"
"""How many parts the engine loads at once (default: 2 on two cores or more)."""

#: The engine's files at the end of a load in parts, before compaction, per byte of N-Quads loaded
#: (by ``du`` every 10 s: 32.5 GB from 20.3 GB of N-Quads at 512,000 families, 63.8 GB from 39.7 GB at 1 M; bench/scale.md).
ENGINE_GROWTH = 1.6
#: The compacted store per byte of N-Quads (512,000 families: 18.1 GB from 20.3 GB).
COMPACTED = 0.9
#: The share of the free disk space that a load plans to fill; the rest is for the error of the two
#: figures above, the sort's runs that grow beside the load, and a compaction's new files before it
#: deletes the old ones.
DISK_SHARE = 0.85
#: At most this many rounds (each compaction between them rewrites the store loaded so far).
MAX_ROUNDS = 8


def part_size(text_bytes: int, part_bytes: int | None) -> int:
    """The part size to load ``text_bytes`` of N-Quads with: ``part_bytes`` when given (0: one call), else
    one call up to :data:`AUTO_ABOVE` and parts of :data:`AUTO_PART_BYTES` above it."""
    if part_bytes is not None:
        return part_bytes
    return AUTO_PART_BYTES if text_bytes > AUTO_ABOVE else 0


def segment_size(part_bytes: int | None) -> int:
    """The segments' size for a build asked to load in parts of ``part_bytes`` (None: the default, 0: one call):
    no larger than a part, so that parts can be made of whole segments."""
    return min(part_bytes, AUTO_PART_BYTES) if part_bytes else AUTO_PART_BYTES


def round_count(text_bytes: int, free_bytes: int) -> int:
    """In how many rounds to load ``text_bytes`` of N-Quads, the store compacted between two rounds, so that
    the engine's files stay within :data:`DISK_SHARE` of ``free_bytes``: 1 when a whole load fits.

    After round k of n, the store holds k/n of the text, compacted (:data:`COMPACTED` per byte) but for the
    last round's share (:data:`ENGINE_GROWTH`); the peak, at the end of the last round, is
    ``COMPACTED·T + (ENGINE_GROWTH − COMPACTED)·T/n``. When even the compacted store would not fit,
    :data:`MAX_ROUNDS` (the build then fails on a full disk, as it would in one round, but later)."""
    budget = DISK_SHARE * free_bytes - COMPACTED * text_bytes
    overhead = (ENGINE_GROWTH - COMPACTED) * text_bytes
    if overhead <= budget:
        return 1
    if budget <= 0:
        return MAX_ROUNDS
    return min(MAX_ROUNDS, math.ceil(overhead / budget))


def round_size(text_bytes: int, round_bytes: int | None, free_bytes: int) -> int:
    """The round size to load ``text_bytes`` with: ``round_bytes`` when given (0: one round), else from the
    free disk space (:func:`round_count`); 0 for one round."""
    if round_bytes is not None:
        return round_bytes
    rounds = round_count(text_bytes, free_bytes)
    return 0 if rounds == 1 else math.ceil(text_bytes / rounds)


def worker_count(env: str) -> int:
    """How many workers a build step runs: ``$env``, else 2 on two cores or more."""
    return max(1, int(os.environ.get(env) or (2 if (os.cpu_count() or 1) >= 2 else 1)))


def loader_count() -> int:
    """Parts loaded at once: ``$JLLM_KG_BUILD_LOADERS``, else 2 on two cores or more."""
    return worker_count(LOADERS_ENV)


def part_groups(segments: list[Segment], part_bytes: int) -> list[list[Segment]]:
    """``segments`` in runs of about ``part_bytes`` of text each (each run reaching it, but the last), in order;
    all in one run for ``part_bytes`` 0."""
    if part_bytes <= 0:
        return [list(segments)]
    groups: list[list[Segment]] = []
    current: list[Segment] = []
    size = 0
    for segment in segments:
        current.append(segment)
        size += segment.size
        if size >= part_bytes:
            groups.append(current)
            current, size = [], 0
    if current or not groups:
        groups.append(current)
    return groups


def open_part(segments: list[Segment]) -> subprocess.Popen:
    """A child writing the text of ``segments`` to its stdout pipe (:func:`read_command`)."""
    return subprocess.Popen(read_command(segments), stdout=subprocess.PIPE)


def load_part(store: Store, segments: list[Segment]) -> None:
    """Bulk-load the text of ``segments`` into ``store`` in one call, read from a :func:`open_part` child."""
    if not segments:
        return
    reader = open_part(segments)
    try:
        store.bulk_load(reader.stdout, RdfFormat.N_QUADS)
    except BaseException:
        reader.kill()
        raise
    finally:
        reader.stdout.close()
        reader.wait()
    if reader.returncode != 0:
        raise OSError(f"reading the mapped N-Quads failed: {' '.join(read_command(segments)[:2])} exit status {reader.returncode}")


def load_segments(store: Store, segments: list[Segment], part_bytes: int = 0, loaders: int = 1) -> int:
    """Bulk-load the N-Quads ``segments`` into ``store``: in one call (``part_bytes`` 0), else one call per
    run of segments of about ``part_bytes`` (:func:`part_groups`), ``loaders`` parts at a time (each call
    releases the GIL while the engine works); how many calls. The first failed part (a syntax error, say)
    is raised once the parts already started have ended; no part starts after it."""
    groups = part_groups(segments, part_bytes)
    if len(groups) == 1:
        load_part(store, groups[0])
        return 1
    queue = iter(groups)
    lock = threading.Lock()
    failed: list[BaseException] = []
    count = max(1, min(loaders, len(groups)))
    ended = [threading.Event() for _ in range(count)]

    def work(n: int) -> None:
        try:
            while True:
                with lock:
                    group = None if failed else next(queue, None)
                if group is None:
                    return
                try:
                    load_part(store, group)
                except BaseException as err:  # raised below, in the caller's thread
                    with lock:
                        failed.append(err)
                    return
        finally:
            ended[n].set()

    for n in range(count):
        threading.Thread(target=work, args=(n,), name=f"load-{n}", daemon=True).start()
    try:
        for event in ended:
            event.wait()
    except BaseException as err:  # an interrupt: no part starts after it; the running ones end first (an event,
        with lock:                # not Thread.join: Python 3.11's join, once interrupted, may take a running
            failed.append(err)    # thread for ended)
        for event in ended:
            event.wait()
        raise
    if failed:
        raise failed[0]
    return len(groups)


def compact(store: Store) -> None:
    """Flush ``store`` and compact it (``Store.optimize``) on a thread, which an interrupt does not stop
    midway: the engine cannot abandon a compaction, so the interrupt is raised once it has ended."""
    store.flush()
    failed: list[BaseException] = []
    ended = threading.Event()

    def work() -> None:
        try:
            store.optimize()
        except BaseException as err:  # raised below, in the caller's thread
            failed.append(err)
        finally:
            ended.set()

    threading.Thread(target=work, name="compact", daemon=True).start()
    try:
        ended.wait()
    except BaseException:
        ended.wait()
        raise
    if failed:
        raise failed[0]


def load_rounds(store: Store, segments: list[Segment], part_bytes: int = 0, loaders: int = 1, round_bytes: int = 0,
                between: Callable[[int, int], None] | None = None) -> int:
    """Bulk-load ``segments`` into ``store`` in rounds of about ``round_bytes`` of text (0: one round), each
    by :func:`load_segments`, the store compacted (:func:`compact`) between two rounds, which bounds the
    engine's files on disk (:func:`round_count`); ``between(done, rounds)`` is called before each
    compaction. How many bulk-load calls."""
    rounds = part_groups(segments, round_bytes)
    calls = 0
    for done, group in enumerate(rounds, 1):
        calls += load_segments(store, group, part_bytes, loaders)
        if done < len(rounds):
            if between is not None:
                between(done, len(rounds))
            compact(store)
    return calls
