"""The mapping children's N-Quads on their way into the store: copied to a file, then bulk-loaded from it.

A thread (:class:`MappedText`) copies whole lines from the children's pipes into a scratch file, as fast
as the children write them. When every child is done, the engine loads the finished file
(:func:`load_file`): in one ``Store.bulk_load(path=...)`` call, which reads the file itself, without
Python; or one call per part of a given size (``jllm-kg build --load-part-mb``). By default
(:func:`part_size`) a text up to :data:`AUTO_ABOVE` is one call and a larger one goes in parts of
:data:`AUTO_PART_BYTES`.
pyoxigraph's bulk loader sizes its batches by quads (about a million per batch and thread, "around 2 GB
per thread" by its documentation) and exposes no memory setting: one call over a large input holds
two full batches at once. Parts of a few hundred megabytes bound what the loader holds, whatever the
catalog's size, at a price: the parts' files overlap in key order, so the engine compacts them (in the
background during the load, and in the build's ``optimize``), and reads before that compaction are
slower (measured at 128,000 families, 5.1 GB of text: one call peaks at 2.46 GB of RSS, parts of
256 MB at 1.63 GB and take 6-7 % longer; at 10,000 families, 0.4 GB of text, one call peaks at 1.85 GB
and two parts cost 7 %: bench/scale.md). The same file is the text the Turtle dump is sorted from (:class:`graph.build._Dump`), which
starts when the mapping ends, beside the load.

Mapping first, loading second: earlier builds loaded the file while the children were still writing
it (the loader reading through Python, at most 64 MB behind the copy). On two cores that made the
children and the loader share the cores for the whole load and read every byte through the GIL (15-20 %
of a 10 k load in isolation). In sequence the children have both cores (70 s at 128,000 families), the
engine reads the file natively, and the dump's sort uses what the loader leaves of the second core. A
same-hour A/B pair at 128,000 families measured the whole builds equal (580 s against 573 s), so the
order is chosen for those reasons and its simplicity, not for a measured speed-up (bench/scale.md).

Parts end at line ends, so no N-Quads statement is split. Each call scopes blank-node labels anew;
the mapping writes none (every node it makes is an IRI or a literal).
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
    """The file ``reader`` from byte ``start`` to the first line end at or past ``start + size`` (or its end)."""

    def __init__(self, reader: int, start: int, size: int) -> None:
        self.reader, self.pos, self.stop_at = reader, start, start + size
        self.ended = False

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        if self.ended:
            return 0
        data = os.pread(self.reader, len(buffer), self.pos)
        if not data:
            self.ended = True
            return 0
        if self.pos + len(data) >= self.stop_at:
            cut = data.rfind(b"\n") + 1
            if cut:
                data, self.ended = data[:cut], True
        buffer[:len(data)] = data
        self.pos += len(data)
        return len(data)


#: By default (no part size given), texts larger than this are loaded in parts.
AUTO_ABOVE = 1 << 30
#: The parts' size then: the build's memory stayed at 1.63 GB at 128,000 families (2.46 GB in one call).
AUTO_PART_BYTES = 256 << 20


def part_size(text_bytes: int, part_bytes: int | None) -> int:
    """The part size to load ``text_bytes`` of N-Quads with: ``part_bytes`` when given (0: one call), else
    one call up to :data:`AUTO_ABOVE` and parts of :data:`AUTO_PART_BYTES` above it."""
    if part_bytes is not None:
        return part_bytes
    return AUTO_PART_BYTES if text_bytes > AUTO_ABOVE else 0


def load_file(store: Store, path: Path, part_bytes: int = 0) -> int:
    """Bulk-load the N-Quads file ``path`` into ``store``: by path in one call (``part_bytes`` 0), else one call
    per part of about ``part_bytes``; how many calls."""
    if part_bytes <= 0:
        store.bulk_load(path=str(path), format=RdfFormat.N_QUADS)
        return 1
    reader = os.open(path, os.O_RDONLY)
    try:
        size = os.fstat(reader).st_size
        pos = parts = 0
        while pos < size or parts == 0:
            part = Part(reader, pos, part_bytes)
            store.bulk_load(part, RdfFormat.N_QUADS)
            parts += 1
            if part.pos == pos:
                break
            pos = part.pos
        return parts
    finally:
        os.close(reader)
