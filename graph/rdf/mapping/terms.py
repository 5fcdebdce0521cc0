"""Literals, the per-build :class:`Context`, and the two ways facts become quads.

A mapping function makes *facts*: ``(subject, predicate, object)`` tuples whose object may be
None (nothing to say: skipped) or a plain Python value (written as a string literal).
:func:`entity` turns the facts of one catalog entity into quads in its named graph, after the
quads that describe that graph in ``<base>graph/provenance``.
"""
from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from typing import Union

from pyoxigraph import Literal, NamedNode, Quad, Store

from graph.catalog import Catalog, Record
from graph.rdf.iris import Iris, ontology as jllm_term, upstream_url
from graph.rdf.vocab import FOAF, JLLM, PROV, RDFS, SCHEMA, STAGE_CLASSES, TYPE, XSD

LANGS = ("ja", "en", "fr")

Fact = tuple[NamedNode, NamedNode, Union[NamedNode, Literal, str, None]]
"""One statement before it gets its graph; a None object means "nothing to say"."""


def text(value: object) -> Literal:
    """A plain string literal.

    >>> text(7).value, text(7).datatype.value
    ('7', 'http://www.w3.org/2001/XMLSchema#string')
    """
    return Literal(str(value))


def integer(value: object) -> Literal | None:
    """An ``xsd:integer`` literal from an int, a float or a numeric string (``0.88e9``), else None.

    >>> integer("0.88e9").value, integer(1.5)
    ('880000000', None)
    """
    number = _decimal(value)
    if number is None or number != number.to_integral_value():
        return None
    return Literal(str(int(number)), datatype=XSD.integer)


def decimal(value: object) -> Literal | None:
    """An ``xsd:decimal`` literal in the engine's canonical form (:func:`typed`), else None.

    >>> decimal(7).value, decimal("7.50").value, decimal("x")
    ('7', '7.5', None)
    """
    number = _decimal(value)
    if number is None:
        return None
    return typed(format(number, "f"), XSD.decimal)


_CANONICAL = Store()
_S, _P = NamedNode("urn:x-jllm-kg:s"), NamedNode("urn:x-jllm-kg:p")


@lru_cache(maxsize=1 << 16)
def _canonical(lexical: str, datatype: str) -> str:
    _CANONICAL.add(Quad(_S, _P, Literal(lexical, datatype=NamedNode(datatype))))
    (stored,) = _CANONICAL.quads_for_pattern(_S, _P, None)
    _CANONICAL.clear()
    return stored.object.value


def typed(lexical: str, datatype: NamedNode) -> Literal:
    """A typed literal written as the store writes it back: the engine keeps valid numbers and dates as
    values (``"13.0"^^xsd:decimal`` comes back as ``"13"``, ``+00:00`` as ``Z``), so the mapped N-Quads
    equal the store's own dump and the build writes its Turtle dump from them (:mod:`graph.build`).
    Asked of an in-memory pyoxigraph store once per distinct value.

    >>> typed("2024-03-09+00:00", XSD.date).value, typed("2024-3-9", XSD.date).value
    ('2024-03-09Z', '2024-3-9')
    """
    return Literal(_canonical(lexical, datatype.value), datatype=datatype)


def boolean(value: bool) -> Literal:
    """``"true"``/``"false"`` as ``xsd:boolean``."""
    return Literal("true" if value else "false", datatype=XSD.boolean)


def _decimal(value: object) -> Decimal | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        number = Decimal(str(value).replace(",", "").strip())
    except InvalidOperation:
        return None
    return number if number.is_finite() else None


def url(value: object) -> NamedNode | None:
    """An http(s) IRI from a catalog value, else None.

    >>> url("https://example.org/x").value, url("not a url")
    ('https://example.org/x', None)
    """
    if not value or not isinstance(value, str) or not value.startswith(("http://", "https://")):
        return None
    try:
        return NamedNode(value.strip())
    except ValueError:
        return None


