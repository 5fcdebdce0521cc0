"""``jllm-kg export``: the whole store, deterministically sorted, dataset description first.

The same store always gives the same bytes. The sort is external (:func:`write_sorted`): a
pipeline of pyoxigraph's own N-Quads dump, awk (sort records), GNU ``sort`` and pyoxigraph's
serializers, each in its own process or thread; Python holds no quad. Dataset formats from the
build's stores are sorted graph by graph instead (:mod:`graph.store.graph_export`), the same bytes.
"""
from __future__ import annotations

import io
import os
import shutil
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import BinaryIO

import pyoxigraph as ox
from pyoxigraph import NamedNode, Quad, RdfFormat, Store, Triple

from graph.errors import UserError
from graph.formats import by_name
from graph.store.backend import open_reader
from graph.store.graph_export import SPILL_LINES, GraphSortedWriter, graph_order
from graph.store.pipes import C_LOCALE, QUIET_ON_CLOSED_OUTPUT, Sink, check_exit, copy_out, file_of, sort_command, write_ranks
from graph.rdf.vocab import PREFIXES, RDFS, TYPE, VOID
from graph.rdf.void import dataset_iri

#: Export format name → pyoxigraph format, from the one format table (graph/formats.py).
FORMATS: dict[str, RdfFormat] = {name: by_name(name).oxigraph for name in ("ttl", "nt", "nq", "trig", "jsonld")}

_PREDICATE_RANK = {TYPE: 0, RDFS.label: 1}


def _term_key(term) -> str:
    return str(term)


def _sort_key(top: dict) -> object:
    def key(t: Triple | Quad) -> tuple:
        return (top.get(t.subject, 2), _term_key(t.subject), _PREDICATE_RANK.get(t.predicate, 2),
                _term_key(t.predicate), _term_key(t.object))
    return key


def description_subjects(store: Store) -> dict:
    """Rank of the dataset node (0) and its partitions (1): they go first in exports."""
    d = dataset_iri(store)
    if d is None:
        return {}
    ranks = {}
    for p in (VOID.classPartition, VOID.propertyPartition):
        ranks.update((q.object, 1) for q in store.quads_for_pattern(d, p, None, None))
    ranks[d] = 0
    return ranks


def sorted_triples(quads: Iterable[Quad], top: dict) -> list[Triple]:
    """The distinct triples of ``quads`` (graphs merged), description first, then by subject."""
    return sorted({q.triple for q in quads}, key=_sort_key(top))


def sorted_quads(quads: Iterable[Quad], top: dict) -> list[Quad]:
    """Quads grouped by graph (the description's graph first), then as :func:`sorted_triples`."""
    inner = _sort_key(top)

    def key(q: Quad) -> tuple:
        g = q.graph_name
        has_top = isinstance(g, NamedNode) and g.value.endswith("graph/void")
        return (not has_top, "" if not isinstance(g, NamedNode) else g.value, *inner(q))
    return sorted(set(quads), key=key)


#: Formats whose lines are the sorted lines themselves (no serializer stage).
LINE_FORMATS = ("nt", "nq")

#: Memory for the sort (GNU ``sort -S``); past it, sorted runs are spilled to disk and merged.
SORT_BUFFER = "256M"

_TYPE_TEXT, _LABEL_TEXT = str(TYPE), str(RDFS.label)

