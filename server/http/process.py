"""How a query lane answers a request the front has read whole: a SPARQL query through the
endpoint's own functions, anything else through the Flask app (:func:`respond`).
"""
from __future__ import annotations

import io
import sys
from typing import Any

from werkzeug.wrappers import Request as Request_

from server.app import response_headers
from server.errors import ApiError, error_response
from server.sparql.endpoint import SPARQL_PATHS, job_for, query_answer
from server.http.lanes import Request
from server.sparql.jobs import run_job


FILE_BY_PATH = "jllm.file_by_path"
"""WSGI environ key: set when the front can send a file itself. A view may then answer 200 with an
empty body and the file's path in :data:`FILE_HEADER` (the front streams it: ``/dump.ttl``)."""
FILE_HEADER = "X-Jllm-File"


def environ(request: Request) -> dict[str, Any]:
    """The WSGI environ of a request the front has read whole."""
    method, path, query, headers, body, scheme, server, client = request
    host, _, port = server.rpartition(":")
    env: dict[str, Any] = {
        "REQUEST_METHOD": method, "SCRIPT_NAME": "",
        "PATH_INFO": path.encode("utf-8", "surrogateescape").decode("latin-1"),
        "QUERY_STRING": query, "SERVER_NAME": host or server, "SERVER_PORT": port or "80",
        "SERVER_PROTOCOL": "HTTP/1.1", "REMOTE_ADDR": client.rpartition(":")[0] or client,
        "wsgi.version": (1, 0), "wsgi.url_scheme": scheme, "wsgi.input": io.BytesIO(body),
        "wsgi.errors": sys.stderr, "wsgi.multithread": True, "wsgi.multiprocess": True, "wsgi.run_once": False,
        "CONTENT_LENGTH": str(len(body)),
        FILE_BY_PATH: True,
    }
    for name, value in headers:
        key = name.upper().replace("-", "_")
        if key == "CONTENT_TYPE":
            env["CONTENT_TYPE"] = value
        elif key != "CONTENT_LENGTH":
            key = "HTTP_" + key
            env[key] = f"{env[key]},{value}" if key in env else value
    return env


def call(app, request: Request) -> tuple[int, list[tuple[str, str]], bytes]:
    """Run the WSGI ``app`` on ``request``; the whole body is collected."""
    started: list = []

    def start_response(status: str, headers: list, exc_info=None):
        started[:] = [status, headers]
        return lambda data: None

    result = app(environ(request), start_response)
    try:
        body = b"".join(result)
    finally:
        if hasattr(result, "close"):
            result.close()
    return int(started[0].split(" ", 1)[0]), list(started[1]), body


def respond(app, request: Request) -> tuple[int, list[tuple[str, str]], bytes]:
    """The answer to ``request``: a SPARQL query through the endpoint's own functions without the
    Flask dispatch around them (the hot path), anything else through the Flask app.

    A query runs once: when the engine refuses it, its error is rendered by the app's one error
    handler, not by running the request again through the app.
    """
    if request[1] not in SPARQL_PATHS:
        return call(app, request)
    shared = app.extensions["jllm"]
    env = environ(request)
    req = Request_(env)
    try:
        job = job_for(req, shared["config"], app.config.get("PUBLIC_URL") or req.host_url.rstrip("/"))
        store = shared["store"].store() if job is not None else None
    except (ApiError, OSError):
        job = None  # the app renders the error (JSON or text, as the client prefers)
    if job is None or store is None:
        return call(app, request)
    outcome = run_job(store, job)
    if outcome.status != 200:
        return _error(app, env, outcome.status, outcome.error or "query failed")
    status, headers, body = query_answer(outcome)
    return status, headers + response_headers(app, status, headers[0][1], request[0], False), body


def _error(app, env: dict[str, Any], status: int, message: str) -> tuple[int, list[tuple[str, str]], bytes]:
    """The app's error answer for ``message``, with the headers every answer gets."""
    with app.request_context(env):
        response = app.process_response(error_response(status, message))
        return response.status_code, list(response.headers.items()), response.get_data()