@dataclass(frozen=True)
class Context:
    """What every mapping function may read besides its record: fixed for one build."""

    iris: Iris
    commit: str | None = None
    upstream_paths: dict[str, str] = field(default_factory=dict)
    spdx: dict[str, bool] = field(default_factory=dict)
    """Licence id → whether SPDX knows it (from the licence registry)."""
    benchmark_ids: dict[str, str] = field(default_factory=dict)
    """Benchmark id or upstream section anchor → benchmark id."""
    class_labels: dict[NamedNode, dict[str, str]] = field(default_factory=dict)
    """Ontology class → its rdfs:label per language (for the labels of training stages)."""

    @classmethod
    def of(cls, catalog: Catalog, iris: Iris, ontology: Iterable = ()) -> "Context":
        """The context of ``catalog``; ``ontology`` triples give the class labels."""
        benchmark_ids: dict[str, str] = {}
        for rec in catalog.benchmarks:
            benchmark_ids[str(rec["id"])] = str(rec["id"])
            if rec.get("section"):
                benchmark_ids.setdefault(str(rec["section"]), str(rec["id"]))
        labels: dict[NamedNode, dict[str, str]] = {}
        for t in ontology:
            if t.predicate == RDFS.label and isinstance(t.object, Literal) and t.object.language:
                labels.setdefault(t.subject, {})[t.object.language] = t.object.value
        return cls(iris=iris, commit=catalog.commit, upstream_paths=dict(catalog.upstream_paths),
                   spdx={str(r["id"]): bool(r.get("spdx")) for r in catalog.registry("licence")},
                   benchmark_ids=benchmark_ids, class_labels=labels)

    def licence(self, licence_id: str) -> NamedNode:
        """The IRI of a licence: SPDX's own for SPDX licences, else under the base."""
        return self.iris.licence(licence_id, self.spdx.get(licence_id, False))

    def kind_label(self, kind: str, lang: str) -> str:
        """The label of a stage kind's activity class in ``lang`` (English, then the kind itself, as fallback)."""
        labels = self.class_labels.get(jllm_term(STAGE_CLASSES[kind]), {}) if kind in STAGE_CLASSES else {}
        return labels.get(lang) or labels.get("en") or kind or "?"

    def upstream(self, file: str, line: object = None) -> NamedNode:
        """The upstream README ``file`` at the catalog's commit (and ``line``)."""
        return upstream_url(file, self.commit, line, self.upstream_paths)  # type: ignore[arg-type]


def labels(s: NamedNode, names: dict | str | None, extra: tuple[NamedNode, ...] = ()) -> Iterator[Fact]:
    """rdfs:label + schema:name (+ ``extra``) in every language given (a plain string: no language)."""
    if isinstance(names, str):
        for p in (RDFS.label, SCHEMA.name, *extra):
            yield s, p, text(names)
        return
    for lang in LANGS:
        value = (names or {}).get(lang)
        if value:
            for p in (RDFS.label, SCHEMA.name, *extra):
                yield s, p, Literal(str(value), language=lang)


def provenance(graph: NamedNode, resource: NamedNode, rec: Record, ctx: Context) -> Iterator[Fact]:
    """The description of an entity's named graph: its topic, catalog file and line, upstream lines."""
    yield graph, TYPE, PROV.Entity
    yield graph, FOAF.primaryTopic, resource
    yield graph, JLLM.catalogFile, text(rec.file)
    yield graph, JLLM.catalogLine, integer(rec.line)
    source = rec.get("source")
    if isinstance(source, dict) and source.get("file"):
        yield graph, JLLM.sourceFile, text(source["file"])
        yield graph, JLLM.sourceLine, integer(source.get("line"))
        yield graph, PROV.wasDerivedFrom, ctx.upstream(source["file"], source.get("line"))
        for lang, line in (source.get("lines") or {}).items():
            yield graph, PROV.wasDerivedFrom, ctx.upstream(f"README.{lang}.md", line)
    if ctx.commit:
        yield graph, JLLM.sourceCommit, text(ctx.commit)


def in_graph(graph: NamedNode, facts: Iterable[Fact]) -> Iterator[Quad]:
    """``facts`` as quads in ``graph`` (None objects skipped, plain values as string literals)."""
    for s, p, o in facts:
        if o is None:
            continue
        if not isinstance(o, (NamedNode, Literal)):
            o = text(o)
        yield Quad(s, p, o, graph)


def entity(graph: NamedNode, resource: NamedNode, rec: Record, ctx: Context, facts: Iterable[Fact]) -> Iterator[Quad]:
    """The quads of one catalog entity: its graph's provenance, then ``facts`` in ``graph``."""
    yield from in_graph(ctx.iris.graph("provenance"), provenance(graph, resource, rec, ctx))
    yield from in_graph(graph, facts)


def common(s: NamedNode, rec: Record, cls: NamedNode) -> Iterator[Fact]:
    """The class and ``dcterms:identifier`` of every entity."""
    from graph.rdf.vocab import DCTERMS

    yield s, TYPE, cls
    yield s, DCTERMS.identifier, text(rec["id"])
