"""The remote backend end to end: ``jllm-kg build/validate/query/export --store http://…`` on a real
``oxigraph serve``, the generation switch, and ``jllm-kg serve`` on it (outage, timeout, caps, ETags).

The known-answer, canned-query, resource-page and W3C protocol tests run on both backends
(``seed_location`` in ``conftest.py``); these are the remote backend's own.
"""
from __future__ import annotations

import json
import os
import shutil
import threading
import time
from pathlib import Path

import pytest
import requests
from pyoxigraph import NamedNode

from graph.build import build_store
from graph.store.client import Endpoints, HttpTransport
from graph.store.generations import open_store
from graph.store.publish import current_pointer
from graph.store.remote import NS
from tests.conftest import make_app, run_cli
from tests.live import LiveServer, free_port
from tests.remote_store import OxigraphServer

FIXTURE = Path(__file__).parent / "fixtures" / "catalog"
EPOCH = {"SOURCE_DATE_EPOCH": "1764590400"}
ALL_GRAPHS = "SELECT DISTINCT ?g WHERE { GRAPH ?g { ?s ?p ?o } } ORDER BY ?g"
#: Replicas behind a load balancer are asked under one host name (the Host header is part of the cache key).
BEHIND_ONE_NAME = {"Host": "kg.example.org"}
SLOW = "SELECT (COUNT(*) AS ?c) WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i }"


def store_graphs(url: str) -> set[str]:
    """Every named graph of the remote store, as the store itself lists them (no dataset)."""
    reply = requests.post(url + "query", data={"query": ALL_GRAPHS}, headers={"Accept": "application/sparql-results+json"},
                          timeout=30)
    return {b["g"]["value"] for b in reply.json()["results"]["bindings"]}


def pointer(url: str):
    return current_pointer(HttpTransport(Endpoints.of(url, env={})), url)


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """An ``oxigraph serve`` that ``jllm-kg build --store URL`` filled from the fixture catalog, and
    the embedded store built from the same catalog at the same date."""
    embedded = tmp_path_factory.mktemp("embedded") / "store"
    os.environ.update(EPOCH)
    try:
        build_store(catalog_dir=FIXTURE, store_path=embedded, echo=lambda *a, **k: None)
    finally:
        del os.environ["SOURCE_DATE_EPOCH"]
    with OxigraphServer() as server:
        run = run_cli("build", "--catalog", str(FIXTURE), "--store", server.url, env=EPOCH)
        assert run.returncode == 0, run.stderr
        yield server, embedded, run


def test_build_reports_each_phase(built):
    _, _, run = built
    for phase in ("uploading", "uploaded", "switching readers", "switched: readers now see"):
        assert f"[remote] {phase}" in run.stderr
    assert run.stdout.strip().splitlines()[-1].startswith(f"built {built[0].url} -> gen-")


def test_validate_query_and_export_on_the_remote_store_match_the_embedded_one(built):
    server, embedded, _ = built
    run = run_cli("validate", "--store", server.url)
    assert run.returncode == 0 and "conforms to the SHACL shapes" in run.stdout, run.stderr
    for fmt in ("ttl", "nq", "jsonld"):
        remote = run_cli("export", "--format", fmt, "--store", server.url)
        local = run_cli("export", "--format", fmt, "--store", str(embedded))
        assert remote.returncode == 0, remote.stderr
        assert remote.stdout == local.stdout  # the same bytes: the export round-trips through the remote store
    for name in ("statistics", "models-by-licence"):  # ordered by the query: the same bytes
        remote = run_cli("query", name, "--format", "json", "--store", server.url)
        assert remote.stdout == run_cli("query", name, "--format", "json", "--store", str(embedded)).stdout
    # descendants come in the engine's own order (no global sort, see queries/descendants.rq): the same rows
    remote, local = (json.loads(run_cli("query", "descendants", "--format", "json", "--store", where).stdout)
                     for where in (server.url, str(embedded)))
    rows = lambda answer: sorted(json.dumps(b, sort_keys=True) for b in answer["results"]["bindings"])  # noqa: E731
    assert remote["head"] == local["head"] and rows(remote) == rows(local) and len(rows(local)) == 3  # the fixture's Llama 2 descendants


def test_readers_see_only_the_generation_graphs_under_their_own_names(built):
    server, embedded, _ = built
    ours = {g.value for g in open_store(embedded).named_graphs()}
    everything = store_graphs(server.url)
    assert ours < everything  # the pointer and the union graph sit beside them…
    assert {g for g in everything - ours} == {NS + "pointer", pointer(server.url).union}
    for location in (embedded, server.url):  # …and no reader sees them
        client = make_app(location).test_client()
        r = client.post("/sparql", data={"query": ALL_GRAPHS}, headers={"Accept": "text/csv"})
        assert {line for line in r.text.split()[1:]} == ours


