"""Home page, label search, Turtle dump, VoID, sitemap and the SPARQL editor page."""
from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import pytest
import rdflib


BASE = "https://w3id.org/jllm-kg/"


def test_home_counts_browse_lists_and_links(client, seed_answers):
    html = client.get("/?lang=en").get_data(as_text=True)
    assert "<strong>128</strong> Model family" in html
    assert 'href="/org/rinna">rinna</a>' in html                  # developers
    assert 'href="/dataset/japanese-wikipedia">' in html          # datasets
    assert 'href="/benchmark/jglue">' in html or "/benchmark/" in html
    assert 'href="/model/swallow-13b">Swallow 13B</a>' in html    # families by section: the first 20 by label
    assert '<a href="/section/generative-continual-general">… 3 more</a>' in html  # Swallow 7B and 2 more: the section's page
    assert 'href="/queries"' in html and 'href="/sparql-editor"' in html and 'href="/dump.ttl"' in html


@pytest.mark.parametrize("q,expected", [("Swallow", "/model/swallow-7b"), ("swallow 7", "/model/swallow-7b"),
                                         ("汎用", "/section/generative-continual-general"),
                                         ("wikipédia japonais", "/dataset/japanese-wikipedia"),
                                         ("ＳＷＡＬＬＯＷ", "/model/swallow-7b")])
def test_search_matches_labels_in_every_language(client, q, expected):
    data = client.get("/search.json", query_string={"q": q}).get_json()
    assert data["ok"] is True
    assert expected in [r["href"] for r in data["results"]]
    html = client.get("/search", query_string={"q": q}).get_data(as_text=True)
    assert f'href="{expected}"' in html


def test_search_ranks_exact_and_prefix_first(client):
    data = client.get("/search.json?q=Swallow 7B").get_json()
    assert data["results"][0]["href"] == "/model/swallow-7b"
    assert client.get("/search.json?q=").get_json()["count"] == 0
    assert client.get("/search.json?q=" + "x" * 5000).status_code == 200


def test_dump_is_the_export_and_parses(client):
    r = client.get("/dump.ttl")
    assert r.status_code == 200 and r.mimetype == "text/turtle"
    g = rdflib.Graph().parse(data=r.data, format="turtle")
    assert (rdflib.URIRef(BASE + "model/swallow-7b"), rdflib.URIRef(BASE + "ontology#baseModel"),
            rdflib.URIRef(BASE + "model/llama-2")) in g
    assert client.get("/dump.ttl").data == r.data  # cached per store generation


def test_void_is_negotiated(client):
    r = client.get("/.well-known/void", headers={"Accept": "text/turtle"})
    g = rdflib.Graph().parse(data=r.data, format="turtle")
    void = rdflib.Namespace("http://rdfs.org/ns/void#")
    assert (rdflib.URIRef(BASE + "void"), rdflib.RDF.type, void.Dataset) in g
    assert client.get("/.well-known/void", headers={"Accept": "application/ld+json"}).mimetype == "application/ld+json"
    assert client.get("/.well-known/void", headers={"Accept": "text/html"}).mimetype == "text/html"
    assert client.get("/.well-known/void", headers={"Accept": "image/png"}).status_code == 406


def test_sitemap_lists_resource_pages(client):
    r = client.get("/sitemap.xml")
    locs = [e.text for e in ET.fromstring(r.data).iter("{http://www.sitemaps.org/schemas/sitemap/0.9}loc")]
    assert "http://localhost/model/swallow-7b" in locs
    assert "http://localhost/org/rinna" in locs
    assert len(locs) > 400


def test_sparql_editor_is_prefilled(client):
    html = client.get("/sparql-editor").get_data(as_text=True)
    assert "PREFIX jllm: &lt;https://w3id.org/jllm-kg/ontology#&gt;" in html  # in the plain form
    assert 'action="/sparql"' in html
    assert '"endpoint": "/sparql"' in html
    html = client.get("/sparql-editor", query_string={"query": "ASK { </x> ?p ?o }"}).get_data(as_text=True)
    assert "ASK { &lt;/x&gt; ?p ?o }" in html
    assert "</x>" not in html.split('id="editor-config">')[1].split("</script>")[0]  # JSON cannot close the script


def test_sparql_editor_lists_canned_queries_as_examples(client):
    from graph.canned import load_queries

    names = list(load_queries())
    if not names:
        pytest.skip("no canned queries in queries/ yet")
    html = client.get("/sparql-editor").get_data(as_text=True)
    assert f'"name": "{names[0]}"' in html


def test_yasgui_assets_only_by_allow_list(client, app, tmp_path):
    from server.pages.editor import yasgui_installed

    with app.app_context():
        installed = yasgui_installed()
    r = client.get("/static/vendor/yasgui/yasgui.min.js")
    assert r.status_code == (200 if installed else 404)
    for name in ["package.json", "..%2F..%2Fpackage.json", "yasgui.esm.js"]:
        assert client.get(f"/static/vendor/yasgui/{name}").status_code == 404
    # without the assets the page is a plain form that posts to /sparql
    app.config["YASGUI_DIR"] = str(tmp_path)
    try:
        html = client.get("/sparql-editor").get_data(as_text=True)
    finally:
        app.config.pop("YASGUI_DIR")
    assert 'data-mode="form"' in html and "yasgui.min.js" not in html
    assert '<form id="plain-form" class="plain-form" action="/sparql" method="post">' in html


