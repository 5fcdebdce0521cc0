"""The canned queries over HTTP: /queries, /queries/NAME[.ext], /openapi.json, and a schema-driven fuzz."""
from __future__ import annotations

import csv
import io
import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest
from flask import Flask

from graph.canned import load_queries

QUERIES = load_queries()
HOSTILE = ['"', "x\" } UNION { ?s ?p ?o", "llama-2>", "<http://x>", "a\nb", "\"\"\"'''", "llama-2\" .\n}"]


def make_app(store_path: Path) -> Flask:
    from server.app import create_app

    return create_app({"STORE_PATH": str(store_path), "TESTING": True})


@pytest.fixture(scope="module")
def app(seed_location):
    """The app on the seed store, on each backend (embedded, then a remote ``oxigraph serve``)."""
    return make_app(seed_location)


@pytest.fixture()
def client(app):
    return app.test_client()


# ------------------------------------------------------------------ the list

def test_queries_list_html_and_json(client):
    page = client.get("/queries", headers={"Accept": "text/html"})
    assert page.status_code == 200 and page.content_type.startswith("text/html")
    html = page.get_data(as_text=True)
    for name in QUERIES:
        assert f'href="/queries/{name}"' in html
    data = client.get("/queries.json").get_json()
    by_name = {q["name"]: q for q in data["queries"]}
    assert set(by_name) == set(QUERIES)
    assert by_name["descendants"]["params"][0] == {
        "name": "model", "type": "model", "default": "llama-2",
        "description": dict(QUERIES["descendants"].params[0].description)}
    assert by_name["commercial-use"]["params"][0]["enum"] == ["yes", "no", "unknown"]


# ------------------------------------------------------------------ one query

def test_json_twin_is_sparql_results(client):
    r = client.get("/queries/descendants.json?model=mistral-7b-v0-1")
    assert r.status_code == 200 and r.content_type == "application/sparql-results+json"
    data = r.get_json()
    assert "descendant" in data["head"]["vars"]
    found = {b["descendant"]["value"].rsplit("/", 1)[-1]: b for b in data["results"]["bindings"]}
    assert {"japanese-stable-lm-gamma-7b", "chatntq-ja-7b", "shisa-gamma-7b", "shisa-7b", "karasu"} <= set(found)
    assert found["karasu"]["depth"] == {"type": "literal", "value": "2", "datatype": "http://www.w3.org/2001/XMLSchema#integer"}


def test_csv_twin(client, seed_answers):
    r = client.get("/queries/models-trained-on.csv?dataset=ichikara-instruction")
    assert r.status_code == 200 and r.content_type.startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(r.get_data(as_text=True))))
    assert {row["modelLabel"] for row in rows} == {"houou-7b", "LLM-jp-13B v1.1", "Stockmark-13b"}


@pytest.mark.parametrize(("accept", "media_type"), [
    ("text/html,application/xhtml+xml,*/*;q=0.8", "text/html"),
    ("application/sparql-results+json", "application/sparql-results+json"),
    ("application/json", "application/sparql-results+json"),
    ("text/csv", "text/csv"),
    ("*/*", "application/sparql-results+json"),
])
def test_accept_negotiation(client, accept, media_type):
    r = client.get("/queries/ancestors", headers={"Accept": accept})
    assert r.status_code == 200 and r.content_type.split(";")[0] == media_type


def test_unsupported_accept_is_406(client):
    assert client.get("/queries/ancestors", headers={"Accept": "image/png"}).status_code == 406


def test_html_page_table_links_form_and_sparql(client):
    r = client.get("/queries/descendants.html?model=mistral-7b-v0-1")
    html = r.get_data(as_text=True)
    assert r.status_code == 200
    assert '<a href="/model/karasu"' in html and ">Karasu</a>" in html
    assert '<a href="/model/shisa-7b"' in html
    assert '<input name="model" value="mistral-7b-v0-1"' in html
    assert "?descendant jllm:baseModel+ ?model" in html         # the SPARQL text is shown
    assert "&lt;https://w3id.org/jllm-kg/ontology#&gt;" in html  # …escaped
    editor = next(line for line in html.splitlines() if "/sparql-editor?query=" in line)
    url = editor.split('href="', 1)[1].split('"', 1)[0].replace("&amp;", "&")
    assert parse_qs(urlparse(url).query)["query"][0] == QUERIES["descendants"].sparql
    assert 'href="/queries/descendants.json?model=mistral-7b-v0-1"' in html


