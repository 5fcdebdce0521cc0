"""Running SPARQL for any route: safety checks, then the executor, with the configured limits.

The executor (``app.extensions["jllm"]["pool"]``) is :class:`server.watchdog.InProcessExecutor` under
``jllm-kg serve`` (gunicorn sync workers, queries in-process, a watchdog that answers 503 and ends
the process at the timeout or memory cap) and :class:`server.pool.QueryPool` elsewhere (killable
query-worker processes). Both take a :class:`~server.worker.Job` and give an :class:`~server.worker.Outcome`.

Views that run SPARQL a user wrote or parametrised (/sparql, canned queries) call
:func:`run_query` / :func:`run_update`, so they all get the same hard timeout, size cap and
network guard. Resource pages, search and the home page run only their own fixed queries
(one resource's description, a label search bound with ``substitutions=``) on the process's
own store handle (:func:`server.resources.current_store` — under ``jllm-kg serve``, the
executor's), inside the watchdog's guard of the whole request.
"""
from __future__ import annotations

from flask import current_app

from server.errors import ApiError
from server.lexer import has_dataset_clause, network_keywords
from server.pool import QueryPool
from server.worker import Job, Outcome


def state() -> dict:
    """The shared objects of the app: ``config`` and the lazily started ``pool``."""
    return current_app.extensions["jllm"]


def check_network(text: str) -> None:
    """Refuse SERVICE / LOAD (403) unless the operator allowed network access."""
    if state()["config"]["allow_network"]:
        return
    found = network_keywords(text)
    if found:
        raise ApiError(403, f"{' and '.join(found)} is disabled on this endpoint: it would make the server "
                            "open network connections (the operator can enable it with JLLM_KG_ALLOW_NETWORK=1)")


def run_query(text: str, *, results_format: str | None = "json", graph_format: str | None = "ttl",
              default_graphs: list[str] | None = None, named_graphs: list[str] | None = None,
              base_iri: str | None = None, substitutions: dict | None = None) -> Outcome:
    """Run a query in a worker process and return its serialized result (or error outcome).

    Without a protocol dataset and without ``FROM``, the default graph is the union of all graphs.
    """
    check_network(text)
    config = state()["config"]
    dataset = default_graphs is not None or named_graphs is not None
    job = Job("query", text, base_iri=base_iri, union_default_graph=not has_dataset_clause(text),
              default_graphs=tuple(default_graphs or ()) if dataset else None,
              named_graphs=tuple(named_graphs or ()) if dataset else None,
              results_format=results_format, graph_format=graph_format,
              max_bytes=int(config["max_result_bytes"]), substitutions=substitutions or {})
    return state()["pool"].run(job, float(config["timeout"]))


def run_update(text: str, *, base_iri: str | None = None) -> Outcome:
    """Run an update in the (single, writable) worker."""
    check_network(text)
    return state()["pool"].run(Job("update", text, base_iri=base_iri), float(state()["config"]["timeout"]))


def dataset_stats() -> dict | None:
    """Triples, subjects, properties and graphs of the served store (cached per store generation)."""
    pool: QueryPool = state()["pool"]
    cache = state().setdefault("stats", {})
    target = pool.target()
    if target not in cache:
        outcome = pool.run(Job("stats"), float(state()["config"]["timeout"]))
        if outcome.status != 200:
            return None
        cache.clear()
        cache[target] = outcome.data
    return cache[target]
