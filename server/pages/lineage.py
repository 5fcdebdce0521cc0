"""The lineage of a model: its ancestors and descendants along ``jllm:baseModel``, and what of it is drawn.

Generations are counted from the focus model (shortest chain of base-model links): every direct
child of a model sits in the column right after it, even when it also derives from a sibling
(houou-7b from Llama 2 and Youri 7B). To stay readable with hundreds of descendants, at most
:data:`MAX_DEPTH` generations are drawn on each side and at most :data:`MAX_CHILDREN` children per
model; the rest collapse into a ``+N more`` box or a count badge that links to the full list (the
canned queries ``descendants`` and ``ancestors``). The SVG itself is drawn by :mod:`server.pages.lineage_svg`.
"""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlencode

from pyoxigraph import NamedNode, Store, Variable

from server.pages.describe import href, label

LINEAGE_QUERY = """
PREFIX jllm: <https://w3id.org/jllm-kg/ontology#>
SELECT DISTINCT ?focus ?child ?parent WHERE {
  { ?focus jllm:baseModel* ?child . ?child jllm:baseModel ?parent }
  UNION
  { ?child jllm:baseModel ?parent . ?parent jllm:baseModel* ?focus }
}
"""
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


def lineage(store: Store, iri: NamedNode, base: str, lang: str = "en") -> Lineage:
    """Every ancestor and descendant of ``iri`` with the base-model links between them."""
    rows = store.query(LINEAGE_QUERY, use_default_graph_as_union=True, substitutions={Variable("focus"): iri})
    edges = sorted({(r["child"].value, r["parent"].value) for r in rows
                    if isinstance(r["child"], NamedNode) and isinstance(r["parent"], NamedNode)})
    names = {iri.value} | {c for c, _ in edges} | {p for _, p in edges}
    nodes = {n: (label(store, NamedNode(n), lang, base), href(store, n, base)) for n in names}
    return Lineage(iri.value, nodes, edges)


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
        return graph.nodes.get(n, (n, n))[0].casefold()

    frontier = [graph.focus]
    for depth in range(1, max_depth + 1):
        layer: dict[str, list[str]] = {}
        for node in frontier:
            layer[node] = sorted((m for m in step.get(node, ()) if gen.get(m) == sign * depth), key=name)
        drawn = {m for kids in layer.values() for m in kids[:max_children]}
        for m in sorted(drawn, key=name):
            shown.boxes[m] = _box(graph, m, sign * depth)
        for node, kids in layer.items():
            rest = [m for m in kids if m not in drawn]
            if rest:
                key = f"more:{sign}:{node}"
                text = MORE_TEXT.get(lang, MORE_TEXT["en"]).format(n=len(rest))
                shown.boxes[key] = Box(key, text, link(node), sign * depth, more=True)
                shown.edges.append((key, node) if sign > 0 else (node, key))
        frontier = sorted(drawn, key=name)
    for node in frontier:  # the last generation drawn: count what lies beyond it
        beyond = _reachable(node, step) - set(shown.boxes)
        if beyond:
            shown.boxes[node].hidden = len(beyond)
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