def test_html_enum_is_a_select(client):
    html = client.get("/queries/commercial-use.html?allowed=no").get_data(as_text=True)
    assert '<select name="allowed">' in html
    assert '<option value="no" selected>no</option>' in html and '<option value="yes">yes</option>' in html


@pytest.mark.parametrize(("url", "param"), [
    ("/queries/descendants.json?model=nope", "model"),
    ("/queries/models-by-size.json?min=big", "min"),
    ("/queries/commercial-use.json?allowed=maybe", "allowed"),
    ("/queries/ancestors.json?depth=3", "depth"),
])
def test_bad_params_are_400_naming_the_parameter(client, url, param):
    r = client.get(url)
    assert r.status_code == 400
    body = r.get_json()
    assert body["ok"] is False and body["status"] == 400 and f"parameter '{param}'" in body["error"]
    html = client.get(url.replace(".json", ".html"))
    assert html.status_code == 400 and f"parameter &#39;{param}&#39;" in html.get_data(as_text=True)


def test_unknown_query_is_404(client):
    r = client.get("/queries/nope.json")
    assert r.status_code == 404 and r.get_json()["ok"] is False
    assert client.get("/queries/nope", headers={"Accept": "text/html"}).status_code == 404


@pytest.mark.parametrize("value", HOSTILE)
def test_hostile_values_over_http(client, value):
    """Quotes, '>' and newlines: a clean 400 or a (safe) 200, never a 500, in every query and format."""
    for q in QUERIES.values():
        for p in q.params:
            for ext in ("json", "html", "csv"):
                r = client.get(f"/queries/{q.name}.{ext}", query_string={p.name: value})
                assert r.status_code in (200, 400), (q.name, p.name, ext, r.status_code)
                if r.status_code == 400 and ext == "json":
                    assert p.name in r.get_json()["error"]
                if ext == "html":
                    assert "<script" not in r.get_data(as_text=True).lower()
    r = client.get("/queries/search-models.json", query_string={"text": 'x" } UNION { ?s ?p ?o'})
    assert r.status_code == 200 and r.get_json()["results"]["bindings"] == []


# ------------------------------------------------------------------ OpenAPI

def test_openapi_document_validates(client):
    from openapi_spec_validator import validate

    doc = client.get("/openapi.json").get_json()
    validate(doc)
    assert set(doc["paths"]) == {"/queries.json", *(f"/queries/{n}.json" for n in QUERIES)}
    op = doc["paths"]["/queries/commercial-use.json"]["get"]
    assert op["parameters"][0]["schema"] == {"type": "string", "enum": ["yes", "no", "unknown"], "default": "yes"}
    assert doc["paths"]["/queries/longest-context.json"]["get"]["parameters"][0]["schema"]["type"] == "integer"


def test_schemathesis_finds_no_server_error(app, tmp_path):
    """A bounded schema-driven fuzz (schemathesis, 20 examples per operation) against a live server."""
    exe = shutil.which("schemathesis", path=str(Path(sys.executable).parent)) or shutil.which("schemathesis")
    if exe is None:
        pytest.skip("schemathesis is not installed (pip install -e '.[test]')")
    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_port}"
        result = subprocess.run(
            [exe, "run", f"{url}/openapi.json", "--exclude-checks", "positive_data_acceptance", "-n", "20",
             "--seed", "1", "--phases", "examples,coverage,fuzzing", "--generation-database", "none"],
            capture_output=True, text=True, timeout=170, env={**os.environ, "SCHEMATHESIS_TELEMETRY": "false"},
            cwd=tmp_path,  # its .schemathesis/ cache goes there, not into the work tree
        )
    finally:
        server.shutdown()
        thread.join(5)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]


def test_html_pages_advertise_their_data_twins_in_a_link_header(client):
    listing = client.get("/queries", headers={"Accept": "text/html"})
    assert '</queries.json>; rel="alternate"; type="application/json"' in listing.headers["Link"]
    page = client.get("/queries/descendants?model=llama-2", headers={"Accept": "text/html"})
    assert page.status_code == 200
    assert '</queries/descendants.json?model=llama-2>; rel="alternate"; type="application/sparql-results+json"' in page.headers["Link"]
    assert "text/csv" in page.headers["Link"] and "Accept" in page.headers["Vary"]
