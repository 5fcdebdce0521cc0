"""The HTTP front of ``jllm-kg serve``: an RSGI application under granian (Rust HTTP, keep-alive).

granian reads request lines and headers (with its own header-read timeout); this front reads
each body completely, with a deadline and a size cap, before any query process is involved, so
a slow or idle client holds only a coroutine. Then:

1. a cacheable request (GET/HEAD, or a SPARQL query sent by POST) is looked up in the response
   cache (:mod:`server.http.cache`) under the current store generation and its normalised form —
   a hit is answered here, with ``ETag``/``304``;
2. otherwise the request goes whole to a query process (:mod:`server.http.pool`, :mod:`server.http.process`);
   the front enforces the deadline and the memory cap by ending that process.

Every request gets one access-log line (method, path, status, bytes, ms) unless turned off.
"""
from __future__ import annotations

import asyncio
import calendar
import email.utils
import json
import os
import sys
import time
from typing import Any, Hashable
from urllib.parse import parse_qs

from server.http.access_log import AccessLog
from server.http.cache import Entry, ResponseCache, etag
from server.config import load_config, query_processes, memory_per_process
from graph.store.backend import open_backend
from graph.store.client import Endpoints, is_remote
from server.http.pool import Pool, Refusal
from server.http.process import Request
from server.sparql.endpoint import SPARQL_PATHS

FORM = "application/x-www-form-urlencoded"
QUERY = "application/sparql-query"
#: Headers the front sets itself (granian frames the body).
_HOP = {"content-length", "transfer-encoding", "connection", "keep-alive"}
_BASE_HEADERS = [("access-control-allow-origin", "*"), ("x-content-type-options", "nosniff")]


class BodyTooLarge(Exception):
    """The request body passed the size cap while it was being read."""


def cache_key(method: str, path: str, query: str, headers: dict[str, str], body: bytes) -> Hashable | None:
    """The normalised form of a cacheable request, or None.

    A SPARQL query is the same request by GET, POST form or POST direct: its key is the query
    text (trimmed), its dataset and the formats asked for.

    >>> cache_key("GET", "/sparql", "query=ASK%7B%7D+", {}, b"") == cache_key("POST", "/sparql", "", {"content-type": QUERY}, b"ASK{}")
    True
    >>> cache_key("POST", "/sparql", "", {"content-type": FORM}, b"update=CLEAR+ALL") is None
    True
    """
    if "authorization" in headers:
        return None
    negotiated = (headers.get("accept", ""), headers.get("accept-language", ""), headers.get("host", ""))
    if path in SPARQL_PATHS and (method == "POST" or "query=" in query):
        params = parse_qs(query, keep_blank_values=True)
        if method == "POST":
            kind = headers.get("content-type", "").split(";")[0].strip().lower()
            try:
                text = body.decode("utf-8")
            except UnicodeDecodeError:
                return None
            if kind == FORM:
                for name, values in parse_qs(text, keep_blank_values=True).items():
                    params.setdefault(name, []).extend(values)
            elif kind == QUERY:
                params.setdefault("query", []).append(text)
            else:
                return None
        elif method not in ("GET", "HEAD") or body:
            return None
        queries = params.get("query", [])
        if len(queries) != 1 or "update" in params:
            return None
        dataset = tuple(tuple(params.get(name, ())) for name in ("default-graph-uri", "named-graph-uri"))
        chosen = tuple(params.get("format", []) + params.get("output", []))
        return ("sparql", queries[0].strip(), dataset, chosen, negotiated)
    if method in ("GET", "HEAD") and not body:
        return ("get", path, query, negotiated)
    return None


def error_body(status: int, message: str) -> bytes:
    """The service's one error shape."""
    return json.dumps({"ok": False, "error": message, "status": status}, ensure_ascii=False).encode()


def _http_date(timestamp: float) -> str:
    return email.utils.formatdate(timestamp, usegmt=True)


def _matches(if_none_match: str | None, tag: str) -> bool:
    if not if_none_match:
        return False
    candidates = [c.strip().removeprefix("W/") for c in if_none_match.split(",")]
    return "*" in candidates or tag in candidates


