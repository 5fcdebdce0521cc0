"""Label search: resources whose label (ja, en, fr, or an alternative name) contains a string."""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from pyoxigraph import Literal, NamedNode, Store, Variable

from server.pages.describe import types_of
from server.pages.labels import href, label, labels, pick
from graph.rdf.vocab import FABIO, JLLM, OWL, SCHEMA, SKOS

SEARCH_QUERY = """
PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>
PREFIX skos: <http://www.w3.org/2004/02/skos/core#>
PREFIX schema: <http://schema.org/>
PREFIX prov: <http://www.w3.org/ns/prov#>
PREFIX jllm: <https://w3id.org/jllm-kg/ontology#>
SELECT ?q ?s (MIN(?rank) AS ?best) WHERE {
  ?s rdfs:label|skos:prefLabel|skos:altLabel|schema:name ?label .
  FILTER(isIRI(?s) && CONTAINS(LCASE(STR(?label)), ?q))
  FILTER NOT EXISTS { ?s a jllm:SourceCell }
  FILTER NOT EXISTS { ?s a jllm:TrainingStage }
  FILTER NOT EXISTS { ?s a prov:Derivation }
  FILTER NOT EXISTS { ?s a prov:Usage }
  BIND(IF(LCASE(STR(?label)) = ?q, 0, IF(STRSTARTS(LCASE(STR(?label)), ?q), 1, 2)) AS ?rank)
}
GROUP BY ?q ?s
"""
MAX_RESULTS = 200
TYPE_NAMES: dict[str, dict[str, str]] = {
    SCHEMA.Organization.value: {"en": "Organisation", "ja": "組織", "fr": "Organisation"},
    SCHEMA.Person.value: {"en": "Person", "ja": "人物", "fr": "Personne"},
    FABIO.ResearchPaper.value: {"en": "Paper", "ja": "論文", "fr": "Article"},
    OWL.Class.value: {"en": "Class", "ja": "クラス", "fr": "Classe"},
    OWL.ObjectProperty.value: {"en": "Property", "ja": "プロパティ", "fr": "Propriété"},
    OWL.DatatypeProperty.value: {"en": "Property", "ja": "プロパティ", "fr": "Propriété"},
    OWL.Ontology.value: {"en": "Ontology", "ja": "オントロジー", "fr": "Ontologie"},
    SKOS.ConceptScheme.value: {"en": "Concept scheme", "ja": "概念体系", "fr": "Schéma de concepts"},
}
"""Badge names of the classes the ontology reuses without labelling them (its own labels come first)."""


@dataclass
class Hit:
    """One search result."""

    iri: str
    label: str
    href: str
    type_label: str | None
    rank: int


def normalise(text: str) -> str:
    """What the search compares: NFKC, case-folded, spaces collapsed (full-width Ａ matches A).

    >>> normalise("  ＳＷＡＬＬＯＷ   7b ")
    'swallow 7b'
    """
    return re.sub(r"\s+", " ", unicodedata.normalize("NFKC", text)).strip().lower()


def main_type(store: Store, node: NamedNode) -> NamedNode | None:
    """The most telling class of ``node``: a jllm class (ModelFamily rather than Model), else a
    class the ontology labels, else one with a badge name (schema:Organization), else any."""
    types = types_of(store, node)
    jllm = sorted(t for t in types if t.startswith(JLLM.iri))
    specific = [t for t in jllm if t != JLLM.Model.value]
    labelled = sorted(t for t in types if labels(store, NamedNode(t)))
    named = [t for t in TYPE_NAMES if t in types]
    chosen = (specific or jllm or labelled or named or sorted(types) or [None])[0]
    return NamedNode(chosen) if chosen else None


def type_label(store: Store, cls: NamedNode, lang: str, base: str) -> str:
    """The badge of a class: its label in the ontology, else its name in :data:`TYPE_NAMES`, else its qname.

    >>> type_label(Store(), SCHEMA.Organization, "ja", "https://w3id.org/jllm-kg/")
    '組織'
    """
    if not labels(store, cls) and cls.value in TYPE_NAMES:
        return pick(TYPE_NAMES[cls.value], lang) or cls.value
    return label(store, cls, lang, base)


def search(store: Store, text: str, base: str, lang: str = "en", limit: int = MAX_RESULTS) -> list[Hit]:
    """Resources with a label containing ``text`` (case-insensitive), best matches first:
    exact label, then prefix, then substring; shorter labels first within a rank."""
    q = normalise(text)
    if not q:
        return []
    rows = store.query(SEARCH_QUERY, use_default_graph_as_union=True, substitutions={Variable("q"): Literal(q)})
    hits = []
    for row in rows:
        s = row["s"]
        if not isinstance(s, NamedNode):
            continue
        t = main_type(store, s)
        hits.append(Hit(s.value, label(store, s, lang, base), href(store, s.value, base),
                        type_label(store, t, lang, base) if t is not None else None, int(row["best"].value)))
    hits.sort(key=lambda h: (h.rank, h.type_label is None, len(h.label), h.label.casefold()))
    return hits[:limit]
