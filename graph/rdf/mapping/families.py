"""Model families (the rows of ``models/*.yaml``) and their variants → quads."""
from __future__ import annotations

from collections.abc import Iterator

from pyoxigraph import Literal, NamedNode, Quad

from graph.catalog import Record
from graph.rdf.iris import ontology as jllm_term
from graph.rdf.mapping.lineage import Activity, derivation, kind_activity, stage_facts
from graph.rdf.mapping.terms import LANGS, Context, Fact, common, decimal, entity, integer, labels, text, typed, url
from graph.rdf.mapping.works import cell
from graph.rdf.vocab import DCTERMS, FOAF, HF_MARKS, JLLM, RDFS, SCHEMA, SKOS, STAGE_CLASSES, TYPE, XSD


def family(rec: Record, ctx: Context) -> Iterator[Quad]:
    """A model family: its facts, training stages, base models, variants and raw cells."""
    fid = str(rec["id"])
    f = ctx.iris.model(fid)
    return entity(ctx.iris.graph("model", fid), f, rec, ctx, _family_facts(f, rec, ctx))


def _family_facts(f: NamedNode, rec: Record, ctx: Context) -> Iterator[Fact]:
    yield from common(f, rec, JLLM.ModelFamily)
    names = rec.get("names") or {}
    yield from labels(f, names)
    home = url(rec.get("homepage"))
    if home is not None:
        yield f, FOAF.homepage, home
        yield f, SCHEMA.url, home
    yield f, JLLM.section, ctx.iris.section(str(rec["section"]))
    for aid in (rec.get("architecture") or {}).get("ids") or []:
        yield f, JLLM.architecture, ctx.iris.architecture(str(aid))
    domain = rec.get("domain") or {}
    for lang in LANGS:
        if domain.get(lang):
            yield f, JLLM.domain, Literal(str(domain[lang]), language=lang)
    for dev in (rec.get("developers") or {}).get("ids") or []:
        yield f, JLLM.developer, ctx.iris.organisation(str(dev))
    for value in (rec.get("licences") or {}).get("values") or []:
        if value.get("id"):
            yield f, JLLM.licence, ctx.licence(str(value["id"]))
    for value in (rec.get("context_length") or {}).get("values") or []:
        if not value.get("applies_to"):
            yield f, JLLM.contextLength, integer(value.get("value"))
    for note in rec.get("footnotes") or []:
        yield f, JLLM.footnote, text(note)
    if rec.get("release_year"):
        yield f, JLLM.releaseYear, typed(f"{int(rec['release_year']):04d}", XSD.gYear)
    for platform in rec.get("platforms") or []:
        yield f, JLLM.platform, text(platform)
    mark = (rec.get("hf_available") or {}).get("mark")
    if mark in HF_MARKS:
        yield f, JLLM.hfAvailability, jllm_term(HF_MARKS[mark])

    # `direct: false` marks an ancestor named in the base-model column whose direct
    # descendant is another catalog model (houou-7b: Llama 2 via Youri 7B): not a base.
    bases = [b for b in rec.get("base_models") or []
             if isinstance(b, dict) and b.get("id") and b.get("direct", True) is not False]
    facts, stages = stage_facts(ctx, f, names, (rec.get("training") or {}).get("stages") or [], derived=bool(bases))
    yield from facts
    for base in bases:
        acts = stages
        if not acts:
            facts, acts = kind_activity(ctx, f, names, base.get("kind"))
            yield from facts
        yield from derivation(ctx, f, ctx.iris.model(str(base["id"])), acts, raw=base.get("raw"))

    variants = [v for v in rec.get("variants") or [] if isinstance(v, dict) and v.get("repo")]
    for v in variants:
        yield from variant(ctx, f, v, stages)
    roots = [v for v in variants if not v.get("derived_from")]
    for base in bases:
        if base.get("variant"):
            for v in roots:
                yield from derivation(ctx, ctx.iris.variant(str(v["repo"])), ctx.iris.variant(str(base["variant"])),
                                      stages, raw=base.get("raw"))

    for key, raw in (rec.get("cells") or {}).items():
        yield from cell(f, str(key), raw)
    for key, raw in (rec.get("extra_columns") or {}).items():
        yield from cell(f, str(key), raw, extra=True)


def variant(ctx: Context, family_iri: NamedNode, rec: dict, stages: list[Activity]) -> Iterator[Fact]:
    """A Hugging Face repository of a family, and its derivations from other variants."""
    repo = str(rec["repo"])
    v = ctx.iris.variant(repo)
    yield v, TYPE, JLLM.ModelVariant
    yield from labels(v, repo)
    yield v, DCTERMS.identifier, text(repo)
    if rec.get("label"):
        yield v, SKOS.altLabel, text(rec["label"])
    yield v, JLLM.hfRepository, text(repo)
    yield v, SCHEMA.url, url(rec.get("url")) or NamedNode(f"https://huggingface.co/{repo}")
    yield v, JLLM.variantOf, family_iri
    yield family_iri, JLLM.hasVariant, v
    size = rec.get("size") or {}
    yield v, JLLM.parametersBillions, decimal(size.get("params_b"))
    yield v, JLLM.actualParametersBillions, decimal(size.get("actual_params_b"))
    yield v, JLLM.contextLength, integer(rec.get("context_length"))
    if rec.get("licence"):
        yield v, JLLM.licence, ctx.licence(str(rec["licence"]))
    for src in rec.get("derived_from") or []:
        if not isinstance(src, dict) or not src.get("variant"):
            continue
        kind = str(src.get("kind") or "")
        acts = [a for a in stages if kind and (a.kind == kind or a.kind.startswith(kind + "-"))]
        if not acts and kind:
            act = NamedNode(f"{v.value}/stage/1")
            yield act, TYPE, JLLM.TrainingStage
            if STAGE_CLASSES.get(kind):
                yield act, TYPE, jllm_term(STAGE_CLASSES[kind])
            yield act, RDFS.label, text(f"{repo} — {kind}")
            yield v, JLLM.trainingStage, act
            acts = [Activity(kind, act)]
        yield from derivation(ctx, v, ctx.iris.variant(str(src["variant"])), acts, raw=None,
                              inferred=bool(src.get("inferred")))