def test_a_second_and_third_build_switch_generations_and_drop_the_old(built, tmp_path):
    server, _, _ = built
    first = pointer(server.url)
    catalog = tmp_path / "catalog"
    shutil.copytree(FIXTURE, catalog)
    dropped = sorted(catalog.glob("models/*.yaml"))[0]
    dropped.unlink()
    assert run_cli("build", "--catalog", str(catalog), "--store", server.url).returncode == 0
    second = pointer(server.url)
    assert second.generation != first.generation and second.previous == first.union
    assert set(first.graphs) - set(second.graphs)  # the removed model's graphs are gone from the store…
    graphs = store_graphs(server.url)
    assert not (set(first.graphs) - set(second.graphs)) & graphs
    assert not any(g.startswith(NS + "staging:") for g in graphs)  # …no staging graph is left behind…
    assert first.union in graphs  # …and the previous union stays for readers that read the old pointer
    run = run_cli("build", "--catalog", str(FIXTURE), "--store", server.url, "--if-changed")
    assert run.returncode == 0 and "built" in run.stdout
    third = pointer(server.url)
    graphs = store_graphs(server.url)
    assert first.union not in graphs and second.union in graphs and third.union in graphs
    run = run_cli("build", "--catalog", str(FIXTURE), "--store", server.url, "--if-changed")
    assert "is up to date" in run.stdout and pointer(server.url).generation == third.generation


@pytest.mark.parametrize("command", [("query", "descendants"), ("export",), ("validate",), ("build", "--catalog", str(FIXTURE))])
def test_an_unreachable_store_is_a_one_line_error(command):
    url = f"http://127.0.0.1:{free_port()}/"
    run = run_cli(*command, "--store", url)
    assert run.returncode == 1
    assert run.stderr.startswith(f"error: the store at {url}query is unreachable") and run.stderr.count("\n") == 1


def test_a_store_without_a_generation_says_how_to_fill_it():
    with OxigraphServer() as server:
        run = run_cli("query", "statistics", "--store", server.url)
        assert run.returncode == 1
        assert run.stderr == (f"error: the store at {server.url} holds no jllm-kg graph: "
                              f"run `jllm-kg build --store {server.url}` first\n")
        bad = run_cli("query", "statistics", "--store", server.url, "--store-auth", "nocolon")
        assert bad.stderr == "error: --store-auth must be USER:PASSWORD\n"


# ---------------------------------------------------------------- jllm-kg serve on the remote store

@pytest.fixture(scope="module")
def remote(seed_store_path):
    from tests.remote_store import publish_store

    with OxigraphServer() as server:
        publish_store(seed_store_path, server.url)
        yield server


@pytest.fixture(scope="module")
def served(remote):
    env = {"JLLM_KG_MAX_RESULT_BYTES": "300000", "JLLM_KG_TEXT_GUARD": "0", "JLLM_KG_ACCESS_LOG": "off"}
    # 8 s: the remote /dump.ttl of the shipped catalog's store (what a clone without ../shared builds) took over 2 s on a slow
    # host, and over 4 s (a 503) once while two test runs and a large dump shared the two cores
    with LiveServer(remote.url, timeout=8, workers=2, env=env) as live:
        yield live


def test_serve_answers_pages_queries_and_sparql_from_the_remote_store(served):
    for path in ("/", "/model/llama-2", "/queries/descendants.json?model=llama-2", "/.well-known/void", "/dump.ttl"):
        r = requests.get(served.base + path, headers={"Accept": "text/html"}, timeout=30)
        assert r.status_code == 200, (path, r.text[:300])
    r = requests.get(served.url, params={"query": "ASK { ?s ?p ?o }"}, headers={"Accept": "application/sparql-results+json"})
    assert r.json() == {"head": {}, "boolean": True}


def test_the_relay_sends_no_service_or_load_to_the_store_even_without_the_text_guard(served):
    r = requests.get(served.url, params={"query": "SELECT * WHERE { SERVICE <http://127.0.0.1:9/> { ?s ?p ?o } }"})
    assert r.status_code == 403 and "SERVICE and LOAD are not sent to the remote store" in r.json()["error"]


def test_a_remote_result_over_the_cap_is_413(served):
    r = requests.get(served.url, params={"query": "SELECT * WHERE { ?s ?p ?o }"}, headers={"Accept": "text/csv"})
    assert r.status_code == 413 and "300,000-byte cap" in r.json()["error"]


def test_a_slow_remote_query_gets_the_embedded_503(served):
    started = time.monotonic()
    r = requests.get(served.url, params={"query": SLOW}, timeout=30)
    assert r.status_code == 503 and "timed out after 8 s" in r.json()["error"], r.text
    assert time.monotonic() - started < 12


