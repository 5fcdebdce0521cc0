"""The lineage of a model: its ancestors and descendants along ``jllm:baseModel``, and what of it is drawn.

Generations are counted from the focus model (shortest chain of base-model links): every direct
child of a model sits in the column right after it, even when it also derives from a sibling
(houou-7b from Llama 2 and Youri 7B). To stay readable with hundreds of descendants, at most
:data:`MAX_DEPTH` generations are drawn on each side and at most :data:`MAX_CHILDREN` children per
model; the rest collapse into a ``+N more`` box or a count badge that links to the full list (the
canned queries ``descendants`` and ``ancestors``). The SVG itself is drawn by :mod:`server.pages.lineage_svg`.
"""
from __future__ import annotations

import heapq
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import islice
from urllib.parse import urlencode

from pyoxigraph import NamedNode, Store

from graph.rdf.first_children import HUB
from graph.rdf.vocab import JLLM
from server.pages.labels import href, label

BASE_MODEL = JLLM.baseModel
LINEAGE_LIMIT = 2000
"""Lineages with more models than this (Llama 2 in a large graph) are read only as far as the
picture draws: see :func:`lineage`."""
MAX_DEPTH = 3
"""Generations drawn on each side of the focus model."""
MAX_CHILDREN = 24
"""Children (or parents) drawn per model; the others collapse into one ``+N more`` box."""
MORE_TEXT = {"ja": "ほか {n} 件", "fr": "+{n} autres", "en": "+{n} more"}
BADGE_TEXT = {("en", 1): "{n} more descendants", ("en", -1): "{n} more ancestors",
              ("ja", 1): "ほか {n} 件の派生モデル", ("ja", -1): "ほか {n} 件の祖先",
              ("fr", 1): "{n} descendants de plus", ("fr", -1): "{n} ancêtres de plus"}
"""The title of a count badge, by language and side (1: descendants, -1: ancestors)."""


@dataclass
class Lineage:
    """Nodes (IRI → label, href) and edges (child IRI, parent IRI) around a focus model."""

    focus: str
    nodes: dict[str, tuple[str, str]]
    edges: list[tuple[str, str]]
    sort_keys: dict[str, str] = field(default_factory=dict)
    """When set (a lineage read in part), models are ordered by these keys (their IRIs) instead of their labels."""
    hidden: dict[str, int] = field(default_factory=dict)
    """Children of a model that were not read (a lineage read in part): counted, not drawn."""


@dataclass
class Box:
    """One box of the picture: a model, or a ``+N more`` box standing for hidden models."""

    key: str
    label: str
    href: str
    generation: int
    hidden: int = 0
    """Models beyond the depth limit behind this box (drawn as a badge linking to ``list_href``)."""
    list_href: str | None = None
    more: bool = False


@dataclass
class Picture:
    """What is drawn: the boxes and the edges (child key, parent key) between them."""

    focus: str
    boxes: dict[str, Box] = field(default_factory=dict)
    edges: list[tuple[str, str]] = field(default_factory=list)
    lang: str = "en"

    def badge_title(self, box: Box) -> str:
        """``12 more descendants``: what the count badge of ``box`` stands for."""
        side = 1 if box.generation > 0 else -1
        return BADGE_TEXT.get((self.lang, side), BADGE_TEXT[("en", side)]).format(n=box.hidden)


def lineage(store: Store, iri: NamedNode, base: str, lang: str = "en", limit: int = LINEAGE_LIMIT) -> Lineage:
    """Every ancestor and descendant of ``iri`` with the base-model links between them.

    A lineage of more than ``limit`` models is read only as far as :func:`picture` draws it
    (:func:`near_lineage`), so a page of a hub model costs the same in any size of graph.
    """
    hub = next(iter(store.quads_for_pattern(iri, JLLM.firstChild, None, None)), None) is not None
    edges = None if hub and _child_count(store, iri.value) > limit else _edges(store, iri, limit)
    if edges is None:
        return near_lineage(store, iri, base, lang)
    names = {iri.value} | {c for c, _ in edges} | {p for _, p in edges}
    nodes = {n: (label(store, NamedNode(n), lang, base), href(store, n, base)) for n in names}
    return Lineage(iri.value, nodes, sorted(edges))


def _edges(store: Store, iri: NamedNode, limit: int) -> set[tuple[str, str]] | None:
    """The base-model links into the focus's descendants (and itself) and out of its ancestors
    (and itself); None past ``limit`` models."""
    edges: set[tuple[str, str]] = set()
    for down in (True, False):
        seen, todo = {iri}, [iri]
        while todo:
            node = todo.pop()
            quads = store.quads_for_pattern(None, BASE_MODEL, node, None) if down else \
                store.quads_for_pattern(node, BASE_MODEL, None, None)
            for q in quads:
                other = q.subject if down else q.object
                if not isinstance(other, NamedNode):
                    continue
                edges.add((other.value, node.value) if down else (node.value, other.value))
                if other not in seen:
                    seen.add(other)
                    todo.append(other)
                    if len(seen) > limit:
                        return None
    return edges


