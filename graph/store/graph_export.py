"""The dataset formats' export (N-Quads, TriG, JSON-LD) graph by graph: the same bytes as
:class:`graph.store.export.SortedWriter`, without its whole-dataset sort.

The export order puts graphs in order (the description's graph first, then by IRI) and sorts each
graph's triples apart, so no sort has to see the whole dataset before the first line can be written.
The caller's process asks the engine for each named graph's N-Triples in that order
(``Store.dump(from_graph=…)``, Rust), each behind a ``# graph <IRI>`` line (no N-Triples line starts
with ``#``); a second process (:func:`serialize_graphs`) sorts each graph's lines as they come and writes
them, itself for N-Quads, through pyoxigraph's serializer for the others. The two run on two cores at once:
the engine's dump, not the sort, sets the time (bench/scale.md). A graph longer than ``spill_lines``
lines (at scale the provenance and lineage graphs) is sorted by GNU ``sort`` on disk instead of in
memory, so the second process holds at most that many lines.
"""
from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import BinaryIO

import pyoxigraph as ox
from pyoxigraph import NamedNode, RdfFormat, Store

from graph.errors import UserError
from graph.rdf.vocab import PREFIXES, RDFS, TYPE
from graph.store.pipes import C_LOCALE, QUIET_ON_CLOSED_OUTPUT, Sink, check_exit, copy_out, file_of, sort_command, write_ranks

#: Lines of one graph sorted in memory; a longer graph is sorted by GNU ``sort`` (about 150 bytes a line).
SPILL_LINES = 250_000

#: Lines parsed and serialized at a time (N-Quads → pyoxigraph's serializer).
_BATCH = 20_000

_MARK = b"# graph "
_TYPE, _LABEL = str(TYPE).encode(), str(RDFS.label).encode()


def graph_order(store: Store) -> list[str] | None:
    """IRIs of the store's named graphs in export order: the description's graph (``…graph/void``) first,
    then by code point, as :func:`graph.store.export.sorted_quads`; None where a graph name is a blank node."""
    names = []
    for graph in store.named_graphs():
        if not isinstance(graph, NamedNode):
            return None
        names.append(graph.value)
    names.sort(key=lambda iri: (not iri.endswith("graph/void"), iri))
    return names


class GraphSortedWriter:
    """Write the named graphs of an embedded store in ``fmt`` (a dataset format) to ``output``, sorted.

    :meth:`dump` feeds the engine's dump of each graph to :func:`serialize_graphs` in a child process,
    which writes ``output`` itself (a path or an OS-level file) or through a pipe a thread copies into
    a buffer; :meth:`close` waits for it. ``top`` ranks the description's subjects (first in their graph)."""

    def __init__(self, fmt: str, output: BinaryIO | str | os.PathLike, top: dict, scratch: Path | None = None,
                 buffer: str = "256M", spill_lines: int = SPILL_LINES) -> None:
        from graph.store.export import FORMATS

        if fmt not in FORMATS or not FORMATS[fmt].supports_datasets:
            raise UserError(f"not a dataset export format: {fmt!r}")
        self.tmp = tempfile.TemporaryDirectory(prefix="jllm-kg-export-", dir=scratch)
        top_file = write_ranks(Path(self.tmp.name) / "top.tsv", top)
        path, fd = file_of(output) or ("", subprocess.PIPE)
        self.child = subprocess.Popen(
            [sys.executable, "-c", f"{QUIET_ON_CLOSED_OUTPUT} from graph.store.graph_export import serialize_graphs; "
             "serialize_graphs(*sys.argv[1:6], int(sys.argv[6]))",
             fmt, top_file, self.tmp.name, buffer, path, str(spill_lines)],
            stdin=subprocess.PIPE, stdout=fd, env=C_LOCALE)
        self.failed: list[BaseException] = []
        self.copier = threading.Thread(target=copy_out, args=(self.child, output, self.failed, "export: sorting the graphs failed"),
                                       name="export-write", daemon=True)
        self.copier.start()

    def dump(self, store: Store, graphs: Iterable[str]) -> None:
        """Feed the engine's N-Triples of each graph of ``graphs`` (in that order), each behind its ``# graph`` line."""
        fd = self.child.stdin.fileno()
        sink = Sink(fd)
        for iri in graphs:
            os.write(fd, _MARK + f"<{iri}>\n".encode("utf-8"))
            store.dump(sink, RdfFormat.N_TRIPLES, from_graph=NamedNode(iri))

    def abort(self) -> None:
        """Stop the child (the output is incomplete) and remove the temporary files."""
        if self.child.poll() is None:
            self.child.kill()
        self.child.wait()
        self.copier.join()
        self.tmp.cleanup()

    def close(self) -> None:
        """End the input and wait for the output; :class:`UserError` if the child failed
        (:func:`graph.store.pipes.check_exit`)."""
        try:
            try:
                self.child.stdin.close()
            except BrokenPipeError:
                pass
            self.copier.join()
        finally:
            self.tmp.cleanup()
        if self.failed:
            raise self.failed[0]


