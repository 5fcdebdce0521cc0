"""The lineage picture of a model: its ancestors and descendants along ``jllm:baseModel``, as SVG.

Laid out server-side, left to right by generation: ancestors to the left of the model, descendants
to the right, each generation a layer; a layer taller than :data:`MAX_ROWS` wraps into several
columns, so Llama 2's twenty-odd descendants stay readable. Labels are truncated, with the full
label in the node's ``<title>``; every node links to its page.
"""
from __future__ import annotations

from dataclasses import dataclass

from markupsafe import Markup, escape
from pyoxigraph import NamedNode, Store, Variable

from server.describe import href, label

LINEAGE_QUERY = """
PREFIX jllm: <https://w3id.org/jllm-kg/ontology#>
SELECT DISTINCT ?focus ?child ?parent WHERE {
  { ?focus jllm:baseModel* ?child . ?child jllm:baseModel ?parent }
  UNION
  { ?child jllm:baseModel ?parent . ?parent jllm:baseModel* ?focus }
}
"""

MAX_ROWS = 12
NODE_W, NODE_H, ROW_GAP = 200, 28, 10
LAYER_GAP, SUBCOLUMN_GAP, MARGIN = 80, 24, 16
MAX_CHARS = 24


@dataclass
class Lineage:
    """Nodes (IRI → label, href) and edges (child IRI, parent IRI) around a focus model."""

    focus: str
    nodes: dict[str, tuple[str, str]]
    edges: list[tuple[str, str]]


def lineage(store: Store, iri: NamedNode, base: str, lang: str = "en") -> Lineage:
    """Every ancestor and descendant of ``iri`` with the base-model links between them."""
    rows = store.query(LINEAGE_QUERY, use_default_graph_as_union=True, substitutions={Variable("focus"): iri})
    edges = sorted({(r["child"].value, r["parent"].value) for r in rows
                    if isinstance(r["child"], NamedNode) and isinstance(r["parent"], NamedNode)})
    names = {iri.value} | {c for c, _ in edges} | {p for _, p in edges}
    nodes = {n: (label(store, NamedNode(n), lang, base), href(store, n, base)) for n in names}
    return Lineage(iri.value, nodes, edges)


def depths(focus: str, edges: list[tuple[str, str]]) -> dict[str, int]:
    """Generation of each node relative to ``focus``: ancestors < 0 < descendants (longest path,
    so a model derived from both Llama 2 and Youri 7B sits right of Youri 7B).

    >>> depths("l2", [("youri", "l2"), ("houou", "youri"), ("houou", "l2")])
    {'l2': 0, 'youri': 1, 'houou': 2}
    """
    depth = {focus: 0}
    limit = len(edges) + 1
    for _ in range(limit):  # Bellman-Ford style relaxation; bounded so a cycle cannot loop forever
        changed = False
        for child, parent in edges:
            if parent in depth and depth[parent] >= 0 and depth.get(child, -1) < depth[parent] + 1 and child != focus:
                depth[child] = depth[parent] + 1
                changed = True
            if child in depth and depth[child] <= 0 and depth.get(parent, 1) > depth[child] - 1 and parent != focus:
                depth[parent] = depth[child] - 1
                changed = True
        if not changed:
            break
    return depth


def _truncate(text: str) -> str:
    return text if len(text) <= MAX_CHARS else text[: MAX_CHARS - 1] + "…"


def _layout(graph: Lineage) -> tuple[dict[str, tuple[float, float]], dict[int, tuple[float, float]], float, float]:
    """Node positions, each layer's (left, right) x, and the picture's width and height.

    A layer of more than :data:`MAX_ROWS` nodes wraps into up to three columns with wider row gaps,
    each column shifted down by a fraction of a row, so the edges into and out of it run
    horizontally through the gaps between the boxes of the other columns."""
    depth = depths(graph.focus, graph.edges)
    layers: dict[int, list[str]] = {}
    for node, d in depth.items():
        layers.setdefault(d, []).append(node)
    positions: dict[str, tuple[float, float]] = {}
    spans: dict[int, tuple[float, float]] = {}
    x, height = float(MARGIN), 0.0
    for d in sorted(layers):
        members = sorted(layers[d], key=lambda n: graph.nodes[n][0].casefold())
        ncols = 1 if len(members) <= MAX_ROWS else min(3, -(-len(members) // MAX_ROWS))
        rows = -(-len(members) // ncols)
        pitch = NODE_H + (ROW_GAP if ncols == 1 else NODE_H + 8)
        left = x
        for col in range(ncols):
            shift = col * pitch / ncols
            for row, node in enumerate(members[col * rows:(col + 1) * rows]):
                positions[node] = (x, MARGIN + shift + row * pitch)
                height = max(height, MARGIN + shift + row * pitch + NODE_H)
            x += NODE_W + SUBCOLUMN_GAP
        spans[d] = (left, x - SUBCOLUMN_GAP)
        x += LAYER_GAP - SUBCOLUMN_GAP
    return positions, spans, x - LAYER_GAP + MARGIN, height + MARGIN


def render_svg(graph: Lineage) -> Markup:
    """The picture as an inline ``<svg>`` element (every label escaped)."""
    positions, spans, width, height = _layout(graph)
    depth = depths(graph.focus, graph.edges)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="lineage" role="img" viewBox="0 0 {width:.0f} {height:.0f}" '
        f'width="{width:.0f}" height="{height:.0f}" aria-label="lineage">',
        '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" '
        'orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#7a8699"/></marker></defs>',
    ]
    for child, parent in graph.edges:
        if child not in positions or parent not in positions:
            continue
        (px, py), (cx, cy) = positions[parent], positions[child]
        y1, y2 = py + NODE_H / 2, cy + NODE_H / 2
        out_x = spans[depth[parent]][1] + 10   # leave the parent's layer horizontally
        in_x = spans[depth[child]][0] - 12     # enter the child's layer horizontally
        if in_x <= out_x:  # not left to right (a cycle in the data): a plain line
            d = f"M{px + NODE_W:.0f},{y1:.0f} L{cx:.0f},{y2:.0f}"
        else:
            mid = (out_x + in_x) / 2
            d = (f"M{px + NODE_W:.0f},{y1:.0f} L{out_x:.0f},{y1:.0f} C{mid:.0f},{y1:.0f} {mid:.0f},{y2:.0f} "
                 f"{in_x:.0f},{y2:.0f} L{cx - 2:.0f},{y2:.0f}")
        title = f"{graph.nodes[child][0]} ← {graph.nodes[parent][0]}"
        parts.append(f'<path class="edge" d="{d}" fill="none" stroke="#7a8699" stroke-width="1.3" '
                     f'marker-end="url(#arrow)"><title>{escape(title)}</title></path>')
    for node, (nx, ny) in positions.items():
        text, link = graph.nodes[node]
        focus = node == graph.focus
        parts.append(
            f'<a href="{escape(link)}" class="node{" focus" if focus else ""}"><title>{escape(text)}</title>'
            f'<rect x="{nx:.0f}" y="{ny:.0f}" width="{NODE_W}" height="{NODE_H}" rx="6" '
            f'fill="{"#1f4e8c" if focus else "#eef3fa"}" stroke="#1f4e8c" stroke-width="1"/>'
            f'<text x="{nx + 10:.0f}" y="{ny + NODE_H / 2 + 5:.0f}" font-size="13" font-family="system-ui, sans-serif" '
            f'fill="{"#ffffff" if focus else "#10233f"}">{escape(_truncate(text))}</text></a>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))
