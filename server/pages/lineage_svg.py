"""The lineage picture as server-side SVG, laid out by grandalf's Sugiyama (layered) layout.

Generations are columns, left to right (ancestors, the model, descendants); grandalf orders the
boxes inside each column to reduce edge crossings and places them (Brandes–Köpf), with dummy
boxes routing edges that skip a generation. Labels wrap inside their box (never cut), every box
links to its page and every label is escaped.
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from grandalf.graphs import Edge, Graph, Vertex
from grandalf.layouts import Layer, SugiyamaLayout
from markupsafe import Markup, escape

from server.pages.lineage import Box, Picture

FONT_SIZE, LINE_H, PAD_X, PAD_Y = 13, 16, 10, 6
MIN_W, MAX_W = 120, 280
ROW_GAP, COLUMN_GAP, MARGIN = 10, 70, 16
BADGE_W, BADGE_H = 40, 18


def char_width(ch: str) -> float:
    """A generous estimate of a character's advance at 13 px (wide for CJK, narrow for ``i``)."""
    if unicodedata.east_asian_width(ch) in "WF":
        return 13.5
    if ch in "iljtfrI.,:;'|!()[] ":
        return 4.8
    if ch in "mwMW@%":
        return 12.5
    if ch.isupper():
        return 9.6
    return 8.0


def text_width(text: str) -> float:
    """Estimated width of ``text`` in pixels."""
    return sum(char_width(ch) for ch in text)


def wrap(text: str, width: float) -> list[str]:
    """``text`` in lines no wider than ``width``, broken after spaces, ``/``, ``-`` and ``_`` (inside a
    word only when it is too long); joined back together the lines give ``text`` with no character lost.

    >>> wrap("doshisha-mil/llama-2-70b-chat-4bit-japanese-v1", 150)
    ['doshisha-mil/llama-', '2-70b-chat-4bit-', 'japanese-v1']
    >>> wrap("Swallow 7B", 150)
    ['Swallow 7B']
    """
    lines: list[str] = []
    line = ""
    for piece in re.split(r"(?<=[\s/_-])", text):
        while text_width(piece) > width:  # a piece longer than a line: cut it by characters
            fit = ""
            for ch in piece:
                if text_width(line + fit + ch) > width:
                    break
                fit += ch
            if not fit and not line:
                fit = piece[0]
            lines.append(line + fit)
            line, piece = "", piece[len(fit):]
        if line and text_width(line + piece.rstrip()) > width:
            lines.append(line)
            line = ""
        line += piece
    lines.append(line)
    return [x for x in lines if x] or [""]


Route = tuple[str, str, list[tuple[float, float, float]]]
"""An edge to draw: child key, parent key, and where it crosses each generation in between (left x, right x, y)."""


@dataclass
class _View:
    """A vertex's size and position as grandalf sees it: ``w`` across a column, ``h`` along the layers."""

    w: float
    h: float
    xy: tuple[float, float] | None = None


@dataclass
class Placed:
    """A box with its rectangle and wrapped label lines."""

    box: Box
    x: float
    y: float
    w: float
    h: float
    lines: list[str]


def layout(pic: Picture) -> tuple[dict[str, Placed], list[Route], float, float]:
    """Rectangles of the boxes, the route of each edge (child, parent, points), the width and height."""
    gens = sorted({b.generation for b in pic.boxes.values()})
    widths = {g: _column_width([b for b in pic.boxes.values() if b.generation == g]) for g in gens}
    lines = {k: wrap(b.label, widths[b.generation] - 2 * PAD_X) for k, b in pic.boxes.items()}
    vertices = {k: Vertex(k) for k in sorted(pic.boxes, key=lambda k: (pic.boxes[k].more, pic.boxes[k].label.casefold()))}
    for k, v in vertices.items():
        v.view = _View(len(lines[k]) * LINE_H + 2 * PAD_Y, widths[pic.boxes[k].generation])
    forward = [(c, p) for c, p in pic.edges if pic.boxes[c].generation > pic.boxes[p].generation]
    edges = {(c, p): Edge(vertices[p], vertices[c]) for c, p in forward}
    graph = Graph(list(vertices.values()), list(edges.values()))
    placed: dict[str, Placed] = {}
    routes: list[Route] = []
    top = 0.0
    for component in graph.C:  # the picture is connected; more components only in hand-made data
        sug = _sugiyama(component, gens, pic)
        ys = [v.view.xy[0] - v.view.w / 2 for v in component.sV]
        shift = top - min(ys)
        for v in component.sV:
            (cx, cy), b = v.view.xy, pic.boxes[v.data]
            placed[v.data] = Placed(b, _column_x(gens, widths, b.generation), cx + shift - v.view.w / 2,
                                    widths[b.generation], v.view.w, lines[v.data])
        for (c, p), e in edges.items():
            if e in component.sE:
                dummies = sorted((r, d.view.xy[0] + shift) for r, d in sug.ctrls.get(e, {}).items() if not isinstance(d, Vertex))
                routes.append((c, p, [(_column_x(gens, widths, gens[r]), _column_x(gens, widths, gens[r]) + widths[gens[r]], y)
                                      for r, y in dummies]))
        top = max(pl.y + pl.h for pl in placed.values()) + ROW_GAP * 3
    height = max(pl.y + pl.h for pl in placed.values()) + 2 * MARGIN
    width = _column_x(gens, widths, gens[-1]) + widths[gens[-1]] + BADGE_W + MARGIN
    for pl in placed.values():
        pl.y += MARGIN
    routes = [(c, p, [(left, right, y + MARGIN) for left, right, y in pts]) for c, p, pts in routes]
    routes += [(c, p, []) for c, p in pic.edges if (c, p) not in edges]
    return placed, routes, width, height


