"""A remote SPARQL 1.1 store, read through the SPARQL 1.1 Protocol with pyoxigraph's ``Store`` reading API.

The pages, canned queries, export and endpoint read a store with four calls of pyoxigraph's
``Store``: ``query`` (with ``use_default_graph_as_union``, ``substitutions``, a dataset),
``quads_for_pattern``, ``named_graphs`` and ``len``. :class:`RemoteStore` answers the same calls
over HTTP, so every reader works unchanged on either backend; results are parsed as they
arrive by pyoxigraph's parsers (pyoxigraph is only the RDF library here, never the store).

What a reader sees is one **generation**, named by the pointer graph (:data:`POINTER`) that
``jllm-kg build --store http://…`` switches in one SPARQL UPDATE (:mod:`graph.store.publish`):

- the data sits in its own named graphs, under the same IRIs as in the embedded store;
- the union of those graphs is also kept, as one graph per generation (``urn:jllm-kg:union:<id>``):
  a query without a dataset gets it as its default graph (``default-graph-uri``) — the
  embedded store's union default graph — and, if it mentions ``GRAPH``, the generation's graphs
  as its named graphs (``named-graph-uri``), so neither staging graphs, the pointer nor other
  data sharing the store are ever visible.
"""
from __future__ import annotations

import functools
import itertools
import os
import re
import time
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass

import pyoxigraph as ox
from pyoxigraph import DefaultGraph, NamedNode, Quad, QueryResultsFormat, RdfFormat

from graph.store.client import StoreUnavailable, Transport, refused
from graph.store.substitute import with_values

NS = "urn:jllm-kg:"
POINTER = NS + "pointer"
#: Predicates of the pointer graph.
GENERATION, UNION, GRAPH, BUILT, INPUTS, PREVIOUS = (NS + n for n in ("generation", "union", "graph", "built", "inputs", "previous"))
#: Remembered answers of :meth:`RemoteStore.quads_for_pattern`: how many, and how large each at most.
MEMO_ENTRIES, MEMO_QUADS = 4096, 64
ACCEPT = "application/sparql-results+json, application/n-triples;q=0.9"
_JSON = "application/sparql-results+json"


def union_graph(generation: str) -> str:
    """The graph holding the union of ``generation``'s graphs.

    >>> union_graph("gen-20261201T120000-1")
    'urn:jllm-kg:union:gen-20261201T120000-1'
    """
    return f"{NS}union:{generation}"


def staging_graph(generation: str, graph: str) -> str:
    """Where ``graph`` of ``generation`` is loaded before the switch moves it to its own name."""
    return f"{NS}staging:{generation}:{graph}"


class NoGraph(StoreUnavailable):
    """The store answers but holds no jllm-kg generation (never built there)."""


@dataclass(frozen=True)
class Pointer:
    """The generation readers see: its id, union graph, named graphs, build time and inputs."""

    generation: str
    union: str
    graphs: tuple[str, ...]
    built: str = ""
    inputs: str = ""
    previous: str = ""


class RemoteTriples:
    """The triples of a CONSTRUCT/DESCRIBE answer, parsed as they arrive (like pyoxigraph's ``QueryTriples``)."""

    def __init__(self, reply) -> None:
        self._reply = reply

    def __iter__(self) -> Iterator[ox.Triple]:
        try:
            for quad in ox.parse(self._reply.stream(), RdfFormat.N_TRIPLES):
                yield quad.triple
        finally:
            self._reply.close()

    def serialize(self, output=None, format: RdfFormat = RdfFormat.N_TRIPLES):
        """Write the triples in ``format`` (returns bytes when ``output`` is None)."""
        return ox.serialize(iter(self), output, format)


def _term(term, name: str) -> str:
    return f"?{name}" if term is None else str(term)


def query_error(message: str, lines_added: int = 0) -> Exception:
    """The store's refusal of a query as pyoxigraph would raise it: ``SyntaxError`` for a parse
    error (its ``line:column`` counted in the client's text), else ``ValueError``.

    >>> query_error("error at 2:21: expected a variable", lines_added=1)
    SyntaxError('error at 1:21: expected a variable')
    """
    where = re.match(r"error at (\d+):(\d+)(.*)", message, re.DOTALL)
    if where:
        return SyntaxError(f"error at {max(1, int(where.group(1)) - lines_added)}:{where.group(2)}{where.group(3)}")
    lowered = message.lower()
    return (SyntaxError if "pars" in lowered or "syntax" in lowered else ValueError)(message)


