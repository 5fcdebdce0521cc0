"""Lineage facts shared by foundation models, families and variants: derivations and training stages."""
from __future__ import annotations

from collections.abc import Iterator
from typing import NamedTuple

from pyoxigraph import Literal, NamedNode

from graph.rdf.iris import ontology as jllm_term
from graph.rdf.mapping.terms import LANGS, Context, Fact, boolean, integer, text
from graph.rdf.vocab import FAIR4ML, JLLM, PROV, RDFS, STAGE_CLASSES, TYPE

class Activity(NamedTuple):
    """A training activity: its stage kind, its IRI, and its order among the model's stages (None: unordered)."""

    kind: str
    iri: NamedNode
    order: int | None = None


def stage_summary(ctx: Context, activities: list[Activity]) -> Literal | None:
    """``Continual pre-training + SteerLM``: the English labels of the activities' most specific
    classes, by stage order (activities without an order first), each (order, label) once."""
    items = set()
    for kind, _, order in activities:
        cls = STAGE_CLASSES.get(kind)
        label = ctx.class_labels.get(jllm_term(cls), {}).get("en") if cls else None
        if label:
            items.add((order, label))
    ordered = sorted(items, key=lambda item: (item[0] is not None, item[0] or 0, item[1]))
    return text(" + ".join(label for _, label in ordered)) if ordered else None


def derivation(ctx: Context, model: NamedNode, source: NamedNode, activities: list[Activity],
               raw: object, inferred: bool | None = None) -> Iterator[Fact]:
    """``model jllm:baseModel source`` plus its PROV qualified derivation."""
    yield model, JLLM.baseModel, source
    d = ctx.iris.derivation(model, source)
    yield d, TYPE, PROV.Derivation
    yield d, RDFS.label, text(f"{model.value.rsplit('/', 1)[-1]} ← {source.value.rsplit('/', 1)[-1]}")
    yield d, PROV.entity, source
    for activity in activities:
        yield d, PROV.hadActivity, activity.iri
    yield d, JLLM.stageSummary, stage_summary(ctx, activities)
    yield d, JLLM.rawText, raw
    if inferred is not None:
        yield d, JLLM.inferred, boolean(inferred)
    yield model, PROV.qualifiedDerivation, d


def stage_facts(ctx: Context, model: NamedNode, names: dict, stages: list, derived: bool) -> tuple[list[Fact], list[Activity]]:
    """Training stages of ``model`` as activities: their facts, and the (kind, stage IRI) pairs."""
    out: list[Fact] = []
    made: list[Activity] = []
    for n, stage in enumerate((s for s in stages if isinstance(s, dict)), start=1):
        kind = str(stage.get("kind") or "")
        if kind == "pre-training" and derived:
            kind = "continual-pre-training"  # pre-training on top of a base model
        s = ctx.iris.stage(model, n)
        out.append((s, TYPE, JLLM.TrainingStage))
        cls = STAGE_CLASSES.get(kind)
        if cls:
            out.append((s, TYPE, jllm_term(cls)))
        for lang in LANGS:
            if names.get(lang):
                out.append((s, RDFS.label, Literal(f"{names[lang]} — {n}. {ctx.kind_label(kind, lang)}", language=lang)))
        out.append((s, JLLM.stageOrder, integer(n)))
        if stage.get("method"):
            out.append((s, JLLM.method, ctx.iris.method(str(stage["method"]))))
        out.append((s, JLLM.rawText, stage.get("raw")))
        out.append((s, JLLM.tokens, integer(stage.get("tokens"))))
        out.append((s, JLLM.appliesTo, stage.get("applies_to")))
        for m, use in enumerate((d for d in stage.get("datasets") or [] if isinstance(d, dict)), start=1):
            u = NamedNode(f"{s.value}/usage/{m}")
            out.append((u, TYPE, PROV.Usage))
            out.append((s, PROV.qualifiedUsage, u))
            out.append((u, JLLM.rawText, use.get("raw")))
            out.append((u, JLLM.tokens, integer(use.get("tokens"))))
            if use.get("id"):
                d = ctx.iris.dataset(str(use["id"]))
                out.append((u, PROV.entity, d))
                out.append((s, PROV.used, d))
                out.append((model, FAIR4ML.trainedOn, d))
        out.append((model, JLLM.trainingStage, s))
        made.append(Activity(kind, s, n))
    return out, made


def kind_activity(ctx: Context, model: NamedNode, names: dict, kind: object) -> tuple[list[Fact], list[Activity]]:
    """An activity of the given stage kind, when a derivation's kind is known but no stage is."""
    cls = STAGE_CLASSES.get(str(kind))
    if not cls:
        return [], []
    act = ctx.iris.stage(model, 0)
    out: list[Fact] = [(act, TYPE, JLLM.TrainingStage), (act, TYPE, jllm_term(cls))]
    for lang in LANGS:
        if names.get(lang):
            out.append((act, RDFS.label, Literal(f"{names[lang]} — {ctx.kind_label(str(kind), lang)}", language=lang)))
    out.append((model, JLLM.trainingStage, act))
    return out, [Activity(str(kind), act)]