def _column_width(boxes: list[Box]) -> float:
    widest = max((text_width(b.label) for b in boxes), default=0)
    return min(MAX_W, max(MIN_W, widest + 2 * PAD_X + 2))


def _column_x(gens: list[int], widths: dict[int, float], generation: int) -> float:
    return MARGIN + BADGE_W + sum(widths[g] + COLUMN_GAP for g in gens if g < generation)


def _sugiyama(component, gens: list[int], pic: Picture) -> SugiyamaLayout:
    """grandalf's layout with our generations as its layers (grandalf would rank by longest path)."""
    sug = SugiyamaLayout(component)
    sug.xspace, sug.yspace = ROW_GAP, COLUMN_GAP
    rank = {g: i for i, g in enumerate(gens)}
    sug.alt_e = []  # every edge already points to a later generation: nothing to invert
    sug.layers = [Layer([]) for _ in gens]
    for v in component.sV:
        r = rank[pic.boxes[v.data].generation]
        sug.grx[v].rank = r
        sug.layers[r].append(v)
    for e in component.sE:
        sug.setdummies(e)
    for layer in sug.layers:
        layer.setup(sug)
    sug.initdone = True
    sug.draw()
    return sug


def render_svg(pic: Picture) -> Markup:
    """The picture as an inline ``<svg>`` element (every label escaped)."""
    placed, routes, width, height = layout(pic)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="lineage" role="img" viewBox="0 0 {width:.0f} {height:.0f}" '
        f'width="{width:.0f}" height="{height:.0f}" aria-label="lineage">',
        '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" '
        'orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#7a8699"/></marker></defs>',
    ]
    for child, parent, points in routes:
        title = f"{pic.boxes[child].label} ← {pic.boxes[parent].label}"
        parts.append(f'<path class="edge" d="{_route(placed[parent], placed[child], points)}" fill="none" '
                     f'stroke="#7a8699" stroke-width="1.3" marker-end="url(#arrow)"><title>{escape(title)}</title></path>')
    for key in sorted(placed, key=lambda k: (placed[k].x, placed[k].y)):
        parts.append(_node(placed[key], key == pic.focus, pic.badge_title(placed[key].box)))
    parts.append("</svg>")
    return Markup("".join(parts))


def _route(parent: Placed, child: Placed, passes: list[tuple[float, float, float]]) -> str:
    """An edge from the right side of the parent to the left side of the child, crossing each
    generation in between horizontally (``passes``: left x, right x, y); an edge inside one column
    (or going backwards) bows out to the right of the column."""
    here = (parent.x + parent.w, parent.y + parent.h / 2)
    end = (child.x, child.y + child.h / 2)
    d = f"M{here[0]:.0f},{here[1]:.0f}"
    if child.x <= parent.x:
        right = max(parent.x + parent.w, child.x + child.w) + 40
        return d + f" C{right:.0f},{here[1]:.0f} {right:.0f},{end[1]:.0f} {child.x + child.w + 1:.0f},{end[1]:.0f}"
    for left, right, y in passes:
        d += _curve(here, (left, y)) + f" L{right:.0f},{y:.0f}"
        here = (right, y)
    return d + _curve(here, (end[0] - 1, end[1]))


def _curve(a: tuple[float, float], b: tuple[float, float]) -> str:
    mid = (a[0] + b[0]) / 2
    return f" C{mid:.0f},{a[1]:.0f} {mid:.0f},{b[1]:.0f} {b[0]:.0f},{b[1]:.0f}"


def _node(pl: Placed, focus: bool, badge_title: str) -> str:
    """One box: a link with the full label as its title, the wrapped label and the hidden-count badge."""
    b = pl.box
    cls = "node" + (" focus" if focus else "") + (" more" if b.more else "")
    fill, ink = ("#1f4e8c", "#ffffff") if focus else (("#ffffff", "#1f4e8c") if b.more else ("#eef3fa", "#10233f"))
    dash = ' stroke-dasharray="4 3"' if b.more else ""
    tspans = "".join(f'<tspan x="{pl.x + PAD_X:.0f}" y="{pl.y + PAD_Y + (i + 1) * LINE_H - 4:.0f}">{escape(line)}</tspan>'
                     for i, line in enumerate(pl.lines))
    out = (f'<a href="{escape(b.href)}" class="{cls}" data-generation="{b.generation}"><title>{escape(b.label)}</title>'
           f'<rect x="{pl.x:.0f}" y="{pl.y:.0f}" width="{pl.w:.0f}" height="{pl.h:.0f}" rx="6" fill="{fill}" '
           f'stroke="#1f4e8c" stroke-width="1"{dash}/>'
           f'<text font-size="{FONT_SIZE}" font-family="system-ui, sans-serif" fill="{ink}">{tspans}</text></a>')
    if b.hidden and b.list_href:
        bx = pl.x + pl.w + 4 if b.generation > 0 else pl.x - BADGE_W - 4
        by = pl.y + pl.h / 2 - BADGE_H / 2
        out += (f'<a href="{escape(b.list_href)}" class="badge"><title>{escape(badge_title)}</title>'
                f'<rect x="{bx:.0f}" y="{by:.0f}" width="{BADGE_W}" height="{BADGE_H}" rx="9" fill="#1f4e8c"/>'
                f'<text x="{bx + BADGE_W / 2:.0f}" y="{by + 13:.0f}" text-anchor="middle" font-size="11" '
                f'font-family="system-ui, sans-serif" fill="#ffffff">+{b.hidden}</text></a>')
    return out