def test_english_home_sections_do_not_repeat_the_catalog_title(client, seed_store_path):
    from graph.store.generations import open_store

    store = open_store(seed_store_path)
    roots = [r["l"].value for r in store.query(
        "PREFIX skos: <http://www.w3.org/2004/02/skos/core#> SELECT DISTINCT ?l WHERE { ?s skos:broader ?root . "
        "?root <http://www.w3.org/2000/01/rdf-schema#label> ?l FILTER NOT EXISTS { ?root skos:broader ?up } }",
        use_default_graph_as_union=True)]
    assert roots
    for lang in ("en", "ja", "fr"):
        html = client.get(f"/?lang={lang}").get_data(as_text=True)
        for title in roots:
            assert f"{title} ›" not in html, (lang, title)
    assert "Encoder models › General purpose" in client.get("/?lang=en").get_data(as_text=True)


@pytest.mark.parametrize("lang,badge", [("en", "Organisation"), ("ja", "組織"), ("fr", "Organisation")])
def test_search_badges_use_readable_class_names(client, lang, badge):
    data = client.get("/search.json", query_string={"q": "rinna", "lang": lang}).get_json()
    hit = next(r for r in data["results"] if r["href"] == "/org/rinna")
    assert hit["type"] == badge
    html = client.get("/search", query_string={"q": "a", "lang": lang}).get_data(as_text=True)
    assert not re.search(r'<span class="badge">[a-z0-9]+:[A-Za-z]', html)


def test_sparql_editor_lists_examples_as_links_not_tabs(client):
    from graph.canned import load_queries

    html = client.get("/sparql-editor").get_data(as_text=True)
    assert html.count("data-example=") == len(load_queries())
    js = client.get("/static/sparql_editor.js").get_data(as_text=True)
    assert "addTab" not in js


@pytest.mark.parametrize("url", ["/search.xml?q=x", "/static/vendor/yasgui/package.json", "/queries.xml"])
def test_not_found_answers_in_the_one_error_shape(client, url):
    r = client.get(url)
    assert r.status_code == 404
    assert r.get_json()["ok"] is False and r.get_json()["status"] == 404 and r.get_json()["error"]


def test_a_broken_query_file_is_named_not_hidden(client, tmp_path, monkeypatch):
    import shutil

    import graph.canned

    for path in graph.canned.QUERIES_DIR.glob("*.rq"):
        shutil.copy(path, tmp_path / path.name)
    (tmp_path / "broken.rq").write_text("#+ title: [unclosed\nSELECT * WHERE { ?s ?p ?o }\n", encoding="utf-8")
    monkeypatch.setattr(graph.canned, "QUERIES_DIR", tmp_path)
    r = client.get("/queries.json")
    assert r.status_code == 500
    assert "broken.rq" in r.get_json()["error"]
    assert client.get("/").status_code == 200               # the home page and the editor still work
    assert client.get("/sparql-editor").status_code == 200


def test_home_names_the_upstream_commit_and_date(tmp_path):
    """The shipped catalog's home page says which upstream commit (and its date) it shows."""
    import yaml

    from graph.build import build_store
    from tests.conftest import ROOT, make_app

    source = yaml.safe_load((ROOT / "catalog" / "sections.yaml").read_text(encoding="utf-8"))["source"]
    store = tmp_path / "store"
    build_store(store_path=store, echo=lambda *a, **k: None)
    html = make_app(store).test_client().get("/?lang=en").get_data(as_text=True)
    commit = str(source["commit"])
    assert f'href="https://github.com/llm-jp/awesome-japanese-llm/tree/{commit}"' in html
    assert f"<code>{commit[:7]}</code>" in html and f"({source['date']})" in html


def test_sparql_opened_by_a_browser_leads_to_the_editor(client):
    browser = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
    response = client.get("/sparql", headers={"Accept": browser})
    assert response.status_code == 303 and response.headers["Location"].endswith("/sparql-editor")
    described = client.get("/sparql", headers={"Accept": "*/*"})  # curl and SPARQL clients: the description
    assert described.status_code == 200 and described.mimetype == "text/turtle"
    linked = client.get("/sparql?format=ttl", headers={"Accept": browser})  # the editor's link to it
    assert linked.status_code == 200 and linked.mimetype == "text/turtle" and b"sd:Service" in linked.data
    editor = client.get("/sparql-editor").get_data(as_text=True)
    assert 'href="/sparql?format=ttl"' in editor


def test_search_says_what_its_body_depends_on(client):
    html = client.get("/search?q=swallow", headers={"Accept": "text/html"})
    data = client.get("/search?q=swallow", headers={"Accept": "application/json"})
    assert html.mimetype == "text/html" and data.mimetype == "application/json"
    for response in (html, data):
        assert {"Accept", "Accept-Language"} <= set(response.vary)
    assert "Accept" not in client.get("/search.json?q=swallow").vary
