"""``/sparql``: the SPARQL 1.1 Protocol endpoint (query, guarded update, service description).

Thin view: read the operation (:mod:`server.sparql.protocol`), pick formats from ``Accept``
(:mod:`server.sparql.negotiation`), run it in a worker (:mod:`server.sparql.execution`), send the bytes.
The body is complete before the headers go out — never a truncated 200 — and is then
streamed in chunks.
"""
from __future__ import annotations

import hmac
from collections.abc import Iterator

from flask import Blueprint, Request, Response, current_app, redirect, request, url_for
from pyoxigraph import serialize

from graph.settings import base_iri
from server.sparql import execution
from server.errors import ApiError
from graph.formats import GRAPHS, HTML, RESULTS, by_name
from server.sparql.lexer import add_using, has_using_clause
from server.sparql.negotiation import best
from server.sparql.protocol import Operation, read_operation
from server.sparql.service_description import PREFIXES, service_description
from server.urls import public_root, public_url
from server.sparql.jobs import Job, Outcome

bp = Blueprint("sparql", __name__)
#: The endpoint's paths (the front and the query processes route on them too).
SPARQL_PATHS = ("/sparql", "/sparql/")

CHUNK = 64 * 1024
CORS = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Allow-Methods": "GET, POST, OPTIONS",
    "Access-Control-Allow-Headers": "Accept, Content-Type, Authorization",
    "Access-Control-Max-Age": "86400",
}


def _chunks(body: bytes) -> Iterator[bytes]:
    view = memoryview(body)
    for start in range(0, len(body), CHUNK):
        yield bytes(view[start:start + CHUNK])


def _send(body: bytes, fmt_name: str, status: int = 200) -> Response:
    fmt = by_name(fmt_name)
    payload = body if len(body) <= CHUNK else _chunks(body)
    response = Response(payload, status=status, content_type=fmt.content_type if fmt else None)
    response.headers["Content-Length"] = str(len(body))
    response.headers["Vary"] = "Accept"
    return response


def query_answer(outcome: Outcome) -> tuple[int, list[tuple[str, str]], bytes]:
    """Status, headers and body of the answer to a query job (the error shape when it failed)."""
    if outcome.status != 200:
        raise ApiError(outcome.status, outcome.error or "query failed")
    fmt = by_name(outcome.format or "json")
    assert fmt is not None
    return 200, [("Content-Type", fmt.content_type), ("Vary", "Accept")], outcome.body


def job_for(req: Request, config: dict, root: str) -> Job | None:
    """The job of a SPARQL protocol query request, or None for other operations (update,
    service description, OPTIONS). ``root`` is the service's public URL (the query's base IRI
    is the endpoint's URL under it)."""
    if req.method not in ("GET", "HEAD", "POST"):
        return None  # OPTIONS is answered by the view; other methods get 405 from the router
    operation = read_operation(req)
    if operation.kind != "query":
        return None
    results, graph = _formats(req)
    return execution.query_job(operation.text, config, results_format=results, graph_format=graph,
                               default_graphs=operation.default_graphs, named_graphs=operation.named_graphs,
                               base_iri=root + req.path)


def _formats(req: Request) -> tuple[str | None, str | None]:
    """The results and graph formats to answer in: ``?format=`` wins over ``Accept``."""
    explicit = req.args.get("format") or req.args.get("output")
    if explicit:
        fmt = by_name(explicit)
        if fmt is None or fmt.kind == "dataset":
            names = ", ".join(f.name for f in RESULTS + GRAPHS)
            raise ApiError(400, f"unknown format {explicit!r}: use one of {names}")
        return (fmt.name, None) if fmt.kind == "results" else (None, fmt.name)
    accept = req.headers.get("Accept")
    results, graph = best(accept, RESULTS), best(accept, GRAPHS)
    if results is None and graph is None:
        offered = ", ".join(f.media_type for f in RESULTS + GRAPHS)
        raise ApiError(406, f"cannot answer in {accept!r}: this endpoint offers {offered}")
    return (results.name if results else None), (graph.name if graph else None)


def _endpoint() -> str:
    return public_url(request.path)


@bp.route(SPARQL_PATHS[0], methods=["GET", "POST", "OPTIONS"])
@bp.route(SPARQL_PATHS[1], methods=["GET", "POST", "OPTIONS"])
def sparql() -> Response:
    """Answer one SPARQL protocol request."""
    if request.method == "OPTIONS":
        return Response(status=204, headers=CORS)
    job = job_for(request, execution.state()["config"], public_root())
    if job is not None:
        status, headers, body = query_answer(execution.run_job_here(job))
        return Response(body if len(body) <= CHUNK else _chunks(body), status=status, headers=headers)
    operation = read_operation(request)
    if operation.kind == "description":
        return _description()
    return _update(operation)


def _description() -> Response:
    """The Service Description (``?format=`` or ``Accept``); a browser is sent to the editor."""
    _, fmt_name = _formats(request) if request.args.get("format") or request.args.get("output") else (None, None)
    if fmt_name is None and best(request.headers.get("Accept"), (*GRAPHS, HTML)) is HTML:
        return redirect(url_for("sparql_editor.editor"), 303)  # a person: the editor, which links this description
    fmt = by_name(fmt_name) if fmt_name else best(request.headers.get("Accept"), GRAPHS)
    if fmt is None:
        raise ApiError(406, "the service description is RDF: accept one of " + ", ".join(f.media_type for f in GRAPHS))
    config = execution.state()["config"]
    triples = service_description(_endpoint(), execution.dataset_stats(), bool(config["update_token"]),
                                  bool(config["allow_network"]))
    body = serialize(triples, format=fmt.oxigraph, **({"prefixes": PREFIXES} if fmt.name == "ttl" else {}))
    return _send(body, fmt.name)


def _update(operation: Operation) -> Response:
    token = execution.state()["config"]["update_token"]
    if not token:
        raise ApiError(403, "SPARQL Update is disabled: this endpoint is read-only")
    given = request.headers.get("Authorization", "")
    if not (given.startswith("Bearer ") and hmac.compare_digest(given[7:].strip().encode(), token.encode())):
        raise ApiError(401, "SPARQL Update needs the operator's token: Authorization: Bearer <token>",
                       {"WWW-Authenticate": 'Bearer realm="jllm-kg"'})
    text = operation.text
    if operation.default_graphs is not None:
        if has_using_clause(text):
            raise ApiError(400, "using-graph-uri/using-named-graph-uri cannot be combined with USING or WITH in the update")
        text = add_using(text, operation.default_graphs, operation.named_graphs or [])
    # Relative IRIs in an update are minted in the dataset's namespace, not the endpoint's.
    outcome = execution.run_update(text, base_iri=current_app.config.get("BASE_IRI") or base_iri())
    if outcome.status >= 300:
        raise ApiError(outcome.status, outcome.error or "update failed")
    return Response(status=204)

