"""What the home page shows, counted at build time: model families per section, developer, licence
and dataset, and the families each section previews.

The counts are SPARQL aggregates run by the engine on the loaded generation; they are written
into the VoID graph (``<base>graph/void``) after the VoID counts, as ``?x jllm:familyCount n``
(every developer, section, dataset and licence; datasets and licences with no family count 0).
``?section jllm:previewFamily ?family`` names, per section, the first :data:`PREVIEW` families
by label in each of Japanese, English and French (their union): whatever the language of the
page, its first :data:`PREVIEW` families by label are among them, so the page labels only those.
Entities per class come from the VoID class partitions already there (:mod:`graph.rdf.void`).
"""
from __future__ import annotations

import heapq
from collections.abc import Iterator

from pyoxigraph import Literal, NamedNode, Quad, Store

from graph.rdf.iris import Iris
from graph.rdf.vocab import JLLM, PREFIXES, XSD

PREVIEW = 20
"""Families a section previews on the home page, per language."""
LANGS = ("ja", "en", "fr")
"""The languages of the pages (server/pages/labels.py ``LANGS``)."""

_PREFIXES = f"PREFIX jllm: <{PREFIXES['jllm']}>\nPREFIX fair4ml: <{PREFIXES['fair4ml']}>\n"
COUNT_QUERIES = {
    "section": "SELECT ?item (COUNT(DISTINCT ?m) AS ?n) WHERE { ?m a jllm:ModelFamily ; jllm:section ?item } GROUP BY ?item",
    "developer": "SELECT ?item (COUNT(DISTINCT ?m) AS ?n) WHERE { ?m a jllm:ModelFamily ; jllm:developer ?item } GROUP BY ?item",
    "dataset": "SELECT ?item (COUNT(DISTINCT ?m) AS ?n) WHERE { ?item a jllm:Dataset "
               "OPTIONAL { ?m a jllm:ModelFamily ; fair4ml:trainedOn ?item } } GROUP BY ?item",
    "licence": "SELECT ?item (COUNT(DISTINCT ?m) AS ?n) WHERE { ?item a jllm:Licence "
               "OPTIONAL { ?m a jllm:ModelFamily ; jllm:licence ?item } } GROUP BY ?item",
}
"""What ``jllm:familyCount`` counts, by the role of the counted resource (engine aggregates over all graphs)."""
FAMILY_LABELS = _PREFIXES + """PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>
SELECT ?section ?family ?label WHERE { ?family a jllm:ModelFamily ; jllm:section ?section ; rdfs:label ?label }"""


def family_counts(store: Store) -> dict[str, dict[NamedNode, int]]:
    """Role (``section``, ``developer``, ``dataset``, ``licence``) → resource → number of model families."""
    out: dict[str, dict[NamedNode, int]] = {}
    for role, query in COUNT_QUERIES.items():
        out[role] = {row["item"]: int(row["n"].value) for row in store.query(_PREFIXES + query, use_default_graph_as_union=True)
                     if isinstance(row["item"], NamedNode)}
    return out


def _sort_key(found: dict[str, str], lang: str, iri: str) -> tuple[str, str]:
    # the page's label choice (server/pages/labels.py pick): the language, else English, Japanese, French, untagged
    text = next((found[t] for t in (lang, "en", "ja", "fr", "") if t in found), next(iter(found.values()), iri))
    return text.casefold(), iri


def previews(store: Store, size: int = PREVIEW) -> dict[str, set[str]]:
    """Section IRI → the families it previews: the first ``size`` by label in each language, united."""
    members: dict[str, dict[str, dict[str, str]]] = {}
    for row in store.query(FAMILY_LABELS, use_default_graph_as_union=True):
        label = row["label"]
        if isinstance(label, Literal):
            found = members.setdefault(row["section"].value, {}).setdefault(row["family"].value, {})
            found.setdefault(label.language or "", label.value)
    out: dict[str, set[str]] = {}
    for section, families in members.items():
        chosen: set[str] = set()
        for lang in LANGS:
            chosen.update(iri for _, iri in heapq.nsmallest(size, (_sort_key(found, lang, iri) for iri, found in families.items())))
        out[section] = chosen
    return out


def summary_quads(store: Store, iris: Iris, size: int = PREVIEW) -> Iterator[Quad]:
    """The family counts and section previews of ``store``, as quads in ``<base>graph/void``."""
    graph = iris.graph("void")
    for counts in family_counts(store).values():
        for node, n in sorted(counts.items(), key=lambda kv: kv[0].value):
            yield Quad(node, JLLM.familyCount, Literal(str(n), datatype=XSD.integer), graph)
    for section, families in sorted(previews(store, size).items()):
        for family in sorted(families):
            yield Quad(NamedNode(section), JLLM.previewFamily, NamedNode(family), graph)
