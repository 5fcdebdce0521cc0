"""The OpenAPI 3 document of the canned-query API, generated from the ``queries/*.rq`` headers."""
from __future__ import annotations

from typing import Any

from graph.canned import DECIMAL_MAX_EXPONENT, IRI_TYPES, MAX_LIMIT, MAX_OFFSET, MAX_VALUE_LENGTH, CannedQuery, Param

ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["ok", "error", "status"],
    "properties": {"ok": {"type": "boolean", "enum": [False]}, "error": {"type": "string"}, "status": {"type": "integer"}},
}
RESULTS_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "SPARQL 1.1 Query Results JSON (https://www.w3.org/TR/sparql11-results-json/)",
    "required": ["head", "results"],
    "properties": {
        "head": {"type": "object", "properties": {"vars": {"type": "array", "items": {"type": "string"}}}},
        "results": {"type": "object", "properties": {"bindings": {"type": "array", "items": {"type": "object"}}}},
    },
}
LIST_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["queries"],
    "properties": {"queries": {"type": "array", "items": {"type": "object", "required": ["name", "title", "params"]}}},
}


def param_schema(param: Param) -> dict[str, Any]:
    """The JSON schema of one parameter's query-string value."""
    if param.type == "integer":
        return {"type": "integer", "minimum": -(10**18) + 1, "maximum": 10**18 - 1, "default": int(param.default)}
    if param.type == "decimal":
        bound = float(10**DECIMAL_MAX_EXPONENT)
        return {"type": "number", "exclusiveMinimum": True, "minimum": -bound, "exclusiveMaximum": True, "maximum": bound,
                "default": float(param.default)}
    if param.type == "enum":
        return {"type": "string", "enum": list(param.enum), "default": param.default}
    schema: dict[str, Any] = {"type": "string", "minLength": 1, "maxLength": MAX_VALUE_LENGTH, "default": param.default}
    if param.type in IRI_TYPES:
        schema["description"] = f"a {param.type} id such as {param.default!r}, or the full IRI of a {param.type}"
    return schema


def page_parameters(query: CannedQuery) -> list[dict[str, Any]]:
    """``limit`` and ``offset``: every canned query's rows come in pages of its ordered results."""
    limit: dict[str, Any] = {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT}
    if query.default_limit is not None:
        limit["default"] = query.default_limit
    every = f"default {query.default_limit}" if query.default_limit is not None else "default: every row"
    return [
        {"name": "limit", "in": "query", "required": False, "schema": limit,
         "description": f"At most this many rows ({every}); a page shorter than the limit is the last one / 1ページの最大行数"},
        {"name": "offset", "in": "query", "required": False,
         "schema": {"type": "integer", "minimum": 0, "maximum": MAX_OFFSET, "default": 0},
         "description": "Skip this many rows of the ordered results (use with limit to page) / 先頭から飛ばす行数"},
    ]


def _error(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}


def operation(query: CannedQuery) -> dict[str, Any]:
    """The GET operation of ``/queries/{name}.json``."""
    return {
        "operationId": query.name.replace("-", "_"),
        "summary": query.text("title"),
        "description": f"{query.text('description')}\n\n{query.text('description', 'ja')}",
        "tags": list(query.tags) or ["queries"],
        "parameters": [
            {"name": p.name, "in": "query", "required": False,
             "description": f"{p.description.get('en', p.name)} / {p.description.get('ja', '')}".rstrip(" /"),
             "schema": param_schema(p)}
            for p in query.params
        ] + page_parameters(query),
        "responses": {
            "200": {"description": "SPARQL JSON results",
                    "content": {"application/sparql-results+json": {"schema": {"$ref": "#/components/schemas/Results"}}}},
            "400": _error("A parameter is invalid (the message names it)"),
            "503": _error("The query took longer than the server's time limit"),
        },
    }


def openapi_document(queries: dict[str, CannedQuery], server_url: str = "/") -> dict[str, Any]:
    """The OpenAPI 3.0 document: one path per canned query, plus the list of queries."""
    paths: dict[str, Any] = {
        "/queries.json": {"get": {
            "operationId": "list_queries", "summary": "The canned queries and their parameters", "tags": ["queries"],
            "responses": {"200": {"description": "The list", "content": {"application/json": {
                "schema": {"$ref": "#/components/schemas/QueryList"}}}}},
        }},
    }
    for query in queries.values():
        paths[f"/queries/{query.name}.json"] = {"get": operation(query)}
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "jllm-kg canned queries",
            "version": "1",
            "description": "Ready-made questions over the knowledge graph of Japanese LLMs. Each query is also "
                           "available as HTML (`.html`) and CSV (`.csv`); the SPARQL text of each is shown on its HTML page.",
        },
        "servers": [{"url": server_url}],
        "paths": paths,
        "components": {"schemas": {"Error": ERROR_SCHEMA, "Results": RESULTS_SCHEMA, "QueryList": LIST_SCHEMA}},
    }
