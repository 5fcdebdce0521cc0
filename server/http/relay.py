"""The query processes' only way to a remote store: a relay in the front, over a private Unix socket.

The query processes run under a seccomp filter that forbids every socket but ``AF_UNIX``
(:mod:`server.http.sandbox`), and that stays so with a remote store. The front (not sandboxed)
listens on a Unix socket in a private directory (mode 0700) and forwards what a query process
sends to **one** place: the remote store's query endpoint, as a SPARQL 1.1 Protocol POST. A
request names a target, never a URL, so a query process cannot reach anything else; the relay
refuses every target but ``query`` (the service is read-only on a remote store) and, unless the
operator allowed the network, any query whose text names ``SERVICE`` or ``LOAD`` — the remote
store would otherwise open those connections on the query's behalf.

Frames (:mod:`server.http.wire`): a process sends ``(target, method, form, accept)``; the relay
answers ``("head", status, media type)``, then ``("data", bytes)`` as the store's answer arrives,
then ``("end",)`` — or ``("fail", status, message)``. A process that stops reading (the result
cap) closes its connection, and the relay abandons the store's answer.
"""
from __future__ import annotations

import asyncio
import io
import os
import shutil
import socket
import tempfile
from collections.abc import Iterator
from urllib.parse import urlencode

from graph.store.client import ChunkReader, Endpoints, StoreUnavailable
from graph.store.remote import GENERATION, POINTER, BUILT
from server.http import wire
from server.sparql.lexer import QUERY_FORMS, network_keywords, tokens

FORM = "application/x-www-form-urlencoded"
POINTER_QUERY = (f"SELECT ?gen ?built WHERE {{ GRAPH <{POINTER}> {{ <{POINTER}> <{GENERATION}> ?gen "
                 f"OPTIONAL {{ <{POINTER}> <{BUILT}> ?built }} }} }}")


#: The only form fields sent on (a store may read an ``update`` field even on its query URL).
FIELDS = frozenset({"query", "default-graph-uri", "named-graph-uri"})


def is_query(text: str) -> bool:
    """True if ``text`` is a query (its first keyword after ``BASE``/``PREFIX`` is a query form), not an update.

    >>> is_query("PREFIX ex: <http://e/> SELECT * { ?s ?p ?o }"), is_query("DROP ALL ; SELECT * {}")
    (True, False)
    """
    for token in tokens(text):
        if token.keyword in ("BASE", "PREFIX") or token.kind in ("iri", "pname"):
            continue
        return token.keyword in QUERY_FORMS
    return False


#: Seconds the relay waits for the store beyond the request timeout.
BACKSTOP = 2.0


