"""Dereferenceable IRIs: negotiation, twins, 406/404, the data documents and the resource pages."""
from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
import rdflib
import yaml

from tests.conftest import make_app


@pytest.fixture(scope="module")
def app(seed_location):
    """The app on the seed store, on each backend (embedded, then a remote ``oxigraph serve``)."""
    return make_app(seed_location)


@pytest.fixture(scope="module")
def client(app):
    return app.test_client()

BASE = "https://w3id.org/jllm-kg/"
SWALLOW = rdflib.URIRef(BASE + "model/swallow-7b")
DATA = {"text/turtle": "turtle", "application/ld+json": "json-ld", "application/n-triples": "nt",
        "application/rdf+xml": "xml"}
TWINS = {"ttl": "turtle", "jsonld": "json-ld", "nt": "nt", "rdf": "xml"}


def _graph(body: bytes, fmt: str) -> rdflib.Graph:
    return rdflib.Graph().parse(data=body, format=fmt, publicID=BASE)


@pytest.mark.parametrize("accept", list(DATA))
def test_iri_answers_data_by_accept_and_describes_the_resource(client, accept):
    r = client.get("/model/swallow-7b", headers={"Accept": accept})
    assert r.status_code == 200
    assert r.mimetype == accept
    assert "Accept" in r.headers["Vary"]
    g = _graph(r.data, DATA[accept])
    assert (SWALLOW, rdflib.URIRef(BASE + "ontology#baseModel"), rdflib.URIRef(BASE + "model/llama-2")) in g
    assert rdflib.Literal("Swallow 7B", lang="ja") in set(g.objects(SWALLOW, rdflib.RDFS.label))
    # labels of linked nodes and incoming links come along
    assert rdflib.Literal("Llama 2", lang="en") in set(g.objects(rdflib.URIRef(BASE + "model/llama-2"), rdflib.RDFS.label))
    variant = rdflib.URIRef(BASE + "model/hf/tokyotech-llm/Swallow-7b-hf")
    assert (variant, rdflib.URIRef(BASE + "ontology#variantOf"), SWALLOW) in g


@pytest.mark.parametrize("ext", list(TWINS))
def test_extension_twins_give_one_format_whatever_the_accept(client, ext):
    r = client.get(f"/model/swallow-7b.{ext}", headers={"Accept": "text/html"})
    assert r.status_code == 200
    g = _graph(r.data, TWINS[ext])
    assert (SWALLOW, rdflib.RDF.type, rdflib.URIRef(BASE + "ontology#ModelFamily")) in g


def test_curl_default_gets_turtle_and_browsers_get_html(client):
    assert client.get("/model/swallow-7b", headers={"Accept": "*/*"}).mimetype == "text/turtle"
    assert client.get("/model/swallow-7b").mimetype == "text/turtle"
    browser = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
    r = client.get("/model/swallow-7b", headers={"Accept": browser})
    assert r.mimetype == "text/html"
    assert r.headers["Content-Location"] == "/model/swallow-7b.html"
    assert client.get("/model/swallow-7b.html").mimetype == "text/html"


def test_unsupported_type_is_406(client):
    r = client.get("/model/swallow-7b", headers={"Accept": "image/png"})
    assert r.status_code == 406
    assert "text/turtle" in r.get_data(as_text=True)


def test_unknown_iri_is_404_with_a_helpful_page(client, seed_answers):
    r = client.get("/model/swallow-8b", headers={"Accept": "text/html"})
    assert r.status_code == 404
    html = r.get_data(as_text=True)
    assert 'action="/search"' in html
    assert 'href="/model/swallow-7b"' in html  # suggestion by label
    r = client.get("/model/swallow-8b", headers={"Accept": "text/turtle"})
    assert r.status_code == 404 and r.get_json() == {"ok": False, "status": 404, "error": r.get_json()["error"]}


@pytest.mark.parametrize("path", ["/../../etc/passwd", "/model/..%2f..%2fetc%2fpasswd", "/model/%00", "/model/a b<c>",
                                  "/ontology.exe", "/model/swallow-7b.exe"])
def test_paths_never_reach_the_filesystem(client, path):
    r = client.get(path, headers={"Accept": "text/html"})
    assert r.status_code == 404
    assert b"root:" not in r.data


