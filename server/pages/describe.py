"""What the pages and data documents say about one resource: labels, its description, its page model.

Reads the pyoxigraph store only (no Flask, no filesystem): the data document of a resource is a
SPARQL CONSTRUCT serialized by pyoxigraph; the HTML page model is gathered with
``quads_for_pattern`` lookups, which are cheap on the local store.
"""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from itertools import islice
from dataclasses import dataclass, field

from pyoxigraph import Literal, NamedNode, Store, Triple, Variable

from graph.rdf.vocab import FOAF, JLLM, OWL, PREFIXES, PROV, RDFS, SCHEMA, TYPE, VOID, curie
from server.pages.labels import LABEL_PROPERTIES, href, label, labels, labels_of, pick, qname

INCOMING_LIMIT = 300
"""At most this many incoming links per property on a page and in a data document (a hub links to the
complete list: :func:`description`)."""
COUNT_LIMIT = 10_000
"""A row with links left unread counts them up to this many (the engine stops there): a hub's page costs
the same at any size; beyond it the page says "at least"."""
QUALIFIED = ((PROV.qualifiedDerivation, PROV.wasDerivedFrom), (PROV.qualifiedUsage, PROV.used))
"""Qualified-influence links of PROV-O, with the plain property each one qualifies."""
_ENTITY = PROV.entity
_FEW_LINKS = 2000
"""Up to this many links into a resource are read to find their properties; a hub's are probed by the engine."""
_SKIPPED_INCOMING = (FOAF.primaryTopic, VOID.rootResource, JLLM.previewFamily, JLLM.firstChild)
_SKIPPED_OUTGOING = (JLLM.previewFamily, JLLM.firstChild)  # what pages read (graph/rdf/family_summary.py,
# graph/rdf/first_children.py), not facts to show

DESCRIBE_QUERY = """
PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>
PREFIX foaf: <http://xmlns.com/foaf/0.1/>
CONSTRUCT { ?s ?p ?o . ?o rdfs:label ?olabel . ?g ?gp ?go }
WHERE {
  { ?s ?p ?o OPTIONAL { ?o rdfs:label ?olabel } }
  UNION { ?g foaf:primaryTopic ?s ; ?gp ?go }
}
"""


def incoming_query(prop: NamedNode, iri: NamedNode) -> str:
    """The SPARQL query listing every node that links to ``iri`` by ``prop``."""
    return f"SELECT DISTINCT ?s WHERE {{ ?s {prop} {iri} }} ORDER BY ?s"


def description(store: Store, iri: NamedNode, base: str = "",
                full_list: Callable[[str], str] | None = None, limit: int = INCOMING_LIMIT) -> list[Triple]:
    """The data document of ``iri``: its outgoing triples with the labels of linked nodes, its
    incoming links with the labels of their subjects, and the provenance of its named graph.

    At most ``limit`` incoming links per property (the first in the store's order): a hub such as
    Llama 2 in a large graph has hundreds of thousands, which no document should carry. Where links
    are left out, the document says ``<iri> rdfs:seeAlso <full_list(query)>``, a URL answering
    :func:`incoming_query` (the SPARQL endpoint), so the complete list stays one request away.

    >>> from pyoxigraph import Quad
    >>> s = Store(); a, b = NamedNode("http://x/a"), NamedNode("http://x/b")
    >>> s.add(Quad(a, SCHEMA.isBasedOn, b)); s.add(Quad(b, RDFS.label, Literal("B")))
    >>> sorted(str(t) for t in description(s, a))
    ['<http://x/a> <http://schema.org/isBasedOn> <http://x/b>', '<http://x/b> <http://www.w3.org/2000/01/rdf-schema#label> "B"']
    """
    triples = set(store.query(DESCRIBE_QUERY, use_default_graph_as_union=True, substitutions={Variable("s"): iri}))
    for prop in Describer(store, base).incoming_properties(iri):
        links = iter(store.quads_for_pattern(None, prop, iri, None))
        subjects = list(dict.fromkeys(quad.subject for quad in islice(links, limit)))
        triples.update(Triple(subject, prop, iri) for subject in subjects)
        named = " ".join(str(n) for n in subjects if isinstance(n, NamedNode))
        if named:  # their labels in one query (one round trip to a remote store, not one per node)
            query = f"SELECT ?s ?l WHERE {{ VALUES ?s {{ {named} }} ?s {RDFS.label} ?l }}"
            triples.update(Triple(row["s"], RDFS.label, row["l"])
                           for row in store.query(query, use_default_graph_as_union=True))
        if full_list is not None and next(links, None) is not None:
            triples.add(Triple(iri, RDFS.seeAlso, NamedNode(full_list(incoming_query(prop, iri)))))
    return sorted(triples, key=str)


