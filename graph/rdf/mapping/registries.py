"""Sections and the curated registries (and the entities import minted for unknown names) → quads.

One function per entity type; each takes a :class:`~graph.catalog.Record` and the build's
:class:`~graph.rdf.mapping.terms.Context` and yields the entity's quads.
"""
from __future__ import annotations

from collections.abc import Callable, Iterator

from pyoxigraph import NamedNode, Quad

from graph.catalog import Record
from graph.rdf.iris import ontology as jllm_term
from graph.rdf.mapping.lineage import derivation
from graph.rdf.mapping.terms import Context, Fact, boolean, common, entity, integer, labels, text, url
from graph.rdf.vocab import (DCTERMS, FOAF, JLLM, ORG, PROV, RDFS, SCHEMA, SKOS, STAGE_CLASSES, TYPE)


def section(rec: Record, ctx: Context, first: bool = False) -> Iterator[Quad]:
    """A catalog section (a SKOS concept); the ``first`` one also describes the concept scheme."""
    sid = str(rec["id"])
    s, scheme = ctx.iris.section(sid), ctx.iris.sections()

    def facts() -> Iterator[Fact]:
        if first:
            yield scheme, TYPE, SKOS.ConceptScheme
            yield from labels(scheme, {"ja": "awesome-japanese-llm の節", "en": "Sections of awesome-japanese-llm",
                                       "fr": "Sections d'awesome-japanese-llm"})
        yield from common(s, rec, JLLM.CatalogSection)
        yield from labels(s, rec.get("titles"), (SKOS.prefLabel,))
        yield s, SKOS.notation, text(sid)
        yield s, SKOS.inScheme, scheme
        if rec.get("parent"):
            yield s, SKOS.broader, ctx.iris.section(str(rec["parent"]))
        else:
            yield s, SKOS.topConceptOf, scheme
        yield s, JLLM.sectionKind, rec.get("kind")
        if rec.get("domain_specific") is not None:
            yield s, JLLM.domainSpecific, boolean(bool(rec["domain_specific"]))
        yield s, JLLM.level, integer(rec.get("level"))
    return entity(ctx.iris.graph("section", sid), s, rec, ctx, facts())


def _registry_common(s: NamedNode, rec: Record, cls: NamedNode) -> Iterator[Fact]:
    yield from common(s, rec, cls)
    yield from labels(s, rec.get("labels"))
    for alias in rec.get("aliases") or []:
        yield s, SKOS.altLabel, text(alias)
    home = url(rec.get("url"))
    if home is not None:
        yield s, SCHEMA.url, home
        yield s, FOAF.homepage, home


def dataset(rec: Record, ctx: Context) -> Iterator[Quad]:
    """A curated dataset."""
    did = str(rec["id"])
    s = ctx.iris.dataset(did)

    def facts() -> Iterator[Fact]:
        yield from _registry_common(s, rec, JLLM.Dataset)
        if rec.get("part_of"):
            yield s, JLLM.partOf, ctx.iris.dataset(str(rec["part_of"]))
        lang = rec.get("language")
        if lang:
            code = "mul" if lang == "multi" else str(lang)
            yield s, DCTERMS.language, text(code)
            yield s, SCHEMA.inLanguage, text(code)
    return entity(ctx.iris.graph("dataset", did), s, rec, ctx, facts())


def organisation(rec: Record, ctx: Context) -> Iterator[Quad]:
    """A curated organisation or person (``type: person``)."""
    oid = str(rec["id"])
    s = ctx.iris.organisation(oid)
    person = rec.get("type") == "person"

    def facts() -> Iterator[Fact]:
        classes = (SCHEMA.Person, FOAF.Person, PROV.Person) if person else (
            SCHEMA.Organization, ORG.Organization, FOAF.Organization, PROV.Organization)
        yield from _registry_common(s, rec, classes[0])
        for cls in (*classes[1:], PROV.Agent, FOAF.Agent):
            yield s, TYPE, cls
        if rec.get("parent"):
            parent = ctx.iris.organisation(str(rec["parent"]))
            if person:
                yield s, SCHEMA.affiliation, parent
                yield s, ORG.memberOf, parent
            else:
                yield s, ORG.subOrganizationOf, parent
                yield s, SCHEMA.parentOrganization, parent
        yield s, JLLM.scholarProfile, url(rec.get("scholar"))
    return entity(ctx.iris.graph("org", oid), s, rec, ctx, facts())


def licence(rec: Record, ctx: Context) -> Iterator[Quad]:
    """A curated licence (SPDX licences keep SPDX's IRI)."""
    lid = str(rec["id"])
    s = ctx.licence(lid)

    def facts() -> Iterator[Fact]:
        yield from _registry_common(s, rec, JLLM.Licence)
        if rec.get("commercial_use") is not None:
            yield s, JLLM.commercialUse, boolean(bool(rec["commercial_use"]))
        if rec.get("spdx"):
            yield s, RDFS.seeAlso, NamedNode(f"https://spdx.org/licenses/{lid}.html")
    return entity(ctx.iris.graph("licence", lid), s, rec, ctx, facts())


