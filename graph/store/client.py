"""Talking to a SPARQL 1.1 store over HTTP: its endpoints, and a pooled client with timeouts and retries.

Only W3C protocols are spoken: the SPARQL 1.1 Protocol (``query``, ``update``, by POST form) and
the SPARQL 1.1 Graph Store HTTP Protocol (``PUT``/``DELETE`` on ``?graph=``). A transport has one
method, :meth:`HttpTransport.send`, addressed by *target* (``query``, ``update`` or ``store``),
never by URL: the URLs are fixed when the transport is made. The query processes of ``jllm-kg
serve`` use another transport with the same method (:mod:`server.http.relay`), which reaches the
store through the front over a Unix socket.
"""
from __future__ import annotations

import io
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Protocol
from urllib.parse import urlencode

from graph.errors import UserError

#: Environment variables of the remote store's settings (the CLI options set the same).
ENV = {"query": "JLLM_KG_STORE_QUERY_URL", "update": "JLLM_KG_STORE_UPDATE_URL", "store": "JLLM_KG_STORE_GSP_URL",
       "auth": "JLLM_KG_STORE_AUTH"}
TARGETS = ("query", "update", "store")


class StoreUnavailable(OSError):
    """The remote store cannot be reached, or answered with a server error (5xx)."""


class StoreRefused(UserError):
    """The remote store refused a request (4xx): the message is the store's own."""

    def __init__(self, status: int, message: str) -> None:
        self.status = status
        super().__init__(message)


def is_remote(location: object) -> bool:
    """True if a ``--store`` value names a remote SPARQL store (an ``http(s)://`` URL).

    >>> is_remote("http://127.0.0.1:7878/"), is_remote("/var/lib/jllm-kg/store")
    (True, False)
    """
    return str(location).startswith(("http://", "https://"))


@dataclass(frozen=True)
class Endpoints:
    """The URLs of a remote store and its credentials.

    >>> Endpoints.of("http://127.0.0.1:7878", env={}).query
    'http://127.0.0.1:7878/query'
    >>> Endpoints.of("http://h/", gsp="http://h/rdf-graph-store", env={}).store
    'http://h/rdf-graph-store'
    """

    base: str
    query: str
    update: str
    store: str
    auth: tuple[str, str] | None = None

    @classmethod
    def of(cls, base: str, query: str | None = None, update: str | None = None, gsp: str | None = None,
           auth: str | None = None, env: dict | None = None) -> "Endpoints":
        """Endpoints of ``base``: Oxigraph server's ``query``, ``update`` and ``store`` unless given
        (or set in ``$JLLM_KG_STORE_QUERY_URL`` / ``_UPDATE_URL`` / ``_GSP_URL``); ``auth`` is ``user:password``
        (or ``$JLLM_KG_STORE_AUTH``)."""
        env = os.environ if env is None else env
        base = base if base.endswith("/") else base + "/"
        auth = auth or env.get(ENV["auth"]) or None
        if auth is not None and ":" not in auth:
            raise UserError("--store-auth must be USER:PASSWORD")
        return cls(base, query or env.get(ENV["query"]) or base + "query",
                   update or env.get(ENV["update"]) or base + "update",
                   gsp or env.get(ENV["store"]) or base + "store",
                   tuple(auth.split(":", 1)) if auth else None)  # type: ignore[arg-type]

    def url(self, target: str) -> str:
        """The URL of ``query``, ``update`` or ``store``."""
        return {"query": self.query, "update": self.update, "store": self.store}[target]


class Reply(Protocol):
    """An answer being received: status, media type, and its body as a stream."""

    status: int
    content_type: str
    done: bool  # read to its end, or closed

    def stream(self) -> io.RawIOBase: ...
    def read(self) -> bytes: ...
    def close(self) -> None: ...


class Transport(Protocol):
    """What :class:`graph.store.remote.RemoteStore` needs: send one request to a target."""

    def send(self, target: str, *, form: list[tuple[str, str]] | None = None, params: list[tuple[str, str]] | None = None,
             body: bytes | Iterator[bytes] | None = None, content_type: str | None = None, accept: str = "*/*",
             method: str = "POST") -> Reply: ...