def test_page_shows_labels_properties_incoming_variants_training_source(client, seed_answers):
    html = client.get("/model/swallow-7b?lang=en", headers={"Accept": "text/html"}).get_data(as_text=True)
    assert "<h1>Swallow 7B</h1>" in html
    assert 'href="/model/llama-2">Llama 2</a>' in html          # outgoing, by label, local link
    assert ">base model</a>" in html                              # property by its ontology label
    assert "https://huggingface.co/tokyotech-llm/Swallow-7b-hf" in html  # variants table
    assert "Swallow Corpus" in html                               # training stage datasets
    assert "https://github.com/llm-jp/awesome-japanese-llm/blob/2f152f0/README.md#L113" in html
    for ext, media in [("ttl", "text/turtle"), ("jsonld", "application/ld+json"), ("nt", "application/n-triples")]:
        assert f'<link rel="alternate" type="{media}" href="/model/swallow-7b.{ext}">' in html
    llama = client.get("/model/llama-2", headers={"Accept": "text/html"})
    text = llama.get_data(as_text=True)
    assert "is base model of" in text or "base model of" in text
    assert 'href="/model/swallow-7b">Swallow 7B</a>' in text
    assert '</model/llama-2.ttl>; rel="alternate"; type="text/turtle"' in llama.headers["Link"]


@pytest.mark.parametrize("lang, phrase", [("en", "trained on this"), ("fr", "ceci"), ("ja", "（被参照）")])
def test_links_into_a_dataset_read_as_a_phrase(client, lang, phrase):
    """A property with no declared inverse, labelled with a preposition, is not turned into "is trained on of"."""
    html = client.get(f"/dataset/wikipedia?lang={lang}", headers={"Accept": "text/html"}).get_data(as_text=True)
    assert phrase in html and 'href="/model/' in html
    assert not re.search(r"\b(of|on|de|sur)( »)? (of|de)\b", html)


def test_language_switch(client):
    ja = client.get("/section/generative-continual-general?lang=ja", headers={"Accept": "text/html"}).get_data(as_text=True)
    fr = client.get("/section/generative-continual-general?lang=fr", headers={"Accept": "text/html"}).get_data(as_text=True)
    assert "<h1>汎用</h1>" in ja
    assert "<h1>D&#39;usage général</h1>" in fr
    assert 'href="/section/generative-continual-general?lang=ja"' in fr


def test_lineage_picture_of_llama_2_holds_its_descendants(client):
    html = client.get("/model/llama-2", headers={"Accept": "text/html"}).get_data(as_text=True)
    svg = html[html.index("<svg"):html.index("</svg>")]
    for name, path in [("Swallow 7B", "/model/swallow-7b"), ("Youri 7B", "/model/youri-7b"), ("houou-7b", "/model/houou-7b"),
                       ("KARAKURI LM", "/model/karakuri-lm")]:
        assert f"<title>{name}</title>" in svg
        assert f'href="{path}"' in svg


def test_ontology_dereferences_as_html_and_turtle(client):
    html = client.get("/ontology", headers={"Accept": "text/html"}).get_data(as_text=True)
    assert 'id="ModelFamily"' in html and 'id="baseModel"' in html
    r = client.get("/ontology", headers={"Accept": "text/turtle"})
    g = _graph(r.data, "turtle")
    assert (rdflib.URIRef(BASE + "ontology#ModelFamily"), rdflib.RDF.type, rdflib.OWL.Class) in g
    assert client.get("/ontology.ttl").data == r.data


def test_outside_iris_have_pages(client):
    r = client.get("/describe?iri=http://spdx.org/licenses/Apache-2.0", headers={"Accept": "text/html"})
    assert r.status_code == 200 and "Apache" in r.get_data(as_text=True)


def test_crafted_label_with_script_renders_as_text(tmp_path):
    from graph.build import build_store

    catalog = tmp_path / "catalog"
    shutil.copytree(Path(__file__).parent / "fixtures" / "catalog", catalog)
    path = catalog / "models" / "generative-continual-general.yaml"
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    evil = "<script>alert(1)</script> Swallow"
    doc["families"][0]["names"] = {"ja": evil, "en": evil, "fr": evil}
    path.write_text(yaml.safe_dump(doc, allow_unicode=True, sort_keys=False), encoding="utf-8")
    store = tmp_path / "store"
    build_store(catalog_dir=catalog, store_path=store, echo=lambda *a, **k: None)
    client = make_app(store).test_client()
    for url in ["/model/swallow-7b", "/model/llama-2", "/search?q=swallow", "/"]:
        html = client.get(url, headers={"Accept": "text/html"}).get_data(as_text=True)
        assert "<script>alert(1)</script>" not in html, url
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html, url
    data = json.loads(client.get("/search.json?q=script").data)
    assert data["results"][0]["label"] == evil


def test_resource_data_is_readable_cross_origin(client):
    response = client.get("/model/swallow-7b", headers={"Accept": "application/ld+json"})
    assert response.status_code == 200
    assert response.headers["Access-Control-Allow-Origin"] == "*"


def _incoming_section(html: str) -> str:
    start = html.index("<h2>Incoming links</h2>")
    return html[start:html.index("</section>", start)]