#: N-Quads lines → sort records (mawk/gawk). Fields are separated by tabs, which sort below every
#: character of an N-Triples term, so records sort as the tuples (graph rank, graph, subject rank,
#: subject, predicate rank, predicate, object). The graph is the last field but the final ``.`` (an IRI
#: holds no space, so no regular expression is needed: a third less awk time than ``match``); ``<>``
#: stands for the default graph. A comment line ``# top FILE`` (re)reads the ranks of the
#: description's subjects (``TERM<tab>RANK`` lines).
_RECORD_AWK = r"""
function read_top(file,   line, kv) { while ((getline line < file) > 0) { split(line, kv, "\t"); top[kv[1]] = kv[2] } close(file) }
BEGIN { if (TOP != "") read_top(TOP) }
/^# top / { read_top(substr($0, 7)); next }
{
  s = $1; p = $2; rest = substr($0, length(s) + length(p) + 3)
  g = $(NF - 1); o = substr(rest, 1, length(rest) - length(g) - 3); g = substr(g, 2, length(g) - 2)
  rs = (s in top) ? top[s] : 2; rp = (p == TYPE) ? 0 : (p == LABEL) ? 1 : 2
  if (DATASETS) print (g ~ /graph\/void$/ ? 0 : 1) "\t" g "\t" rs "\t" s "\t" rp "\t" p " " o " ."
  else print rs "\t" s "\t" rp "\t" p " " o " ."
}
"""
#: A sorted record back to its N-Triples (or N-Quads) line.
_LINE_AWK = r"""
DATASETS { print $4 " " substr($6, 1, length($6) - 2) ($2 == "" ? "" : " <" $2 ">") " ."; next }
{ print $2 " " $4 }
"""


def _awk() -> str:
    for name in ("mawk", "gawk", "awk"):
        if found := shutil.which(name):
            return found
    raise UserError("export needs awk (Debian: mawk) and GNU sort on the PATH")


def engine_dump(store: Store) -> bool:
    """Whether the engine's own N-Quads dump can feed :class:`SortedWriter`: an embedded store with every
    quad in a named graph (the build puts each quad in one)."""
    return isinstance(store, Store) and next(store.quads_for_pattern(None, None, None, ox.DefaultGraph()), None) is None


def quad_lines(quads: Iterable[Quad]) -> Iterable[bytes]:
    """N-Quads lines as :class:`SortedWriter` reads them (``<>`` for the default graph)."""
    for q in quads:
        g = q.graph_name
        yield f"{q.subject} {q.predicate} {q.object} {g if isinstance(g, NamedNode) else '<>'} .\n".encode("utf-8")


