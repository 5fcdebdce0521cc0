"""The /sparql endpoint served by gunicorn on 127.0.0.1: protocol, formats, safety, limits."""
from __future__ import annotations

import csv
import io
import json
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import requests
from pyoxigraph import Literal, NamedNode, Quad, Store

from tests.live import LiveServer, busy_query_processes, wait_until

EX = "http://example.org/"
N = 3000  # triples in the fixture store, spread over 10 named graphs
EXPLOSIVE = "SELECT (COUNT(*) AS ?c) WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i . ?j ?k ?l }"


def make_store(directory: Path, n: int = N, name: str = "store") -> Path:
    """A store of ``n`` triples ``ex:sI ex:pK "I"`` in graphs ``ex:gJ``, behind a generation symlink."""
    generation = directory / f"{name}.gen-{time.time_ns()}"
    store = Store(str(generation))
    store.extend(Quad(NamedNode(f"{EX}s{i}"), NamedNode(f"{EX}p{i % 7}"), Literal(str(i)), NamedNode(f"{EX}g{i % 10}"))
                 for i in range(n))
    store.flush()
    del store
    link = directory / name
    tmp = directory / f".{name}.tmp"
    if tmp.is_symlink():
        tmp.unlink()
    tmp.symlink_to(generation.name)
    os.replace(tmp, link)
    return link


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    path = make_store(tmp_path_factory.mktemp("sparql"))
    with LiveServer(path, timeout=2, workers=2, env={"JLLM_KG_WORKER_MEMORY_MB": "1000"}) as live:
        yield live


@pytest.fixture(scope="module")
def update_server(tmp_path_factory):
    path = make_store(tmp_path_factory.mktemp("sparql-update"), n=200)
    env = {"JLLM_KG_UPDATE_TOKEN": "s3cret", "JLLM_KG_MAX_RESULT_BYTES": "2000"}
    with LiveServer(path, timeout=5, env=env) as live:
        yield live


def select(server, query: str, **kwargs) -> list[dict]:
    response = requests.post(server.url, data={"query": query}, headers={"Accept": "application/sparql-results+json"}, **kwargs)
    assert response.status_code == 200, response.text
    return [{k: v["value"] for k, v in row.items()} for row in response.json()["results"]["bindings"]]


def test_csv_by_accept(server):
    response = requests.post(server.url, data={"query": f"SELECT ?s ?o WHERE {{ ?s <{EX}p1> ?o }} ORDER BY ?s LIMIT 2"},
                             headers={"Accept": "text/csv"})
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/csv")
    assert list(csv.reader(io.StringIO(response.text))) == [["s", "o"], [f"{EX}s1", "1"], [f"{EX}s1002", "1002"]]


@pytest.mark.parametrize("accept,media_type", [
    ("application/sparql-results+json", "application/sparql-results+json"),
    ("application/sparql-results+xml", "application/sparql-results+xml"),
    ("text/tab-separated-values", "text/tab-separated-values"),
    ("text/csv;q=0.5, application/sparql-results+xml;q=0.9", "application/sparql-results+xml"),
    ("*/*", "application/sparql-results+json"),
    (None, "application/sparql-results+json"),
])
def test_select_negotiation(server, accept, media_type):
    headers = {"Accept": accept} if accept else {}
    response = requests.get(server.url, params={"query": "SELECT ?x WHERE { BIND(1 AS ?x) }"}, headers=headers)
    assert response.status_code == 200
    assert response.headers["Content-Type"].split(";")[0] == media_type
    assert "Accept" in response.headers["Vary"]


@pytest.mark.parametrize("accept,media_type", [
    ("text/turtle", "text/turtle"), ("application/n-triples", "application/n-triples"),
    ("application/rdf+xml", "application/rdf+xml"), ("application/ld+json", "application/ld+json"),
])
def test_construct_negotiation(server, accept, media_type):
    query = f"CONSTRUCT {{ <{EX}s3> ?p ?o }} WHERE {{ <{EX}s3> ?p ?o }}"
    response = requests.get(server.url, params={"query": query}, headers={"Accept": accept})
    assert response.status_code == 200
    assert response.headers["Content-Type"].split(";")[0] == media_type
    if media_type == "application/ld+json":
        assert json.loads(response.text) == [{"@id": f"{EX}s3", f"{EX}p3": [{"@value": "3"}]}]
    else:
        assert f"{EX}s3" in response.text


