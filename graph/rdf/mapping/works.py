"""Papers and benchmarks → quads, and the raw table cells kept on any entity."""
from __future__ import annotations

from collections.abc import Iterator

from pyoxigraph import NamedNode, Quad

from graph.catalog import Record
from graph.rdf.iris import slug
from graph.rdf.mapping.terms import Context, Fact, common, entity, integer, labels, text, typed, url
from graph.rdf.vocab import DCTERMS, FABIO, JLLM, RDFS, SCHEMA, TYPE, XSD


def cell(owner: NamedNode, key: str, raw: object, extra: bool = False) -> Iterator[Fact]:
    """A raw table cell of ``owner`` as written upstream (``extra``: a column import did not know)."""
    c = NamedNode(f"{owner.value}/cell/{slug(key) if extra else key}")
    yield c, TYPE, JLLM.SourceCell
    yield c, RDFS.label, text(f"{key}")
    yield c, JLLM.columnKey, text(key)
    yield c, JLLM.rawText, text(raw if raw is not None else "")
    yield owner, JLLM.sourceCell, c


def paper(rec: Record, ctx: Context) -> Iterator[Quad]:
    """A paper of ``papers.yaml`` and what it introduces (an architecture or a training method)."""
    s = ctx.iris.paper(str(rec["id"]))

    def facts() -> Iterator[Fact]:
        yield from common(s, rec, FABIO.ResearchPaper)
        yield s, TYPE, SCHEMA.ScholarlyArticle
        title = rec.get("title")
        if title:
            for p in (RDFS.label, SCHEMA.name, DCTERMS.title):
                yield s, p, text(title)
        yield s, SCHEMA.url, url(rec.get("url"))
        if rec.get("arxiv"):
            yield s, FABIO.hasArXivId, text(rec["arxiv"])
        if rec.get("date"):
            date = typed(str(rec["date"]), XSD.date)
            yield s, DCTERMS.date, date
            yield s, SCHEMA.datePublished, date
        yield s, JLLM.venue, rec.get("venue")
        intro = rec.get("introduces") or {}
        if isinstance(intro, dict) and intro.get("id"):
            target = (ctx.iris.method if rec.get("table") == "training-methods" else ctx.iris.architecture)(str(intro["id"]))
            yield s, JLLM.introduces, target
            yield target, JLLM.introducedIn, s
        if isinstance(intro, dict) and intro.get("raw"):
            yield s, JLLM.rawText, text(intro["raw"])
        for key, raw in (rec.get("cells") or {}).items():
            yield from cell(s, str(key), raw)
    return entity(ctx.iris.graph(*s.value[len(ctx.iris.base):].split("/")), s, rec, ctx, facts())


def benchmark(rec: Record, ctx: Context) -> Iterator[Quad]:
    """A benchmark of ``benchmarks.yaml``, its tasks (or included benchmarks), developers and links."""
    bid = str(rec["id"])
    s = ctx.iris.benchmark(bid)

    def facts() -> Iterator[Fact]:
        yield from common(s, rec, JLLM.Benchmark)
        yield from labels(s, rec.get("names"))
        yield s, SCHEMA.url, url(rec.get("url"))
        developers = rec.get("developers") or {}
        for dev in developers.get("ids") or []:
            yield s, JLLM.developer, ctx.iris.organisation(str(dev))
        if developers.get("raw"):
            yield from cell(s, "developer", developers["raw"])
        if rec.get("category"):
            yield s, JLLM.section, ctx.iris.section(str(rec["category"]))
        if rec.get("section"):
            yield s, RDFS.seeAlso, NamedNode(ctx.upstream("README.ja.md").value + "#" + str(rec["section"]))
        for item in rec.get("includes") or []:
            name = item.get("name") if isinstance(item, dict) else item
            target = ctx.benchmark_ids.get(str(item.get("benchmark"))) if isinstance(item, dict) else None
            if target:
                yield s, JLLM.includes, ctx.iris.benchmark(target)
            elif name:
                t = ctx.iris.task(s, str(name))
                yield t, TYPE, JLLM.BenchmarkTask
                yield from labels(t, str(name))
                yield s, JLLM.includes, t
        for key, raw in (rec.get("cells") or {}).items():
            yield from cell(s, str(key), raw)
        yield s, JLLM.questionCount, integer(rec.get("questions"))
        for other in rec.get("links") or []:
            yield s, RDFS.seeAlso, url(other)
    return entity(ctx.iris.graph("benchmark", bid), s, rec, ctx, facts())