class ChunkReader(io.RawIOBase):
    """A readable stream over an iterator of byte chunks (what pyoxigraph's parsers read from)."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self._chunks, self._left = chunks, b""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:  # type: ignore[override]
        while not self._left:
            chunk = next(self._chunks, None)
            if chunk is None:
                return 0
            self._left = chunk
        size = min(len(buffer), len(self._left))
        buffer[:size] = self._left[:size]
        self._left = self._left[size:]
        return size


class HttpReply:
    """A streamed httpx response as a :class:`Reply`."""

    def __init__(self, response, where: str) -> None:
        self._response, self.where = response, where
        self.status, self.done = response.status_code, False
        self.content_type = response.headers.get("content-type", "").split(";")[0].strip().lower()

    def _chunks(self) -> Iterator[bytes]:
        import httpx

        try:
            yield from self._response.iter_bytes()
        except httpx.HTTPError as err:
            raise StoreUnavailable(f"the store at {self.where} broke off its answer: {err}") from None
        finally:
            self.close()

    def stream(self) -> io.RawIOBase:
        return ChunkReader(self._chunks())

    def read(self) -> bytes:
        return b"".join(self._chunks())

    def close(self) -> None:
        self.done = True
        self._response.close()


class HttpTransport:
    """A pooled httpx client for one store: timeouts, and retries with backoff on connection
    errors and 5xx answers (an update is retried only when it could not have been sent)."""

    def __init__(self, endpoints: Endpoints, timeout: float = 30.0, retries: int = 3, backoff: float = 0.2) -> None:
        import httpx

        self.endpoints, self.retries, self.backoff = endpoints, retries, backoff
        self._client = httpx.Client(timeout=httpx.Timeout(timeout, connect=min(timeout, 5.0)),
                                    limits=httpx.Limits(max_keepalive_connections=8),
                                    auth=self.endpoints.auth, follow_redirects=False)

    def send(self, target: str, *, form=None, params=None, body=None, content_type=None, accept="*/*",
             method="POST") -> HttpReply:
        import httpx

        url = self.endpoints.url(target)
        headers = {"accept": accept}
        if content_type:
            headers["content-type"] = content_type
        replayable = not isinstance(body, Iterator)
        for attempt in range(self.retries + 1):
            try:
                if form is not None:  # urlencoded here: repeated names (named-graph-uri) keep their order
                    body, headers["content-type"] = urlencode(form), "application/x-www-form-urlencoded"
                request = self._client.build_request(method, url, params=params, content=body, headers=headers)
                response = self._client.send(request, stream=True)
            except httpx.TimeoutException as err:
                raise StoreUnavailable(f"the store at {url} did not answer in time ({type(err).__name__})") from None
            except httpx.TransportError as err:
                connect = isinstance(err, httpx.ConnectError)
                if attempt < self.retries and replayable and (connect or target != "update"):
                    time.sleep(self.backoff * 2 ** attempt)
                    continue
                raise StoreUnavailable(f"the store at {url} is unreachable: {err or type(err).__name__}") from None
            if response.status_code >= 500 and attempt < self.retries and replayable and target != "update":
                response.close()
                time.sleep(self.backoff * 2 ** attempt)
                continue
            reply = HttpReply(response, url)
            if response.status_code >= 500:
                message = _message(reply.read())
                raise StoreUnavailable(f"the store at {url} failed ({response.status_code}): {message}")
            return reply
        raise AssertionError("unreachable")  # pragma: no cover

    def close(self) -> None:
        self._client.close()


def _message(body: bytes) -> str:
    """The first line of an error body, shortened.

    >>> _message(b"Parser error: bad\\nmore")
    'Parser error: bad'
    """
    text = body.decode("utf-8", "replace").strip().splitlines()
    return (text[0] if text else "no message")[:300]


def refused(reply: Reply, what: str) -> StoreRefused:
    """The error for a 4xx ``reply`` (its body read and closed)."""
    try:
        message = _message(reply.read())
    finally:
        reply.close()
    return StoreRefused(reply.status, f"the store refused {what} ({reply.status}): {message}")