def exists(store: Store, iri: NamedNode) -> bool:
    """Whether the store says anything about ``iri`` (as subject, or as object of a typed link)."""
    return (next(store.quads_for_pattern(iri, None, None, None), None) is not None
            or next(store.quads_for_pattern(None, None, iri, None), None) is not None)


@dataclass
class Value:
    """One object of a statement, ready to show."""

    text: str
    href: str | None = None
    datatype: str | None = None
    lang: str | None = None


@dataclass
class Row:
    """A property with its values, as a row of the page."""

    iri: str
    label: str
    values: list[Value]
    more: int = 0
    at_least: bool = False  # more than COUNT_LIMIT links: ``more`` is a lower bound


@dataclass
class Page:
    """The page model of a resource."""

    iri: str
    label: str
    labels: dict[str, str]
    types: list[Value]
    rows: list[Row]
    equivalent_rows: list[Row]
    incoming: list[Row]
    variants: list[dict] = field(default_factory=list)
    stages: list[dict] = field(default_factory=list)
    sources: list[Value] = field(default_factory=list)
    catalog_source: str | None = None
    comment: str | None = None
    is_model: bool = False


_PREPOSITIONS = {"of", "on", "in", "by", "from", "to", "with", "for", "at", "into",  # a label may fall back to English
                 "de", "du", "des", "à", "au", "aux", "sur", "par", "dans", "pour", "avec", "en"}


def inverse_phrase(name: str, lang: str) -> str:
    """A row label for the links into a resource by a property labelled ``name`` with no declared inverse.

    >>> inverse_phrase("base model", "en"), inverse_phrase("part of", "en"), inverse_phrase("was derived from", "en")
    ('is base model of', 'part of this', 'was derived from this')
    >>> inverse_phrase("modèle de base", "fr"), inverse_phrase("entraîné sur", "fr"), inverse_phrase("学習データ", "ja")
    ('est « modèle de base » de', 'entraîné sur ceci', '学習データ（被参照）')
    """
    if lang == "ja":
        return f"{name}（被参照）"
    words = name.split()
    if words and words[-1].casefold() in _PREPOSITIONS:
        return f"{name} {'ceci' if lang == 'fr' else 'this'}"  # "part of this: A, B" reads as "A, B are part of this"
    return f"est « {name} » de" if lang == "fr" else f"is {name} of"