def _ranks(top_file: str) -> dict[bytes, int]:
    ranks = {}
    with open(top_file, "rb") as handle:
        for line in handle:
            term, rank = line.rstrip(b"\n").split(b"\t")
            ranks[term] = int(rank)
    return ranks


def _key(ranks: dict[bytes, int]):
    """The sort key of an N-Triples line: (subject rank, subject, predicate rank, line), the order of
    :func:`graph.store.export.sorted_quads` within a graph (as GNU ``sort`` orders :func:`_record`)."""
    def key(line: bytes) -> tuple:
        s, p, _ = line.split(b" ", 2)
        return ranks.get(s, 2), s, 0 if p == _TYPE else 1 if p == _LABEL else 2, line
    return key


def _record(key: tuple) -> bytes:
    """The key as one line GNU ``sort`` orders the same way (tabs sort below every character of an
    N-Triples term; the line keeps its newline)."""
    return b"%d\t%s\t%d\t%s" % key


class _Spill:
    """One graph's lines sorted by GNU ``sort`` (``buffer`` of memory, then compressed runs in ``scratch``)."""

    def __init__(self, scratch: str, buffer: str) -> None:
        self.sort = subprocess.Popen(sort_command(buffer, scratch), stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=C_LOCALE)

    def write(self, keys: Iterable[tuple]) -> None:
        self.sort.stdin.write(b"".join(map(_record, keys)))

    def lines(self) -> Iterator[bytes]:
        self.sort.stdin.close()
        for record in self.sort.stdout:
            yield record.split(b"\t", 3)[3]
        self.sort.stdout.close()
        check_exit([self.sort.wait()], "export: sorting a graph failed")


def sorted_graphs(lines: BinaryIO, ranks: dict[bytes, int], scratch: str, buffer: str,
                  spill_lines: int = SPILL_LINES) -> Iterator[tuple[bytes, Iterable[bytes]]]:
    """(graph IRI in N-Quads form, its N-Triples lines sorted) for each ``# graph`` section of ``lines``."""
    key = _key(ranks)
    graph: bytes | None = None
    batch: list[bytes] = []
    spill: _Spill | None = None

    def finish() -> Iterable[bytes]:
        if spill is None:
            return sorted(batch, key=key)
        spill.write(map(key, batch))
        return spill.lines()

    for line in lines:
        if line.startswith(_MARK):
            if graph is not None:
                yield graph, finish()
            graph, batch, spill = line[len(_MARK):-1], [], None
            continue
        batch.append(line)
        if len(batch) >= spill_lines:
            spill = spill or _Spill(scratch, buffer)
            spill.write(map(key, batch))
            batch = []
    if graph is not None:
        yield graph, finish()


def _batches(graphs: Iterator[tuple[bytes, Iterable[bytes]]]) -> Iterator[bytes]:
    """N-Quads text, a bounded number of lines at a time (each line's graph put back)."""
    for graph, lines in graphs:
        suffix = b" " + graph + b" .\n"
        batch = []
        for line in lines:
            batch.append(line[:-3] + suffix)  # "s p o .\n" → "s p o <g> .\n"
            if len(batch) >= _BATCH:
                yield b"".join(batch)
                batch = []
        if batch:
            yield b"".join(batch)


def serialize_graphs(fmt: str, top_file: str, scratch: str, buffer: str, output: str,
                     spill_lines: int = SPILL_LINES) -> None:
    """The child's side of :class:`GraphSortedWriter`: ``# graph`` sections of N-Triples on stdin →
    ``fmt`` on ``output`` (a path) or, if it is empty, on stdout."""
    from graph.store.export import FORMATS

    rdf_format = FORMATS[fmt]
    texts = _batches(sorted_graphs(sys.stdin.buffer, _ranks(top_file), scratch, buffer, spill_lines))
    with (open(output, "wb") if output else open(sys.stdout.fileno(), "wb", closefd=False)) as out:
        if rdf_format == RdfFormat.N_QUADS:
            for text in texts:
                out.write(text)
            return
        prefixes = PREFIXES if rdf_format == RdfFormat.TRIG else None
        quads = (quad for text in texts for quad in ox.parse(text, format=RdfFormat.N_QUADS))
        ox.serialize(quads, out, rdf_format, prefixes=prefixes)
