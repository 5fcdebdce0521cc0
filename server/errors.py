"""One error shape for every route: ``{"ok": false, "error": message, "status": code}``.

Clients that prefer ``text/plain`` get ``error: message``. Raise :class:`ApiError` from a
view; HTTP errors raised by Flask (404, 405 with ``Allow``…) and unexpected exceptions
are rendered in the same shape (an unexpected exception is logged and answers 500).
"""
from __future__ import annotations

import json

from flask import Flask, Response, request
from werkzeug.exceptions import HTTPException, MethodNotAllowed, RequestEntityTooLarge

from graph.store.client import StoreUnavailable
from graph.store.remote import NoGraph


class ApiError(Exception):
    """An error answer: HTTP status, a message the client can act on, extra headers."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers or {}


def error_response(status: int, message: str, headers: dict[str, str] | None = None) -> Response:
    """The error document, JSON unless the client prefers plain text."""
    accept = request.accept_mimetypes if request else None
    plain = bool(accept) and accept.best_match(["application/json", "text/plain"]) == "text/plain" \
        and accept["text/plain"] > accept["application/json"]
    if plain:
        body, mimetype = f"error: {message}\n", "text/plain"
    else:
        body, mimetype = json.dumps({"ok": False, "error": message, "status": status}, ensure_ascii=False), "application/json"
    response = Response(body, status=status, mimetype=mimetype)
    response.headers.update(headers or {})
    response.headers["Access-Control-Allow-Origin"] = "*"
    return response


def register(app: Flask) -> None:
    """Install the handlers that render every error in the one shape."""

    @app.errorhandler(ApiError)
    def _api_error(err: ApiError) -> Response:
        return error_response(err.status, err.message, err.headers)

    @app.errorhandler(HTTPException)
    def _http_error(err: HTTPException) -> Response:
        headers = {k: v for k, v in err.get_headers() if k.lower() not in ("content-type", "content-length")}
        message = err.description or err.name
        if isinstance(err, RequestEntityTooLarge):
            limit = app.config.get("MAX_CONTENT_LENGTH")
            message = f"the request body is larger than the {limit:,}-byte limit" if limit else message
        if isinstance(err, MethodNotAllowed):
            message = f"{request.method} is not allowed on {request.path}; use {', '.join(sorted(err.valid_methods or []))}"
        return error_response(err.code or 500, message, headers)

    @app.errorhandler(StoreUnavailable)
    def _store_unavailable(err: StoreUnavailable) -> Response:
        return error_response(503 if isinstance(err, NoGraph) else 502, str(err))

    @app.errorhandler(Exception)
    def _unexpected(err: Exception) -> Response:
        app.logger.exception("unexpected error")
        return error_response(500, f"internal error: {type(err).__name__}")
