"""Probe (issue 11, `bench/front_costs.md`): the shipped front behind uvicorn instead of granian, measured beside both.

The same :class:`server.http.front.Front` — response cache, ETag, the pool of query processes — served by
uvicorn with httptools and uvloop (one thread: HTTP parsed on the event loop) through a small ASGI adapter,
against ``jllm-kg serve`` as shipped (granian: a Rust I/O thread handing requests to the loop) and
``oxigraph serve``, interleaved rounds of the unique and the repeated mix at 16 connections::

    .venv/bin/pip install uvicorn httptools      # not a dependency of jllm-kg: only this probe uses them
    .venv/bin/python bench/asgi_probe.py --store STORE [--rounds 3] [--duration 8]

It prints one line per round and mix: req/s, the ratio to oxigraph and server CPU per request of each.
Not a way to serve: the adapter passes bodies and answers whole and has none of granian's header timeouts.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.parse
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "bench"), str(ROOT / "tests")]


class _Scope:
    """The RSGI scope fields the front reads, from an ASGI scope."""

    def __init__(self, scope: dict) -> None:
        server, client = scope.get("server") or ("127.0.0.1", 0), scope.get("client") or ("127.0.0.1", 0)
        self.method, self.path, self.scheme = scope["method"], scope["path"], scope["scheme"]
        self.query_string = scope["query_string"].decode("latin-1")
        self.headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        self.server, self.client = f"{server[0]}:{server[1]}", f"{client[0]}:{client[1]}"


class _Protocol:
    """The RSGI protocol calls the front makes, recorded: the body was read whole beforehand."""

    def __init__(self, body: bytes) -> None:
        self.body, self.answer = body, (500, [], b"")

    async def __call__(self) -> bytes:
        return self.body

    async def __aiter__(self):
        yield self.body

    def response_bytes(self, status: int, headers: list, body: bytes) -> None:
        self.answer = (status, headers, body)

    def response_empty(self, status: int, headers: list) -> None:
        self.answer = (status, headers, b"")

    def response_file(self, status: int, headers: list, path: str) -> None:
        self.answer = (status, headers, Path(path).read_bytes())


_front: Any = None


async def app(scope: dict, receive, send) -> None:
    """The ASGI application uvicorn serves: lifespan starts the front's query processes."""
    global _front
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                from server.http.front import create_front

                _front = create_front()
                _front.__rsgi_init__(asyncio.get_running_loop())
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    body, more = b"", True
    while more:
        message = await receive()
        body, more = body + message.get("body", b""), message.get("more_body", False)
    protocol = _Protocol(body)
    await _front(_Scope(scope), protocol)
    status, headers, out = protocol.answer
    raw = [(k.encode("latin-1"), str(v).encode("latin-1")) for k, v in headers]
    await send({"type": "http.response.start", "status": status, "headers": raw + [(b"content-length", str(len(out)).encode())]})
    await send({"type": "http.response.body", "body": out})


def main() -> None:
    import endpoint as bench
    from live import LiveServer

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", required=True, help="a built store (jllm-kg build --store PATH)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=int, default=8, help="seconds per wrk run")
    args = parser.parse_args()
    args.threads = 2
    texts = bench.workload()
    work = Path(tempfile.mkdtemp(prefix="jllm-asgi-probe-"))
    store, location, _ = bench.prepare(args.store, work)
    queries = work / "queries.txt"
    queries.write_text("".join(urllib.parse.quote(text, safe="") + "\n" for _, text in texts))
    oxigraph, port = bench.Oxigraph(location), bench.free_port()
    env = {**os.environ, "JLLM_KG_ACCESS_LOG": "off",
           "JLLM_KG_SERVE_CONFIG": json.dumps({"store_path": str(store), "public_url": f"http://127.0.0.1:{port}"})}
    uvicorn = subprocess.Popen([sys.executable, "-m", "uvicorn", "asgi_probe:app", "--app-dir", str(ROOT / "bench"),
                                "--host", "127.0.0.1", "--port", str(port), "--loop", "uvloop", "--http", "httptools",
                                "--no-access-log", "--lifespan", "on", "--log-level", "warning"],
                               env=env, cwd=ROOT, stdout=subprocess.DEVNULL)
    uvicorn_url = f"http://127.0.0.1:{port}/sparql"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if bench.post(uvicorn_url, "ASK {}")[0] == 200:
                    break
            except OSError:
                if time.monotonic() > deadline or uvicorn.poll() is not None:
                    raise SystemExit("uvicorn did not start (pip install uvicorn httptools)") from None
            time.sleep(0.2)
        with LiveServer(store, env={"JLLM_KG_ACCESS_LOG": "off"}) as ours:
            servers = {"granian": (ours.url, bench.roles(ours.process.pid)),
                       "uvicorn": (uvicorn_url, bench.roles(uvicorn.pid)),
                       "oxigraph": (oxigraph.url, {oxigraph.process.pid: "oxigraph"})}
            bench.verify({name: url for name, (url, _) in servers.items()}, texts)
            for url, _ in servers.values():
                bench.wrk(url, queries, "unique", 16, 3, args.threads)
            names = list(servers)
            for round_ in range(args.rounds):
                order = names[round_ % 3:] + names[:round_ % 3]
                for mix in ("unique", "repeated"):
                    runs = {name: bench.measure(name, servers[name][0], queries, mix, 16, round_, args, servers[name][1])
                            for name in order}
                    base = runs["oxigraph"].rps
                    print(f"round {round_} {mix}: " + "  ".join(
                        f"{name} {runs[name].rps:,.0f} req/s ({runs[name].rps / base:.2f}×, {runs[name].cpu_ms:.2f} ms CPU/req, "
                        f"{runs[name].errors} errors)" for name in names), flush=True)
    finally:
        uvicorn.terminate()
        uvicorn.wait()
        oxigraph.stop()


if __name__ == "__main__":
    main()