class Describer:
    """Builds page models from one store, for one base and one language."""

    def __init__(self, store: Store, base: str, lang: str = "en") -> None:
        self.store, self.base, self.lang = store, base, lang
        self._labels: dict[str, str] = {}

    def label(self, node) -> str:
        if isinstance(node, NamedNode):
            if node.value not in self._labels:
                self._labels[node.value] = label(self.store, node, self.lang, self.base)
            return self._labels[node.value]
        return label(self.store, node, self.lang, self.base)

    def prefetch(self, nodes: Iterable) -> None:
        """Read the labels of ``nodes`` in one query (:func:`labels_of`): a remote store answers one round
        trip instead of one per node (a dataset's page links a hundred partitions)."""
        todo = [n for n in dict.fromkeys(nodes) if isinstance(n, NamedNode) and n.value not in self._labels]
        if len(todo) < 2:
            return
        found = labels_of(self.store, todo)
        for node in todo:
            self._labels[node.value] = pick(found.get(node.value, {}), self.lang) or qname(node.value, self.base)

    def value(self, node) -> Value:
        if isinstance(node, Literal):
            dt = node.datatype.value if node.datatype else None
            shown_dt = None if dt in (PREFIXES["xsd"] + "string", PREFIXES["rdf"] + "langString") else curie(dt or "")
            return Value(node.value, None, shown_dt, node.language)
        if isinstance(node, NamedNode):
            return Value(self.label(node), href(self.store, node.value, self.base))
        return Value(str(node))

    def inverse_label(self, prop: NamedNode) -> str:
        """"is base model of": the label of the declared inverse, else an inverse phrasing."""
        for q in self.store.quads_for_pattern(prop, OWL.inverseOf, None, None):
            if isinstance(q.object, NamedNode) and labels(self.store, q.object):
                return self.label(q.object)
        for q in self.store.quads_for_pattern(None, OWL.inverseOf, prop, None):
            if isinstance(q.subject, NamedNode) and labels(self.store, q.subject):
                return self.label(q.subject)
        return inverse_phrase(self.label(prop), self.lang)

    def objects(self, subject, prop: NamedNode) -> list:
        return [q.object for q in self.store.quads_for_pattern(subject, prop, None, None)]

    def first(self, subject, prop: NamedNode):
        return next(iter(self.objects(subject, prop)), None)

    def page(self, iri: NamedNode) -> Page:
        """The page model of ``iri``."""
        out: dict[NamedNode, set] = defaultdict(set)
        for q in self.store.quads_for_pattern(iri, None, None, None):
            out[q.predicate].add(q.object)
        for prop in _SKIPPED_OUTGOING:
            out.pop(prop, None)
        self.prefetch([iri, *out, *(o for objs in out.values() for o in objs)])
        types = sorted((self.value(t) for t in out.pop(TYPE, set())), key=lambda v: (not (v.href or "").startswith("/ontology"), v.text))
        own = {p: objs for p, objs in out.items() if p.value.startswith(PREFIXES["jllm"]) or p in LABEL_PROPERTIES}
        covered = {(o.value if isinstance(o, NamedNode) else None) for objs in own.values() for o in objs} - {None}
        rows, equivalent = [], []
        for prop, objs in out.items():
            row = Row(prop.value, self.label(prop), sorted((self.value(o) for o in objs), key=lambda v: (v.lang or "", v.text)))
            redundant = prop not in own and all(isinstance(o, NamedNode) and o.value in covered for o in objs)
            (equivalent if redundant else rows).append(row)
        rows.sort(key=lambda r: (not r.iri.startswith(PREFIXES["jllm"]), r.label.casefold()))
        equivalent.sort(key=lambda r: r.label.casefold())
        model = any(t.value in (JLLM.Model.value, JLLM.ModelFamily.value) for t in self.objects(iri, TYPE))
        return Page(
            iri=iri.value, label=self.label(iri), labels=labels(self.store, iri), types=types,
            rows=rows, equivalent_rows=equivalent, incoming=self.incoming(iri),
            variants=self.variants(iri), stages=self.stages(iri), sources=self.sources(iri),
            catalog_source=self.catalog_source(iri), comment=self.comment(iri), is_model=model,
        )

    def comment(self, iri: NamedNode) -> str | None:
        found = {q.object.language or "": q.object.value for q in self.store.quads_for_pattern(iri, RDFS.comment, None, None)
                 if isinstance(q.object, Literal)}
        return pick(found, self.lang) if found else None

    def incoming(self, iri: NamedNode) -> list[Row]:
        """Incoming links grouped by property, with the property's inverse phrasing; statements
        repeated by a super-property (schema:isBasedOn next to jllm:baseModel) are shown once, and a
        qualified derivation or usage (``prov:entity``) is shown as the model or stage it qualifies.

        Reads at most :data:`INCOMING_LIMIT` (+1) links per property: a property with more (a hub
        such as Llama 2 in a large graph) shows the first ones in the store's order, labelled, and
        the engine counts the rest — only for a row that is shown — so a page never reads every link."""
        by_prop: dict[NamedNode, set] = defaultdict(set)
        over: set[NamedNode] = set()  # rows with links left unread
        for prop in self.incoming_properties(iri):
            if prop in _SKIPPED_INCOMING:
                continue
            links = self.store.quads_for_pattern(None, prop, iri, None)
            subjects = {q.subject for q in islice(links, 4 * INCOMING_LIMIT if prop == _ENTITY else INCOMING_LIMIT + 1)}
            more = next(iter(links), None) is not None
            if prop != _ENTITY:
                by_prop[prop] |= subjects
                if more:
                    over.add(prop)
                continue
            found: dict[NamedNode, set] = defaultdict(set)
            for node in subjects:
                owners = self.qualified_owners(node)
                if owners is None:
                    found[_ENTITY].add(node)
                else:
                    found[owners[0]].update(owners[1])
            for plain, owners in found.items():
                by_prop[plain] |= owners
            if more:
                over.update(plain for _, plain in QUALIFIED)
        own_props = [p for p in by_prop if p.value.startswith(PREFIXES["jllm"])]
        own_subjects = {s for p in own_props for s in by_prop[p]}
        rows = []
        for prop, subjects in by_prop.items():
            if not subjects or (not prop.value.startswith(PREFIXES["jllm"]) and (
                    self._repeats_own(prop, own_props) if prop in over else subjects <= own_subjects)):
                continue
            shown = sorted(subjects, key=lambda s: s.value)[:INCOMING_LIMIT]
            values = sorted((self.value(s) for s in shown), key=lambda v: v.text.casefold())
            total, bounded = self._links_count(prop, iri, subjects) if prop in over else (len(subjects), False)
            rows.append(Row(prop.value, self.inverse_label(prop), values, total - len(shown), bounded))
        rows.sort(key=lambda r: (not r.iri.startswith(PREFIXES["jllm"]), r.label.casefold()))
        return rows

    def incoming_properties(self, iri: NamedNode) -> list[NamedNode]:
        """The properties of the links into ``iri``: read from the links when they are few; for a hub, the
        store's properties (its VoID property partitions) probed by the engine, one index lookup each,
        and those of the VoID graph, written after its counts."""
        links = self.store.quads_for_pattern(None, None, iri, None)
        first = list(islice(links, _FEW_LINKS))
        if next(iter(links), None) is None:
            return list(dict.fromkeys(q.predicate for q in first))
        props = [q.object for q in self.store.quads_for_pattern(None, VOID.property, None, None) if isinstance(q.object, NamedNode)]
        if not props:
            return [row["p"] for row in self.store.query(f"SELECT DISTINCT ?p WHERE {{ ?s ?p {iri} }}", use_default_graph_as_union=True)]
        query = (f"SELECT DISTINCT ?p WHERE {{ {{ VALUES ?p {{ {' '.join(map(str, dict.fromkeys(props)))} }} FILTER EXISTS {{ ?s ?p {iri} }} }} "
                 f"UNION {{ GRAPH <{self.base}graph/void> {{ ?s ?p {iri} }} }} }}")
        return [row["p"] for row in self.store.query(query, use_default_graph_as_union=True)]

    def _links_count(self, prop: NamedNode, iri: NamedNode, read: set) -> tuple[int, bool]:
        """How many nodes link to ``iri`` by ``prop``, directly or (``prov:wasDerivedFrom``, ``prov:used``)
        by a qualified influence, counted by the engine up to :data:`COUNT_LIMIT` + 1 (at least those
        ``read``), and whether it stopped there (the count is then a lower bound)."""
        pattern = f"{{ ?s {prop} {iri} }}"
        for qualifier, plain in QUALIFIED:
            if plain == prop:
                pattern += f" UNION {{ ?node {_ENTITY} {iri} . ?s {qualifier} ?node }}"
        rows = list(self.store.query(f"SELECT (COUNT(*) AS ?n) WHERE {{ SELECT DISTINCT ?s WHERE {{ {pattern} }} "
                                     f"LIMIT {COUNT_LIMIT + 1} }}", use_default_graph_as_union=True))
        count = int(rows[0]["n"].value) if rows else 0
        return max(min(count, COUNT_LIMIT), len(read)), count > COUNT_LIMIT

    def _repeats_own(self, prop: NamedNode, own: Iterable[NamedNode]) -> bool:
        """For a row too long to read whole: whether ``prop`` only repeats jllm properties shown beside
        it, i.e. one of them is declared its sub-property (the build writes those statements out)."""
        return any(next(self.store.quads_for_pattern(p, RDFS.subPropertyOf, prop, None), None) is not None for p in own)

    def qualified_owners(self, node) -> tuple[NamedNode, set] | None:
        """For a qualified derivation or usage node: the unqualified property and the nodes it
        qualifies (the derived model, the stage that used a dataset); None for any other node."""
        for qualifier, plain in QUALIFIED:
            owners = {q.subject for q in self.store.quads_for_pattern(None, qualifier, node, None)}
            if owners:
                return plain, owners
        return None

    def variants(self, iri: NamedNode) -> list[dict]:
        """The variants table of a model family: repository, link, size, licence, context length."""
        rows = []
        for v in self.objects(iri, JLLM.hasVariant):
            size = self.first(v, JLLM.parametersBillions)
            lic = self.objects(v, JLLM.licence)
            ctx = self.first(v, JLLM.contextLength)
            hf = self.first(v, SCHEMA.url)
            rows.append({
                "page": self.value(v),
                "repo": (self.first(v, JLLM.hfRepository) or Literal(self.label(v))).value,
                "url": hf.value if isinstance(hf, NamedNode) else None,
                "size": float(size.value) if isinstance(size, Literal) else None,
                "size_text": (size.value + "B") if isinstance(size, Literal) else "",
                "licences": [self.value(x) for x in lic],
                "context": int(ctx.value) if isinstance(ctx, Literal) else None,
            })
        rows.sort(key=lambda r: (r["size"] is None, r["size"] or 0, r["repo"].casefold()))
        return rows

    def stages(self, iri: NamedNode) -> list[dict]:
        """Training stages in order, with their kind, method, datasets and token counts."""
        stages = []
        for st in self.objects(iri, JLLM.trainingStage):
            order = self.first(st, JLLM.stageOrder)
            kinds = [t for t in self.objects(st, TYPE) if t not in (JLLM.TrainingStage, PROV.Activity)]
            datasets = []
            for usage in self.objects(st, PROV.qualifiedUsage):
                entity = self.first(usage, PROV.entity)
                tokens = self.first(usage, JLLM.tokens)
                if entity is not None:
                    datasets.append({"dataset": self.value(entity), "tokens": _tokens(tokens)})
            used = {d["dataset"].href for d in datasets}
            for ds in self.objects(st, PROV.used):
                v = self.value(ds)
                if v.href not in used:
                    datasets.append({"dataset": v, "tokens": None})
            datasets.sort(key=lambda d: d["dataset"].text.casefold())
            method = self.first(st, JLLM.method)
            kind = self.value(kinds[0]) if kinds else None
            shown_method = self.value(method) if method is not None else None
            if kind is not None and shown_method is not None and shown_method.text.casefold() == kind.text.casefold():
                shown_method = None  # "Continual pre-training · Continual pre-training": say it once
            raw = self.first(st, JLLM.rawText)
            stages.append({
                "order": int(order.value) if isinstance(order, Literal) else 0,
                "kind": kind, "method": shown_method,
                "datasets": datasets, "tokens": _tokens(self.first(st, JLLM.tokens)),
                "raw": raw.value if isinstance(raw, Literal) else None, "page": self.value(st),
            })
        stages.sort(key=lambda s: s["order"])
        return stages

    def _graph(self, iri: NamedNode):
        return next((q.subject for q in self.store.quads_for_pattern(None, FOAF.primaryTopic, iri, None)), None)

    def sources(self, iri: NamedNode) -> list[Value]:
        """The upstream README rows this resource was read from (at the commit, ``#L<line>``)."""
        g = self._graph(iri)
        if g is None:
            return []
        urls = sorted(q.object.value for q in self.store.quads_for_pattern(g, PROV.wasDerivedFrom, None, None)
                      if isinstance(q.object, NamedNode))
        order = {"README.md": 0, "README_en.md": 1, "README_fr.md": 2}

        def name(url: str) -> str:
            return url.rsplit("/", 1)[-1].split("#", 1)[0]
        urls.sort(key=lambda u: order.get(name(u), 9))
        langs = {"README.md": "ja", "README_en.md": "en", "README_fr.md": "fr"}
        return [Value(f"{langs.get(name(u), name(u))} · {u.rsplit('/', 1)[-1]}", u) for u in urls]

    def catalog_source(self, iri: NamedNode) -> str | None:
        """``catalog/models/x.yaml:564``: where the fact lives in this repository's catalog."""
        g = self._graph(iri)
        if g is None:
            return None
        file, line = self.first(g, JLLM.catalogFile), self.first(g, JLLM.catalogLine)
        if not isinstance(file, Literal):
            return None
        return f"{file.value}:{line.value}" if isinstance(line, Literal) else file.value


def _tokens(node) -> str | None:
    """A token count for people: ``1.5T``, ``880M``."""
    if not isinstance(node, Literal):
        return None
    try:
        n = float(node.value)
    except ValueError:
        return node.value
    for unit, size in (("T", 1e12), ("B", 1e9), ("M", 1e6), ("K", 1e3)):
        if n >= size:
            return f"{n / size:.3g}{unit}"
    return f"{n:.0f}"


def types_of(store: Store, iri: NamedNode) -> set[str]:
    """The rdf:type IRIs of ``iri``."""
    return {q.object.value for q in store.quads_for_pattern(iri, TYPE, None, None) if isinstance(q.object, NamedNode)}


def dataset_base(store: Store, default: str) -> str:
    """The IRI base the store was built with (its VoID ``void:uriSpace``), else ``default``."""
    for q in store.quads_for_pattern(None, VOID.uriSpace, None, None):
        if isinstance(q.object, Literal) and q.object.value:
            return q.object.value
    return default

