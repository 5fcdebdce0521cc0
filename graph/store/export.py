"""``jllm-kg export``: the whole store, deterministically sorted, dataset description first.

The same store always gives the same bytes. The sort is external (:func:`write_sorted`): quads
are read from pyoxigraph's own N-Quads dump of the store in runs of :data:`RUN_SIZE`, each run is sorted and spilled to a
temporary file as sort-key lines, the runs are merged, and the merged N-Quads are parsed back
and written by pyoxigraph's serializers as a stream; Python never holds more than one run.
"""
from __future__ import annotations

import heapq
import io
import os
import sys
import tempfile
import threading
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import BinaryIO

import pyoxigraph as ox
from pyoxigraph import NamedNode, Quad, RdfFormat, Store, Triple

from graph.errors import UserError
from graph.formats import by_name
from graph.store.backend import open_reader
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


#: Quads per sorted run of :func:`write_sorted` (about 150 MB of Python strings).
RUN_SIZE = 500_000
_SEP = "\x00"  # sorts below every character of an N-Triples term, so joined keys sort as tuples do


def _record(q: Quad, top: dict, datasets: bool) -> str:
    """The sort key of a quad (or of its triple) as one string: the N-Triples terms and ranks, joined."""
    inner = (f"{top.get(q.subject, 2)}{_SEP}{q.subject}{_SEP}{_PREDICATE_RANK.get(q.predicate, 2)}{_SEP}"
             f"{q.predicate}{_SEP}{q.object}")
    if not datasets:
        return inner
    g = q.graph_name
    name = g.value if isinstance(g, NamedNode) else ""
    return f"{0 if name.endswith('graph/void') else 1}{_SEP}{name}{_SEP}{inner}"


_TYPE_TEXT, _LABEL_TEXT = str(TYPE), str(RDFS.label)


def _dump_records(store: Store, top: dict, datasets: bool) -> Iterator[str]:
    """The sort records of every quad (as :func:`_record`), read from pyoxigraph's own N-Quads dump.

    The engine dumps on a thread (it releases the GIL) into a pipe while this generator splits
    the lines, so the two overlap. Every quad must be in a named graph (the build puts each in
    one): then a line is ``<s> <p> o <g> .`` and the graph is the last ``<…>``, which holds no space.
    """
    read_fd, write_fd = os.pipe()
    writer = os.fdopen(write_fd, "wb", buffering=1 << 20)
    failed: list[BaseException] = []

    def dump() -> None:
        try:
            store.dump(writer, RdfFormat.N_QUADS)
        except BaseException as err:  # handed to the reading side
            failed.append(err)
        finally:
            try:
                writer.close()
            except OSError:
                pass

    thread = threading.Thread(target=dump, name="dump-nquads", daemon=True)
    thread.start()
    top_text = {str(term): str(rank) for term, rank in top.items()}
    ranks = {_TYPE_TEXT: "0", _LABEL_TEXT: "1"}
    with os.fdopen(read_fd, encoding="utf-8", newline="\n") as lines:
        for line in lines:
            subject, predicate, rest = line.split(" ", 2)
            cut = rest.rindex(" <")
            inner = f"{top_text.get(subject, '2')}{_SEP}{subject}{_SEP}{ranks.get(predicate, '2')}{_SEP}{predicate}{_SEP}{rest[:cut]}"
            if not datasets:
                yield inner
                continue
            name = rest[cut + 2:rest.rindex(">")]
            yield f"{0 if name.endswith('graph/void') else 1}{_SEP}{name}{_SEP}{inner}"
    thread.join()
    if failed:
        raise failed[0]


def _line(record: str, datasets: bool) -> str:
    fields = record.split(_SEP)
    if not datasets:
        return f"{fields[1]} {fields[3]} {fields[4]} .\n"
    name = fields[1]
    return f"{fields[3]} {fields[5]} {fields[6]}{f' <{name}>' if name else ''} .\n"


