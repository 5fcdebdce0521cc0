"""What the home page lists: counts per class and section, and the browse lists."""
from __future__ import annotations

from dataclasses import dataclass

from pyoxigraph import NamedNode, Store

from server.pages.labels import href, label

PREFIXES = """
PREFIX jllm: <https://w3id.org/jllm-kg/ontology#>
PREFIX schema: <http://schema.org/>
PREFIX fair4ml: <https://w3id.org/fair4ml#>
PREFIX prov: <http://www.w3.org/ns/prov#>
PREFIX dcterms: <http://purl.org/dc/terms/>
"""
CLASS_COUNTS = PREFIXES + """
SELECT ?class (COUNT(DISTINCT ?s) AS ?n) WHERE {
  ?s a ?class FILTER(STRSTARTS(STR(?class), STR(jllm:)))
  FILTER(?class NOT IN (jllm:SourceCell))
} GROUP BY ?class ORDER BY DESC(?n)
"""
SECTION_FAMILIES = PREFIXES + """
PREFIX skos: <http://www.w3.org/2004/02/skos/core#>
SELECT ?section ?broader ?family WHERE {
  ?family a jllm:ModelFamily ; jllm:section ?section
  OPTIONAL { ?section skos:broader ?broader . ?broader skos:broader ?top }  # the catalog's title is no heading
}
"""
DEVELOPERS = PREFIXES + """
SELECT ?item (COUNT(DISTINCT ?m) AS ?n) WHERE { ?m a jllm:ModelFamily ; jllm:developer ?item }
GROUP BY ?item ORDER BY DESC(?n)
"""
DATASETS = PREFIXES + """
SELECT ?item (COUNT(DISTINCT ?m) AS ?n) WHERE { ?item a jllm:Dataset OPTIONAL { ?m a jllm:ModelFamily ; fair4ml:trainedOn ?item } }
GROUP BY ?item ORDER BY DESC(?n)
"""
LICENCES = PREFIXES + """
SELECT ?item (COUNT(DISTINCT ?m) AS ?n) WHERE { ?item a jllm:Licence OPTIONAL { ?m a jllm:ModelFamily ; jllm:licence ?item } }
GROUP BY ?item ORDER BY DESC(?n)
"""
BENCHMARKS = PREFIXES + """
SELECT ?item (0 AS ?n) WHERE { ?item a jllm:Benchmark }
"""


@dataclass
class Entry:
    """A link with a count."""

    label: str
    href: str
    count: int = 0


def _entries(store: Store, query: str, var: str, base: str, lang: str) -> list[Entry]:
    out = []
    for row in store.query(query, use_default_graph_as_union=True):
        node = row[var]
        if isinstance(node, NamedNode):
            count = row["n"]
            out.append(Entry(label(store, node, lang, base), href(store, node.value, base), int(count.value) if count else 0))
    return out


SOURCE_REVISION = PREFIXES + """
SELECT ?commit ?revision ?date WHERE {
  ?dataset a <http://rdfs.org/ns/void#Dataset> ; jllm:sourceCommit ?commit ; prov:wasDerivedFrom ?revision .
  ?revision dcterms:identifier ?commit .
  OPTIONAL { ?revision dcterms:date ?date }
} LIMIT 1"""


@dataclass(frozen=True)
class Revision:
    """The upstream commit the graph was built from, its date and its page."""

    commit: str
    href: str
    date: str | None


def source_revision(store: Store) -> Revision | None:
    """The upstream revision the served graph shows (from its VoID description), or None."""
    for row in store.query(SOURCE_REVISION, use_default_graph_as_union=True):
        return Revision(row["commit"].value, row["revision"].value, row["date"].value if row["date"] else None)
    return None


def class_counts(store: Store, base: str, lang: str) -> list[Entry]:
    """Entities per jllm class, most numerous first (provenance cells left out)."""
    return _entries(store, CLASS_COUNTS, "class", base, lang)


def families_by_section(store: Store, base: str, lang: str) -> list[tuple[Entry, list[Entry]]]:
    """Each catalog section with its model families (sections with most families first)."""
    sections: dict[str, dict[str, Entry]] = {}
    broader: dict[str, str] = {}
    for row in store.query(SECTION_FAMILIES, use_default_graph_as_union=True):
        fam = row["family"]
        if row["broader"] is not None:
            broader[row["section"].value] = row["broader"].value
        sections.setdefault(row["section"].value, {})[fam.value] = Entry(label(store, fam, lang, base), href(store, fam.value, base))
    out = []
    for sec, members in sections.items():
        families = sorted(members.values(), key=lambda e: e.label.casefold())
        name = label(store, NamedNode(sec), lang, base)
        if sec in broader:  # "General purpose" exists under several headings: name the heading too
            name = f"{label(store, NamedNode(broader[sec]), lang, base)} › {name}"
        out.append((Entry(name, href(store, sec, base), len(families)), families))
    out.sort(key=lambda item: (-item[0].count, item[0].label))
    return out


def browse_lists(store: Store, base: str, lang: str) -> dict[str, list[Entry]]:
    """Developers, datasets, licences (by number of model families) and benchmarks."""
    lists = {
        "developers": _entries(store, DEVELOPERS, "item", base, lang),
        "datasets": _entries(store, DATASETS, "item", base, lang),
        "licences": _entries(store, LICENCES, "item", base, lang),
        "benchmarks": _entries(store, BENCHMARKS, "item", base, lang),
    }
    for entries in lists.values():
        entries.sort(key=lambda e: (-e.count, e.label.casefold()))
    return lists
