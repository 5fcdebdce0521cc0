"""Issue 12 at a small size: the synthetic catalog (bench/synth.py) builds, and the requests the
scale bench times (bench/scale.py URLS: the lineage query and its pages, the model page, the home
page, the dump) agree with what the generator wrote."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest
import yaml

from graph.build import build_store
from graph.canned import get_query, run_query
from graph.store.generations import dump_path, open_store
from tests.conftest import make_app

ROOT = Path(__file__).resolve().parents[1]
FAMILIES = 2000


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory) -> tuple[Path, Path]:
    sys.path.insert(0, str(ROOT / "bench"))
    try:
        from synth import Generator
    finally:
        sys.path.remove(str(ROOT / "bench"))
    out = tmp_path_factory.mktemp("synth")
    Generator(FAMILIES, seed=12).write(out / "catalog", per_file=250)
    # the loader takes the mapped text in ~80 parts (jllm-kg build --load-part-mb) and 4 rounds, the store compacted
    # between two (--load-round-mb): the known answers below hold for a store built that way; every other build,
    # in one call
    build_store(catalog_dir=out / "catalog", store_path=out / "store", echo=lambda *a, **k: None, part_bytes=1 << 20,
                round_bytes=20 << 20)
    return out / "catalog", out / "store"


def test_generator_is_deterministic(synthetic, tmp_path):
    sys.path.insert(0, str(ROOT / "bench"))
    try:
        from synth import Generator
    finally:
        sys.path.remove(str(ROOT / "bench"))
    Generator(FAMILIES, seed=12).write(tmp_path / "again", per_file=250)
    catalog, _ = synthetic
    for path in sorted(catalog.rglob("*.yaml")):
        assert (tmp_path / "again" / path.relative_to(catalog)).read_bytes() == path.read_bytes(), path


def lineage_of(catalog: Path) -> dict[str, str]:
    """From the YAML alone: model → its base model (families and foundation models)."""
    base: dict[str, str] = {str(f["id"]): str(f["parent"]) for f in yaml.safe_load(
        (catalog / "registries" / "foundation-models.yaml").read_text(encoding="utf-8")) if f.get("parent")}
    for path in (catalog / "models").glob("*.yaml"):
        for fam in yaml.load(path.read_text(encoding="utf-8"), Loader=yaml.CSafeLoader)["families"]:
            base[fam["id"]] = fam["base_models"][0]["id"]
    return base


def chain(base: dict[str, str], model: str) -> list[str]:
    """``model`` and its ancestors, nearest first."""
    out = [model]
    while out[-1] in base:
        out.append(base[out[-1]])
    return out


def all_rows(store, **params) -> list:
    """Every row of the descendants query, page by page (the default page is small)."""
    rows, offset = [], 0
    while True:
        page = list(run_query(store, get_query("descendants"), {**params, "limit": "700", "offset": str(offset)}))
        rows += page
        if len(page) < 700:
            return rows
        offset += 700


def test_descendants_of_llama_2_match_the_catalog(synthetic):
    catalog, store_path = synthetic
    base = lineage_of(catalog)
    expected = {m: chain(base, m) for m in base if "llama-2" in chain(base, m)[1:]}
    depths = {m: c.index("llama-2") for m, c in expected.items()}
    assert len(expected) > FAMILIES // 3 and max(depths.values()) >= 10  # a huge root and deep chains
    store = open_store(store_path)
    rows = all_rows(store, model="llama-2")
    got = {r["descendant"].value.rsplit("/", 1)[-1]: r for r in rows}
    assert len(got) == len(rows) and set(got) == set(expected)
    for model, row in got.items():
        assert int(row["depth"].value) == min(depths[model], 6), model  # 6 = six or more
        assert row["parent"].value.rsplit("/", 1)[-1] == base[model]
        if model.startswith("syn-"):  # synthetic families have training stages (foundation models may not)
            assert row["kind"].value.split(" + ")[0] in ("Continual pre-training", "Instruction tuning"), model
    first = [tuple(map(str, r)) for r in run_query(store, get_query("descendants"), {"model": "llama-2"})]
    assert len(first) == get_query("descendants").default_limit == 100
    assert first == [tuple(map(str, r)) for r in rows[:100]]  # the first page is the start of the whole list


def test_descendants_of_a_deep_model_count_from_it(synthetic):
    catalog, store_path = synthetic
    base = lineage_of(catalog)
    deep = max(base, key=lambda m: (len(chain(base, m)), m))
    middle = chain(base, deep)[5]
    rows = all_rows(open_store(store_path), model=middle)
    assert {r["descendant"].value.rsplit("/", 1)[-1]: int(r["depth"].value) for r in rows
            if r["descendant"].value.rsplit("/", 1)[-1] == deep} == {deep: 5}


def test_the_dump_equals_the_export_of_the_engines_own_dump(synthetic):
    """The build sorts its Turtle dump from the mapped text (graph.build._Dump): the same bytes as
    `jllm-kg export`, which sorts the engine's dump of the store."""
    from pyoxigraph import Store

    from graph.store.export import serialize_store

    _, store_path = synthetic
    generation = store_path.resolve()
    assert dump_path(generation).read_bytes() == serialize_store(Store.read_only(str(generation)), "ttl")