def near_lineage(store: Store, iri: NamedNode, base: str, lang: str = "en", max_depth: int = MAX_DEPTH,
                 max_children: int = MAX_CHILDREN) -> Lineage:
    """The part of a large lineage that :func:`picture` draws, with models in IRI order.

    Descendants, ``max_depth`` generations deep: of each drawn model, its first ``max_children``
    children in IRI order that are not drawn yet (read in IRI order by the engine, never all of a
    hub's children) and the links of every model read to the drawn models; how many children are
    left unread is counted (:attr:`Lineage.hidden`: the ``+N more`` box, and the count badge of
    the last generation drawn, which counts that generation, not all that lies beyond: the badge
    links to the full list). An unread child is counted under each drawn parent it has. Ancestors
    are few and read whole. Labels are read for the models that can be drawn only.
    """
    edges: set[tuple[str, str]] = set()
    drawable = {iri.value}
    totals: dict[str, int] = {}
    frontier, seen = [iri.value], {iri.value}
    for depth in range(1, max_depth + 2):
        following = []
        for node in frontier:
            if depth > max_depth:  # the generation after the last one drawn: counted only
                totals[node] = _child_count(store, node)
                continue
            kids, totals[node] = _first_children(store, node, max_children, seen)
            edges.update((kid, node) for kid in kids)
            fresh = [kid for kid in kids if kid not in seen]
            drawable.update(fresh)
            following += fresh
        seen.update(following)
        frontier = following
    for kid in drawable - {iri.value}:  # a model read may also derive from another one read (houou-7b: Llama 2, Youri 7B)
        edges.update((kid, q.object.value) for q in store.quads_for_pattern(NamedNode(kid), BASE_MODEL, None, None)
                     if q.object.value in drawable)
    known: dict[str, int] = defaultdict(int)
    for _, parent in edges:
        known[parent] += 1
    hidden = {node: total - known[node] for node, total in totals.items() if total > known[node]}
    todo, upseen = [iri], {iri}
    while todo:
        node = todo.pop()
        for q in store.quads_for_pattern(node, BASE_MODEL, None, None):
            if isinstance(q.object, NamedNode):
                edges.add((node.value, q.object.value))
                drawable.add(q.object.value)
                if q.object not in upseen:
                    upseen.add(q.object)
                    todo.append(q.object)
    names = {c for c, _ in edges} | {p for _, p in edges} | {iri.value}
    nodes = {n: ((label(store, NamedNode(n), lang, base), href(store, n, base)) if n in drawable else (n, n)) for n in names}
    return Lineage(iri.value, nodes, sorted(edges), sort_keys={n: n for n in names}, hidden=hidden)


def _children(store: Store, node: str, cap: int) -> list[NamedNode]:
    """The children of ``node`` in the store's order, at most ``cap`` + 1 (more than ``cap``: a hub)."""
    return [q.subject for q in islice(store.quads_for_pattern(None, BASE_MODEL, NamedNode(node), None), cap + 1)
            if isinstance(q.subject, NamedNode)]


def _child_count(store: Store, node: str) -> int:
    """How many models have ``node`` as a base model (counted by the engine for a hub)."""
    kids = set(_children(store, node, HUB))
    if len(kids) <= HUB:
        return len(kids)
    # the IRI written in the query (a GROUP BY with substitutions= would count every model's children first)
    query = f"SELECT (COUNT(DISTINCT ?kid) AS ?n) WHERE {{ ?kid {BASE_MODEL} {NamedNode(node)} }}"  # (models are IRIs: a FILTER costs 10x)
    return int(next(iter(store.query(query, use_default_graph_as_union=True)))["n"].value)


def _first_children(store: Store, node: str, wanted: int, skip: set[str]) -> tuple[list[str], int]:
    """The first children of ``node`` in IRI order, enough to hold ``wanted`` outside ``skip``, and how many it has in all.

    A hub's first children in IRI order are the ones the build named (``jllm:firstChild``,
    graph/rdf/first_children.py); only when those are not enough (or a store built without them)
    are all its children read."""
    every = sorted({k.value for k in _children(store, node, HUB)})
    if len(every) <= HUB:
        total = len(every)
    else:
        total = _child_count(store, node)
        named = sorted({q.object.value for q in store.quads_for_pattern(NamedNode(node), JLLM.firstChild, None, None)
                        if isinstance(q.object, NamedNode)})
        enough = sum(k not in skip for k in named) >= wanted
        every = named if enough else heapq.nsmallest(wanted + len(skip), {k.value for k in _children(store, node, total)})
    fresh = [k for k in every if k not in skip][:wanted]
    return ([k for k in every if k <= fresh[-1]] if fresh else every), total


