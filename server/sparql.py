"""``/sparql``: the SPARQL 1.1 Protocol endpoint (query, guarded update, service description).

Thin view: read the operation (:mod:`server.protocol`), pick formats from ``Accept``
(:mod:`server.negotiation`), run it in a worker (:mod:`server.execution`), send the bytes.
The body is complete before the headers go out — never a truncated 200 — and is then
streamed in chunks.
"""
from __future__ import annotations

import hmac
from collections.abc import Iterator

from flask import Blueprint, Response, current_app, request
from pyoxigraph import serialize

from graph.settings import base_iri
from server import execution
from server.errors import ApiError
from server.formats import GRAPHS, RESULTS, by_name
from server.lexer import add_using, has_using_clause
from server.negotiation import best
from server.protocol import Operation, read_operation
from server.service_description import PREFIXES, service_description
from server.urls import public_url

bp = Blueprint("sparql", __name__)

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


def _formats() -> tuple[str | None, str | None]:
    """The results and graph formats to answer in: ``?format=`` wins over ``Accept``."""
    explicit = request.args.get("format") or request.args.get("output")
    if explicit:
        fmt = by_name(explicit)
        if fmt is None or fmt.kind == "dataset":
            names = ", ".join(f.name for f in RESULTS + GRAPHS)
            raise ApiError(400, f"unknown format {explicit!r}: use one of {names}")
        return (fmt.name, None) if fmt.kind == "results" else (None, fmt.name)
    accept = request.headers.get("Accept")
    results, graph = best(accept, RESULTS), best(accept, GRAPHS)
    if results is None and graph is None:
        offered = ", ".join(f.media_type for f in RESULTS + GRAPHS)
        raise ApiError(406, f"cannot answer in {accept!r}: this endpoint offers {offered}")
    return (results.name if results else None), (graph.name if graph else None)


def _endpoint() -> str:
    return public_url(request.path)


@bp.route("/sparql", methods=["GET", "POST", "OPTIONS"])
@bp.route("/sparql/", methods=["GET", "POST", "OPTIONS"])
def sparql() -> Response:
    """Answer one SPARQL protocol request."""
    if request.method == "OPTIONS":
        return Response(status=204, headers=CORS)
    operation = read_operation(request)
    if operation.kind == "description":
        return _description()
    if operation.kind == "update":
        return _update(operation)
    results, graph = _formats()
    outcome = execution.run_query(operation.text, results_format=results, graph_format=graph,
                                  default_graphs=operation.default_graphs, named_graphs=operation.named_graphs,
                                  base_iri=_endpoint())
    if outcome.status != 200:
        raise ApiError(outcome.status, outcome.error or "query failed")
    return _send(outcome.body, outcome.format or "json")


def _description() -> Response:
    fmt = best(request.headers.get("Accept"), GRAPHS)
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

