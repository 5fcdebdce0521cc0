"""Reading a SPARQL 1.1 Protocol request: which operation, its text, its dataset.

Query: GET ``?query=``, POST form (``application/x-www-form-urlencoded``), POST direct
(``application/sparql-query``), with ``default-graph-uri`` / ``named-graph-uri``.
Update: POST form (``update=``) or POST direct (``application/sparql-update``), with
``using-graph-uri`` / ``using-named-graph-uri``. Anything else is a 4xx :class:`ApiError`.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from flask import Request
from pyoxigraph import NamedNode

from server.errors import ApiError

FORM = "application/x-www-form-urlencoded"
QUERY = "application/sparql-query"
UPDATE = "application/sparql-update"
_IRI = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*:[^<>\"{}|^`\\\x00-\x20]*$")


@dataclass(frozen=True)
class Operation:
    """A parsed request: ``kind`` is ``query``, ``update`` or ``description`` (no query given)."""

    kind: str
    text: str = ""
    default_graphs: list[str] | None = None
    named_graphs: list[str] | None = None


def _iris(values: list[str], param: str) -> list[str]:
    for value in values:
        if not _IRI.fullmatch(value):
            raise ApiError(400, f"{param} must be an absolute IRI, not {value!r}")
        try:
            NamedNode(value)
        except ValueError as err:
            raise ApiError(400, f"{param} is not a valid IRI: {value!r} ({err})") from None
    return values


def _dataset(params: list, default_key: str, named_key: str) -> tuple[list[str] | None, list[str] | None]:
    """Default and named graphs given by the protocol (None, None when it gives none)."""
    default = [v for p in params for v in p.getlist(default_key)]
    named = [v for p in params for v in p.getlist(named_key)]
    if not default and not named:
        return None, None
    return _iris(default, default_key), _iris(named, named_key)


def _one(values: list[str], name: str) -> str:
    if len(values) > 1:
        raise ApiError(400, f"exactly one {name} parameter is allowed, got {len(values)}")
    return values[0]


def _body_text(request: Request) -> str:
    charset = request.mimetype_params.get("charset", "utf-8").lower()
    if charset not in ("utf-8", "utf8"):
        raise ApiError(415, f"the request body must be UTF-8 encoded, not {charset}")
    try:
        return request.get_data(cache=True).decode("utf-8")
    except UnicodeDecodeError as err:
        raise ApiError(400, f"the request body is not valid UTF-8 (byte {err.start})") from None


def read_operation(request: Request) -> Operation:
    """The operation a GET or POST to the endpoint asks for."""
    if request.method in ("GET", "HEAD"):
        if request.content_length or request.get_data(cache=True):
            raise ApiError(400, "a GET request must not have a body: send the query in ?query= or use POST")
        if request.args.getlist("update"):
            raise ApiError(400, "SPARQL Update must be sent with POST (form field update= or application/sparql-update)")
        queries = request.args.getlist("query")
        if not queries:
            return Operation("description")
        default, named = _dataset([request.args], "default-graph-uri", "named-graph-uri")
        return Operation("query", _one(queries, "query"), default, named)

    mimetype = request.mimetype
    if mimetype == FORM:
        form = request.form
        queries, updates = form.getlist("query"), form.getlist("update")
        if queries and updates:
            raise ApiError(400, "send either query= or update=, not both")
        if queries:
            default, named = _dataset([request.args, form], "default-graph-uri", "named-graph-uri")
            return Operation("query", _one(queries, "query"), default, named)
        if updates:
            default, named = _dataset([request.args, form], "using-graph-uri", "using-named-graph-uri")
            return Operation("update", _one(updates, "update"), default, named)
        raise ApiError(400, "the form body has no query= or update= field")
    if mimetype == QUERY:
        default, named = _dataset([request.args], "default-graph-uri", "named-graph-uri")
        return Operation("query", _body_text(request), default, named)
    if mimetype == UPDATE:
        default, named = _dataset([request.args], "using-graph-uri", "using-named-graph-uri")
        return Operation("update", _body_text(request), default, named)
    if not mimetype:
        raise ApiError(415, f"a POST needs a Content-Type: {FORM}, {QUERY} or {UPDATE}")
    raise ApiError(415, f"unsupported Content-Type {mimetype!r}: use {FORM}, {QUERY} or {UPDATE}")