class RemoteStore:
    """One generation of a remote store, read with pyoxigraph's ``Store`` API (see the module doc)."""

    def __init__(self, transport: Transport, pointer: Pointer) -> None:
        self.transport, self.pointer = transport, pointer
        self._open: list = []
        self._memo: OrderedDict[tuple, list[Quad]] = OrderedDict()

    def release(self) -> None:
        """Close the answers not read to their end (their connections are not reused half-read)."""
        while self._open:
            self._open.pop().close()

    def _dataset(self, text: str, union: bool, default_graph, named_graphs) -> list[tuple[str, str]]:
        if default_graph is not None or named_graphs is not None:
            return ([("default-graph-uri", g.value) for g in default_graph or () if isinstance(g, NamedNode)]
                    + [("named-graph-uri", g.value) for g in named_graphs or ()])
        if not union:
            return []
        form = [("default-graph-uri", self.pointer.union)]
        if "graph" in text.lower():  # only GRAPH reaches named graphs: list them only then
            form += [("named-graph-uri", g) for g in self.pointer.graphs]
        return form

    def query(self, query: str, *, base_iri: str | None = None, use_default_graph_as_union: bool = False,
              default_graph=None, named_graphs=None, substitutions=None):
        """Run ``query``: pyoxigraph ``QuerySolutions``/``QueryBoolean``, or :class:`RemoteTriples`.

        Raises ``SyntaxError`` or ``ValueError`` with the store's message when it refuses the query.
        """
        text = with_values(query, substitutions) if substitutions else query
        if base_iri:
            text = f"BASE <{base_iri}>\n{text}"
        form = [("query", text), *self._dataset(text, use_default_graph_as_union, default_graph, named_graphs)]
        reply = self.transport.send("query", form=form, accept=ACCEPT)
        self._open = [r for r in self._open if not r.done] + [reply]
        if reply.status >= 400:
            raise query_error(str(refused(reply, "the query")).split("): ", 1)[-1], lines_added=1 if base_iri else 0)
        if reply.content_type == _JSON:
            return ox.parse_query_results(reply.stream(), QueryResultsFormat.JSON)
        if reply.content_type == "application/n-triples":
            return RemoteTriples(reply)
        reply.close()
        raise StoreUnavailable(f"the store answered a query with {reply.content_type or 'no media type'}, "
                               "neither SPARQL JSON results nor N-Triples")

    def quads_for_pattern(self, subject, predicate, object, graph_name=None) -> Iterator[Quad]:
        """The quads of this generation matching the pattern (None = any), like ``Store.quads_for_pattern``.

        A generation never changes, so small answers to patterns with a bound term are remembered
        (:data:`MEMO_ENTRIES` of at most :data:`MEMO_QUADS` quads): pages look up the same class
        labels and types hundreds of times, and each lookup would be a round trip."""
        if isinstance(graph_name, DefaultGraph) or isinstance(subject, ox.Literal):
            return iter(())  # the build puts nothing in the default graph, and no literal is a subject
        key = (subject, predicate, object, graph_name)
        if subject is None and predicate is None and object is None:
            return self._quads(*key)
        found = self._memo.get(key)
        if found is None:
            answer = self._quads(*key)
            found = list(itertools.islice(answer, MEMO_QUADS + 1))
            if len(found) > MEMO_QUADS:
                return itertools.chain(found, answer)
            self._memo[key] = found
            if len(self._memo) > MEMO_ENTRIES:
                self._memo.popitem(last=False)
        else:
            self._memo.move_to_end(key)
        return iter(found)

    def _quads(self, subject, predicate, object, graph_name) -> Iterator[Quad]:
        where = f"{_term(subject, 's')} {_term(predicate, 'p')} {_term(object, 'o')}"
        if graph_name is not None and graph_name.value not in self._graph_set:
            return iter(())
        solutions = self.query(f"SELECT * WHERE {{ {self._in_graphs(where, graph_name)} }}")

        def quads() -> Iterator[Quad]:
            for row in solutions:
                yield Quad(subject or row["s"], predicate or row["p"], object or row["o"], graph_name or row["g"])
        return quads()

    def _in_graphs(self, where: str, graph_name: NamedNode | None = None) -> str:
        """``GRAPH ?g { where }`` over this generation's graphs only. Its graphs share the namespace
        of the dataset (``<base>graph/``) and the switch drops the old ones, so a filter on that
        namespace selects them exactly — listing a thousand graphs as ``named-graph-uri`` costs
        the store a lookup per graph (30 ms for one resource, against 1 ms)."""
        if graph_name is not None:
            return f"GRAPH {graph_name} {{ {where} }}"
        prefix = self._namespace
        values = "" if prefix else "VALUES ?g { " + " ".join(f"<{g}>" for g in self.pointer.graphs) + " } "
        check = f" FILTER(STRSTARTS(STR(?g), {ox.Literal(prefix)}))" if prefix else ""
        return f"{values}GRAPH ?g {{ {where} }}{check}"

    @functools.cached_property
    def _graph_set(self) -> frozenset[str]:
        return frozenset(self.pointer.graphs)

    @functools.cached_property
    def _namespace(self) -> str:
        """The longest namespace (ending in ``/``) that exactly this generation's graphs share, or ``""``."""
        prefix = os.path.commonprefix(list(self.pointer.graphs)) if self.pointer.graphs else ""
        return prefix[:prefix.rfind("/") + 1] if prefix.count("/") > 2 else ""

    def named_graphs(self) -> Iterator[NamedNode]:
        """The named graphs of this generation."""
        return (NamedNode(g) for g in self.pointer.graphs)

    def __iter__(self) -> Iterator[Quad]:
        return self.quads_for_pattern(None, None, None, None)

    def __len__(self) -> int:
        row = next(iter(self.query(f"SELECT (COUNT(*) AS ?n) WHERE {{ {self._in_graphs('?s ?p ?o')} }}")))
        return int(row["n"].value)

    def snapshot(self, path: str | None = None) -> ox.Store:
        """A local pyoxigraph store (on disk at ``path``, else in memory) holding this generation's quads,
        for work that reads node by node (SHACL validation): one streamed query instead of thousands."""
        local = ox.Store(path) if path else ox.Store()
        local.bulk_extend(iter(self))
        return local


