"""Building blocks of the endpoint, in process: tokenizer, negotiation, format table, worker jobs, app factory."""
from __future__ import annotations

import doctest

import pytest
from pyoxigraph import Literal, NamedNode, Quad, Store

import graph.formats
import server.sparql.lexer
import server.sparql.negotiation
from server.app import create_app
from graph.formats import GRAPHS, RESULTS, by_media_type, by_name
from server.sparql.lexer import add_using, has_dataset_clause, network_keywords, query_form
from server.sparql.negotiation import best
from server.sparql.jobs import Job, run_job


@pytest.mark.parametrize("module", [server.sparql.lexer, graph.formats, server.sparql.negotiation])
def test_doctests(module):
    result = doctest.testmod(module)
    assert result.failed == 0 and result.attempted > 0


@pytest.mark.parametrize("text,expected", [
    ("SELECT * WHERE { SERVICE <http://x/> { ?s ?p ?o } }", ["SERVICE"]),
    ("LOAD <http://x/data.ttl>", ["LOAD"]),
    ("SELECT ?service ?load WHERE { ?service ?load ?o }", []),
    ("PREFIX service: <http://s/> SELECT * { service:load ?p ?o }", ["SERVICE"]),  # fails closed
    ("SELECT * { ?s ?p 'SERVICE' . ?s ?p '''multi\nLOAD''' }", []),
    ("SELECT * { ?s ?p \"\"\"a \" SERVICE\"\"\" }", []),
    ("SELECT * { <http://e/SERVICE> ?p ?o } # SERVICE <http://x/> {}", []),
    ("SELECT * { ?s ?p \"x\"@service }", []),
    ("SELECT * { FILTER(1<2) SERVICE <http://x/> {} }", ["SERVICE"]),
    ("SELECT * { \\u0053ERVICE <http://x/> {} }", ["SERVICE"]),
])
def test_network_keywords(text, expected):
    assert network_keywords(text) == expected


def test_query_form_and_dataset_clause():
    assert query_form("BASE <http://b/> PREFIX a: <http://a/> CONSTRUCT WHERE { ?s ?p ?o }") == "CONSTRUCT"
    assert query_form("# SELECT\nDESCRIBE <http://x>") == "DESCRIBE"
    assert has_dataset_clause("SELECT * FROM <http://g> { ?s ?p ?o }")
    assert not has_dataset_clause("SELECT * { ?s <http://e/from> 'FROM' }")


def test_add_using():
    update = "DELETE { ?s ?p ?o } INSERT { ?s ?p 1 } WHERE { ?s ?p ?o { SELECT ?s WHERE { ?s ?p ?o } } } ; DELETE WHERE { ?a ?b ?c }"
    assert add_using(update, ["http://g"], ["http://n"]) == (
        "DELETE { ?s ?p ?o } INSERT { ?s ?p 1 } USING <http://g> USING NAMED <http://n> WHERE "
        "{ ?s ?p ?o { SELECT ?s WHERE { ?s ?p ?o } } } ; DELETE WHERE { ?a ?b ?c }")


@pytest.mark.parametrize("accept,offered,expected", [
    ("application/sparql-results+json;q=0.2, text/csv", RESULTS, "csv"),
    ("text/tab-separated-values, text/*;q=0.5", RESULTS, "tsv"),
    ("application/json", RESULTS, "json"),
    ("application/json", GRAPHS, "jsonld"),
    ("text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8", RESULTS, "xml"),
    ("text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8", GRAPHS, "ttl"),
    ("application/rdf+xml;q=0, */*", GRAPHS, "ttl"),
    ("image/png", GRAPHS, None),
    ("", GRAPHS, "ttl"),
])
def test_negotiation(accept, offered, expected):
    fmt = best(accept, offered)
    assert (fmt.name if fmt else None) == expected


def test_format_table_is_consistent():
    for fmt in RESULTS + GRAPHS:
        assert by_name(fmt.name) is fmt and by_name(fmt.extension) is fmt
        assert by_media_type(fmt.media_type) is fmt
        assert fmt.oxigraph.media_type.split(";")[0] == fmt.media_type


@pytest.fixture()
def store() -> Store:
    store = Store()
    store.extend(Quad(NamedNode(f"http://e/s{i}"), NamedNode("http://e/p"), Literal(i), NamedNode(f"http://e/g{i % 2}"))
                 for i in range(100))
    return store


def test_worker_job_union_dataset_and_cap(store):
    count = Job("query", "SELECT (COUNT(*) AS ?n) { ?s ?p ?o }", results_format="csv")
    assert run_job(store, count).body == b"n\r\n100\r\n"
    assert run_job(store, Job("query", count.text, results_format="csv", default_graphs=("http://e/g1",),
                              named_graphs=())).body == b"n\r\n50\r\n"
    capped = run_job(store, Job("query", "SELECT * { ?s ?p ?o }", results_format="json", max_bytes=500))
    assert capped.status == 413 and "500-byte cap" in capped.error
    assert run_job(store, Job("query", "CONSTRUCT WHERE { ?s ?p ?o }", results_format="json")).status == 406
    bad = run_job(store, Job("query", "SELECT * WHERE {\n ?s ?p", results_format="json"))
    assert bad.status == 400 and bad.error.startswith("SPARQL syntax error: line 2, column")


def test_app_factory_accepts_flask_keys(tmp_path):
    app = create_app({"STORE_PATH": str(tmp_path / "store"), "TESTING": True, "timeout": 3})
    assert app.config["TESTING"] and app.config["STORE_PATH"] == str(tmp_path / "store")
    state = app.extensions["jllm"]
    assert state["config"]["timeout"] == 3 and state["config"]["update_token"] is None
    client = app.test_client()
    # protocol errors are answered before any worker is needed
    assert client.post("/sparql", data=b"ASK {}", content_type="text/plain").status_code == 415
    assert client.get("/sparql?query=ASK{}", headers={"Accept": "image/png"}).status_code == 406
    response = client.delete("/sparql")
    assert response.status_code == 405 and response.json == {
        "ok": False, "status": 405, "error": "DELETE is not allowed on /sparql; use GET, HEAD, OPTIONS, POST"}
