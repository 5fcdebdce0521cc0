"""The ontology's HTML documentation, generated from the ontology graph in the store (pyLODE style).

Every jllm class and property gets an entry with an anchor (``/ontology#ModelFamily``), its labels
in ja/en/fr, its comment, and its links to the reused vocabularies.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from pyoxigraph import Literal, NamedNode, Store

from graph.rdf.vocab import OWL, PREFIXES, RDF, RDFS, TYPE
from server.pages.describe import Describer, Value
from server.pages.labels import labels, pick

KINDS = [
    (OWL.Class, "classes", {"en": "Classes", "ja": "クラス", "fr": "Classes"}),
    (OWL.ObjectProperty, "object-properties", {"en": "Object properties", "ja": "オブジェクトプロパティ", "fr": "Propriétés d'objet"}),
    (OWL.DatatypeProperty, "datatype-properties", {"en": "Datatype properties", "ja": "データ型プロパティ", "fr": "Propriétés de données"}),
    (OWL.AnnotationProperty, "annotation-properties", {"en": "Annotation properties", "ja": "注釈プロパティ", "fr": "Propriétés d'annotation"}),
    (OWL.NamedIndividual, "individuals", {"en": "Individuals", "ja": "個体", "fr": "Individus"}),
]
LINKS = [
    (RDFS.subClassOf, "subclass of"), (OWL.equivalentClass, "equivalent class"),
    (RDFS.subPropertyOf, "subproperty of"), (OWL.equivalentProperty, "equivalent property"),
    (OWL.inverseOf, "inverse of"), (RDFS.domain, "domain"), (RDFS.range, "range"), (RDF.type, "type"),
    (RDFS.seeAlso, "see also"),
]


@dataclass
class Term:
    """One documented term."""

    anchor: str
    iri: str
    label: str
    labels: dict[str, str]
    comment: str | None
    links: list[tuple[str, list[Value]]]
    used_by: list[Value] = field(default_factory=list)


@dataclass
class OntologyDoc:
    """The documentation: title, metadata and the terms grouped by kind."""

    iri: str
    title: str
    comment: str | None
    metadata: list[tuple[str, list[Value]]]
    sections: list[tuple[str, str, list[Term]]]


def ontology_page(store: Store, base: str, lang: str) -> OntologyDoc:
    """The documentation of the ontology held in ``store``."""
    d = Describer(store, base, lang)
    ns = PREFIXES["jllm"]
    onto = next((q.subject for q in store.quads_for_pattern(None, TYPE, OWL.Ontology, None)), NamedNode(base + "ontology"))
    graph = next((q.graph_name for q in store.quads_for_pattern(onto, TYPE, OWL.Ontology, None)), None)

    def in_onto(s, p, o):
        return store.quads_for_pattern(s, p, o, graph)

    def local(iri: str) -> Value:
        v = d.value(NamedNode(iri))
        if iri.startswith(ns):
            v.href = "#" + iri[len(ns):]
        return v

    sections, seen = [], set()
    for cls, slug, titles in KINDS:
        terms = []
        for q in in_onto(None, TYPE, cls):
            s = q.subject
            if not isinstance(s, NamedNode) or not s.value.startswith(ns) or s.value in seen:
                continue
            seen.add(s.value)
            links = []
            for prop, name in LINKS:
                objs = sorted({x.object.value for x in in_onto(s, prop, None) if isinstance(x.object, NamedNode)
                               and not (prop == RDF.type and x.object == cls)})
                if objs:
                    links.append((name, [local(o) for o in objs]))
            comments = {x.object.language or "": x.object.value for x in in_onto(s, RDFS.comment, None) if isinstance(x.object, Literal)}
            found = labels(store, s)
            terms.append(Term(s.value[len(ns):], s.value, pick(found, lang) or s.value[len(ns):], found,
                              pick(comments, lang) if comments else None, links))
        terms.sort(key=lambda t: t.anchor.casefold())
        if terms:
            sections.append((slug, titles.get(lang, titles["en"]), terms))
    comments = {x.object.language or "": x.object.value for x in in_onto(onto, RDFS.comment, None) if isinstance(x.object, Literal)}
    metadata = []
    for q in sorted(in_onto(onto, None, None), key=lambda x: str(x.predicate)):
        if q.predicate in (RDFS.label, RDFS.comment, TYPE):
            continue
        metadata.append((d.label(q.predicate), [d.value(q.object)]))
    return OntologyDoc(onto.value, pick(labels(store, onto), lang) or "Ontology", pick(comments, lang) if comments else None,
                       metadata, sections)