def test_every_requested_url_of_the_bench_answers(synthetic):
    """The URLs bench/scale.py times, on the same kind of store: the answers are right, not just fast."""
    _, store_path = synthetic
    sys.path.insert(0, str(ROOT / "bench"))
    try:
        from scale import URLS
    finally:
        sys.path.remove(str(ROOT / "bench"))
    client = make_app(store_path).test_client()
    for url in URLS:
        r = client.get(url)
        assert r.status_code == 200, url
        if url.startswith("/queries/descendants.json"):
            bindings = r.get_json()["results"]["bindings"]
            assert len(bindings) == 100 and all(b["model"]["value"].endswith("/model/llama-2") for b in bindings)
    assert "Synth" in client.get("/model/llama-2?lang=en").get_data(as_text=True)


def test_the_build_counted_what_it_stored(synthetic):
    from graph.rdf.void import store_counts
    from graph.rdf.iris import Iris

    _, store_path = synthetic
    store = open_store(store_path)
    counts = store_counts(store, Iris.default())
    void_triples = next(store.query(
        "SELECT ?n WHERE { GRAPH ?g { ?d <http://rdfs.org/ns/void#triples> ?n ; <http://purl.org/dc/terms/license> ?l } }"))
    in_void = sum(1 for _ in store.query("SELECT * WHERE { GRAPH ?g { ?s ?p ?o } FILTER(STRENDS(STR(?g), 'graph/void')) }"))
    assert int(void_triples[0].value) == counts.triples - in_void  # the description counts what it describes
    # void:entities comes from the mapping children's lists (typed subjects, counted once across children)
    void_entities = next(store.query(
        "SELECT ?n WHERE { GRAPH ?g { ?d <http://rdfs.org/ns/void#entities> ?n ; <http://purl.org/dc/terms/license> ?l } }"))
    typed_in_void = next(store.query(
        "SELECT (COUNT(DISTINCT ?s) AS ?n) WHERE { GRAPH ?g { ?s a ?c } FILTER(STRENDS(STR(?g), 'graph/void')) }"))
    assert int(void_entities[0].value) == counts.entities - int(typed_in_void[0].value) > 1000


def test_served_pages_stay_small(synthetic):
    _, store_path = synthetic
    client = make_app(store_path).test_client()
    home = client.get("/?lang=en")
    html = home.get_data(as_text=True)
    assert home.status_code == 200 and "more</a>" in html
    assert html.count('href="/model/syn-') <= 200 * 5
    assert client.get("/?lang=en").get_data(as_text=True) == html  # cached for the generation
    dump = client.get("/dump.ttl", headers={"Range": "bytes=0-9"})
    assert dump.status_code == 206 and dump.data == dump_path(store_path.resolve()).read_bytes()[:10]
    page = client.get("/queries/descendants.json?model=llama-2&limit=20")
    assert len(page.get_json()["results"]["bindings"]) == 20


def test_the_served_dump_streams_the_build_file(synthetic):
    """Through the real front: /dump.ttl is streamed from the file (not through a query process),
    with its ETag, ranges and HEAD."""
    import urllib.request

    from tests.live import LiveServer

    _, store_path = synthetic
    expected = dump_path(store_path.resolve()).read_bytes()
    with LiveServer(store_path, workers=1) as server:
        with urllib.request.urlopen(server.base + "/dump.ttl", timeout=60) as r:
            assert r.status == 200 and r.read() == expected
            assert "X-Jllm-File" not in r.headers and r.headers["Content-Type"].startswith("text/turtle")
            tag = r.headers["ETag"]
        ranged = urllib.request.Request(server.base + "/dump.ttl", headers={"Range": "bytes=10-19"})
        with urllib.request.urlopen(ranged, timeout=60) as r:
            assert r.status == 206 and r.read() == expected[10:20]
        head = urllib.request.Request(server.base + "/dump.ttl", method="HEAD")
        with urllib.request.urlopen(head, timeout=60) as r:
            assert r.status == 200 and r.read() == b""
        again = urllib.request.Request(server.base + "/dump.ttl", headers={"If-None-Match": tag})
        try:
            urllib.request.urlopen(again, timeout=60)
            raise AssertionError("expected 304")
        except urllib.error.HTTPError as err:
            assert err.code == 304