class RemoteBackend:
    """The remote store's current generation, re-read from the pointer graph at most every ``ttl`` seconds."""

    def __init__(self, transport: Transport, where: str, ttl: float = 1.0) -> None:
        self.transport, self.where, self.ttl = transport, where, ttl
        self._pointer: Pointer | None = None
        self._read_at = 0.0
        self._store: RemoteStore | None = None

    def pointer(self) -> Pointer:
        """The pointer of the generation readers see now (:class:`NoGraph` when there is none)."""
        if self._pointer is None or time.monotonic() - self._read_at >= self.ttl:
            self._pointer = read_pointer(self.transport, self.where, self._pointer)
            self._read_at = time.monotonic()
        return self._pointer

    def generation(self) -> str:
        """The id of the current generation (what cache keys and ETags are made of)."""
        return self.pointer().generation

    target = generation

    def built(self) -> str:
        """When the current generation was built (``xsd:dateTime``), or ``""``."""
        return self.pointer().built

    def store(self) -> RemoteStore:
        """The current generation, readable like a pyoxigraph ``Store``."""
        pointer = self.pointer()
        if self._store is None or self._store.pointer is not pointer:
            self._store = RemoteStore(self.transport, pointer)
        return self._store


def _select(transport: Transport, text: str) -> list:
    reply = transport.send("query", form=[("query", text)], accept=_JSON)
    if reply.status >= 400:
        raise refused(reply, "reading the generation pointer")
    try:
        return list(ox.parse_query_results(reply.stream(), QueryResultsFormat.JSON))
    finally:
        reply.close()


def read_pointer(transport: Transport, where: str, known: Pointer | None = None) -> Pointer:
    """The pointer graph's content (the graph list is re-read only when the generation changed)."""
    rows = _select(transport, f"SELECT * WHERE {{ GRAPH <{POINTER}> {{ <{POINTER}> <{GENERATION}> ?gen ; <{UNION}> ?union "
                              f"OPTIONAL {{ <{POINTER}> <{BUILT}> ?built }} OPTIONAL {{ <{POINTER}> <{INPUTS}> ?inputs }} "
                              f"OPTIONAL {{ <{POINTER}> <{PREVIOUS}> ?previous }} }} }}")
    if not rows:
        raise NoGraph(f"the store at {where} holds no jllm-kg graph: run `jllm-kg build --store {where}` first")
    row = rows[0]
    generation = row["gen"].value
    if known is not None and known.generation == generation:
        return known
    graphs = _select(transport, f'SELECT ?g WHERE {{ GRAPH <{POINTER}> {{ <{POINTER}> <{GENERATION}> "{generation}" ; '
                                f"<{GRAPH}> ?g }} }} ORDER BY ?g")
    value = lambda name: row[name].value if row[name] is not None else ""  # noqa: E731
    return Pointer(generation, row["union"].value, tuple(r["g"].value for r in graphs), value("built"),
                   value("inputs"), value("previous"))