def test_qualified_derivations_show_as_the_derived_model_once(client, seed_store_path):
    from graph.store.generations import open_store

    store = open_store(seed_store_path)
    derived = {r["m"].value[len(BASE):] for r in store.query(
        "SELECT ?m WHERE { ?m <http://www.w3.org/ns/prov#qualifiedDerivation>/<http://www.w3.org/ns/prov#entity> "
        f"<{BASE}model/llama-2> }}", use_default_graph_as_union=True)}
    assert derived
    html = client.get("/model/llama-2?lang=en", headers={"Accept": "text/html"}).get_data(as_text=True)
    incoming = _incoming_section(html)
    assert "prov:entity" not in incoming and "/derivation/" not in incoming
    for model in derived:
        assert incoming.count(f'href="/{model}"') == 1, model
    dataset = _incoming_section(client.get("/dataset/japanese-wikipedia?lang=en", headers={"Accept": "text/html"}).get_data(as_text=True))
    assert "prov:entity" not in dataset and "/usage/" not in dataset
    assert "/stage/" in dataset  # the stages that used it, via prov:used


def test_stage_kind_and_method_are_not_repeated(client):
    html = client.get("/model/swallow-7b?lang=en", headers={"Accept": "text/html"}).get_data(as_text=True)
    stages = html[html.index('<ol class="stages">'):html.index("</ol>", html.index('<ol class="stages">'))]
    assert "Continual pre-training" in stages
    for item in stages.split("<li>")[1:]:
        first_line = item.split("</p>")[0]
        names = re.findall(r">([^<>]+)</a>", first_line)
        assert len(names) == len({n.casefold() for n in names}), names


@pytest.mark.parametrize("model", ["llama-2", "swallow-7b", "llm-jp-13b"])
def test_variants_table_shows_only_columns_with_values(client, seed_store_path, model):
    from graph.store.generations import open_store
    from pyoxigraph import NamedNode
    from server.pages.describe import Describer

    page = Describer(open_store(seed_store_path), BASE, "en").page(NamedNode(BASE + "model/" + model))
    html = client.get(f"/model/{model}?lang=en", headers={"Accept": "text/html"}).get_data(as_text=True)
    if not page.variants:  # (the seed has some for each; the shipped catalog may have none)
        assert '<table class="grid variants">' not in html
        return
    table = html[html.index('<table class="grid variants">'):]
    head = table[:table.index("</thead>")]
    for header, key in [("Parameters", "size_text"), ("Licence", "licences"), ("Context", "context"), ("Hugging Face", "url")]:
        assert (f"<th>{header}</th>" in head) == any(v[key] for v in page.variants), header
    assert "🤗" not in html
    if any(v["url"] for v in page.variants):
        assert '<span class="hf" title="Hugging Face">HF</span>' in table


def test_the_jsonld_context_is_served_and_names_the_ontology(client):
    import json

    response = client.get("/context.jsonld")
    assert response.status_code == 200 and response.mimetype == "application/ld+json"
    assert json.loads(response.data)["@context"]["jllm"] == "https://w3id.org/jllm-kg/ontology#"


def test_a_hub_s_data_document_keeps_the_first_links_and_points_to_the_full_list():
    """A node with more incoming links by one property than a document carries (Llama 2 in a large
    graph: 256,000 synthetic families made its Turtle 41 MB, and past the timeout): the document has the
    first ``limit`` of them, labelled, and ``rdfs:seeAlso`` a SPARQL URL whose answer is the full list."""
    from urllib.parse import parse_qs, quote, urlsplit

    from pyoxigraph import Literal, NamedNode, Quad, Store

    from graph.rdf.vocab import JLLM, RDFS
    from server.pages.describe import description

    base = "https://w3id.org/jllm-kg/"
    store, hub = Store(), NamedNode(base + "model/hub")
    graph = NamedNode(base + "graph/test")
    children = [NamedNode(f"{base}model/child-{i}") for i in range(10)]
    store.add(Quad(hub, RDFS.label, Literal("Hub"), graph))
    for child in children:
        store.add(Quad(child, JLLM.baseModel, hub, graph))
        store.add(Quad(child, RDFS.label, Literal(child.value.rsplit("/", 1)[1]), graph))

    doc = description(store, hub, base, lambda q: "http://svc/sparql?query=" + quote(q, safe=""), limit=4)
    links = [t.subject for t in doc if t.predicate == JLLM.baseModel]
    assert len(links) == 4 and set(links) < set(children)
    assert {t.subject for t in doc if t.predicate == RDFS.label} == {hub, *links}  # the shown ones are labelled
    [see] = [t for t in doc if t.predicate == RDFS.seeAlso]
    assert see.subject == hub
    query = parse_qs(urlsplit(see.object.value).query)["query"][0]
    assert [row["s"] for row in store.query(query, use_default_graph_as_union=True)] == sorted(children, key=str)

    whole = description(store, hub, base, lambda q: "http://svc/sparql?query=" + quote(q, safe=""), limit=10)
    assert sorted((t.subject for t in whole if t.predicate == JLLM.baseModel), key=str) == sorted(children, key=str)
    assert not [t for t in whole if t.predicate == RDFS.seeAlso]
