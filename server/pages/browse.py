"""What the home page lists: entities per class, model families by section, and the browse lists.

The numbers are facts of the generation, counted at build time (:mod:`graph.rdf.family_summary`:
``jllm:familyCount``, ``jllm:familyRank``, ``jllm:developerCount``, ``jllm:previewFamily``; the VoID
class partitions), so the page reads a few hundred stored values and labels only what it shows, in
one query. A store built before the ranks reads every stored count of the browse lists instead (at
a million families, 142,000 of them: seconds); one built before the counts gets the same numbers
from engine aggregates if it holds at most
:data:`LIVE_FAMILIES` model families (section previews then in store order); a larger one gets
the page without the numbers, from bounded lookups (the aggregates would outlast the deadline).
"""
from __future__ import annotations

import heapq
from collections.abc import Iterable
from dataclasses import dataclass, field

from pyoxigraph import NamedNode, Store, Variable

from graph.rdf.family_summary import COUNT_QUERIES, PREVIEW, RANKED
from graph.rdf.vocab import JLLM, PROV
from graph.store.substitute import with_values
from server.pages.labels import href, labels_of, pick, qname

TOP = RANKED
"""Entries shown per browse list (most model families first); the rest are counted."""
LIVE_FAMILIES = 10_000
"""A store built without the counts gets them from engine aggregates up to this many model families (about a second)."""
PREFIXES = """
PREFIX jllm: <https://w3id.org/jllm-kg/ontology#>
PREFIX schema: <http://schema.org/>
PREFIX fair4ml: <https://w3id.org/fair4ml#>
PREFIX prov: <http://www.w3.org/ns/prov#>
PREFIX dcterms: <http://purl.org/dc/terms/>
PREFIX skos: <http://www.w3.org/2004/02/skos/core#>
PREFIX void: <http://rdfs.org/ns/void#>
"""
CLASS_PARTITIONS = PREFIXES + """
SELECT ?class ?n WHERE {
  ?dataset void:classPartition ?part . ?part void:class ?class ; void:entities ?n
  FILTER(STRSTARTS(STR(?class), STR(jllm:)) && ?class != jllm:SourceCell)
}"""
CLASS_COUNTS = PREFIXES + """
SELECT ?class (COUNT(DISTINCT ?s) AS ?n) WHERE {
  ?s a ?class FILTER(STRSTARTS(STR(?class), STR(jllm:)))
  FILTER(?class NOT IN (jllm:SourceCell))
} GROUP BY ?class"""
HEADING = "OPTIONAL { ?section skos:broader ?broader . ?broader skos:broader ?top }"  # the catalog's title is no heading
SECTIONS = PREFIXES + f"SELECT ?section ?n ?broader WHERE {{ ?section a jllm:CatalogSection ; jllm:familyCount ?n {HEADING} }}"
SECTIONS_LIVE = PREFIXES + f"""
SELECT ?section ?broader (COUNT(DISTINCT ?family) AS ?n) WHERE {{ ?family a jllm:ModelFamily ; jllm:section ?section {HEADING} }}
GROUP BY ?section ?broader"""
PREVIEWS = PREFIXES + "SELECT ?section ?family WHERE { ?section jllm:previewFamily ?family }"
PREVIEW_LIVE = PREFIXES + f"SELECT ?family WHERE {{ ?family a jllm:ModelFamily ; jllm:section ?section }} LIMIT {PREVIEW}"
SECTIONS_BARE = PREFIXES + f"SELECT ?section ?broader WHERE {{ ?section a jllm:CatalogSection {HEADING} FILTER EXISTS {{ ?f jllm:section ?section }} }}"
BARE = {  # role → the first items in store order, without counts (a large store built without them)
    "developers": f"SELECT DISTINCT ?item WHERE {{ ?m a jllm:ModelFamily ; jllm:developer ?item }} LIMIT {TOP}",
    "datasets": f"SELECT ?item WHERE {{ ?item a jllm:Dataset }} LIMIT {TOP}",
    "licences": f"SELECT ?item WHERE {{ ?item a jllm:Licence }} LIMIT {TOP}",
}
COUNTED = PREFIXES + "SELECT ?item ?n WHERE { ?item jllm:familyCount ?n ; a ?class }"
RANKED_ITEMS = PREFIXES + """SELECT ?item ?n ?class WHERE {
  ?item jllm:familyRank ?rank ; jllm:familyCount ?n ; a ?class FILTER(?class IN (prov:Agent, jllm:Dataset, jllm:Licence))
}"""
DEVELOPERS = PREFIXES + "SELECT ?n WHERE { ?dataset a void:Dataset ; jllm:developerCount ?n } LIMIT 1"
LIVE = {name: COUNT_QUERIES[role] for name, role in (("developers", "developer"), ("datasets", "dataset"), ("licences", "licence"))}
"""The items of each list with their number of families, by the build's engine aggregates (a store built without the counts)."""
LIST_CLASSES = {"developers": PROV.Agent, "datasets": JLLM.Dataset, "licences": JLLM.Licence}
"""The class of the entries of each counted list (what ``jllm:familyCount`` counts for them: graph/rdf/family_summary.py)."""
LIST_PAGES = {"developers": "/queries/developers-ranked", "datasets": "/queries/datasets-by-stage?stage=any",
              "licences": None, "benchmarks": "/queries/benchmarks"}