class Relay:
    """The front's side: a Unix-socket server forwarding queries to the remote store, and the
    front's own view of the store's generation (polled every ``ttl`` seconds)."""

    def __init__(self, endpoints: Endpoints, timeout: float, allow_network: bool, ttl: float = 1.0) -> None:
        import httpx

        self.endpoints, self.allow_network, self.ttl = endpoints, allow_network, ttl
        self.directory = tempfile.mkdtemp(prefix="jllm-kg-relay-")  # mode 0700: this user's processes only
        self.path = os.path.join(self.directory, "store.sock")
        # the front's deadline (a kill, then the usual 503) comes first; this is only a backstop
        self.client = httpx.AsyncClient(timeout=httpx.Timeout(timeout + BACKSTOP, connect=min(timeout, 5.0)),
                                        limits=httpx.Limits(max_keepalive_connections=32), auth=endpoints.auth)
        self.generation: str | None = None
        self.built = ""
        self._server: asyncio.AbstractServer | None = None
        self._poller: asyncio.Task | None = None

    async def start(self) -> None:
        """Listen, and start polling the generation pointer."""
        self._server = await asyncio.start_unix_server(self._serve, path=self.path)
        await self.poll_once()
        self._poller = asyncio.get_running_loop().create_task(self._poll())

    async def poll_once(self) -> None:
        """Read the pointer; on failure keep the last known generation (cached answers stay valid)."""
        import httpx

        try:
            response = await self.client.post(self.endpoints.query, content=urlencode({"query": POINTER_QUERY}),
                                              headers={"content-type": FORM, "accept": "application/sparql-results+json"})
            rows = response.json()["results"]["bindings"] if response.status_code == 200 else []
        except (httpx.HTTPError, ValueError, KeyError):
            return
        if rows:
            self.generation = rows[0]["gen"]["value"]
            self.built = rows[0].get("built", {}).get("value", "")

    async def _poll(self) -> None:
        while True:
            await asyncio.sleep(self.ttl)
            await self.poll_once()

    async def close(self) -> None:
        if self._poller is not None:
            self._poller.cancel()
        if self._server is not None:
            self._server.close()
        await self.client.aclose()
        shutil.rmtree(self.directory, ignore_errors=True)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                request = await wire.receive_async(reader)
                await self._forward(request, writer)
        except (asyncio.IncompleteReadError, ConnectionError, OSError):
            pass
        finally:
            writer.close()

    async def _forward(self, request: tuple, writer: asyncio.StreamWriter) -> None:
        import httpx

        target, method, form, accept = request
        texts = [v for k, v in form if k == "query"]
        if target != "query" or method != "POST" or len(texts) != 1 or any(k not in FIELDS for k, _ in form) \
                or not is_query(texts[0]):
            return await _frame(writer, ("fail", 403, "this service only reads the remote store (SPARQL queries)"))
        text = texts[0]
        if not self.allow_network and network_keywords(text):
            return await _frame(writer, ("fail", 403, "SERVICE and LOAD are not sent to the remote store"))
        body = urlencode(form)
        for attempt in range(3):
            try:
                async with self.client.stream("POST", self.endpoints.query, content=body,
                                              headers={"content-type": FORM, "accept": accept}) as response:
                    await _frame(writer, ("head", response.status_code, response.headers.get("content-type", "")))
                    async for chunk in response.aiter_bytes():
                        await _frame(writer, ("data", chunk))
                    return await _frame(writer, ("end",))
            except httpx.ConnectError as err:
                if attempt < 2:
                    await asyncio.sleep(0.1 * 2 ** attempt)
                    continue
                message = f"the store at {self.endpoints.query} is unreachable: {err or type(err).__name__}"
            except httpx.TimeoutException:
                message = f"the store at {self.endpoints.query} did not answer in time"
            except httpx.HTTPError as err:
                message = f"the store at {self.endpoints.query} broke off its answer: {err or type(err).__name__}"
            return await _frame(writer, ("fail", 502, message))


async def _frame(writer: asyncio.StreamWriter, message: tuple) -> None:
    writer.write(wire.pack(message))
    await writer.drain()


class RelayReply:
    """An answer arriving through the relay on its own connection (a :class:`graph.store.client.Reply`)."""

    def __init__(self, transport: "RelayTransport", sock: socket.socket, status: int, content_type: str) -> None:
        self.transport, self.sock, self.status, self.done = transport, sock, status, False
        self.content_type = content_type.split(";")[0].strip().lower()

    def _chunks(self) -> Iterator[bytes]:
        while not self.done:
            try:
                frame = wire.receive(self.sock)
            except (EOFError, OSError) as err:
                self.close()
                raise StoreUnavailable(f"the relay to the store broke off: {err}") from None
            if frame[0] == "data":
                yield frame[1]
            elif frame[0] == "end":
                self.done = True
                self.transport.idle.append(self.sock)  # read to its end: the connection is reusable
            else:
                self.close()
                raise StoreUnavailable(frame[2])

    def stream(self) -> io.RawIOBase:
        return ChunkReader(self._chunks())

    def read(self) -> bytes:
        return b"".join(self._chunks())

    def close(self) -> None:
        if not self.done:  # frames may still be coming: this connection cannot be reused
            self.done = True
            self.sock.close()


class RelayTransport:
    """The query process's side (a :class:`graph.store.client.Transport`): connections to the relay,
    one per answer being read (a page may read one answer while it asks for another)."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.idle: list[socket.socket] = []

    def close(self) -> None:
        """Close the idle connections."""
        while self.idle:
            self.idle.pop().close()

    def send(self, target: str, *, form=None, params=None, body=None, content_type=None, accept="*/*",
             method="POST") -> RelayReply:
        if params or body is not None:
            raise PermissionError("this service only reads the remote store (SPARQL queries)")
        for attempt in range(2):
            sock = self.idle.pop() if self.idle else None
            try:
                if sock is None:
                    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                    sock.connect(self.path)
                wire.send(sock, (target, method, list(form or ()), accept))
                head = wire.receive(sock)
                break
            except (EOFError, OSError) as err:
                sock.close()
                if attempt:
                    raise StoreUnavailable(f"the relay to the store is unavailable: {err}") from None
        if head[0] == "fail":
            self.idle.append(sock)
            if head[1] == 403:
                raise PermissionError(head[2])
            raise StoreUnavailable(head[2])
        return RelayReply(self, sock, head[1], head[2])
