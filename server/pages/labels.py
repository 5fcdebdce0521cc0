"""Labels and links of resources on the pages: the label fallback, the language choice, where a link goes.

Reads the pyoxigraph store only (``quads_for_pattern`` lookups; no Flask, no filesystem).
"""
from __future__ import annotations

from urllib.parse import quote

from collections.abc import Iterable

from pyoxigraph import BlankNode, Literal, NamedNode, Store

from graph.rdf.vocab import PREFIXES, RDFS, SCHEMA, SKOS, curie

LANGS = ("ja", "en", "fr")
"""Languages of the catalog labels, in the order the language switch shows them."""
LABEL_PROPERTIES = (RDFS.label, SKOS.prefLabel, SCHEMA.name)
"""Label fallback, as in pyLODE: rdfs:label → skos:prefLabel → schema:name → qname."""


def labels(store: Store, node: NamedNode | BlankNode) -> dict[str, str]:
    """Labels of ``node`` by language tag (``""`` for untagged), from the first label property that has any."""
    for prop in LABEL_PROPERTIES:
        found: dict[str, str] = {}
        for q in store.quads_for_pattern(node, prop, None, None):
            if isinstance(q.object, Literal):
                found.setdefault(q.object.language or "", q.object.value)
        if found:
            return found
    return {}


def labels_of(store: Store, nodes: Iterable[NamedNode]) -> dict[str, dict[str, str]]:
    """:func:`labels` of many nodes (IRI → labels by language tag), read in one query.

    >>> from pyoxigraph import Quad
    >>> s = Store(); s.add(Quad(NamedNode("http://x/a"), RDFS.label, Literal("A", language="en")))
    >>> labels_of(s, [NamedNode("http://x/a"), NamedNode("http://x/b")])
    {'http://x/a': {'en': 'A'}}
    """
    values = " ".join(str(n) for n in dict.fromkeys(nodes))
    if not values:
        return {}
    # one branch per property, each a lookup by subject (a VALUES list of properties would make the engine scan)
    branches = " UNION ".join(f"{{ ?s {prop} ?l BIND({n} AS ?rank) }}" for n, prop in enumerate(LABEL_PROPERTIES))
    query = f"SELECT ?s ?rank ?l WHERE {{ VALUES ?s {{ {values} }} {branches} FILTER(isLiteral(?l)) }}"
    best: dict[str, tuple[int, dict[str, str]]] = {}
    for row in store.query(query, use_default_graph_as_union=True):
        iri, n, text = row["s"].value, int(row["rank"].value), row["l"]
        if iri not in best or n < best[iri][0]:
            best[iri] = (n, {})
        if n == best[iri][0]:
            best[iri][1].setdefault(text.language or "", text.value)
    return {iri: found for iri, (_, found) in best.items()}


def pick(found: dict[str, str], lang: str) -> str | None:
    """The label in ``lang``, else English, Japanese, French, untagged, any.

    >>> pick({"ja": "汎用", "en": "General purpose"}, "fr")
    'General purpose'
    """
    for tag in (lang, "en", "ja", "fr", ""):
        if tag in found:
            return found[tag]
    return next(iter(found.values()), None)


def qname(iri: str, base: str) -> str:
    """A short name for an IRI without a label: ``schema:name``, ``model/x`` under the base, else the IRI."""
    short = curie(iri)
    if not short.startswith("<"):
        return short
    return iri[len(base):] if iri.startswith(base) else iri


def label(store: Store, node, lang: str, base: str) -> str:
    """The display label of ``node`` in ``lang`` (with the qname fallback)."""
    if isinstance(node, Literal):
        return node.value
    return pick(labels(store, node), lang) or qname(node.value, base) if isinstance(node, NamedNode) else str(node)


def local_path(iri: str, base: str) -> str | None:
    """The path of ``iri`` on this site, if it lies under the base (or is an ontology term)."""
    if iri.startswith(base):
        rest = iri[len(base):]
        return "/" + quote(rest, safe="/#-._~!$&'()*+,;=:@%")
    if iri.startswith(PREFIXES["jllm"]):
        return "/ontology#" + iri[len(PREFIXES["jllm"]):]
    return None


def href(store: Store, iri: str, base: str) -> str:
    """Where a link to ``iri`` goes: its page here, ``/describe?iri=`` for an outside IRI we hold
    facts about (SPDX licences), else the IRI itself."""
    path = local_path(iri, base)
    if path is not None:
        return path
    if next(store.quads_for_pattern(NamedNode(iri), None, None, None), None) is not None:
        return "/describe?iri=" + quote(iri, safe="")
    return iri