"""Where each list is shown whole (a canned query), if anywhere."""
BENCHMARKS = PREFIXES + f"SELECT ?item WHERE {{ ?item a jllm:Benchmark }} ORDER BY ?item LIMIT {TOP}"
BENCHMARK_TOTAL = PREFIXES + "SELECT (COUNT(DISTINCT ?item) AS ?n) WHERE { ?item a jllm:Benchmark }"
SOURCE_REVISION = PREFIXES + """
SELECT ?commit ?revision ?date WHERE {
  ?dataset a <http://rdfs.org/ns/void#Dataset> ; jllm:sourceCommit ?commit ; prov:wasDerivedFrom ?revision .
  ?revision dcterms:identifier ?commit .
  OPTIONAL { ?revision dcterms:date ?date }
} LIMIT 1"""


@dataclass
class Entry:
    """A link with a count."""

    label: str
    href: str
    count: int | None = 0
    """None: not counted (a large store built without the counts)."""


@dataclass
class Listing:
    """The first entries of a browse list, how many it has in all, and where it is shown whole (if anywhere)."""

    entries: list[Entry] = field(default_factory=list)
    total: int | None = 0
    href: str | None = None


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


def has_summary(store: Store) -> bool:
    """Whether the build counted the home page's numbers (stores built since ``jllm:familyCount``)."""
    return bool(store.query(f"ASK {{ ?s {JLLM.familyCount} ?n }}", use_default_graph_as_union=True))


def counting(store: Store) -> str:
    """Where the page's numbers come from: ``stored`` (counted by the build), ``live`` (engine aggregates,
    for a store built without them that holds at most :data:`LIVE_FAMILIES` families) or ``none``."""
    if has_summary(store):
        return "stored"
    found = {r["class"].value: int(r["n"].value) for r in _rows(store, CLASS_PARTITIONS)}
    families = found.get(JLLM.ModelFamily.value)
    if families is None:
        families = int(next(iter(_rows(store, PREFIXES + "SELECT (COUNT(*) AS ?n) WHERE { ?f a jllm:ModelFamily }")))["n"].value)
    return "live" if families <= LIVE_FAMILIES else "none"


class Labeller:
    """The labels of the nodes a page shows, read in one query (one request on a remote store)."""

    def __init__(self, store: Store, base: str, lang: str, iris: Iterable[str]) -> None:
        self.store, self.base, self.lang = store, base, lang
        self.found = labels_of(store, (NamedNode(iri) for iri in set(iris)))

    def __call__(self, iri: str) -> str:
        return pick(self.found.get(iri, {}), self.lang) or qname(iri, self.base)

    def entry(self, iri: str, count: int | None = 0) -> Entry:
        return Entry(self(iri), href(self.store, iri, self.base), count)


def _rows(store: Store, query: str, **bind: NamedNode):
    """The solutions of ``query`` over the union of the graphs, with ``bind`` fixing variables (``VALUES``)."""
    if bind:  # as a VALUES block: pyoxigraph's substitutions= binds projected variables only
        query = with_values(query, {Variable(name): node for name, node in bind.items()})
    return store.query(query, use_default_graph_as_union=True)


def class_counts(store: Store, base: str, lang: str) -> list[Entry]:
    """Entities per jllm class, most numerous first (provenance cells left out): the VoID class partitions."""
    counts = {r["class"].value: int(r["n"].value) for r in _rows(store, CLASS_PARTITIONS) if isinstance(r["class"], NamedNode)}
    if not counts:  # a store without its VoID description
        counts = {r["class"].value: int(r["n"].value) for r in _rows(store, CLASS_COUNTS) if isinstance(r["class"], NamedNode)}
    names = Labeller(store, base, lang, counts)
    return sorted((names.entry(iri, n) for iri, n in counts.items()), key=lambda e: (-e.count, e.label.casefold()))


