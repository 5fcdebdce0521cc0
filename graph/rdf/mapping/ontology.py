"""The ontology's triples, and the superclass/superproperty statements the build writes out."""
from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path

import pyoxigraph as ox
from pyoxigraph import NamedNode, Quad

import ontology
from graph.rdf.vocab import RDFS, TYPE

ONTOLOGY_FILE: Path = ontology.PATH / "jllm.ttl"


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

    def expand(self, quads: Iterable[Quad]) -> Iterator[Quad]:
        """Each quad, followed by the quads it entails by rdfs:subClassOf / rdfs:subPropertyOf."""
        classes, properties = self.classes, self.properties
        for quad in quads:
            yield quad
            p = quad.predicate
            if p == TYPE:
                for sup in classes.get(quad.object, ()):  # type: ignore[arg-type]
                    yield Quad(quad.subject, TYPE, sup, quad.graph_name)
            for sup in properties.get(p, ()):
                yield Quad(quad.subject, sup, quad.object, quad.graph_name)
