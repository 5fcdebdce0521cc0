"""The lineage picture: generations as columns, labels never cut, big lineages collapsed with links to the full lists."""
from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest
from pyoxigraph import NamedNode

from graph.store.generations import open_store
from server.pages.lineage import MAX_CHILDREN, MAX_DEPTH, Lineage, generations, lineage, picture
from server.pages.lineage_svg import layout, render_svg, text_width, wrap

BASE = "https://w3id.org/jllm-kg/"
SVG = "{http://www.w3.org/2000/svg}"
CHILDREN_OF = """
PREFIX jllm: <https://w3id.org/jllm-kg/ontology#>
SELECT ?parent ?child WHERE { ?child jllm:baseModel ?parent }
"""


@pytest.fixture(scope="module")
def store(seed_store_path):
    return open_store(seed_store_path)


def children_in_store(store, model: str) -> set[str]:
    from pyoxigraph import Variable

    rows = store.query(CHILDREN_OF, use_default_graph_as_union=True, substitutions={Variable("parent"): NamedNode(BASE + model)})
    return {r["child"].value for r in rows}


def drawn_boxes(svg: str) -> list[dict]:
    """Each box of the SVG: its link, title, drawn text (the wrapped lines joined) and rectangle."""
    root = ET.fromstring(svg)
    boxes = []
    for a in root.iter(SVG + "a"):
        if "node" not in a.get("class", "").split():
            continue
        rect = a.find(SVG + "rect")
        lines = [t.text or "" for t in a.iter(SVG + "tspan")]
        boxes.append({"href": a.get("href"), "title": a.find(SVG + "title").text, "lines": lines, "text": "".join(lines),
                      "x": float(rect.get("x")), "y": float(rect.get("y")),
                      "w": float(rect.get("width")), "h": float(rect.get("height"))})
    return boxes


def assert_no_overlap(boxes: list[dict]) -> None:
    for i, a in enumerate(boxes):
        for b in boxes[i + 1:]:
            apart = a["x"] + a["w"] <= b["x"] or b["x"] + b["w"] <= a["x"] or a["y"] + a["h"] <= b["y"] or b["y"] + b["h"] <= a["y"]
            assert apart, (a["title"], b["title"])


def test_every_direct_child_of_llama_2_is_in_one_column_and_labels_are_whole(store):
    graph = lineage(store, NamedNode(BASE + "model/llama-2"), BASE)
    children = children_in_store(store, "model/llama-2")
    assert len(children) > 1
    boxes = drawn_boxes(str(render_svg(picture(graph, BASE))))
    by_href = {b["href"]: b for b in boxes}
    child_boxes = [by_href[graph.nodes[c][1]] for c in children]
    assert len({b["x"] for b in child_boxes}) == 1
    focus_x = by_href["/model/llama-2"]["x"]
    assert all(b["x"] > focus_x for b in child_boxes)
    for b in boxes:  # nothing cut: the lines give back the whole label
        assert b["text"].replace(" ", "") == b["title"].replace(" ", ""), b
    texts = {}
    for b in boxes:
        texts.setdefault(" ".join(b["lines"]), set()).add(b["title"])
    assert all(len(titles) == 1 for titles in texts.values())
    assert_no_overlap(boxes)


def test_grandchildren_sit_one_column_further(store):
    graph = lineage(store, NamedNode(BASE + "model/llama-2"), BASE)
    gen = generations(graph.focus, graph.edges)
    boxes = {b["href"]: b for b in drawn_boxes(str(render_svg(picture(graph, BASE))))}
    xs = {}
    for node, g in gen.items():
        xs.setdefault(g, set()).add(boxes[graph.nodes[node][1]]["x"])
    assert all(len(v) == 1 for v in xs.values())
    assert [min(xs[g]) for g in sorted(xs)] == sorted(min(v) for v in xs.values())


def test_generations_put_every_direct_child_first():
    assert generations("l2", [("youri", "l2"), ("houou", "youri"), ("houou", "l2")]) == {"l2": 0, "youri": 1, "houou": 1}
    assert generations("h", [("h", "y"), ("y", "l")]) == {"h": 0, "y": -1, "l": -2}


