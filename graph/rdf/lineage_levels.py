"""Lineage levels, written at build time: how many derivation steps separate a model from a root.

A model's level is the length of its longest ``jllm:baseModel`` chain to a model with no base
(foundation models without a parent are 0). The ``descendants`` canned query reads the depth of
a descendant under a model as the difference of their levels — one lookup per row instead of a
walk up the chain, so a page of a lineage with tens of thousands of descendants costs the same as
a page of a small one. On a lineage tree the difference is the length of the chain; where a
model merges several bases it is the longest chain through any of them.

The levels are computed from the ``jllm:baseModel`` edges (one Python entry per model: the only
per-model structure the build keeps) and stored in ``<base>graph/lineage``. The build reads the edges
from the lists its mapping children write (:func:`base_links_in`); :func:`base_links` reads them from a store.
"""
from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path

from pyoxigraph import Literal, NamedNode, Quad, Store

from graph.rdf.iris import Iris
from graph.rdf.vocab import JLLM, XSD


def levels(bases: dict[str, list[str]]) -> dict[str, int]:
    """Level of every model of ``bases`` (model → its base models); a cycle counts its back edge as a root.

    >>> sorted(levels({"b": ["a"], "c": ["b", "a"], "d": ["c"]}).items())
    [('a', 0), ('b', 1), ('c', 2), ('d', 3)]
    """
    level: dict[str, int] = {}
    on_path: set[str] = set()
    for start in bases:
        if start in level:
            continue
        stack = [(start, iter(bases.get(start, ())))]
        on_path.add(start)
        while stack:
            node, todo = stack[-1]
            for base in todo:
                if base not in level and base not in on_path:
                    on_path.add(base)
                    stack.append((base, iter(bases.get(base, ()))))
                    break
            else:
                stack.pop()
                on_path.discard(node)
                level[node] = max((level[b] + 1 for b in bases.get(node, ()) if b in level), default=0)
    return level


def _grouped(links: Iterable[tuple[str, str]]) -> dict[str, list[str]]:
    """``(child, base)`` pairs as child → its bases, sorted and without repeats."""
    bases: dict[str, list[str]] = {}
    for child, base in links:
        bases.setdefault(child, []).append(base)
    return {child: sorted(set(targets)) for child, targets in bases.items()}


def base_links(store: Store) -> dict[str, list[str]]:
    """Model IRI → the IRIs of its base models (``jllm:baseModel``), sorted, read once for the build's lineage facts."""
    return _grouped((q.subject.value, q.object.value) for q in store.quads_for_pattern(None, JLLM.baseModel, None, None)
                    if isinstance(q.subject, NamedNode) and isinstance(q.object, NamedNode))


def base_links_in(paths: Iterable[Path]) -> dict[str, list[str]]:
    """:func:`base_links` from the lists the build's mapping children write (``child<TAB>base`` per line,
    :func:`graph.rdf.nquads.side_lines`): the same links, without reading back every IRI's text from the engine."""
    def links() -> Iterator[tuple[str, str]]:
        for path in paths:
            with open(path, encoding="utf-8") as lines:
                for line in lines:
                    child, _, base = line.rstrip("\n").partition("\t")
                    yield child, base

    return _grouped(links())


def level_quads(store: Store, iris: Iris, bases: dict[str, list[str]] | None = None) -> Iterator[Quad]:
    """``<model> jllm:lineageLevel n`` for every model with a base or a descendant, in ``<base>graph/lineage``
    (``bases``: :func:`base_links` of ``store``, if already read)."""
    graph = iris.graph("lineage")
    for model, level in levels(base_links(store) if bases is None else bases).items():
        yield Quad(NamedNode(model), JLLM.lineageLevel, Literal(str(level), datatype=XSD.integer), graph)
