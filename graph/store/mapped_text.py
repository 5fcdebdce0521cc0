"""The mapping children's N-Quads on their way into the store: copied to a file, loaded from it in parts.

A thread (:class:`MappedText`) copies whole lines from the children's pipes into a scratch file, at
most :data:`AHEAD` bytes ahead of the loader. The build's loader reads that file
behind the thread (:func:`load_in_parts`): in one ``Store.bulk_load`` call by default, or, with a part
size (``jllm-kg build --load-part-mb``), one call per part. pyoxigraph's bulk loader sizes its batches
by quads (about a million per batch and thread, "around 2 GB per thread" by its documentation) and
exposes no memory setting: one call over a large input holds two full batches at once. Parts of a
few hundred megabytes bound what the loader holds, whatever the catalog's size, at a price: the
parts' files overlap in key order, so the engine compacts them (in the background during the load,
and in the build's ``optimize``), and reads before that compaction are slower. The same file is the
text the Turtle dump is sorted from (:class:`graph.build._Dump`).

Parts end at line ends, so no N-Quads statement is split. Each call scopes blank-node labels anew;
the mapping writes none (every node it makes is an IRI or a literal).
"""
from __future__ import annotations

import io
import os
import selectors
import sys
import threading
from pathlib import Path

from pyoxigraph import RdfFormat, Store

AHEAD = 64 << 20
"""How far the copy may run ahead of the loader (bytes), as the pipes' back-pressure bounded it before.
Unbounded, the children can take the cores from the engine's loader, which then indexes its backlog
alone after them (bench/scale.md: "The copy's run-ahead")."""


class MappedText:
    """A file that grows by whole N-Quads lines read from ``pipes`` by a thread."""

    def __init__(self, pipes: list, path: Path) -> None:
        self.path = path
        self.written = 0
        self.read = 0
        self.done = False
        self.stopped = False
        self.error: BaseException | None = None
        self.changed = threading.Condition()
        self.fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        self.thread = threading.Thread(target=self._copy, args=(pipes,), name="mapped-text", daemon=True)
        self.thread.start()

    def _copy(self, pipes: list) -> None:
        selector = selectors.DefaultSelector()
        try:
            for pipe in pipes:
                selector.register(pipe, selectors.EVENT_READ, bytearray())
            while selector.get_map() and not self.stopped:
                with self.changed:  # at most AHEAD bytes past the loader: the children share the cores with it
                    while self.written - self.read > AHEAD and not self.stopped:
                        self.changed.wait(1.0)
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
        except BaseException as err:  # reported by the loader (wait_done)
            self.error = err
        finally:
            selector.close()
            os.close(self.fd)
            with self.changed:
                self.done = True
                self.changed.notify_all()

    def _append(self, lines: bytes) -> None:
        view = memoryview(lines)
        while view:
            view = view[os.write(self.fd, view):]
        if lines:
            with self.changed:
                self.written += len(lines)
                self.changed.notify_all()

    def available(self, pos: int) -> int:
        """Bytes written past ``pos``, waiting while there are none and the copy goes on (0: the end)."""
        with self.changed:
            while self.written <= pos and not self.done:
                self.changed.wait()
            return self.written - pos

    def stop(self) -> None:
        """Stop copying (a failed load); the thread ends within a second."""
        self.stopped = True
        self.thread.join()

    def wait_done(self) -> None:
        """Wait for the copy to end; its error (a full disk, say) as :class:`OSError`."""
        self.thread.join()
        if self.error is not None:
            raise OSError(f"copying the mapped N-Quads to {self.path} failed: {self.error}")


class Part(io.RawIOBase):
    """``text`` from byte ``start`` to a line end near ``start + size`` (or the text's end)."""

    def __init__(self, text: MappedText, reader: int, start: int, size: int) -> None:
        self.text, self.reader, self.pos, self.stop_at = text, reader, start, start + size
        self.ended = False

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        if self.ended:
            return 0
        n = min(len(buffer), self.text.available(self.pos))
        if n == 0:
            self.ended = True
            return 0
        data = os.pread(self.reader, n, self.pos)
        if self.pos + len(data) >= self.stop_at:
            cut = data.rfind(b"\n") + 1
            if cut:
                data, self.ended = data[:cut], True
        buffer[:len(data)] = data
        self.pos += len(data)
        with self.text.changed:
            self.text.read = self.pos
            self.text.changed.notify_all()
        return len(data)


def load_in_parts(store: Store, text: MappedText, part_bytes: int = 0) -> int:
    """Bulk-load ``text`` into ``store`` as it is written, one ``bulk_load`` call per part of about
    ``part_bytes`` (0: one part); how many parts."""
    reader = os.open(text.path, os.O_RDONLY)
    try:
        pos = parts = 0
        while True:
            part = Part(text, reader, pos, part_bytes or sys.maxsize)
            store.bulk_load(part, RdfFormat.N_QUADS)
            if part.pos == pos:
                return parts
            pos, parts = part.pos, parts + 1
    finally:
        os.close(reader)
