"""The query process's own path for SPARQL queries (``server.http.process.respond``): the same
answers as the Flask app, and every query run once."""
from __future__ import annotations

import json
from urllib.parse import urlencode

import pytest

import server.http.process as process


def _post(query: str, accept: str = "application/sparql-results+json") -> process.Request:
    body = urlencode({"query": query}).encode()
    headers = [("host", "127.0.0.1:8000"), ("content-type", "application/x-www-form-urlencoded"),
               ("accept", accept), ("content-length", str(len(body)))]
    return ("POST", "/sparql", "", headers, body, "http", "127.0.0.1:8000", "127.0.0.1:40000")


@pytest.fixture
def runs(monkeypatch) -> list[str]:
    """The query texts the engine was given, in order."""
    seen: list[str] = []
    real = process.run_job

    def counting(store, job):
        seen.append(job.text)
        return real(store, job)

    monkeypatch.setattr(process, "run_job", counting)
    return seen


def test_a_query_answers_as_the_app_does_and_runs_once(app, client, runs):
    query = "SELECT (COUNT(*) AS ?n) WHERE { ?s a <https://w3id.org/jllm-kg/ontology#ModelFamily> }"
    status, headers, body = process.respond(app, _post(query))
    expected = client.post("/sparql", data={"query": query}, headers={"Accept": "application/sparql-results+json"})
    assert status == 200 and body == expected.data
    assert dict(headers)["Content-Type"] == "application/sparql-results+json"
    assert dict(headers)["X-Content-Type-Options"] == "nosniff"
    assert int(json.loads(body)["results"]["bindings"][0]["n"]["value"]) > 0
    assert runs == [query]


@pytest.mark.parametrize("accept, shape", [("application/json", "json"), ("text/plain", "text")])
def test_a_query_the_engine_refuses_is_answered_in_the_error_shape_without_a_second_run(app, client, runs, accept, shape):
    query = "SELECT * WHERE { ?s ?p }"  # passes the text checks; the engine's parser refuses it
    status, headers, body = process.respond(app, _post(query, accept))
    expected = client.post("/sparql", data={"query": query}, headers={"Accept": accept})
    assert status == 400 == expected.status_code
    assert body == expected.data
    assert dict(headers)["X-Content-Type-Options"] == "nosniff"
    if shape == "json":
        error = json.loads(body)
        assert error["ok"] is False and error["status"] == 400 and error["error"].startswith("SPARQL syntax error")
    else:
        assert body.startswith(b"error: SPARQL syntax error")
    assert runs == [query]  # once: the Flask client's answer above runs through the view, not this path


def test_a_request_that_is_not_a_query_goes_through_the_app(app, runs):
    status, headers, body = process.respond(app, ("GET", "/sparql", "", [("host", "127.0.0.1:8000"), ("accept", "text/turtle")],
                                                  b"", "http", "127.0.0.1:8000", "127.0.0.1:40000"))
    assert status == 200 and b"a sd:Service" in body
    assert runs == []