def synthetic(children: int, chain: int = 0) -> Lineage:
    nodes = {"f": ("Focus", "/f")}
    edges = []
    for i in range(children):
        nodes[f"c{i}"] = (f"Child {i:03d} with a very long name that would not fit in one line", f"/c{i}")
        edges.append((f"c{i}", "f"))
    parent = "c0" if children else "f"
    for i in range(chain):
        nodes[f"d{i}"] = (f"Descendant {i}", f"/d{i}")
        edges.append((f"d{i}", parent))
        parent = f"d{i}"
    return Lineage("f", nodes, edges)


def test_hundreds_of_children_collapse_into_a_counted_link():
    pic = picture(synthetic(300), BASE)
    svg = str(render_svg(pic))
    boxes = drawn_boxes(svg)
    assert len(boxes) == 1 + MAX_CHILDREN + 1
    more = [b for b in boxes if b["href"].startswith("/queries/")]
    assert len(more) == 1
    assert more[0]["title"] == f"+{300 - MAX_CHILDREN} more"
    assert more[0]["href"] == "/queries/descendants?model=f"
    assert_no_overlap(boxes)
    _, _, width, height = layout(pic)
    assert width < 1000 and height < 2000


def test_depth_beyond_the_limit_is_a_badge_with_a_link():
    pic = picture(synthetic(1, chain=MAX_DEPTH + 2), BASE)
    drawn = {b.key for b in pic.boxes.values()}
    assert drawn == {"f", "c0"} | {f"d{i}" for i in range(MAX_DEPTH - 1)}
    last = pic.boxes[f"d{MAX_DEPTH - 2}"]
    assert last.hidden == 3 and last.list_href == f"/queries/descendants?model=d{MAX_DEPTH - 2}"
    svg = str(render_svg(pic))
    assert f'<a href="/queries/descendants?model=d{MAX_DEPTH - 2}" class="badge"><title>3 more descendants</title>' in svg


def test_collapsed_links_list_the_hidden_models(store, client):
    graph = lineage(store, NamedNode(BASE + "model/llama-2"), BASE)
    pic = picture(graph, BASE, max_children=5)
    more = next(b for b in pic.boxes.values() if b.more)
    hidden = children_in_store(store, "model/llama-2") - set(pic.boxes)
    assert more.label == f"+{len(hidden)} more"
    r = client.get(more.href.replace("/queries/descendants?", "/queries/descendants.json?"))
    listed = {row["descendant"]["value"] for row in r.get_json()["results"]["bindings"]}
    assert hidden <= listed


def test_labels_are_escaped():
    nodes = {"f": ('<script>alert(1)</script> & "x"', "/f?a=1&b=<2>"), "c": ("Child", "/c")}
    svg = str(render_svg(picture(Lineage("f", nodes, [("c", "f")]), BASE)))
    assert "<script>" not in svg
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in svg and 'href="/f?a=1&amp;b=&lt;2&gt;"' in svg
    ET.fromstring(svg)


@pytest.mark.parametrize("text", ["doshisha-mil/llama-2-70b-chat-4bit-japanese-v1", "日本語の非常に長いモデル名" * 4,
                                  "A" * 80, "Japanese Stable LM Beta 70B", ""])
def test_wrap_keeps_every_character_and_fits(text):
    lines = wrap(text, 200)
    assert "".join(lines) == text
    assert all(text_width(line.rstrip()) <= 200 for line in lines)


def test_a_large_lineage_is_read_only_as_far_as_it_is_drawn(store):
    """Past LINEAGE_LIMIT models the lineage is read in part (near_lineage): the same models are
    drawn when no model has more children than the picture shows, and each child at most once."""
    focus = NamedNode(BASE + "model/llama-2")
    whole = picture(lineage(store, focus, BASE), BASE)
    near_graph = lineage(store, focus, BASE, limit=3)
    assert near_graph.sort_keys  # read in part
    near = picture(near_graph, BASE)
    drawn = lambda pic: {k for k, b in pic.boxes.items() if not b.more}  # noqa: E731
    assert drawn(near) == drawn(whole)
    assert {b.label for b in near.boxes.values()} == {b.label for b in whole.boxes.values()}
    assert children_in_store(store, "model/llama-2") <= set(near_graph.nodes)