def _sorted_records(records: Iterable[str], workdir: Path, run_size: int) -> Iterator[str]:
    """The distinct ``records`` in order, spilling sorted runs to ``workdir``."""
    runs: list[Path] = []
    run: list[str] = []

    def spill() -> None:
        run.sort()
        path = workdir / f"run-{len(runs):05d}"
        with open(path, "w", encoding="utf-8", newline="\n") as handle:
            handle.writelines(r + "\n" for r in run)
        runs.append(path)
        run.clear()

    for record in records:
        run.append(record)
        if len(run) >= run_size:
            spill()
    if not runs:
        run.sort()
        merged: Iterable[str] = run
    else:
        if run:
            spill()
        handles = [open(path, encoding="utf-8", newline="\n") for path in runs]
        merged = heapq.merge(*((line[:-1] for line in h) for h in handles))
    previous = None
    for record in merged:
        if record != previous:
            yield record
            previous = record


def write_sorted(store: Store, fmt: str, output: BinaryIO | str | os.PathLike, run_size: int = RUN_SIZE,
                 scratch: Path | None = None) -> None:
    """Write the whole store in ``fmt`` (one of :data:`FORMATS`) to ``output``, sorted, in bounded memory.

    The sorted runs go to a temporary directory in ``scratch`` (default: the system's temporary
    directory); they take about twice the size of the N-Quads of the store.

    Triple formats (ttl, nt) get the distinct triples of all graphs; dataset formats the quads
    grouped by graph (the description's graph first). Within, the description comes first, then
    subjects in order (``rdf:type`` and ``rdfs:label`` first).
    """
    if fmt not in FORMATS:
        raise UserError(f"unknown export format {fmt!r}: use one of {', '.join(FORMATS)}")
    rdf_format = FORMATS[fmt]
    datasets = rdf_format.supports_datasets
    top = description_subjects(store)
    prefixes = PREFIXES if rdf_format in (RdfFormat.TURTLE, RdfFormat.TRIG) else None
    with tempfile.TemporaryDirectory(prefix="jllm-kg-export-", dir=scratch) as tmp:
        workdir = Path(tmp)
        merged = workdir / "merged.nq"
        with open(merged, "w", encoding="utf-8", newline="\n") as handle:
            # the engine's own N-Quads dump when it is an embedded store with every quad in a named graph;
            # else (a remote store, or quads in the default graph) the quads one by one
            engine_dump = isinstance(store, Store) and \
                next(store.quads_for_pattern(None, None, None, ox.DefaultGraph()), None) is None
            records = _dump_records(store, top, datasets) if engine_dump \
                else (_record(q, top, datasets) for q in store.quads_for_pattern(None, None, None, None))
            for record in _sorted_records(records, workdir, run_size):
                handle.write(_line(record, datasets))
        parsed = ox.parse(path=str(merged), format=RdfFormat.N_QUADS if datasets else RdfFormat.N_TRIPLES)
        items = parsed if datasets else (q.triple for q in parsed)
        ox.serialize(items, output, rdf_format, prefixes=prefixes)


def serialize_store(store: Store, fmt: str) -> bytes:
    """The whole store in ``fmt`` (one of :data:`FORMATS`), deterministically (see :func:`write_sorted`)."""
    buffer = io.BytesIO()
    write_sorted(store, fmt, buffer)
    return buffer.getvalue()


def export_store(store_path: Path | str, fmt: str = "ttl", output: Path | None = None) -> None:
    """``jllm-kg export``: write the store (a path, or a remote store's URL) in ``fmt`` to ``output`` (default: stdout), streaming."""
    if fmt not in FORMATS:
        raise UserError(f"unknown export format {fmt!r}: use one of {', '.join(FORMATS)}")
    store = open_reader(store_path)
    if output is None:
        write_sorted(store, fmt, sys.stdout.buffer)
        sys.stdout.buffer.flush()
        return
    try:
        with open(output, "wb") as handle:
            write_sorted(store, fmt, handle)
    except OSError as err:
        raise UserError(f"cannot write {output}: {err.strerror}") from None
