"""The Flask application factory: configuration, the store handle, error shape, blueprints, headers."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import Flask, Response, request

from server import errors
from server.config import load_config
from graph.store.backend import Backend, open_backend

#: Blueprint modules, in registration order (the catch-all resource routes last).
BLUEPRINTS = ("server.sparql.endpoint", "server.pages.site", "server.pages.queries", "server.pages.editor", "server.pages.resources")
#: Largest request body accepted (queries and updates); bigger ones get 413.
MAX_REQUEST_BYTES = 16 * 1024 * 1024
#: Pages load scripts, styles and images from this site only, and are never framed.
CONTENT_SECURITY_POLICY = ("default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
                           "script-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; "
                           "form-action 'self'; frame-ancestors 'none'")


def create_app(config: dict[str, Any] | None = None) -> Flask:
    """A configured app. ``config`` takes server keys (``store_path``, ``timeout``… see
    :mod:`server.config`) and upper-case Flask keys (``STORE_PATH``, ``TESTING``…).

    Shared objects live in ``app.extensions["jllm"]``: ``config`` and ``store`` (this
    process's :class:`~graph.store.backend.Backend`, read-write only in update mode).
    """
    config = dict(config or {})
    flask_keys = {k: v for k, v in config.items() if k.isupper()}
    server_keys = {k: v for k, v in config.items() if not k.isupper()}
    if "STORE_PATH" in flask_keys and "store_path" not in server_keys:
        server_keys["store_path"] = flask_keys["STORE_PATH"]
    settings = load_config(server_keys)

    app = Flask("server", root_path=str(Path(__file__).parent))
    app.config["MAX_CONTENT_LENGTH"] = int(settings.get("max_request_bytes", MAX_REQUEST_BYTES))
    app.config.update(flask_keys)
    app.config["STORE_PATH"] = str(settings["store_path"])
    if settings["public_url"]:
        app.config["PUBLIC_URL"] = settings["public_url"]
    store = backend(settings)
    app.extensions["jllm"] = {"config": settings, "store": store}
    errors.register(app)
    for name in settings.get("blueprints", BLUEPRINTS):
        app.register_blueprint(__import__(name, fromlist=["bp"]).bp)

    @app.after_request
    def _headers(response: Response) -> Response:
        for name, value in response_headers(app, response.status_code, response.mimetype or "", request.method,
                                             "Authorization" in request.headers):
            if name not in response.headers or name == "X-Content-Type-Options":
                response.headers[name] = value
        return response

    return app


def backend(settings: dict[str, Any]) -> Backend:
    """The store backend of ``settings``: a query process of ``jllm-kg serve`` reaches a remote store
    only through the front's relay (it has no network); elsewhere the backend connects itself."""
    transport = None
    if settings.get("store_relay"):
        from server.http.relay import RelayTransport

        transport = RelayTransport(settings["store_relay"])
    handle = open_backend(settings["store_path"], writable=bool(settings["update_token"]), transport=transport,
                          timeout=float(settings["timeout"]))
    if hasattr(handle, "ttl"):
        handle.ttl = float(settings["pointer_ttl"])
    return handle


def response_headers(app: Flask, status: int, content_type: str, method: str, authorized: bool) -> list[tuple[str, str]]:
    """The headers every answer gets: CORS for the read-only data, nosniff, CSP on pages, and
    ``Cache-Control: public`` on successful reads (what the front caches)."""
    headers = [("Access-Control-Allow-Origin", "*"), ("X-Content-Type-Options", "nosniff")]
    if content_type.split(";")[0].strip() == "text/html":
        headers += [("Content-Security-Policy", CONTENT_SECURITY_POLICY), ("X-Frame-Options", "DENY"),
                    ("Referrer-Policy", "same-origin")]
    if status == 200 and method in ("GET", "HEAD", "POST") and not authorized:
        headers.append(("Cache-Control", f"public, max-age={int(app.extensions['jllm']['config']['max_age'])}"))
    return headers