class SortedWriter:
    """The export pipeline, each stage in its own process or thread, none holding the graph:
    N-Quads lines in (:meth:`dump`, :meth:`write_quads`) → awk turns each into a sort record → GNU
    ``sort -u`` (``buffer`` of memory, then sorted runs spilled to a temporary directory in
    ``scratch`` and merged; about twice the N-Quads' size, compressed where ``zstd`` is installed,
    :func:`graph.store.zstd.sort_options`) → awk turns records back into lines →
    pyoxigraph parses them and writes ``fmt`` to ``output`` (:func:`serialize_lines`, in its own process;
    for a buffer, a thread copies its output). :meth:`close` waits for it.

    ``top`` ranks the description's subjects (:func:`description_subjects`), which go first.
    """

    def __init__(self, fmt: str, output: BinaryIO | str | os.PathLike, top: dict, scratch: Path | None = None,
                 buffer: str = SORT_BUFFER) -> None:
        if fmt not in FORMATS:
            raise UserError(f"unknown export format {fmt!r}: use one of {', '.join(FORMATS)}")
        datasets = FORMATS[fmt].supports_datasets
        self.tmp = tempfile.TemporaryDirectory(prefix="jllm-kg-export-", dir=scratch)
        self.tops = 0
        env = C_LOCALE
        awk = _awk()
        flag = f"DATASETS={int(datasets)}"
        self.records = subprocess.Popen(
            [awk, "-v", f"TOP={self.top_file(top)}", "-v", f"TYPE={_TYPE_TEXT}", "-v", f"LABEL={_LABEL_TEXT}",
             "-v", flag, _RECORD_AWK], stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env)
        self.sorter = subprocess.Popen(sort_command(buffer, self.tmp.name, unique=True), stdin=self.records.stdout,
                                       stdout=subprocess.PIPE, env=env)
        self.records.stdout.close()
        self.failed: list[BaseException] = []
        # the last stage writes the file itself, else (a buffer) a thread copies its output in large chunks;
        # N-Triples and N-Quads are the sorted lines themselves (the engine's own N-Quads, which its serializer
        # would write unchanged); other formats are written by pyoxigraph in a process of its own, so no thread
        # of the caller holds the GIL for each quad
        path, fd = file_of(output) or ("", subprocess.PIPE)
        line_format = fmt in LINE_FORMATS
        out = open(path, "wb") if line_format and path else None
        try:
            self.lines = subprocess.Popen([awk, "-F", "\t", "-v", flag, _LINE_AWK], stdin=self.sorter.stdout, env=env,
                                          stdout=(out if out is not None else fd) if line_format else subprocess.PIPE)
        finally:
            if out is not None:
                out.close()
        self.sorter.stdout.close()
        self.serializer = self.lines if line_format else subprocess.Popen(
            [sys.executable, "-c", f"{QUIET_ON_CLOSED_OUTPUT} from graph.store.export import serialize_lines; "
             "serialize_lines(sys.argv[1], sys.stdin.buffer, sys.argv[2] or sys.stdout.buffer)", fmt, path],
            stdin=self.lines.stdout, stdout=fd)
        if not line_format:
            self.lines.stdout.close()
        self.writer = threading.Thread(target=copy_out, args=(self.serializer, output, self.failed, f"writing the {fmt} export failed"),
                                       name="export-write", daemon=True)
        self.writer.start()
        self.sink = self.records.stdin

    def top_file(self, top: dict) -> str:
        """Write ``top`` where the record stage can read it (``# top FILE``); its path."""
        self.tops += 1
        return write_ranks(Path(self.tmp.name) / f"top-{self.tops - 1}.tsv", top)

    def dump(self, store: Store) -> None:
        """Feed the engine's own N-Quads dump of ``store`` (see :func:`engine_dump`); the GIL is released
        while the engine works."""
        self.sink.flush()
        store.dump(Sink(self.sink.fileno()), RdfFormat.N_QUADS)

    def write_quads(self, quads: Iterable[Quad], top: dict | None = None) -> None:
        """Feed ``quads`` one by one (default-graph quads too); with ``top``, the ranks change first."""
        if top is not None:
            self.sink.write(f"# top {self.top_file(top)}\n".encode("utf-8"))
        write = self.sink.write
        for line in quad_lines(quads):
            write(line)

    def abort(self) -> None:
        """Stop every stage (the output is incomplete) and remove the temporary files."""
        procs = list(dict.fromkeys([self.records, self.sorter, self.lines, self.serializer]))
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
        for proc in procs:
            proc.wait()
        self.writer.join()
        self.tmp.cleanup()

    def close(self) -> None:
        """End the input and wait for the output; :class:`UserError` if a stage failed."""
        try:
            try:
                self.sink.close()
            except BrokenPipeError:
                pass
            self.writer.join()
            codes = [p.wait() for p in (self.records, self.sorter, self.lines)]
        finally:
            self.tmp.cleanup()
        if self.failed:
            raise self.failed[0]
        check_exit(codes, "export: the sort pipeline failed")


def serialize_lines(fmt: str, lines: BinaryIO, output: BinaryIO | str | os.PathLike) -> None:
    """Parse sorted N-Quads (N-Triples for a triple format) from ``lines`` and write them in ``fmt`` to ``output``."""
    rdf_format = FORMATS[fmt]
    datasets = rdf_format.supports_datasets
    prefixes = PREFIXES if rdf_format in (RdfFormat.TURTLE, RdfFormat.TRIG) else None
    parsed = ox.parse(lines, format=RdfFormat.N_QUADS if datasets else RdfFormat.N_TRIPLES)
    ox.serialize(parsed if datasets else (q.triple for q in parsed), output, rdf_format, prefixes=prefixes)


