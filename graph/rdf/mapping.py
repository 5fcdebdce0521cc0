"""Catalog → RDF quads.

Every catalog entity gets its own named graph (``<base>graph/model/swallow-7b``); the graph is
described in ``<base>graph/provenance`` (catalog file and line, upstream README line at the
upstream commit). The ontology goes to ``<base>graph/ontology``. Superclass types and
superproperty triples of the ontology (``prov:wasDerivedFrom``, ``schema:isBasedOn``, …) are
written out, so plain SPARQL finds them without inference.
"""
from __future__ import annotations

from collections.abc import Iterable, Iterator
from decimal import Decimal, InvalidOperation
from pathlib import Path

import pyoxigraph as ox
from pyoxigraph import Literal, NamedNode, Quad

import ontology
from graph.catalog import Catalog, Record
from graph.rdf.iris import Iris, ontology as jllm_term, upstream_url
from graph.rdf.vocab import (DCTERMS, FABIO, FAIR4ML, FOAF, HF_MARKS, JLLM, ORG, PROV, RDFS, SCHEMA,
                         SKOS, STAGE_CLASSES, TYPE, XSD)

ONTOLOGY_FILE: Path = ontology.PATH / "jllm.ttl"
LANGS = ("ja", "en", "fr")


# ------------------------------------------------------------------ literals

def text(value: object) -> Literal:
    """A plain string literal."""
    return Literal(str(value))


def integer(value: object) -> Literal | None:
    """An ``xsd:integer`` literal from an int, a float or a numeric string (``0.88e9``), else None."""
    number = _decimal(value)
    if number is None or number != number.to_integral_value():
        return None
    return Literal(str(int(number)), datatype=XSD.integer)


def decimal(value: object) -> Literal | None:
    """An ``xsd:decimal`` literal in canonical form (always with a dot: ``7.0``), else None."""
    number = _decimal(value)
    if number is None:
        return None
    lexical = format(number.normalize(), "f")
    return Literal(lexical if "." in lexical else lexical + ".0", datatype=XSD.decimal)


def boolean(value: bool) -> Literal:
    return Literal("true" if value else "false", datatype=XSD.boolean)


def _decimal(value: object) -> Decimal | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        number = Decimal(str(value).replace(",", "").strip())
    except InvalidOperation:
        return None
    return number if number.is_finite() else None


# ------------------------------------------------------------------ the ontology

def ontology_triples() -> list[ox.Triple]:
    """The triples of ``ontology/jllm.ttl``."""
    return [q.triple for q in ox.parse(path=str(ONTOLOGY_FILE), format=ox.RdfFormat.TURTLE)]


def _closure(pairs: Iterable[tuple[NamedNode, NamedNode]]) -> dict[NamedNode, set[NamedNode]]:
    direct: dict[NamedNode, set[NamedNode]] = {}
    for sub, sup in pairs:
        direct.setdefault(sub, set()).add(sup)
    closed: dict[NamedNode, set[NamedNode]] = {}
    for start in direct:
        seen: set[NamedNode] = set()
        todo = list(direct[start])
        while todo:
            node = todo.pop()
            if node not in seen and node != start:
                seen.add(node)
                todo.extend(direct.get(node, ()))
        closed[start] = seen
    return closed


class Entailment:
    """Superclasses and superproperties declared in the ontology, to write out at build time."""

    def __init__(self, triples: Iterable[ox.Triple]) -> None:
        sub_class, sub_prop = [], []
        for t in triples:
            if isinstance(t.subject, NamedNode) and isinstance(t.object, NamedNode):
                if t.predicate == RDFS.subClassOf:
                    sub_class.append((t.subject, t.object))
                elif t.predicate == RDFS.subPropertyOf:
                    sub_prop.append((t.subject, t.object))
        self.classes = _closure(sub_class)
        self.properties = _closure(sub_prop)

    def expand(self, quad: Quad) -> Iterator[Quad]:
        """The quad itself and the quads it entails by rdfs:subClassOf / rdfs:subPropertyOf."""
        yield quad
        if quad.predicate == TYPE:
            for sup in self.classes.get(quad.object, ()):  # type: ignore[arg-type]
                yield Quad(quad.subject, TYPE, sup, quad.graph_name)
        for sup in self.properties.get(quad.predicate, ()):
            yield Quad(quad.subject, sup, quad.object, quad.graph_name)