def test_replicas_of_one_generation_agree_on_etags(served, remote):
    with LiveServer(remote.url, workers=1, env={"JLLM_KG_ACCESS_LOG": "off"}) as other:
        tags = {requests.get(s.base + "/queries/ancestors.json?model=swallow-7b", headers=BEHIND_ONE_NAME,
                             timeout=30).headers["ETag"] for s in (served, other)}
    assert len(tags) == 1


def test_replicas_on_copies_of_an_embedded_generation_agree_on_etags(seed_store_path, tmp_path):
    generation = Path(seed_store_path).resolve()
    copy = tmp_path / generation.name
    shutil.copytree(generation, copy)
    (tmp_path / "store").symlink_to(copy.name)
    with LiveServer(seed_store_path, workers=1) as one, LiveServer(tmp_path / "store", workers=1) as two:
        tags = {requests.get(s.base + "/model/llama-2", headers=BEHIND_ONE_NAME, timeout=30).headers["ETag"]
                for s in (one, two)}
    assert len(tags) == 1


def test_a_store_that_goes_away_mid_request_is_502_and_serving_resumes_when_it_returns(served, remote):
    answers: list = []
    slow = threading.Thread(target=lambda: answers.append(requests.get(served.url, params={"query": SLOW}, timeout=30)))
    slow.start()
    time.sleep(0.7)  # the slow query is running in the remote store
    remote.stop()
    slow.join()
    assert answers[0].status_code in (502, 503)
    down = requests.get(served.base + "/queries/descendants.json?model=llama-2&limit=7", timeout=30)
    assert down.status_code == 502
    assert down.json()["error"] == f"the store at {remote.url}query is unreachable: All connection attempts failed"
    remote.start()
    back = requests.get(served.base + "/queries/descendants.json?model=llama-2&limit=7", timeout=30)
    assert back.status_code == 200 and json.loads(back.text)["results"]["bindings"]


def test_errors_on_the_remote_store_read_as_on_the_embedded_one(seed_store_path, remote_seed_store):
    bad = "SELECT * WHERE { ?s "
    answers = [make_app(location).test_client().get("/sparql", query_string={"query": bad}).get_json()
               for location in (seed_store_path, remote_seed_store)]
    assert [a["status"] for a in answers] == [400, 400]
    assert all(a["error"].startswith("SPARQL syntax error: line 1, column 21: expected one of") for a in answers)


def test_serve_refuses_updates_on_a_remote_store(remote_seed_store):
    run = run_cli("serve", "--store", remote_seed_store, "--port", str(free_port()), env={"JLLM_KG_UPDATE_TOKEN": "t"},
                  timeout=60)
    assert run.returncode == 1
    assert run.stderr.startswith("error: SPARQL Update through jllm-kg is not available on a remote store")


def test_a_store_that_refuses_the_upload_is_a_one_line_error_and_stays_as_it_was(tmp_path):
    with OxigraphServer(tmp_path / "rw"):  # create the store's files, then serve them read-only
        pass
    with OxigraphServer(tmp_path / "rw", read_only=True) as server:
        run = run_cli("build", "--catalog", str(FIXTURE), "--store", server.url)
        assert run.returncode == 1
        assert run.stderr.splitlines()[-1].startswith("error: the store refused the upload of <urn:jllm-kg:staging:gen-")
        assert run.stderr.splitlines()[-1].count("\n") == 0 and "Traceback" not in run.stderr
        assert store_graphs(server.url) == set()


def test_the_relay_forwards_queries_to_the_query_endpoint_and_nothing_else(remote_seed_store):
    import asyncio

    from server.http.relay import Relay, RelayTransport

    loop = asyncio.new_event_loop()
    relay = Relay(Endpoints.of(remote_seed_store, env={}), timeout=10, allow_network=False)
    loop.run_until_complete(relay.start())
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    try:
        transport = RelayTransport(relay.path)
        assert relay.generation == pointer(remote_seed_store).generation
        reply = transport.send("query", form=[("query", "ASK { ?s ?p ?o }")], accept="application/sparql-results+json")
        assert reply.status == 200 and json.loads(reply.read()) == {"head": {}, "boolean": False}  # the store's own default graph
        for target, form in [("update", [("update", "DROP ALL")]), ("store", [("query", "ASK {}")]),
                             ("query", [("query", "DROP ALL")]), ("query", [("query", "ASK {}"), ("update", "DROP ALL")]),
                             ("query", [("query", "ASK { SERVICE <http://127.0.0.1:9/> { ?s ?p ?o } }")])]:
            with pytest.raises(PermissionError):
                transport.send(target, form=form)
        assert os.stat(relay.directory).st_mode & 0o777 == 0o700
        transport.close()
        time.sleep(0.3)  # the relay sees the connection end
    finally:
        asyncio.run_coroutine_threadsafe(relay.close(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()
    assert len(store_graphs(remote_seed_store)) > 100  # nothing was dropped