def test_union_default_graph_and_protocol_dataset(server):
    assert select(server, "SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }") == [{"n": str(N)}]
    response = requests.get(server.url, params={"query": "SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }",
                                                "default-graph-uri": f"{EX}g1"})
    assert response.json()["results"]["bindings"][0]["n"]["value"] == str(N // 10)
    assert select(server, f"SELECT (COUNT(*) AS ?n) FROM <{EX}g2> WHERE {{ ?s ?p ?o }}") == [{"n": str(N // 10)}]
    response = requests.get(server.url, params={"query": "SELECT DISTINCT ?g WHERE { GRAPH ?g { ?s ?p ?o } }",
                                                "named-graph-uri": [f"{EX}g1", f"{EX}g2"]})
    assert sorted(b["g"]["value"] for b in response.json()["results"]["bindings"]) == [f"{EX}g1", f"{EX}g2"]


def test_post_direct_and_ask(server):
    response = requests.post(server.url, data=f"ASK {{ <{EX}s5> ?p ?o }}".encode(),
                             headers={"Content-Type": "application/sparql-query"})
    assert response.status_code == 200 and response.json()["boolean"] is True


def test_syntax_error_is_400_with_position(server):
    response = requests.get(server.url, params={"query": "SELECT * WHERE {\n ?s ?p"})
    assert response.status_code == 400
    body = response.json()
    assert body["ok"] is False and body["status"] == 400
    assert "line 2, column" in body["error"]


def test_protocol_errors(server):
    assert requests.get(server.url, params={"query": "ASK {}"}, headers={"Accept": "text/html"}).status_code == 406
    assert requests.post(server.url, data=b"ASK {}", headers={"Content-Type": "text/plain"}).status_code == 415
    assert requests.post(server.url, data=b"ASK {}", headers={"Content-Type": "application/sparql-query; charset=UTF-16"}).status_code == 415
    response = requests.put(server.url, params={"query": "ASK {}"})
    assert response.status_code == 405 and "POST" in response.headers["Allow"]
    assert requests.get(server.url, params={"query": ["ASK {}", "ASK {}"]}).status_code == 400
    assert requests.get(server.url, params={"query": "ASK {}", "default-graph-uri": "not an iri"}).status_code == 400
    assert requests.get(server.url, params={"query": "ASK {}", "format": "pdf"}).status_code == 400
    response = requests.post(server.url, data=b"#" * (17 * 1024 * 1024), headers={"Content-Type": "application/sparql-query"})
    assert response.status_code == 413 and "byte limit" in response.json()["error"]
    response = requests.head(server.url, params={"query": "ASK {}"})
    assert response.status_code == 200 and response.headers["Content-Type"] == "application/sparql-results+json"
    assert requests.post(server.url, data=b"\xff\xfe", headers={"Content-Type": "application/sparql-query"}).status_code == 400


def test_cors(server):
    response = requests.options(server.url, headers={"Origin": "http://elsewhere.example",
                                                     "Access-Control-Request-Method": "POST"})
    assert response.status_code == 204
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    assert "POST" in response.headers["Access-Control-Allow-Methods"]
    assert requests.get(server.url, params={"query": "ASK {}"}).headers["Access-Control-Allow-Origin"] == "*"


def test_service_description(server):
    response = requests.get(server.url, headers={"Accept": "text/turtle"})
    assert response.status_code == 200 and response.headers["Content-Type"].startswith("text/turtle")
    graph = Store()
    graph.load(response.content, "text/turtle")
    sd = "http://www.w3.org/ns/sparql-service-description#"
    rows = list(graph.query(f"""PREFIX sd: <{sd}> PREFIX void: <http://rdfs.org/ns/void#>
        SELECT ?endpoint ?triples WHERE {{ ?svc a sd:Service ; sd:endpoint ?endpoint ;
        sd:supportedLanguage sd:SPARQL11Query ; sd:defaultDataset/void:triples ?triples }}"""))
    assert [(r["endpoint"].value, r["triples"].value) for r in rows] == [(server.url, str(N))]
    formats = {t.object.value for t in graph.quads_for_pattern(None, NamedNode(sd + "resultFormat"), None)}
    assert "http://www.w3.org/ns/formats/SPARQL_Results_CSV" in formats


def test_update_refused_when_read_only(server):
    for response in (requests.post(server.url, data={"update": f"INSERT DATA {{ <{EX}x> <{EX}y> 1 }}"}),
                     requests.post(server.url, data=b"CLEAR ALL", headers={"Content-Type": "application/sparql-update"})):
        assert response.status_code == 403
        assert "read-only" in response.json()["error"]
    assert select(server, "SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }") == [{"n": str(N)}]


@pytest.mark.parametrize("template", [
    "SELECT * WHERE {{ SERVICE <http://127.0.0.1:9/> {{ ?s ?p ?o }} }}",
    "SELECT * WHERE {{ SERVICE <http://127.0.0.1:{port}/> {{ ?s ?p ?o }} }}",
    "select * where {{ service silent <http://127.0.0.1:{port}/sparql> {{ ?s ?p ?o }} }}",
    "SELECT * WHERE {{ # a comment\n SeRvIcE <http://127.0.0.1:{port}/> {{ ?s ?p ?o }} }}",
    "SELECT * WHERE {{ \\u0053ERVICE <http://127.0.0.1:{port}/> {{ ?s ?p ?o }} }}",
])
def test_service_refused_without_connection(server, template):
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(5)
        listener.settimeout(1.0)
        port = listener.getsockname()[1]
        response = requests.post(server.url, data={"query": template.format(port=port)})
        assert response.status_code == 403
        assert "SERVICE" in response.json()["error"]
        with pytest.raises(socket.timeout):
            listener.accept()


def test_service_keyword_in_strings_and_iris_is_fine(server):
    rows = select(server, 'SELECT ?x WHERE { BIND("SERVICE <http://127.0.0.1:9/> LOAD" AS ?x) } # SERVICE')
    assert rows == [{"x": "SERVICE <http://127.0.0.1:9/> LOAD"}]


def test_explosive_query_times_out_while_others_are_served(server):
    outcome: dict = {}

    def explode() -> None:
        started = time.monotonic()
        response = requests.post(server.url, data={"query": EXPLOSIVE}, timeout=60)
        outcome.update(status=response.status_code, body=response.json(), elapsed=time.monotonic() - started)

    thread = threading.Thread(target=explode)
    thread.start()
    assert wait_until(lambda: busy_query_processes(server)), "the explosive query did not start"
    assert select(server, f"SELECT ?o WHERE {{ <{EX}s42> ?p ?o }}", timeout=10) == [{"o": "42"}]
    thread.join(timeout=60)
    assert outcome["status"] == 503
    assert "timed out after 2 s" in outcome["body"]["error"]
    assert outcome["elapsed"] < 20  # stopped near the 2 s timeout, not run to completion
    # the killed worker was replaced: the pool still answers
    assert select(server, f"SELECT ?o WHERE {{ <{EX}s7> ?p ?o }}") == [{"o": "7"}]


def test_memory_hungry_query_stops_the_worker_not_the_server(server):
    query = "SELECT ?a ?b ?c WHERE { ?a ?p ?o . ?b ?q ?r . ?c ?x ?y } ORDER BY ?a ?b ?c LIMIT 1"
    response = requests.post(server.url, data={"query": query}, timeout=60)
    assert response.status_code == 503
    assert "out of memory" in response.json()["error"] or "timed out" in response.json()["error"]
    assert select(server, f"SELECT ?o WHERE {{ <{EX}s8> ?p ?o }}") == [{"o": "8"}]


def test_update_with_token(update_server):
    url = update_server.url
    insert = {"update": f"INSERT DATA {{ GRAPH <{EX}new> {{ <{EX}a> <{EX}b> \"c\" }} }}"}
    assert requests.post(url, data=insert).status_code == 401
    assert requests.post(url, data=insert, headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert requests.post(url, data=insert, headers={"Authorization": "Bearer s3cret"}).status_code == 204
    assert select(update_server, f"SELECT ?o WHERE {{ <{EX}a> <{EX}b> ?o }}") == [{"o": "c"}]
    response = requests.post(url, data={"update": "LOAD <http://127.0.0.1:9/data.ttl>"},
                             headers={"Authorization": "Bearer s3cret"})
    assert response.status_code == 403 and "LOAD" in response.json()["error"]


def test_result_size_cap(update_server):
    response = requests.post(update_server.url, data={"query": "SELECT * WHERE { ?s ?p ?o }"})
    assert response.status_code == 413
    assert "2,000-byte cap" in response.json()["error"]
    assert select(update_server, "SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }")[0]["n"] in ("200", "201")


def test_new_generation_is_picked_up(tmp_path):
    path = make_store(tmp_path, n=50)
    with LiveServer(path, workers=1) as live:
        assert select(live, "SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }") == [{"n": "50"}]
        make_store(tmp_path, n=70)
        assert select(live, "SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }") == [{"n": "70"}]


def test_fresh_machine_builds_store_then_serves_with_forked_web_workers(tmp_path):
    """`jllm-kg serve` on a missing store builds it from the shipped catalog; pools start per gunicorn worker."""
    path = tmp_path / "fresh" / "store"
    with LiveServer(path, timeout=2, workers=2, startup=180) as live:
        assert path.is_symlink()
        model = "https://w3id.org/jllm-kg/model/"
        for _ in range(6):  # spread over both gunicorn workers
            rows = select(live, f"SELECT ?b WHERE {{ <{model}swallow-7b> <https://w3id.org/jllm-kg/ontology#baseModel> ?b }}")
            assert rows == [{"b": model + "llama-2"}]
        response = requests.post(live.url, data={"query": EXPLOSIVE}, timeout=60)
        assert response.status_code == 503
        assert select(live, "SELECT (1 AS ?one) {}") == [{"one": "1"}]


def test_serve_refuses_a_directory_that_is_not_a_store(tmp_path):
    (tmp_path / "notastore").mkdir()
    result = subprocess.run([sys.executable, "-m", "jllm_kg.cli", "serve", "--store", str(tmp_path / "notastore"),
                             "--port", "1"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert result.stderr.startswith("error: ") and "not an Oxigraph store" in result.stderr
    assert "Traceback" not in result.stderr


def test_serve_on_a_busy_port_fails_in_one_line(tmp_path):
    import socket

    from tests.conftest import run_cli

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        res = run_cli("serve", "--store", str(tmp_path / "store"), "--port", str(port), timeout=60)
    assert res.returncode == 1
    assert res.stderr.strip() == f"error: cannot listen on 127.0.0.1:{port}: Address already in use (choose another --port)"
    assert not (tmp_path / "store").exists(), "nothing is built when the server cannot start"


def test_memory_cap_answers_503_long_before_the_timeout(tmp_path):
    """The watchdog also watches memory: a query that balloons gets a 503 naming memory, and the
    worker it ran in is replaced while the others serve."""
    path = make_store(tmp_path, n=3000)
    with LiveServer(path, timeout=60, workers=2, env={"JLLM_KG_MEMORY_MB": "1200"}) as live:
        started = time.monotonic()
        query = "SELECT ?a ?b ?c WHERE { ?a ?p ?o . ?b ?q ?r . ?c ?x ?y } ORDER BY ?a ?b ?c LIMIT 1"
        response = requests.post(live.url, data={"query": query}, timeout=120)
        assert response.status_code == 503
        assert "600 MB of memory" in response.json()["error"]
        assert time.monotonic() - started < 30  # stopped by memory, not by the 60 s timeout
        for i in (1, 2, 3):  # every worker answers afterwards, the replacement included
            assert select(live, f"SELECT ?o WHERE {{ <{EX}s{i}> ?p ?o }}") == [{"o": str(i)}]