def write_sorted(store: Store, fmt: str, output: BinaryIO | str | os.PathLike, buffer: str = SORT_BUFFER,
                 scratch: Path | None = None, spill_lines: int = SPILL_LINES) -> None:
    """Write the whole store in ``fmt`` (one of :data:`FORMATS`) to ``output``, sorted, in bounded memory
    (:class:`SortedWriter`).

    Triple formats (ttl, nt) get the distinct triples of all graphs; dataset formats the quads
    grouped by graph (the description's graph first). Within, the description comes first, then
    subjects in order (``rdf:type`` and ``rdfs:label`` first). Order is by code point (bytes of UTF-8).
    A dataset format from an embedded store with named graphs only is sorted graph by graph
    (:class:`graph.store.graph_export.GraphSortedWriter`: no whole-dataset sort; a graph longer than
    ``spill_lines`` lines is sorted on disk), everything else by one external sort (:class:`SortedWriter`).
    """
    top = description_subjects(store)
    graphs = graph_order(store) if fmt in FORMATS and FORMATS[fmt].supports_datasets and engine_dump(store) else None
    if graphs is not None:
        by_graph = GraphSortedWriter(fmt, output, top, scratch=scratch, buffer=buffer, spill_lines=spill_lines)
        try:
            by_graph.dump(store, graphs)
        except BrokenPipeError:
            pass  # the child stopped: close() says why
        finally:
            by_graph.close()
        return
    writer = SortedWriter(fmt, output, top, scratch=scratch, buffer=buffer)
    try:
        write_sorted_into(writer, store)
    finally:
        writer.close()


def write_sorted_into(writer: SortedWriter, store: Store) -> None:
    """Feed every quad of ``store`` into ``writer`` (the engine's own dump where :func:`engine_dump` allows) and end its input."""
    try:
        if engine_dump(store):
            writer.dump(store)
        else:
            writer.write_quads(store.quads_for_pattern(None, None, None, None))
        writer.sink.close()
    except BrokenPipeError:
        pass  # a stage stopped: close() says why


def serialize_store(store: Store, fmt: str) -> bytes:
    """The whole store in ``fmt`` (one of :data:`FORMATS`), deterministically (see :func:`write_sorted`)."""
    buffer = io.BytesIO()
    write_sorted(store, fmt, buffer)
    return buffer.getvalue()


def _opened_dump(store_path: Path | str) -> BinaryIO | None:
    """The Turtle dump the build wrote next to the generation ``store_path`` points at now
    (:func:`graph.store.generations.dump_path`), opened; None for a remote store, or a store without one.
    It is the store's ``ttl`` export, byte for byte: the build sorts it with :class:`SortedWriter`
    (``graph.build._Dump``; tests compare it with :func:`serialize_store`)."""
    from graph.store.client import is_remote
    from graph.store.generations import dump_path

    if is_remote(store_path):
        return None
    generation = Path(store_path).resolve()
    try:
        return open(dump_path(generation), "rb") if generation.is_dir() else None
    except OSError:  # none (a store not made by `jllm-kg build`), or gone with its generation
        return None


def _copy(source: BinaryIO, output: BinaryIO) -> None:
    """``source`` to ``output``: by the kernel (``sendfile``) where both are files, else in 1 MB chunks."""
    try:
        output.flush()
        out_fd = output.fileno()
        offset = 0
        while sent := os.sendfile(out_fd, source.fileno(), offset, 1 << 30):
            offset += sent
    except (AttributeError, OSError, ValueError, io.UnsupportedOperation):
        shutil.copyfileobj(source, output, 1 << 20)


def export_store(store_path: Path | str, fmt: str = "ttl", output: Path | None = None) -> None:
    """``jllm-kg export``: write the store (a path, or a remote store's URL) in ``fmt`` to ``output`` (default: stdout), streaming.

    Turtle from an embedded store the build made is the dump it wrote (:func:`_opened_dump`), copied;
    everything else is sorted from the store (:func:`write_sorted`)."""
    if fmt not in FORMATS:
        raise UserError(f"unknown export format {fmt!r}: use one of {', '.join(FORMATS)}")
    dumped = _opened_dump(store_path) if fmt == "ttl" else None
    store = open_reader(store_path) if dumped is None else None

    def write(handle: BinaryIO) -> None:
        if dumped is None:
            write_sorted(store, fmt, handle)
            return
        with dumped:
            _copy(dumped, handle)

    if output is None:
        write(sys.stdout.buffer)
        sys.stdout.buffer.flush()
        return
    try:
        with open(output, "wb") as handle:
            write(handle)
    except OSError as err:
        raise UserError(f"cannot write {output}: {err.strerror}") from None
