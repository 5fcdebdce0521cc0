"""Running SPARQL for any route: the checks, then the engine, in the thread of the request.

There is one execution path. A view calls :func:`run_query` / :func:`run_update`; they refuse
what must not run (``SERVICE``/``LOAD`` unless allowed, queries nested too deep), then run the
job on this process's backend (:mod:`graph.store.backend`: the current generation of the
embedded store, or of a remote SPARQL store). Under
``jllm-kg serve`` this process is a query process of :mod:`server.http.process`: the front
(:mod:`server.http.front`) ends it at the deadline or the memory cap and answers ``503``; the kernel
keeps it off the network (:mod:`server.http.sandbox`). In tests with Flask's client the same code
runs in the test's own process.
"""
from __future__ import annotations

from flask import current_app

from graph.store.client import StoreUnavailable
from graph.store.remote import NoGraph
from server.errors import ApiError
from server.sparql.lexer import QueryShapeError, check_shape, has_dataset_clause, network_keywords
from server.sparql.jobs import Job, Outcome, run_job


def state() -> dict:
    """The shared objects of the app: ``config``, ``store`` (a :class:`graph.store.backend.Backend`) and ``stats``."""
    return current_app.extensions["jllm"]


def check_query_text(text: str, config: dict | None = None) -> None:
    """Refuse SERVICE / LOAD (403) unless the operator allowed network access, and queries
    nested deeper than the engine's parser can take (400)."""
    config = config if config is not None else state()["config"]
    if not config["allow_network"] and config["text_guard"]:
        found = network_keywords(text)
        if found:
            raise ApiError(403, f"{' and '.join(found)} is disabled on this endpoint: it would make the server "
                                "open network connections (the operator can enable it with JLLM_KG_ALLOW_NETWORK=1)")
    try:
        check_shape(text)
    except QueryShapeError as err:
        raise ApiError(400, str(err)) from None


def run_job_here(job: Job) -> Outcome:
    """Run ``job`` on this process's store handle."""
    try:
        store = state()["store"].store()
    except StoreUnavailable as err:
        return Outcome(503 if isinstance(err, NoGraph) else 502, error=str(err))
    except OSError as err:
        return Outcome(503, error=f"cannot open the store: {err}")
    return run_job(store, job)


def query_job(text: str, config: dict, *, results_format: str | None = "json", graph_format: str | None = "ttl",
              default_graphs: list[str] | None = None, named_graphs: list[str] | None = None,
              base_iri: str | None = None, substitutions: dict | None = None) -> Job:
    """The checked job for a query (raises :class:`ApiError` for what must not run).

    Without a protocol dataset and without ``FROM``, the default graph is the union of all graphs.
    """
    check_query_text(text, config)
    dataset = default_graphs is not None or named_graphs is not None
    return Job("query", text, base_iri=base_iri, union_default_graph=not has_dataset_clause(text),
               default_graphs=tuple(default_graphs or ()) if dataset else None,
               named_graphs=tuple(named_graphs or ()) if dataset else None,
               results_format=results_format, graph_format=graph_format,
               max_bytes=int(config["max_result_bytes"]), substitutions=substitutions or {})


def run_query(text: str, **options) -> Outcome:
    """Run a query here and return its serialized result (or an error outcome); see :func:`query_job`."""
    return run_job_here(query_job(text, state()["config"], **options))


def run_update(text: str, *, base_iri: str | None = None) -> Outcome:
    """Run an update (the store is open read-write only when an update token is configured)."""
    check_query_text(text)
    return run_job_here(Job("update", text, base_iri=base_iri))


def dataset_stats() -> dict | None:
    """Triples, subjects, properties and graphs of the served store (cached per store generation)."""
    cache = state().setdefault("stats", {})
    try:
        target = state()["store"].target()
    except StoreUnavailable:
        return None
    if target not in cache:
        outcome = run_job_here(Job("stats"))
        if outcome.status != 200:
            return None
        cache.clear()
        cache[target] = outcome.data
    return cache[target]
