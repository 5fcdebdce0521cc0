"""A query process: the Flask app serving one request at a time for the front, off the network.

The front (:mod:`server.http.front`) starts ``jllm-kg serve``'s query processes with :data:`BOOT`
(a fresh interpreter, not a fork of the threaded front) and hands each a Unix socket. A
query process first forbids itself the network (:func:`server.http.sandbox.deny_network`, unless
the operator allowed it), then serves requests that the front has already read completely —
a slow client never holds it — on a thread whose stack is large enough for the deepest query
the endpoint accepts (the engine's parser recurses). The front ends the process at the
request's deadline or the memory cap; nothing a client sends ends it otherwise.
"""
from __future__ import annotations

import io
import os
import signal
import socket
import sys
import threading
from typing import Any

from werkzeug.wrappers import Request as Request_

from server.http import wire
from server.app import response_headers
from server.errors import ApiError, error_response
from server.sparql.endpoint import SPARQL_PATHS, job_for, query_answer
from server.sparql.jobs import run_job

#: How the front starts a query process: ``python -c BOOT <fd>``; the configuration comes as the
#: first message on the socket (never on the command line, where ``ps`` would show the update token).
BOOT = "from server.http.process import main; main()"
#: Stack of the serving thread. 256 MB of address space (touched only as deep as a query goes)
#: parses queries nested 50,000 levels deep; the endpoint accepts 128 (server.sparql.lexer.MAX_DEPTH).
STACK_BYTES = 256 * 1024 * 1024

#: (method, path, query string, headers, body, scheme, server "host:port", client "addr:port")
Request = tuple[str, str, str, list[tuple[str, str]], bytes, str, str, str]
#: (status, headers, body, store generation used)
Reply = tuple[int, list[tuple[str, str]], bytes, str]


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
        "wsgi.errors": sys.stderr, "wsgi.multithread": False, "wsgi.multiprocess": True, "wsgi.run_once": False,
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


def serve(sock: socket.socket, config: dict) -> None:
    """Answer the front's requests until it closes the socket."""
    from server.app import create_app

    app = create_app(config)
    handle = app.extensions["jllm"]["store"]
    try:
        handle.store()  # open now, not on the first request
    except OSError:
        pass  # answered per request (503) until a build makes the store appear
    wire.send(sock, ("ready", os.getpid(), threading.get_native_id()))  # the thread that runs the requests
    while True:
        try:
            request = wire.receive(sock)
        except (EOFError, OSError):
            return
        status, headers, body = respond(app, request)
        try:
            generation = handle.generation()
        except OSError:  # a remote store that went away: answers are not cached under any generation
            generation = ""
        wire.send(sock, (status, headers, body, generation))


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


def main() -> None:
    """Entry point (see :data:`BOOT`): ``argv`` holds the socket's descriptor."""
    sock = socket.socket(fileno=int(sys.argv[1]))
    config = wire.receive(sock)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the front decides when this process ends
    if not config.get("allow_network"):
        from server.http.sandbox import deny_network

        deny_network()  # before any thread exists: every later thread inherits the filter
    threading.stack_size(STACK_BYTES)
    worker = threading.Thread(target=serve, args=(sock, config), name="jllm-query")
    worker.start()
    worker.join()
