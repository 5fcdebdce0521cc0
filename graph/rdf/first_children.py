"""The first children of a hub model, written at build time for the lineage picture.

A model with more than :data:`HUB` models built on it (Llama 2 has 40,000 at 128,000 synthetic
families) gets ``?hub jllm:firstChild ?child`` for its first :data:`FIRST` children in IRI order:
the picture draws the first ones in IRI order, and neither the engine (an ``ORDER BY`` of the
IRIs) nor Python can find them without reading every child. Stored in ``<base>graph/lineage``.
"""
from __future__ import annotations

import heapq
from collections.abc import Iterator

from pyoxigraph import NamedNode, Quad, Store

from graph.rdf.iris import Iris
from graph.rdf.lineage_levels import base_links
from graph.rdf.vocab import JLLM

HUB = 256
"""Models with more children than this are hubs."""
FIRST = 64
"""Children named per hub: enough for the picture's 24 per model, with room for those already drawn elsewhere."""


def first_children(store: Store, hub: int = HUB, first: int = FIRST,
                   bases: dict[str, list[str]] | None = None) -> dict[str, list[str]]:
    """Hub IRI → its first ``first`` children (``jllm:baseModel`` subjects) in IRI order, for models with more than
    ``hub`` (``bases``: :func:`graph.rdf.lineage_levels.base_links` of ``store``, if already read)."""
    children: dict[str, list[str]] = {}
    for child, parents in (base_links(store) if bases is None else bases).items():
        for parent in parents:
            children.setdefault(parent, []).append(child)
    return {parent: heapq.nsmallest(first, kids) for parent, kids in children.items() if len(kids) > hub}


def first_children_quads(store: Store, iris: Iris, bases: dict[str, list[str]] | None = None) -> Iterator[Quad]:
    """``<hub> jllm:firstChild <child>`` for the first children of every hub, in ``<base>graph/lineage``."""
    graph = iris.graph("lineage")
    for parent, kids in sorted(first_children(store, bases=bases).items()):
        for kid in kids:
            yield Quad(NamedNode(parent), JLLM.firstChild, NamedNode(kid), graph)