def test_a_hub_page_counts_every_child_and_draws_the_first_in_iri_order(synthetic):
    """Llama 2's page at scale: the lineage read in part draws its first children in IRI order and
    counts the others; the incoming "base model of" row counts every child (issue 12)."""
    from pyoxigraph import NamedNode

    from graph.rdf.first_children import FIRST
    from graph.rdf.vocab import JLLM
    from server.pages.describe import INCOMING_LIMIT, Describer
    from server.pages.lineage import MAX_CHILDREN, lineage, picture

    catalog, store_path = synthetic
    iri = "https://w3id.org/jllm-kg/model/"
    kids = sorted(iri + model for model, parent in lineage_of(catalog).items() if parent == "llama-2")
    assert len(kids) > INCOMING_LIMIT
    store, focus = open_store(store_path), NamedNode(iri + "llama-2")
    named = sorted(q.object.value for q in store.quads_for_pattern(focus, JLLM.firstChild, None, None))
    assert named == kids[:FIRST]  # what the build named: the first children in IRI order
    near = lineage(store, focus, "https://w3id.org/jllm-kg/", limit=50)
    assert near.sort_keys and len(near.nodes) < 50 * MAX_CHILDREN  # read in part
    pic = picture(near, "https://w3id.org/jllm-kg/")
    assert sorted(k for k, b in pic.boxes.items() if b.generation == 1 and not b.more) == kids[:MAX_CHILDREN]
    assert pic.boxes[f"more:1:{focus.value}"].label == f"+{len(kids) - MAX_CHILDREN} more"
    row = next(r for r in Describer(store, "https://w3id.org/jllm-kg/", "en").incoming(focus) if r.iri == JLLM.baseModel.value)
    assert len(row.values) == INCOMING_LIMIT and len(row.values) + row.more == len(kids)
    html = make_app(store_path).test_client().get("/model/llama-2.html?lang=en").get_data(as_text=True)
    assert f"<title>+{len(kids) - MAX_CHILDREN} more</title>" in html


def test_a_hub_row_counts_up_to_the_limit_then_says_at_least(synthetic, monkeypatch):
    """The engine counts a hub's unread links only up to COUNT_LIMIT + 1: the page's cost does not grow
    with the graph, and beyond the limit the row says "at least" (here the limit scaled down below Llama 2's
    children)."""
    from pyoxigraph import NamedNode

    import server.pages.describe as describe
    from graph.rdf.vocab import JLLM

    catalog, store_path = synthetic
    kids = [model for model, parent in lineage_of(catalog).items() if parent == "llama-2"]
    store, focus = open_store(store_path), NamedNode("https://w3id.org/jllm-kg/model/llama-2")

    def row():
        rows = describe.Describer(store, "https://w3id.org/jllm-kg/", "en").incoming(focus)
        return next(r for r in rows if r.iri == JLLM.baseModel.value)

    exact = row()
    assert not exact.at_least and exact.more == len(kids) - describe.INCOMING_LIMIT
    for limit, at_least in ((len(kids), False), (len(kids) - 1, True), (describe.INCOMING_LIMIT + 5, True)):
        monkeypatch.setattr(describe, "COUNT_LIMIT", limit)
        bounded = row()
        assert bounded.at_least is at_least and bounded.more == min(limit, len(kids)) - describe.INCOMING_LIMIT
    html = make_app(store_path).test_client().get("/model/llama-2.html?lang=en").get_data(as_text=True)
    assert f"… at least {describe.INCOMING_LIMIT + 5 - describe.INCOMING_LIMIT} more" in html


def test_the_lineage_levels_and_first_children_follow_the_stored_links(synthetic):
    """The build computes them from its mapping children's lists of links: the same as from the store's own links."""
    from graph.rdf.first_children import first_children
    from graph.rdf.iris import Iris
    from graph.rdf.lineage_levels import base_links, levels
    from graph.rdf.vocab import JLLM

    _, store_path = synthetic
    store = open_store(store_path)
    lineage = Iris.default().graph("lineage")
    links = base_links(store)
    stored = {q.subject.value: int(q.object.value) for q in store.quads_for_pattern(None, JLLM.lineageLevel, None, lineage)}
    assert stored == levels(links) and len(stored) > 1000 and max(stored.values()) >= 10
    hubs: dict[str, list[str]] = {}
    for q in store.quads_for_pattern(None, JLLM.firstChild, None, lineage):
        hubs.setdefault(q.subject.value, []).append(q.object.value)
    assert {h: sorted(k) for h, k in hubs.items()} == first_children(store, bases=links) != {}
