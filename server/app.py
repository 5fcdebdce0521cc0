"""The Flask application factory: configuration, the worker pool, error shape, blueprints."""
from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

from flask import Flask, g

from server import errors
from server.config import load_config
from server.pool import QueryPool
from server.watchdog import InProcessExecutor

#: Blueprint modules, in registration order (the catch-all resource routes last).
BLUEPRINTS = ("server.sparql", "server.pages", "server.canned_views", "server.sparql_editor", "server.resources")
#: Largest request body accepted (queries and updates); bigger ones get 413.
MAX_REQUEST_BYTES = 16 * 1024 * 1024


def create_app(config: dict[str, Any] | None = None) -> Flask:
    """A configured app. ``config`` takes server keys (``store_path``, ``timeout``… see
    :mod:`server.config`) and upper-case Flask keys (``STORE_PATH``, ``TESTING``…).

    Shared objects live in ``app.extensions["jllm"]``: ``config`` and ``pool`` (the query
    workers, started lazily in the process that serves, i.e. after gunicorn forks).
    """
    config = dict(config or {})
    flask_keys = {k: v for k, v in config.items() if k.isupper()}
    server_keys = {k: v for k, v in config.items() if not k.isupper()}
    if "STORE_PATH" in flask_keys and "store_path" not in server_keys:
        server_keys["store_path"] = flask_keys["STORE_PATH"]
    settings = load_config(server_keys)

    app = Flask("server", root_path=str(Path(__file__).parent))
    app.config["MAX_CONTENT_LENGTH"] = MAX_REQUEST_BYTES
    app.config.update(flask_keys)
    app.config["STORE_PATH"] = str(settings["store_path"])
    writable = bool(settings["update_token"])
    pool: QueryPool | InProcessExecutor
    if settings.get("execution") == "inprocess":
        # under gunicorn sync workers (`jllm-kg serve`): queries run here, guarded by a watchdog
        pool = InProcessExecutor(settings["store_path"], writable=writable, memory_mb=settings["worker_memory_mb"])
    else:
        # anywhere else: killable query-worker processes. Update mode: one worker holds the store
        # read-write (RocksDB allows a single writer).
        pool = QueryPool(settings["store_path"], size=1 if writable else settings["query_workers"], writable=writable,
                         memory_mb=settings["worker_memory_mb"])
    app.extensions["jllm"] = {"config": settings, "pool": pool}
    errors.register(app)
    for name in settings.get("blueprints", BLUEPRINTS):
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as err:
            if err.name == name:
                continue
            raise
        app.register_blueprint(module.bp)
    app.after_request(_open_cors)
    if isinstance(pool, InProcessExecutor):
        _guard_requests(app, pool, float(settings["timeout"]) + REQUEST_GRACE)
    return app


#: A whole request may take this much longer than its query timeout before the watchdog stops it.
REQUEST_GRACE = 5.0


def _guard_requests(app: Flask, executor: InProcessExecutor, timeout: float) -> None:
    """Every request (pages too, not only SPARQL) runs under the watchdog of its worker process."""

    @app.before_request
    def _watch() -> None:
        g.watchdog_token = executor.enter_request(timeout)

    @app.teardown_request
    def _unwatch(_exc: BaseException | None) -> None:
        token = g.pop("watchdog_token", None)
        if token is not None:
            executor.leave_request(token)


def _open_cors(response):
    """Public, read-only data: any origin may read it (linked-data clients running in browsers)."""
    response.headers.setdefault("Access-Control-Allow-Origin", "*")
    return response