# ------------------------------------------------------------------ the mapper

class Mapper:
    """Turns one :class:`Catalog` into quads; call :meth:`quads`."""

    def __init__(self, catalog: Catalog, iris: Iris) -> None:
        self.cat = catalog
        self.iris = iris
        self.out: set[Quad] = set()
        self.graph: NamedNode = iris.graph("ontology")
        self.prov_graph = iris.graph("provenance")
        self.spdx: dict[str, bool] = {}
        self.benchmark_ids: dict[str, str] = {}
        for rec in catalog.benchmarks:
            self.benchmark_ids[str(rec["id"])] = str(rec["id"])
            if rec.get("section"):
                self.benchmark_ids.setdefault(str(rec["section"]), str(rec["id"]))
        for rec in catalog.registry("licence"):
            self.spdx[str(rec["id"])] = bool(rec.get("spdx"))

    # -- helpers
    def add(self, s: NamedNode, p: NamedNode, o: object) -> None:
        """Add one triple to the current graph (None objects are skipped)."""
        if o is None:
            return
        if not isinstance(o, (NamedNode, Literal)):
            o = text(o)
        self.out.add(Quad(s, p, o, self.graph))

    def label(self, s: NamedNode, names: dict | str | None, extra: tuple[NamedNode, ...] = ()) -> None:
        """rdfs:label + schema:name (+ ``extra``) in every language given."""
        if isinstance(names, str):
            for p in (RDFS.label, SCHEMA.name, *extra):
                self.add(s, p, text(names))
            return
        for lang in LANGS:
            value = (names or {}).get(lang)
            if value:
                for p in (RDFS.label, SCHEMA.name, *extra):
                    self.add(s, p, Literal(str(value), language=lang))

    def url(self, value: object) -> NamedNode | None:
        if not value or not isinstance(value, str) or not value.startswith(("http://", "https://")):
            return None
        try:
            return NamedNode(value.strip())
        except ValueError:
            return None

    def begin(self, graph: NamedNode, resource: NamedNode, rec: Record) -> None:
        """Start the named graph of ``resource`` and describe its provenance."""
        self.graph = graph
        here = self.graph
        self.graph = self.prov_graph
        self.add(here, TYPE, PROV.Entity)
        self.add(here, FOAF.primaryTopic, resource)
        self.add(here, JLLM.catalogFile, text(rec.file))
        self.add(here, JLLM.catalogLine, integer(rec.line))
        source = rec.get("source")
        if isinstance(source, dict) and source.get("file"):
            self.add(here, JLLM.sourceFile, text(source["file"]))
            self.add(here, JLLM.sourceLine, integer(source.get("line")))
            self.add(here, PROV.wasDerivedFrom, upstream_url(source["file"], self.cat.commit, source.get("line"), self.cat.upstream_paths))
            for lang, line in (source.get("lines") or {}).items():
                self.add(here, PROV.wasDerivedFrom, upstream_url(f"README.{lang}.md", self.cat.commit, line, self.cat.upstream_paths))
        if self.cat.commit:
            self.add(here, JLLM.sourceCommit, text(self.cat.commit))
        self.graph = here

    def common(self, s: NamedNode, rec: Record, cls: NamedNode) -> None:
        self.add(s, TYPE, cls)
        self.add(s, DCTERMS.identifier, text(rec["id"]))

    def licence_iri(self, licence_id: str) -> NamedNode:
        return self.iris.licence(licence_id, self.spdx.get(licence_id, False))

    def kind_label(self, kind: str, lang: str) -> str:
        """The label of a stage kind's activity class in ``lang`` (English, then the kind itself, as fallback)."""
        labels = self.class_labels.get(jllm_term(STAGE_CLASSES[kind]), {}) if kind in STAGE_CLASSES else {}
        return labels.get(lang) or labels.get("en") or kind or "?"

    # -- entry points
    def quads(self) -> list[Quad]:
        """Every quad of the dataset (ontology, entities, provenance), entailments written out."""
        result: set[Quad] = set()
        for batch in self.stream():
            result.update(batch)
        return list(result)

    def stream(self, families: Iterable[Record] | None = None) -> Iterator[list[Quad]]:
        """The quads of :meth:`quads`, one entity at a time: the ontology first, then each entity's quads.

        ``families`` defaults to ``catalog.families`` (pass :func:`graph.catalog.iter_families` to
        read them lazily). A quad may come in more than one batch; a store keeps it once.
        """
        onto = ontology_triples()
        self.class_labels: dict[NamedNode, dict[str, str]] = {}
        for t in onto:
            if t.predicate == RDFS.label and isinstance(t.object, Literal) and t.object.language:
                self.class_labels.setdefault(t.subject, {})[t.object.language] = t.object.value
        self.graph = self.iris.graph("ontology")
        yield [Quad(t.subject, t.predicate, t.object, self.graph) for t in onto]
        entail = Entailment(onto)

        def flush() -> list[Quad]:
            batch: set[Quad] = set()
            for quad in self.out:
                batch.update(entail.expand(quad))
            self.out = set()
            return list(batch)

        self.sections()
        yield flush()
        for kind, records in self.cat.registries.items():
            for rec in records:
                getattr(self, kind)(rec)
                yield flush()
        for kind, records in self.cat.minted.items():
            for rec in records:
                self.minted(kind, rec)
                yield flush()
        for rec in self.cat.papers:
            self.paper(rec)
            yield flush()
        for rec in self.cat.benchmarks:
            self.benchmark(rec)
            yield flush()
        for rec in (self.cat.families if families is None else families):
            self.family(rec)
            yield flush()

    # -- sections
    def sections(self) -> None:
        scheme = self.iris.sections()
        first = True
        for rec in self.cat.sections:
            s = self.iris.section(str(rec["id"]))
            self.begin(self.iris.graph("section", str(rec["id"])), s, rec)
            if first:
                self.add(scheme, TYPE, SKOS.ConceptScheme)
                self.label(scheme, {"ja": "awesome-japanese-llm の節", "en": "Sections of awesome-japanese-llm",
                                    "fr": "Sections d'awesome-japanese-llm"})
                first = False
            self.common(s, rec, JLLM.CatalogSection)
            self.label(s, rec.get("titles"), (SKOS.prefLabel,))
            self.add(s, SKOS.notation, text(rec["id"]))
            self.add(s, SKOS.inScheme, scheme)
            if rec.get("parent"):
                self.add(s, SKOS.broader, self.iris.section(str(rec["parent"])))
            else:
                self.add(s, SKOS.topConceptOf, scheme)
            self.add(s, JLLM.sectionKind, rec.get("kind"))
            if rec.get("domain_specific") is not None:
                self.add(s, JLLM.domainSpecific, boolean(bool(rec["domain_specific"])))
            self.add(s, JLLM.level, integer(rec.get("level")))

    # -- registries
    def _registry_common(self, s: NamedNode, rec: Record, cls: NamedNode) -> None:
        self.common(s, rec, cls)
        self.label(s, rec.get("labels"))
        for alias in rec.get("aliases") or []:
            self.add(s, SKOS.altLabel, text(alias))
        home = self.url(rec.get("url"))
        if home is not None:
            self.add(s, SCHEMA.url, home)
            self.add(s, FOAF.homepage, home)

    def dataset(self, rec: Record) -> None:
        s = self.iris.dataset(str(rec["id"]))
        self.begin(self.iris.graph("dataset", str(rec["id"])), s, rec)
        self._registry_common(s, rec, JLLM.Dataset)
        if rec.get("part_of"):
            self.add(s, JLLM.partOf, self.iris.dataset(str(rec["part_of"])))
        lang = rec.get("language")
        if lang:
            code = "mul" if lang == "multi" else str(lang)
            self.add(s, DCTERMS.language, text(code))
            self.add(s, SCHEMA.inLanguage, text(code))

    def organisation(self, rec: Record) -> None:
        s = self.iris.organisation(str(rec["id"]))
        self.begin(self.iris.graph("org", str(rec["id"])), s, rec)
        person = rec.get("type") == "person"
        classes = (SCHEMA.Person, FOAF.Person, PROV.Person) if person else (
            SCHEMA.Organization, ORG.Organization, FOAF.Organization, PROV.Organization)
        self._registry_common(s, rec, classes[0])
        for cls in (*classes[1:], PROV.Agent, FOAF.Agent):
            self.add(s, TYPE, cls)
        if rec.get("parent"):
            parent = self.iris.organisation(str(rec["parent"]))
            if person:
                self.add(s, SCHEMA.affiliation, parent)
                self.add(s, ORG.memberOf, parent)
            else:
                self.add(s, ORG.subOrganizationOf, parent)
                self.add(s, SCHEMA.parentOrganization, parent)
        scholar = self.url(rec.get("scholar"))
        if scholar is not None:
            self.add(s, JLLM.scholarProfile, scholar)

    def licence(self, rec: Record) -> None:
        lid = str(rec["id"])
        s = self.licence_iri(lid)
        self.begin(self.iris.graph("licence", lid), s, rec)
        self._registry_common(s, rec, JLLM.Licence)
        if rec.get("commercial_use") is not None:
            self.add(s, JLLM.commercialUse, boolean(bool(rec["commercial_use"])))
        if rec.get("spdx"):
            self.add(s, RDFS.seeAlso, NamedNode(f"https://spdx.org/licenses/{lid}.html"))

    def foundation_model(self, rec: Record) -> None:
        s = self.iris.model(str(rec["id"]))
        self.begin(self.iris.graph("model", str(rec["id"])), s, rec)
        self._registry_common(s, rec, JLLM.FoundationModel)
        if rec.get("developer"):
            self.add(s, JLLM.developer, self.iris.organisation(str(rec["developer"])))
        if rec.get("architecture"):
            self.add(s, JLLM.architecture, self.iris.architecture(str(rec["architecture"])))
        if rec.get("paper"):
            self.add(s, JLLM.paper, self.iris.paper(str(rec["paper"])))
        for repo in rec.get("hf") or []:
            v = self.iris.variant(str(repo))
            self.add(v, TYPE, JLLM.ModelVariant)
            self.label(v, str(repo))
            self.add(v, JLLM.hfRepository, text(repo))
            self.add(v, SCHEMA.url, NamedNode(f"https://huggingface.co/{repo}"))
            self.add(v, JLLM.variantOf, s)
            self.add(s, JLLM.hasVariant, v)
        if rec.get("parent"):
            self.derivation(s, self.iris.model(str(rec["parent"])), [], raw=None)
        if rec.get("series"):
            self.add(s, JLLM.series, self.iris.model(str(rec["series"])))

    def architecture(self, rec: Record) -> None:
        s = self.iris.architecture(str(rec["id"]))
        self.begin(self.iris.graph("architecture", str(rec["id"])), s, rec)
        self._registry_common(s, rec, JLLM.Architecture)
        self.label(s, rec.get("labels"), (SKOS.prefLabel,))
        if rec.get("parent"):
            self.add(s, JLLM.parentArchitecture, self.iris.architecture(str(rec["parent"])))

    def training_method(self, rec: Record) -> None:
        s = self.iris.method(str(rec["id"]))
        self.begin(self.iris.graph("method", str(rec["id"])), s, rec)
        self._registry_common(s, rec, JLLM.TrainingMethod)
        self.label(s, rec.get("labels"), (SKOS.prefLabel,))
        cls = STAGE_CLASSES.get(str(rec.get("kind")))
        if cls:
            self.add(s, JLLM.activityClass, jllm_term(cls))
        if rec.get("parent"):
            self.add(s, SKOS.broader, self.iris.method(str(rec["parent"])))

    def minted(self, kind: str, rec: Record) -> None:
        """An entity minted by the importer for a name no registry knows."""
        mid = str(rec["id"])
        targets = {
            "dataset": (self.iris.dataset, "dataset", JLLM.Dataset),
            "organisation": (self.iris.organisation, "org", SCHEMA.Organization),
            "licence": (lambda i: self.licence_iri(i), "licence", JLLM.Licence),
            "foundation_model": (self.iris.model, "model", JLLM.FoundationModel),
            "architecture": (self.iris.architecture, "architecture", JLLM.Architecture),
            "training_method": (self.iris.method, "method", JLLM.TrainingMethod),
        }
        key = kind.replace("-", "_")
        if key not in targets and key.endswith("s"):
            key = key[:-1]
        if key not in targets:
            return
        make, segment, cls = targets[key]
        s = make(mid)
        self.begin(self.iris.graph(segment, mid), s, rec)
        self.common(s, rec, cls)
        if cls == SCHEMA.Organization:
            for extra in (ORG.Organization, FOAF.Organization, PROV.Organization, PROV.Agent, FOAF.Agent):
                self.add(s, TYPE, extra)
        self.label(s, str(rec.get("name") or mid))
        self.add(s, JLLM.minted, boolean(True))
        for seen in rec.get("seen_in") or []:
            self.add(s, JLLM.seenIn, text(seen))

    # -- papers and benchmarks
    def paper(self, rec: Record) -> None:
        s = self.iris.paper(str(rec["id"]))
        self.begin(self.iris.graph(*s.value[len(self.iris.base):].split("/")), s, rec)
        self.common(s, rec, FABIO.ResearchPaper)
        self.add(s, TYPE, SCHEMA.ScholarlyArticle)
        title = rec.get("title")
        if title:
            for p in (RDFS.label, SCHEMA.name, DCTERMS.title):
                self.add(s, p, text(title))
        link = self.url(rec.get("url"))
        if link is not None:
            self.add(s, SCHEMA.url, link)
        if rec.get("arxiv"):
            self.add(s, FABIO.hasArXivId, text(rec["arxiv"]))
        if rec.get("date"):
            date = Literal(str(rec["date"]), datatype=XSD.date)
            self.add(s, DCTERMS.date, date)
            self.add(s, SCHEMA.datePublished, date)
        self.add(s, JLLM.venue, rec.get("venue"))
        intro = rec.get("introduces") or {}
        if isinstance(intro, dict) and intro.get("id"):
            target = (self.iris.method if rec.get("table") == "training-methods" else self.iris.architecture)(str(intro["id"]))
            self.add(s, JLLM.introduces, target)
            self.add(target, JLLM.introducedIn, s)
        if isinstance(intro, dict) and intro.get("raw"):
            self.add(s, JLLM.rawText, text(intro["raw"]))
        for key, raw in (rec.get("cells") or {}).items():
            self.cell(s, str(key), raw)

    def benchmark(self, rec: Record) -> None:
        s = self.iris.benchmark(str(rec["id"]))
        self.begin(self.iris.graph("benchmark", str(rec["id"])), s, rec)
        self.common(s, rec, JLLM.Benchmark)
        self.label(s, rec.get("names"))
        link = self.url(rec.get("url"))
        if link is not None:
            self.add(s, SCHEMA.url, link)
        for dev in (rec.get("developers") or {}).get("ids") or []:
            self.add(s, JLLM.developer, self.iris.organisation(str(dev)))
        if (rec.get("developers") or {}).get("raw"):
            self.cell(s, "developer", rec["developers"]["raw"])
        if rec.get("category"):
            self.add(s, JLLM.section, self.iris.section(str(rec["category"])))
        if rec.get("section"):
            self.add(s, RDFS.seeAlso, NamedNode(upstream_url("README.ja.md", self.cat.commit, None, self.cat.upstream_paths).value + "#" + str(rec["section"])))
        for item in rec.get("includes") or []:
            name = item.get("name") if isinstance(item, dict) else item
            target = self.benchmark_ids.get(str(item.get("benchmark"))) if isinstance(item, dict) else None
            if target:
                self.add(s, JLLM.includes, self.iris.benchmark(target))
            elif name:
                t = self.iris.task(s, str(name))
                self.add(t, TYPE, JLLM.BenchmarkTask)
                self.label(t, str(name))
                self.add(s, JLLM.includes, t)
        for key, raw in (rec.get("cells") or {}).items():
            self.cell(s, str(key), raw)
        self.add(s, JLLM.questionCount, integer(rec.get("questions")))
        for other in rec.get("links") or []:
            link = self.url(other)
            if link is not None:
                self.add(s, RDFS.seeAlso, link)

    # -- model families
    def cell(self, owner: NamedNode, key: str, raw: object, extra: bool = False) -> None:
        from graph.rdf.iris import slug

        c = NamedNode(f"{owner.value}/cell/{slug(key) if extra else key}")
        self.add(c, TYPE, JLLM.SourceCell)
        self.add(c, RDFS.label, text(f"{key}"))
        self.add(c, JLLM.columnKey, text(key))
        self.add(c, JLLM.rawText, text(raw if raw is not None else ""))
        self.add(owner, JLLM.sourceCell, c)

    def family(self, rec: Record) -> None:
        fid = str(rec["id"])
        f = self.iris.model(fid)
        self.begin(self.iris.graph("model", fid), f, rec)
        self.common(f, rec, JLLM.ModelFamily)
        names = rec.get("names") or {}
        self.label(f, names)
        home = self.url(rec.get("homepage"))
        if home is not None:
            self.add(f, FOAF.homepage, home)
            self.add(f, SCHEMA.url, home)
        self.add(f, JLLM.section, self.iris.section(str(rec["section"])))
        for aid in (rec.get("architecture") or {}).get("ids") or []:
            self.add(f, JLLM.architecture, self.iris.architecture(str(aid)))
        domain = rec.get("domain") or {}
        for lang in LANGS:
            if domain.get(lang):
                self.add(f, JLLM.domain, Literal(str(domain[lang]), language=lang))
        for dev in (rec.get("developers") or {}).get("ids") or []:
            self.add(f, JLLM.developer, self.iris.organisation(str(dev)))
        for value in (rec.get("licences") or {}).get("values") or []:
            if value.get("id"):
                self.add(f, JLLM.licence, self.licence_iri(str(value["id"])))
        for value in (rec.get("context_length") or {}).get("values") or []:
            if not value.get("applies_to"):
                self.add(f, JLLM.contextLength, integer(value.get("value")))
        for note in rec.get("footnotes") or []:
            self.add(f, JLLM.footnote, text(note))
        if rec.get("release_year"):
            self.add(f, JLLM.releaseYear, Literal(f"{int(rec['release_year']):04d}", datatype=XSD.gYear))
        for platform in rec.get("platforms") or []:
            self.add(f, JLLM.platform, text(platform))
        mark = (rec.get("hf_available") or {}).get("mark")
        if mark in HF_MARKS:
            self.add(f, JLLM.hfAvailability, jllm_term(HF_MARKS[mark]))

        # `direct: false` marks an ancestor named in the base-model column whose direct
        # descendant is another catalog model (houou-7b: Llama 2 via Youri 7B): not a base.
        bases = [b for b in rec.get("base_models") or []
                 if isinstance(b, dict) and b.get("id") and b.get("direct", True) is not False]
        stages = self.stages(f, names, (rec.get("training") or {}).get("stages") or [], derived=bool(bases))
        for base in bases:
            acts = stages or self.kind_activity(f, names, base.get("kind"))
            self.derivation(f, self.iris.model(str(base["id"])), acts, raw=base.get("raw"))

        variants = [v for v in rec.get("variants") or [] if isinstance(v, dict) and v.get("repo")]
        for v in variants:
            self.variant(f, v, stages)
        roots = [v for v in variants if not v.get("derived_from")]
        for base in bases:
            if base.get("variant"):
                for v in roots:
                    self.derivation(self.iris.variant(str(v["repo"])), self.iris.variant(str(base["variant"])),
                                    stages, raw=base.get("raw"))

        for key, raw in (rec.get("cells") or {}).items():
            self.cell(f, str(key), raw)
        for key, raw in (rec.get("extra_columns") or {}).items():
            self.cell(f, str(key), raw, extra=True)

    def stages(self, model: NamedNode, names: dict, stages: list, derived: bool) -> list[tuple[str, NamedNode]]:
        """Training stages of ``model`` as activities; returns (kind, stage IRI) pairs."""
        made = []
        for n, stage in enumerate((s for s in stages if isinstance(s, dict)), start=1):
            kind = str(stage.get("kind") or "")
            if kind == "pre-training" and derived:
                kind = "continual-pre-training"  # pre-training on top of a base model
            s = self.iris.stage(model, n)
            self.add(s, TYPE, JLLM.TrainingStage)
            cls = STAGE_CLASSES.get(kind)
            if cls:
                self.add(s, TYPE, jllm_term(cls))
            for lang in LANGS:
                if names.get(lang):
                    self.add(s, RDFS.label, Literal(f"{names[lang]} — {n}. {self.kind_label(kind, lang)}", language=lang))
            self.add(s, JLLM.stageOrder, integer(n))
            if stage.get("method"):
                self.add(s, JLLM.method, self.iris.method(str(stage["method"])))
            self.add(s, JLLM.rawText, stage.get("raw"))
            self.add(s, JLLM.tokens, integer(stage.get("tokens")))
            self.add(s, JLLM.appliesTo, stage.get("applies_to"))
            for m, use in enumerate((d for d in stage.get("datasets") or [] if isinstance(d, dict)), start=1):
                u = NamedNode(f"{s.value}/usage/{m}")
                self.add(u, TYPE, PROV.Usage)
                self.add(s, PROV.qualifiedUsage, u)
                self.add(u, JLLM.rawText, use.get("raw"))
                self.add(u, JLLM.tokens, integer(use.get("tokens")))
                if use.get("id"):
                    d = self.iris.dataset(str(use["id"]))
                    self.add(u, PROV.entity, d)
                    self.add(s, PROV.used, d)
                    self.add(model, FAIR4ML.trainedOn, d)
            self.add(model, JLLM.trainingStage, s)
            made.append((kind, s))
        return made

    def kind_activity(self, model: NamedNode, names: dict, kind: object) -> list[tuple[str, NamedNode]]:
        """An activity of the given stage kind, when a derivation's kind is known but no stage is."""
        cls = STAGE_CLASSES.get(str(kind))
        if not cls:
            return []
        act = self.iris.stage(model, 0)
        self.add(act, TYPE, JLLM.TrainingStage)
        self.add(act, TYPE, jllm_term(cls))
        for lang in LANGS:
            if names.get(lang):
                self.add(act, RDFS.label, Literal(f"{names[lang]} — {self.kind_label(str(kind), lang)}", language=lang))
        self.add(model, JLLM.trainingStage, act)
        return [(str(kind), act)]

    def derivation(self, model: NamedNode, source: NamedNode, activities: list[tuple[str, NamedNode]],
                   raw: object, inferred: bool | None = None) -> None:
        """``model jllm:baseModel source`` plus its PROV qualified derivation."""
        self.add(model, JLLM.baseModel, source)
        d = self.iris.derivation(model, source)
        self.add(d, TYPE, PROV.Derivation)
        self.add(d, RDFS.label, text(f"{model.value.rsplit('/', 1)[-1]} ← {source.value.rsplit('/', 1)[-1]}"))
        self.add(d, PROV.entity, source)
        for _, act in activities:
            self.add(d, PROV.hadActivity, act)
        self.add(d, JLLM.rawText, raw)
        if inferred is not None:
            self.add(d, JLLM.inferred, boolean(inferred))
        self.add(model, PROV.qualifiedDerivation, d)

    def variant(self, family: NamedNode, rec: dict, stages: list[tuple[str, NamedNode]]) -> None:
        repo = str(rec["repo"])
        v = self.iris.variant(repo)
        self.add(v, TYPE, JLLM.ModelVariant)
        self.label(v, repo)
        self.add(v, DCTERMS.identifier, text(repo))
        if rec.get("label"):
            self.add(v, SKOS.altLabel, text(rec["label"]))
        self.add(v, JLLM.hfRepository, text(repo))
        link = self.url(rec.get("url")) or NamedNode(f"https://huggingface.co/{repo}")
        self.add(v, SCHEMA.url, link)
        self.add(v, JLLM.variantOf, family)
        self.add(family, JLLM.hasVariant, v)
        size = rec.get("size") or {}
        self.add(v, JLLM.parametersBillions, decimal(size.get("params_b")))
        self.add(v, JLLM.actualParametersBillions, decimal(size.get("actual_params_b")))
        self.add(v, JLLM.contextLength, integer(rec.get("context_length")))
        if rec.get("licence"):
            self.add(v, JLLM.licence, self.licence_iri(str(rec["licence"])))
        for src in rec.get("derived_from") or []:
            if not isinstance(src, dict) or not src.get("variant"):
                continue
            kind = str(src.get("kind") or "")
            acts = [(k, s) for k, s in stages if kind and (k == kind or k.startswith(kind + "-"))]
            if not acts and kind:
                act = NamedNode(f"{v.value}/stage/1")
                self.add(act, TYPE, JLLM.TrainingStage)
                if STAGE_CLASSES.get(kind):
                    self.add(act, TYPE, jllm_term(STAGE_CLASSES[kind]))
                self.add(act, RDFS.label, text(f"{repo} — {kind}"))
                self.add(v, JLLM.trainingStage, act)
                acts = [(kind, act)]
            self.derivation(v, self.iris.variant(str(src["variant"])), acts, raw=None,
                            inferred=bool(src.get("inferred")))


def catalog_quads(catalog: Catalog, iris: Iris) -> list[Quad]:
    """All quads of the graph built from ``catalog`` (ontology and provenance included)."""
    return Mapper(catalog, iris).quads()