def foundation_model(rec: Record, ctx: Context) -> Iterator[Quad]:
    """A curated foundation model, its Hugging Face repos as variants, its parent and series."""
    mid = str(rec["id"])
    s = ctx.iris.model(mid)

    def facts() -> Iterator[Fact]:
        yield from _registry_common(s, rec, JLLM.FoundationModel)
        if rec.get("developer"):
            yield s, JLLM.developer, ctx.iris.organisation(str(rec["developer"]))
        if rec.get("architecture"):
            yield s, JLLM.architecture, ctx.iris.architecture(str(rec["architecture"]))
        if rec.get("paper"):
            yield s, JLLM.paper, ctx.iris.paper(str(rec["paper"]))
        for repo in rec.get("hf") or []:
            v = ctx.iris.variant(str(repo))
            yield v, TYPE, JLLM.ModelVariant
            yield from labels(v, str(repo))
            yield v, JLLM.hfRepository, text(repo)
            yield v, SCHEMA.url, NamedNode(f"https://huggingface.co/{repo}")
            yield v, JLLM.variantOf, s
            yield s, JLLM.hasVariant, v
        if rec.get("parent"):
            yield from derivation(ctx, s, ctx.iris.model(str(rec["parent"])), [], raw=None)
        if rec.get("series"):
            yield s, JLLM.series, ctx.iris.model(str(rec["series"]))
    return entity(ctx.iris.graph("model", mid), s, rec, ctx, facts())


def architecture(rec: Record, ctx: Context) -> Iterator[Quad]:
    """A curated architecture (a SKOS concept too)."""
    aid = str(rec["id"])
    s = ctx.iris.architecture(aid)

    def facts() -> Iterator[Fact]:
        yield from _registry_common(s, rec, JLLM.Architecture)
        yield from labels(s, rec.get("labels"), (SKOS.prefLabel,))
        if rec.get("parent"):
            yield s, JLLM.parentArchitecture, ctx.iris.architecture(str(rec["parent"]))
    return entity(ctx.iris.graph("architecture", aid), s, rec, ctx, facts())


def training_method(rec: Record, ctx: Context) -> Iterator[Quad]:
    """A curated training method, with the activity class of its stage kind."""
    mid = str(rec["id"])
    s = ctx.iris.method(mid)

    def facts() -> Iterator[Fact]:
        yield from _registry_common(s, rec, JLLM.TrainingMethod)
        yield from labels(s, rec.get("labels"), (SKOS.prefLabel,))
        cls = STAGE_CLASSES.get(str(rec.get("kind")))
        if cls:
            yield s, JLLM.activityClass, jllm_term(cls)
        if rec.get("parent"):
            yield s, SKOS.broader, ctx.iris.method(str(rec["parent"]))
    return entity(ctx.iris.graph("method", mid), s, rec, ctx, facts())


#: Registry kind (:data:`graph.catalog.REGISTRY_FILES`) → its mapping function.
REGISTRIES: dict[str, Callable[[Record, Context], Iterator[Quad]]] = {
    "dataset": dataset, "organisation": organisation, "licence": licence,
    "foundation_model": foundation_model, "architecture": architecture, "training_method": training_method,
}

_MINTED_ORG_TYPES = (ORG.Organization, FOAF.Organization, PROV.Organization, PROV.Agent, FOAF.Agent)


def _minted_target(kind: str, ctx: Context) -> tuple[Callable[[str], NamedNode], str, NamedNode] | None:
    key = kind.replace("-", "_")
    if key.endswith("s") and key[:-1] in REGISTRIES:
        key = key[:-1]
    return {
        "dataset": (ctx.iris.dataset, "dataset", JLLM.Dataset),
        "organisation": (ctx.iris.organisation, "org", SCHEMA.Organization),
        "licence": (ctx.licence, "licence", JLLM.Licence),
        "foundation_model": (ctx.iris.model, "model", JLLM.FoundationModel),
        "architecture": (ctx.iris.architecture, "architecture", JLLM.Architecture),
        "training_method": (ctx.iris.method, "method", JLLM.TrainingMethod),
    }.get(key)


def minted(kind: str, rec: Record, ctx: Context) -> Iterator[Quad]:
    """An entity import minted for a name no registry knows (``minted.yaml``); unknown kinds give nothing."""
    target = _minted_target(kind, ctx)
    if target is None:
        return iter(())
    make, segment, cls = target
    mid = str(rec["id"])
    s = make(mid)

    def facts() -> Iterator[Fact]:
        yield from common(s, rec, cls)
        if cls == SCHEMA.Organization:
            for extra in _MINTED_ORG_TYPES:
                yield s, TYPE, extra
        yield from labels(s, str(rec.get("name") or mid))
        yield s, JLLM.minted, boolean(True)
        for seen in rec.get("seen_in") or []:
            yield s, JLLM.seenIn, text(seen)
    return entity(ctx.iris.graph(segment, mid), s, rec, ctx, facts())