def families_by_section(store: Store, base: str, lang: str, mode: str | None = None) -> list[tuple[Entry, list[Entry]]]:
    """Each catalog section with the number of its model families and the first :data:`PREVIEW` of them
    by label (sections with most families first); ``mode`` as :func:`counting` says."""
    mode = mode or counting(store)
    sections: dict[str, tuple[int | None, str | None]] = {}
    for row in _rows(store, {"stored": SECTIONS, "live": SECTIONS_LIVE, "none": SECTIONS_BARE}[mode]):
        count = int(row["n"].value) if mode != "none" else None
        if isinstance(row["section"], NamedNode) and (count is None or count > 0):
            sections[row["section"].value] = (count, row["broader"].value if row["broader"] is not None else None)
    members: dict[str, list[str]] = {sec: [] for sec in sections}
    if mode == "stored":
        for row in _rows(store, PREVIEWS):
            members.setdefault(row["section"].value, []).append(row["family"].value)
    else:
        for sec in sections:
            members[sec] = [r["family"].value for r in _rows(store, PREVIEW_LIVE, section=NamedNode(sec))]
    names = Labeller(store, base, lang, [*sections, *(b for _, b in sections.values() if b),
                                         *(fam for sec in sections for fam in members[sec])])
    out = []
    for sec, (count, broader) in sections.items():
        families = sorted((names.entry(fam) for fam in members[sec]), key=lambda e: (e.label.casefold(), e.href))[:PREVIEW]
        name = names(sec)
        if broader:  # "General purpose" exists under several headings: name the heading too
            name = f"{names(broader)} › {name}"
        out.append((Entry(name, href(store, sec, base), count), families))
    out.sort(key=lambda item: (-(item[0].count or 0), item[0].label))
    return out


def _top(rows, size: int = TOP) -> tuple[list[tuple[str, int]], int]:
    """The ``size`` items with most families (ties by IRI) of ``(item, n)`` solutions, and how many there are.

    Sorted here: the engine's ``ORDER BY`` of thousands of IRIs costs more than reading them."""
    items = {r["item"].value: int(r["n"].value) for r in rows if isinstance(r["item"], NamedNode)}
    return heapq.nsmallest(size, items.items(), key=lambda kv: (-kv[1], kv[0])), len(items)


def ranked_lists(store: Store) -> dict[str, tuple[list[tuple[str, int | None]], int | None]] | None:
    """The browse lists from the ranks the build wrote (the first :data:`TOP` of each, how many in all),
    or None for a store built before them."""
    developers = next(iter(_rows(store, DEVELOPERS)), None)
    if developers is None:
        return None
    partitions = {r["class"].value: int(r["n"].value) for r in _rows(store, CLASS_PARTITIONS)}
    totals = {"developers": int(developers["n"].value), "datasets": partitions.get(JLLM.Dataset.value, 0),
              "licences": partitions.get(JLLM.Licence.value, 0)}
    rows = list(_rows(store, RANKED_ITEMS))  # the ranked items first: a few dozen, whatever the store's size
    return {name: (_top(r for r in rows if r["class"] == cls)[0], totals[name]) for name, cls in LIST_CLASSES.items()}


def browse_lists(store: Store, base: str, lang: str, mode: str | None = None) -> dict[str, Listing]:
    """Developers, datasets, licences (the :data:`TOP` with most model families) and benchmarks;
    ``mode`` as :func:`counting` says (``none``: the first in store order, how many from the VoID partitions)."""
    mode = mode or counting(store)
    found: dict[str, tuple[list[tuple[str, int | None]], int | None]] = {}
    partitions = {r["class"].value: int(r["n"].value) for r in _rows(store, CLASS_PARTITIONS)} if mode == "none" else {}
    ranks = ranked_lists(store) if mode == "stored" else None
    for name, cls in LIST_CLASSES.items():
        if ranks is not None:
            found[name] = ranks[name]
        elif mode == "none":
            items = [(r["item"].value, None) for r in _rows(store, PREFIXES + BARE[name]) if isinstance(r["item"], NamedNode)]
            found[name] = (items, partitions.get(cls.value) if name != "developers" else None)
        else:
            found[name] = _top(_rows(store, COUNTED, **{"class": cls}) if mode == "stored" else _rows(store, PREFIXES + LIVE[name]))
    benchmarks = [r["item"].value for r in _rows(store, BENCHMARKS) if isinstance(r["item"], NamedNode)]
    found["benchmarks"] = ([(b, 0) for b in benchmarks], int(next(iter(_rows(store, BENCHMARK_TOTAL)))["n"].value))
    names = Labeller(store, base, lang, (iri for top, _ in found.values() for iri, _ in top))
    lists = {}
    for name, (top, total) in found.items():
        entries = sorted((names.entry(iri, n) for iri, n in top), key=lambda e: (-(e.count or 0), e.label.casefold()))
        lists[name] = Listing(entries, total, LIST_PAGES[name])
    return lists