class Front:
    """The RSGI application: reads requests whole, answers from the cache or through the pool."""

    def __init__(self, config: dict[str, Any]) -> None:
        self.config = config
        self.timeout = float(config["timeout"])
        self.queue_timeout = max(self.timeout, float(config["queue_timeout"]))
        self.max_body = int(config["max_request_bytes"])
        self.body_timeout = float(config["body_timeout"])
        self.remote = is_remote(config["store_path"])
        self.handle = None if self.remote else open_backend(config["store_path"])
        self.relay = None
        if self.remote:  # the query processes reach the store through the front (server/http/relay.py)
            from server.http.relay import Relay

            self.relay = Relay(Endpoints.of(str(config["store_path"])), float(config["timeout"]),
                               bool(config["allow_network"]), float(config["pointer_ttl"]))
        self.cache = ResponseCache(int(config["cache_mb"]) << 20)
        self.log = AccessLog.open(str(config["access_log"]))
        self.pool: Pool | None = None
        self._ready: asyncio.Event | None = None
        self._modified: dict[str, str] = {}

    # granian's hooks ---------------------------------------------------------------------
    def __rsgi_init__(self, loop: asyncio.AbstractEventLoop) -> None:
        """Start the query processes in this (granian worker) process."""
        worker_config = {k: (str(v) if k == "store_path" else v) for k, v in self.config.items()}
        if self.relay is not None:
            worker_config["store_relay"] = self.relay.path
        self.pool = Pool(worker_config, query_processes(self.config), memory_per_process(self.config),
                         depth=int(self.config["pipeline"]))
        self._ready = asyncio.Event()

        async def start() -> None:
            assert self.pool is not None and self._ready is not None
            if self.relay is not None:
                await self.relay.start()
            await self.pool.start()
            self._ready.set()

        self._starting = loop.create_task(start())

    def __rsgi_del__(self, loop: asyncio.AbstractEventLoop) -> None:
        for part in (self.pool, self.relay):
            if part is not None:
                loop.run_until_complete(part.close()) if not loop.is_running() else loop.create_task(part.close())

    # requests ----------------------------------------------------------------------------
    async def __call__(self, scope, protocol) -> None:
        started = time.perf_counter()
        status, size = 500, 0
        try:
            status, size = await self._handle(scope, protocol)
        except Exception as err:  # noqa: BLE001 - a front that raises would drop the connection
            print(f"jllm-kg: internal error in the front: {type(err).__name__}: {err}", file=sys.stderr)
            body = error_body(500, f"internal error: {type(err).__name__}")
            protocol.response_bytes(500, [*_BASE_HEADERS, ("content-type", "application/json")], body)
            status, size = 500, len(body)
        if self.log is not None:
            self.log.line(scope.client.rpartition(":")[0] or scope.client, scope.method,
                          scope.path + ("?" + scope.query_string if scope.query_string else ""), status, size,
                          (time.perf_counter() - started) * 1000)

    def _error(self, protocol, status: int, message: str, extra: list[tuple[str, str]] = ()) -> tuple[int, int]:
        body = error_body(status, message)
        protocol.response_bytes(status, [*_BASE_HEADERS, ("content-type", "application/json"), *extra], body)
        return status, len(body)

    async def _read_body(self, headers: dict[str, str], protocol) -> bytes:
        """The whole body, or :class:`BodyTooLarge`/:class:`asyncio.TimeoutError`/:class:`ValueError`."""
        length = headers.get("content-length")
        if length is not None:
            if not length.strip().isdigit():
                raise ValueError(f"Content-Length {length!r} is not a number")
            if int(length) > self.max_body:
                raise BodyTooLarge()
            if int(length) == 0:
                return b""
            async with asyncio.timeout(self.body_timeout):  # framed by Content-Length: read it in one call
                return await protocol()
        elif "transfer-encoding" not in headers:
            return b""

        async def collect() -> bytes:
            chunks, size = [], 0
            async for chunk in protocol:
                size += len(chunk)
                if size > self.max_body:
                    raise BodyTooLarge()
                chunks.append(chunk)
            return b"".join(chunks)

        return await asyncio.wait_for(collect(), self.body_timeout)

    async def _handle(self, scope, protocol) -> tuple[int, int]:
        method, path, query = scope.method, scope.path, scope.query_string
        headers = {k.lower(): v for k, v in scope.headers.items()}
        try:
            body = await self._read_body(headers, protocol)
        except BodyTooLarge:
            return self._error(protocol, 413, f"the request body is larger than the {self.max_body:,}-byte limit")
        except asyncio.TimeoutError:
            return self._error(protocol, 408, f"the request body did not arrive within {self.body_timeout:g} s",
                               [("connection", "close")])
        except Exception as err:  # noqa: BLE001 - malformed framing (bad chunk sizes…) surfaces as various errors
            return self._error(protocol, 400, f"malformed request body: {type(err).__name__}", [("connection", "close")])

        key = cache_key(method, path, query, headers, body)
        generation = self.relay.generation if self.relay is not None else self.handle.generation()
        if key is not None and generation is not None:
            entry = self.cache.get((generation, key))
            if entry is not None:
                return self._send(protocol, method, headers, entry.status, entry.headers, entry.body, entry.etag)

        if self._ready is not None and not self._ready.is_set():
            try:
                await asyncio.wait_for(self._ready.wait(), self.timeout)
            except asyncio.TimeoutError:
                return self._error(protocol, 503, "the query processes are still starting; try again shortly")
        assert self.pool is not None, "the front was not initialised by its server"
        request: Request = (method, path, query, list(scope.headers.items()), body, scope.scheme,
                            scope.server, scope.client)
        try:
            status, out_headers, out_body, generation = await self.pool.call(request, self.timeout, self.queue_timeout)
        except Refusal as refusal:
            return self._error(protocol, refusal.status, refusal.message)
        out_headers = [(k, v) for k, v in out_headers if k.lower() not in _HOP]
        file = next((v for k, v in out_headers if k.lower() == "x-jllm-file"), None)
        if file is not None:  # a file the build wrote (/dump.ttl): streamed from disk, never through a query process
            out_headers = [(k, v) for k, v in out_headers if k.lower() != "x-jllm-file"]
            if method == "HEAD" or status != 200:
                protocol.response_empty(status, out_headers)
                return status, 0
            protocol.response_file(status, out_headers, file)
            return status, os.path.getsize(file)
        tag = None
        if key is not None and generation and status == 200 and any(
                k.lower() == "cache-control" and "public" in v for k, v in out_headers):
            tag = etag(generation, key)
            out_headers += [("etag", tag), ("last-modified", self._last_modified(generation))]
            self.cache.put((generation, key), Entry(status, out_headers, out_body, tag))
        return self._send(protocol, method, headers, status, out_headers, out_body, tag)

    def _last_modified(self, generation: str) -> str:
        """When the generation was built (its directory's modification time), as an HTTP date."""
        if generation not in self._modified:
            try:
                if self.relay is not None:  # the build time the pointer graph records
                    stamp = calendar.timegm(time.strptime(self.relay.built, "%Y-%m-%dT%H:%M:%SZ"))
                else:
                    stamp = os.stat(os.path.join(os.path.dirname(self.handle.target()), generation)).st_mtime
            except (OSError, ValueError):
                stamp = time.time()
            self._modified = {generation: _http_date(stamp)}
        return self._modified[generation]

    @staticmethod
    def _send(protocol, method: str, request_headers: dict[str, str], status: int,
              headers: list[tuple[str, str]], body: bytes, tag: str | None) -> tuple[int, int]:
        if tag is not None and _matches(request_headers.get("if-none-match"), tag):
            kept = [(k, v) for k, v in headers if k.lower() in
                    ("etag", "cache-control", "vary", "last-modified", "content-location", "access-control-allow-origin")]
            protocol.response_empty(304, kept)
            return 304, 0
        if method == "HEAD":
            protocol.response_empty(status, headers)
            return status, 0
        protocol.response_bytes(status, headers, body)
        return status, len(body)


def create_front() -> Front:
    """granian's factory: the front configured from the environment ``jllm-kg serve`` set up."""
    overrides = json.loads(os.environ.get("JLLM_KG_SERVE_CONFIG", "{}"))
    return Front(load_config(overrides))
