"""What the home page shows, counted at build time: model families per section, developer, licence
and dataset, and the families each section previews.

The counts are SPARQL aggregates run by the engine on the loaded generation; they are written
into the VoID graph (``<base>graph/void``) after the VoID counts, as ``?x jllm:familyCount n``
(every developer, section, dataset and licence; datasets and licences with no family count 0).
``?section jllm:previewFamily ?family`` names, per section, the first :data:`PREVIEW` families
by label in each of Japanese, English and French (their union): whatever the language of the
page, its first :data:`PREVIEW` families by label are among them, so the page labels only those.
``?x jllm:familyRank r`` places the :data:`RANKED` developers, datasets and licences with most
families (1 = most, ties in IRI order), and ``<base>void jllm:developerCount n`` says how many
developers there are, so the page's browse lists read 25 items each, not every count (at a million
families: 142,000 counts, 4.6 s).
Entities per class come from the VoID class partitions already there (:mod:`graph.rdf.void`).
"""
from __future__ import annotations

import heapq
from concurrent.futures import Executor, ThreadPoolExecutor

from pyoxigraph import Literal, NamedNode, Quad, Store

from graph.rdf.iris import Iris
from graph.rdf.vocab import JLLM, PREFIXES, XSD

PREVIEW = 20
"""Families a section previews on the home page, per language."""
RANKED = 25
"""Developers, datasets and licences ranked per role (the home page's browse lists)."""
RANKED_ROLES = ("developer", "dataset", "licence")
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
"""What ``jllm:familyCount`` counts, by the role of the counted resource (engine aggregates over all graphs).
The definitions; the build counts with :data:`BUILD_QUERIES`, which give the same numbers faster."""
BUILD_QUERIES = {
    **COUNT_QUERIES,
    "dataset": "SELECT ?item (COUNT(DISTINCT ?m) AS ?n) WHERE { ?m fair4ml:trainedOn ?item . ?m a jllm:ModelFamily } GROUP BY ?item",
    "licence": "SELECT ?item (COUNT(DISTINCT ?m) AS ?n) WHERE { ?m jllm:licence ?item . ?m a jllm:ModelFamily } GROUP BY ?item",
}
""":data:`COUNT_QUERIES` as the build runs them: datasets and licences from the links, not from each
``OPTIONAL`` per item (at 64,000 families 1.5 s against 4.8 s, and 1.1 s against 4.2 s); the items
with no family get their 0 from :data:`LISTED`."""
LISTED = {"dataset": "SELECT DISTINCT ?item WHERE { ?item a jllm:Dataset }",
          "licence": "SELECT DISTINCT ?item WHERE { ?item a jllm:Licence }"}
"""The items counted for a role, families or none (:data:`COUNT_QUERIES` counts only these)."""
FAMILY_LABELS = _PREFIXES + """PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>
SELECT ?section ?family ?label WHERE { ?family a jllm:ModelFamily ; jllm:section ?section ; rdfs:label ?label }"""


def _rows(store: Store, query: str) -> list[tuple]:
    """The solutions as tuples of terms, in the order of the SELECT's variables (made on the thread that ran the query)."""
    return [tuple(row) for row in store.query(_PREFIXES + query, use_default_graph_as_union=True)]


def family_counts(store: Store, pool: Executor) -> dict[str, dict[NamedNode, int]]:
    """Role (``section``, ``developer``, ``dataset``, ``licence``) → resource → number of model families
    (:data:`COUNT_QUERIES`, counted by :data:`BUILD_QUERIES`); the queries run on ``pool`` side by side
    (the engine releases the GIL while it evaluates)."""
    counted = {role: pool.submit(_rows, store, query) for role, query in BUILD_QUERIES.items()}
    listed = {role: pool.submit(_rows, store, query) for role, query in LISTED.items()}
    out: dict[str, dict[NamedNode, int]] = {}
    for role, rows in counted.items():
        found = {item: int(n.value) for item, n in rows.result() if isinstance(item, NamedNode)}
        if role in listed:
            found = {item: found.get(item, 0) for item, in listed[role].result() if isinstance(item, NamedNode)}
        out[role] = found
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


def ranked(counts: dict[NamedNode, int], size: int = RANKED) -> list[NamedNode]:
    """The ``size`` resources with most families, most first, ties in IRI order."""
    return [node for node, _ in heapq.nsmallest(size, counts.items(), key=lambda kv: (-kv[1], kv[0].value))]


def _integer(n: int) -> Literal:
    return Literal(str(n), datatype=XSD.integer)


def summary_quads(store: Store, iris: Iris, size: int = PREVIEW) -> list[Quad]:
    """The family counts, ranks and section previews of ``store``, as quads in ``<base>graph/void``;
    the count queries and the previews' labels run side by side on two threads."""
    graph = iris.graph("void")
    out: list[Quad] = []
    with ThreadPoolExecutor(2) as pool:
        shown = pool.submit(previews, store, size)
        found = family_counts(store, pool)
        for counts in found.values():
            for node, n in sorted(counts.items(), key=lambda kv: kv[0].value):
                out.append(Quad(node, JLLM.familyCount, _integer(n), graph))
        for role in RANKED_ROLES:
            out.extend(Quad(node, JLLM.familyRank, _integer(rank), graph)
                       for rank, node in enumerate(ranked(found[role]), start=1))
        out.append(Quad(iris.void(), JLLM.developerCount, _integer(len(found["developer"])), graph))
        for section, families in sorted(shown.result().items()):
            for family in sorted(families):
                out.append(Quad(NamedNode(section), JLLM.previewFamily, NamedNode(family), graph))
    return out
