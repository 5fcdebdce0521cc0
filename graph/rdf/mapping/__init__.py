"""Catalog → RDF quads, one function per entity type.

Every catalog entity gets its own named graph (``<base>graph/model/swallow-7b``); the graph is
described in ``<base>graph/provenance`` (catalog file and line, upstream README line at the
upstream commit). The ontology goes to ``<base>graph/ontology``. Superclass types and
superproperty triples of the ontology (``prov:wasDerivedFrom``, ``schema:isBasedOn``, …) are
written out, so plain SPARQL finds them without inference.

The functions are pure: each takes one :class:`~graph.catalog.Record` and the build's
:class:`Context` and yields quads —

=================  ==============================================
entity type        function
=================  ==============================================
section            :func:`~graph.rdf.mapping.registries.section`
registry entries   :data:`~graph.rdf.mapping.registries.REGISTRIES`
minted entities    :func:`~graph.rdf.mapping.registries.minted`
paper, benchmark   :func:`~graph.rdf.mapping.works.paper`, :func:`~graph.rdf.mapping.works.benchmark`
model family       :func:`~graph.rdf.mapping.families.family`
=================  ==============================================

:func:`entity_batches` runs them over a catalog, one entity at a time (the build streams
these into the store); :func:`catalog_quads` collects every distinct quad (small catalogs, tests).
"""
from __future__ import annotations

from collections.abc import Iterable, Iterator

from pyoxigraph import Quad

from graph.catalog import Catalog, Record
from graph.rdf.iris import Iris
from graph.rdf.mapping.families import family
from graph.rdf.mapping.ontology import ONTOLOGY_FILE, Entailment, ontology_triples
from graph.rdf.mapping.registries import REGISTRIES, minted, section
from graph.rdf.mapping.terms import Context, boolean, decimal, integer, text
from graph.rdf.mapping.works import benchmark, paper

__all__ = ["ONTOLOGY_FILE", "Context", "Entailment", "boolean", "catalog_quads", "decimal", "entity_batches",
           "integer", "ontology_triples", "text"]


def entity_batches(catalog: Catalog, iris: Iris, families: Iterable[Record] | None = None,
                   rest: bool = True) -> Iterator[list[Quad]]:
    """The quads of the dataset, one list per entity: the ontology first, then sections, registries,
    minted entities, papers, benchmarks and model families, entailments written out.

    ``families`` defaults to ``catalog.families`` (pass :func:`graph.catalog.iter_families` to
    read them lazily); with ``rest=False``, only theirs (a build split across processes maps the
    rest once). A quad may come in more than one batch (or twice in one); a store keeps it once.
    """
    onto = ontology_triples()
    ctx = Context.of(catalog, iris, onto)
    expand = Entailment(onto).expand
    if rest:
        yield from _rest(catalog, iris, ctx, onto, expand)
    for rec in (catalog.families if families is None else families):
        yield list(expand(family(rec, ctx)))


def _rest(catalog: Catalog, iris: Iris, ctx: Context, onto: list, expand) -> Iterator[list[Quad]]:
    """Everything but the model families: the ontology, sections, registries, minted entities, papers, benchmarks."""
    graph = iris.graph("ontology")
    yield [Quad(t.subject, t.predicate, t.object, graph) for t in onto]
    for n, rec in enumerate(catalog.sections):
        yield list(expand(section(rec, ctx, first=n == 0)))
    for kind, records in catalog.registries.items():
        mapper = REGISTRIES[kind]
        for rec in records:
            yield list(expand(mapper(rec, ctx)))
    for kind, records in catalog.minted.items():
        for rec in records:
            yield list(expand(minted(kind, rec, ctx)))
    for rec in catalog.papers:
        yield list(expand(paper(rec, ctx)))
    for rec in catalog.benchmarks:
        yield list(expand(benchmark(rec, ctx)))


def catalog_quads(catalog: Catalog, iris: Iris) -> list[Quad]:
    """Every distinct quad of the graph built from ``catalog`` (ontology and provenance included)."""
    return list(dict.fromkeys(q for batch in entity_batches(catalog, iris) for q in batch))