def generations(focus: str, edges: list[tuple[str, str]]) -> dict[str, int]:
    """Generation of each node relative to ``focus``: the shortest chain of base-model links,
    negative for ancestors. Every direct child of the focus is generation 1.

    >>> generations("l2", [("youri", "l2"), ("houou", "youri"), ("houou", "l2"), ("l2", "l1")])
    {'l2': 0, 'youri': 1, 'houou': 1, 'l1': -1}
    """
    children, parents = _neighbours(edges)
    gen = {focus: 0}
    for sign, step in ((1, children), (-1, parents)):
        frontier, depth = [focus], 0
        while frontier:
            depth += 1
            frontier = [m for n in frontier for m in step.get(n, ()) if m not in gen]
            for m in frontier:
                gen.setdefault(m, sign * depth)
    return gen


def _neighbours(edges: list[tuple[str, str]]) -> tuple[dict[str, list[str]], dict[str, list[str]]]:
    children: dict[str, list[str]] = defaultdict(list)
    parents: dict[str, list[str]] = defaultdict(list)
    for child, parent in edges:
        children[parent].append(child)
        parents[child].append(parent)
    return children, parents


def list_link(iri: str, base: str, query: str) -> str:
    """The canned query ``query`` (``descendants`` or ``ancestors``) of the model ``iri``.

    >>> list_link("https://w3id.org/jllm-kg/model/llama-2", "https://w3id.org/jllm-kg/", "descendants")
    '/queries/descendants?model=llama-2'
    """
    prefix = base + "model/"
    rest = iri[len(prefix):] if iri.startswith(prefix) else ""
    model = rest if rest and "/" not in rest else iri
    return f"/queries/{query}?" + urlencode({"model": model})


def picture(graph: Lineage, base: str, lang: str = "en", max_depth: int = MAX_DEPTH,
            max_children: int = MAX_CHILDREN) -> Picture:
    """The boxes and edges to draw: at most ``max_depth`` generations each side, ``max_children`` per model."""
    children, parents = _neighbours(graph.edges)
    gen = generations(graph.focus, graph.edges)
    shown = Picture(graph.focus, lang=lang)
    shown.boxes[graph.focus] = _box(graph, graph.focus, 0)
    for sign, step, query in ((1, children, "descendants"), (-1, parents, "ancestors")):
        _side(graph, shown, gen, sign, step, lambda n, q=query: list_link(n, base, q), lang, max_depth, max_children)
    keys = set(shown.boxes)
    shown.edges += [(c, p) for c, p in graph.edges if c in keys and p in keys]
    shown.edges.sort()
    return shown


def _box(graph: Lineage, node: str, generation: int) -> Box:
    text, link = graph.nodes.get(node, (node, node))
    return Box(node, text, link, generation)


def _side(graph: Lineage, shown: Picture, gen: dict[str, int], sign: int, step: dict[str, list[str]],
          link: Callable[[str], str], lang: str, max_depth: int, max_children: int) -> None:
    """Add one side (descendants, sign 1; ancestors, sign -1) of the picture, generation by generation."""
    def name(n: str) -> str:
        return graph.sort_keys.get(n) or graph.nodes.get(n, (n, n))[0].casefold()

    frontier = [graph.focus]
    for depth in range(1, max_depth + 1):
        layer: dict[str, list[str]] = {}
        for node in frontier:
            layer[node] = sorted((m for m in step.get(node, ()) if gen.get(m) == sign * depth), key=name)
        drawn = {m for kids in layer.values() for m in kids[:max_children]}
        for m in sorted(drawn, key=name):
            shown.boxes[m] = _box(graph, m, sign * depth)
        for node, kids in layer.items():
            rest = len([m for m in kids if m not in drawn]) + (graph.hidden.get(node, 0) if sign > 0 else 0)
            if rest:
                key = f"more:{sign}:{node}"
                text = MORE_TEXT.get(lang, MORE_TEXT["en"]).format(n=rest)
                shown.boxes[key] = Box(key, text, link(node), sign * depth, more=True)
                shown.edges.append((key, node) if sign > 0 else (node, key))
        frontier = sorted(drawn, key=name)
    for node in frontier:  # the last generation drawn: count what lies beyond it
        beyond = len(_reachable(node, step) - set(shown.boxes)) + (graph.hidden.get(node, 0) if sign > 0 else 0)
        if beyond:
            shown.boxes[node].hidden = beyond
            shown.boxes[node].list_href = link(node)


def _reachable(node: str, step: dict[str, list[str]]) -> set[str]:
    seen: set[str] = set()
    todo = [node]
    while todo:
        for m in step.get(todo.pop(), ()):
            if m not in seen:
                seen.add(m)
                todo.append(m)
    return seen
