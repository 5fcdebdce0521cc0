"""The mapping children's N-Quads on their way into the store: copied to a file, then bulk-loaded from it.

A thread (:class:`MappedText`) copies whole lines from the children's pipes into a scratch file, as fast
as the children write them. When every child is done, the engine loads the finished file
(:func:`load_file`): in one ``Store.bulk_load(path=...)`` call, which reads the file itself, without
Python; or one call per part of a given size (``jllm-kg build --load-part-mb``), :func:`loader_count`
parts at a time on as many threads (the engine releases the GIL while it loads). By default
(:func:`part_size`) a text up to :data:`AUTO_ABOVE` is one call and a larger one goes in parts of
:data:`AUTO_PART_BYTES`, two at a time on two cores.

pyoxigraph's bulk loader sizes its batches by quads (about a million per batch and thread, "around 2 GB
per thread" by its documentation) and exposes no memory setting: one call over a large input holds
two full batches at once. A part bounds what its call holds. Parts loaded one after another are slower:
a call leaves the second core idle for part of its time. Measured on the same 1.26 GB of N-Quads
(32,000 families, the loader alone, 2 cores; wall time, CPU time, peak RSS):

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

The parts' files overlap in key order, so the engine compacts them (in the background during the load,
and in the build's ``optimize``). Parts end at line ends, so no N-Quads statement is split; each is read
by positioned reads (:class:`Part`), so two can be read at once. The same file is the text the Turtle
dump is sorted from (:class:`graph.build._Dump`), which starts when the mapping ends, beside the load.

Mapping first, loading second: earlier builds loaded the file while the children were still writing
it (the loader reading through Python, at most 64 MB behind the copy). On two cores that made the
children and the loader share the cores for the whole load and read every byte through the GIL (15-20 %
of a 10 k load in isolation). In sequence the children have both cores (70 s at 128,000 families), the
engine reads the file natively, and the dump's sort uses what the loader leaves of the second core. A
same-hour A/B pair at 128,000 families measured the whole builds equal (580 s against 573 s), so the
order is chosen for those reasons and its simplicity, not for a measured speed-up (bench/scale.md).

Each call scopes blank-node labels anew; the mapping writes none (every node it makes is an IRI or a
literal).
"""
from __future__ import annotations

import io
import os
import selectors
import threading
from pathlib import Path

from pyoxigraph import RdfFormat, Store


class MappedText:
    """A file that a thread fills with the whole N-Quads lines read from ``pipes``, until each is closed."""

    def __init__(self, pipes: list, path: Path) -> None:
        self.path = path
        self.written = 0
        self.done = False
        self.stopped = False
        self.error: BaseException | None = None
        self.fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        self.thread = threading.Thread(target=self._copy, args=(pipes,), name="mapped-text", daemon=True)
        self.thread.start()

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
        except BaseException as err:  # reported by wait_done
            self.error = err
        finally:
            selector.close()
            os.close(self.fd)
            self.done = True

    def _append(self, lines: bytes) -> None:
        view = memoryview(lines)
        while view:
            view = view[os.write(self.fd, view):]
        self.written += len(lines)

    def stop(self) -> None:
        """Stop copying (a failed build); the thread ends within a second."""
        self.stopped = True
        self.thread.join()

    def wait_done(self) -> None:
        """Wait until every pipe is closed and copied; a failed copy (a full disk, say) as :class:`OSError`."""
        self.thread.join()
        if self.error is not None:
            raise OSError(f"copying the mapped N-Quads to {self.path} failed: {self.error}")


class Part(io.RawIOBase):
    """The bytes ``start`` to ``end`` of the file ``reader`` (positioned reads: parts of one file can be read at once)."""

    def __init__(self, reader: int, start: int, end: int) -> None:
        self.reader, self.pos, self.end = reader, start, end

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        want = min(len(buffer), self.end - self.pos)
        if want <= 0:
            return 0
        data = os.pread(self.reader, want, self.pos)
        buffer[:len(data)] = data
        self.pos += len(data)
        return len(data)


#: By default (no part size given), texts larger than this are loaded in parts.
AUTO_ABOVE = 256 << 20
#: The parts' size then (see the module's docstring for the measurements).
AUTO_PART_BYTES = 64 << 20
LOADERS_ENV = "JLLM_KG_BUILD_LOADERS"
"""How many parts the engine loads at once (default: 2 on two cores or more)."""


def part_size(text_bytes: int, part_bytes: int | None) -> int:
    """The part size to load ``text_bytes`` of N-Quads with: ``part_bytes`` when given (0: one call), else
    one call up to :data:`AUTO_ABOVE` and parts of :data:`AUTO_PART_BYTES` above it."""
    if part_bytes is not None:
        return part_bytes
    return AUTO_PART_BYTES if text_bytes > AUTO_ABOVE else 0


def worker_count(env: str) -> int:
    """How many workers a build step runs: ``$env``, else 2 on two cores or more."""
    return max(1, int(os.environ.get(env) or (2 if (os.cpu_count() or 1) >= 2 else 1)))


def loader_count() -> int:
    """Parts loaded at once: ``$JLLM_KG_BUILD_LOADERS``, else 2 on two cores or more."""
    return worker_count(LOADERS_ENV)


def part_bounds(reader: int, part_bytes: int) -> list[tuple[int, int]]:
    """The file ``reader`` cut into parts of about ``part_bytes``, each ending at a line end (or the file's end):
    their (start, end) offsets, at least one."""
    size = os.fstat(reader).st_size
    bounds, pos = [], 0
    while pos < size:
        end = min(pos + max(part_bytes, 1), size)
        while end < size:  # on to the first line end at or past the cut
            chunk = os.pread(reader, 1 << 16, end - 1)
            at = chunk.find(b"\n")
            if at >= 0:
                end += at
                break
            end += len(chunk)
        end = min(end, size)
        bounds.append((pos, end))
        pos = end
    return bounds or [(0, 0)]


def load_file(store: Store, path: Path, part_bytes: int = 0, loaders: int = 1) -> int:
    """Bulk-load the N-Quads file ``path`` into ``store``: by path in one call (``part_bytes`` 0), else one call
    per part of about ``part_bytes``, ``loaders`` parts at a time (each call releases the GIL while the
    engine works); how many calls. The first failed part (a syntax error, say) is raised once the parts
    already started have ended; no part starts after it."""
    if part_bytes <= 0:
        store.bulk_load(path=str(path), format=RdfFormat.N_QUADS)
        return 1
    reader = os.open(path, os.O_RDONLY)
    try:
        bounds = part_bounds(reader, part_bytes)
        queue = iter(bounds)
        lock = threading.Lock()
        failed: list[BaseException] = []
        count = max(1, min(loaders, len(bounds)))
        ended = [threading.Event() for _ in range(count)]

        def work(n: int) -> None:
            try:
                while True:
                    with lock:
                        bound = None if failed else next(queue, None)
                    if bound is None:
                        return
                    try:
                        store.bulk_load(Part(reader, *bound), RdfFormat.N_QUADS)
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
        except BaseException as err:  # an interrupt: no part starts after it, and the file stays open until the
            with lock:                # running ones end (an event, not Thread.join: Python 3.11's join, once
                failed.append(err)    # interrupted, may take a running thread for ended)
            for event in ended:
                event.wait()
            raise
        if failed:
            raise failed[0]
        return len(bounds)
    finally:
        os.close(reader)
