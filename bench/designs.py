"""Probe: what each serving design costs per uncached SPARQL request (issue 11's unique mix).

    .venv/bin/python bench/designs.py --out bench/designs.md [--rounds 3] [--duration 8] [--workers 2]

``bench/endpoint.py`` measures the shipped server; this script measures *designs*, to say which one
could reach 0.7× ``oxigraph serve`` on uncached queries and what it gives up. Same quads, same wrk
unique mix (``bench/sparql_mix.lua``, every text new, 16 keep-alive connections), rounds interleaved,
server CPU per request from ``/proc``:

- ``oxigraph``: ``oxigraph serve-read-only --union-default-graph`` (the reference);
- ``shipped``: ``jllm-kg serve`` as shipped — granian + the RSGI front + query processes;
- ``front+lane``: the same front (:class:`server.http.front.Front`: body reading, cache, ETag,
  negotiation, the text guard) with the query run by :func:`server.http.process.respond` on a plain
  thread of the granian worker instead of a query process, without a kill-based timeout, memory cap
  or seccomp filter (a thread cannot be killed): a probe. The full design built on it (query lanes
  with the timeout, the cap, a per-thread filter and worker retirement) is in the history, commits
  0daf58f…86f270d, and was reverted: ``bench/designs.md`` says why;
- ``bare``: an RSGI app that parses the form and runs ``Store.query`` + ``serialize`` on a thread of
  the worker — no protocol checks, no guard, no cache: the floor of a Python service on granian.

The last two run as ``--workers`` granian worker processes (one query thread each).
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import queue
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from pathlib import Path
from urllib.parse import parse_qs

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

ACCEPT_JSON = "application/sparql-results+json"


# the probe applications (imported by granian's worker processes) ------------------------------------
class _Thread:
    """One query thread in this process; ``await run(fn, *args)`` hands it a call and waits."""

    def __init__(self) -> None:
        self.jobs: queue.SimpleQueue = queue.SimpleQueue()
        threading.Thread(target=self._serve, daemon=True, name="probe-query").start()

    def _serve(self) -> None:
        while True:
            fn, args, future, loop = self.jobs.get()
            try:
                loop.call_soon_threadsafe(future.set_result, fn(*args))
            except BaseException as err:  # noqa: BLE001 - handed back to the request
                loop.call_soon_threadsafe(future.set_exception, err)

    async def run(self, fn, *args):
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        self.jobs.put((fn, args, future, loop))
        return await future


class _Lane:
    """Stands in for :class:`server.http.pool.Pool`: the request runs on a plain thread of this process."""

    def __init__(self, config: dict) -> None:
        from server.app import create_app

        self.app = create_app(config)
        self.handle = self.app.extensions["jllm"]["store"]
        self.thread = _Thread()

    def _respond(self, request):
        from server.http.process import respond

        status, headers, body = respond(self.app, request)
        return status, headers, body, self.handle.generation()

    async def call(self, request, timeout: float, queue_timeout: float | None = None):
        return await self.thread.run(self._respond, request)  # no deadline (see the module docstring)

    async def close(self) -> None:
        return None


def lane_front():
    """granian factory: the shipped front with a :class:`_Lane` instead of query processes."""
    from server.config import load_config
    from server.http.front import Front

    class LaneFront(Front):
        def __rsgi_init__(self, loop) -> None:
            self.pool = _Lane({k: (str(v) if k == "store_path" else v) for k, v in self.config.items()})
            self._ready = None

        def __rsgi_del__(self, loop) -> None:
            return None

    return LaneFront(load_config(json.loads(os.environ["JLLM_KG_SERVE_CONFIG"])))


def bare():
    """granian factory: form parse + ``Store.query`` + JSON on a thread, nothing else."""
    import pyoxigraph as ox

    store = ox.Store.read_only(json.loads(os.environ["JLLM_KG_SERVE_CONFIG"])["store_path"])
    thread = _Thread()

    def run(text: str) -> bytes:
        return store.query(text, use_default_graph_as_union=True).serialize(format=ox.QueryResultsFormat.JSON)

    async def app(scope, protocol) -> None:
        text = parse_qs((await protocol()).decode())["query"][0]
        body = await thread.run(run, text)
        protocol.response_bytes(200, [("content-type", ACCEPT_JSON)], body)

    return app


# the driver -------------------------------------------------------------------------------------------
def _granian(factory: str, store: Path, workers: int):
    from tests.live import free_port

    port = free_port()
    env = {**os.environ, "JLLM_KG_ACCESS_LOG": "off", "PYTHONPATH": f"{ROOT / 'bench'}:{ROOT}",
           "JLLM_KG_SERVE_CONFIG": json.dumps({"store_path": str(store), "public_url": f"http://127.0.0.1:{port}"})}
    process = subprocess.Popen([str(Path(sys.executable).parent / "granian"), "--interface", "rsgi", "--factory",
                                "--loop", "uvloop", "--workers", str(workers), "--runtime-threads", "1",
                                "--host", "127.0.0.1", "--port", str(port), "--log-level", "error", f"designs:{factory}"],
                               cwd=ROOT, env=env, start_new_session=True,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return process, f"http://127.0.0.1:{port}/sparql"


def _wait(url: str, process) -> None:
    import endpoint

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            endpoint.post(url, "ASK {}")
            return
        except OSError:
            if process.poll() is not None:
                raise RuntimeError(f"{url}: the server exited with {process.returncode}") from None
            time.sleep(0.2)
    raise RuntimeError(f"{url} did not start")


def main() -> None:
    import endpoint
    from tests.live import LiveServer

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=float, default=8, help="seconds per wrk run (default 8)")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--workers", type=int, default=2, help="granian workers of the probe designs (default 2)")
    parser.add_argument("--out", help="write the Markdown report here (default: print it)")
    args = parser.parse_args()
    started_at, started = time.strftime("%Y-%m-%d %H:%M", time.gmtime()), time.monotonic()
    texts = endpoint.workload()
    rows: dict[str, list[dict]] = {}
    with tempfile.TemporaryDirectory(prefix="jllm-designs-") as tmp:
        work = Path(tmp)
        store, location, quads = endpoint.prepare(None, work)
        queries = work / "queries.txt"
        queries.write_text("".join(urllib.parse.quote(text, safe="") + "\n" for _, text in texts))
        oxigraph = endpoint.Oxigraph(location)
        probes = {name: _granian(name if name == "bare" else "lane_front", store, args.workers)
                  for name in ("front+lane", "bare")}
        try:
            with LiveServer(store, env={"JLLM_KG_ACCESS_LOG": "off"}) as shipped:
                servers = {"oxigraph": (oxigraph.url, {oxigraph.process.pid: "oxigraph"}),
                           "shipped": (shipped.url, endpoint.roles(shipped.process.pid))}
                for name, (process, url) in probes.items():
                    _wait(url, process)
                    servers[name] = (url, {pid: name for pid in endpoint.process_tree(process.pid)})
                agree = endpoint.verify({name: url for name, (url, _) in servers.items()}, texts)
                for url, _ in servers.values():
                    endpoint.wrk(url, queries, "unique", args.connections, 2, 2)
                for round_ in range(1, args.rounds + 1):
                    order = list(servers) if round_ % 2 else list(reversed(servers))
                    for name in order:
                        url, tree = servers[name]
                        result, _, cpu = endpoint.wrk(url, queries, "unique", args.connections, args.duration, 2, tree)
                        n = max(result["requests"], 1)
                        row = {"round": round_, "rps": result["requests"] / (result["duration_us"] / 1e6),
                               "p50": result["p50_us"] / 1000, "p99": result["p99_us"] / 1000,
                               "errors": result["status"] + sum(result[k] for k in ("connect", "read", "write", "timeout")),
                               "cpu": sum(cpu.values()) * 1000 / n}
                        rows.setdefault(name, []).append(row)
                        print(f"round {round_} {name:10} {row['rps']:7.0f} req/s  p50 {row['p50']:5.1f} ms  "
                              f"cpu {row['cpu']:.2f} ms/req  errors {row['errors']}", flush=True)
        finally:
            oxigraph.stop()
            for process, _ in probes.values():
                try:
                    os.killpg(process.pid, 15)
                except ProcessLookupError:
                    pass
                process.wait()
    text = report(args, rows, agree, quads, started_at, time.monotonic() - started)
    if args.out:
        Path(args.out).write_text(text, encoding="utf-8")
        print(f"wrote {args.out}")
    else:
        print(text)


def report(args, rows: dict[str, list[dict]], agree: dict, quads: int, started_at: str, elapsed: float) -> str:
    import endpoint

    info = endpoint.machine()
    reference = {row["round"]: row for row in rows["oxigraph"]}
    lines = [
        "# Serving designs on uncached queries (issue 11)", "",
        f"Run {started_at} UTC with `.venv/bin/python bench/designs.py {' '.join(sys.argv[1:])}` ({elapsed:.0f} s). "
        f"Machine: {info['cores']} cores ({info['cpu']}), Linux {info['kernel']}, Python {info['python']}, "
        f"pyoxigraph {info['pyoxigraph']}, granian {info['granian']}, {info['wrk'].split(' Copyright')[0]}. Same {quads:,} quads for every server; wrk unique mix "
        f"(every query text new), {args.connections} keep-alive connections, `wrk -t2`, {args.duration:g} s per run, "
        f"{args.rounds} interleaved rounds; the probe designs run as {args.workers} granian workers. "
        "Load generator and servers share the 2 cores. What each design is: the docstring of `bench/designs.py`.", "",
        "| design | req/s (median; range) | ratio to oxigraph (median of rounds) | p50 / p99 ms (median) "
        "| server CPU ms / request (median) | errors |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for name, runs in rows.items():
        ratios = [run["rps"] / reference[run["round"]]["rps"] for run in runs]
        lines.append(
            f"| {name} | {statistics.median(r['rps'] for r in runs):,.0f} ({min(r['rps'] for r in runs):,.0f}–"
            f"{max(r['rps'] for r in runs):,.0f}) | **{statistics.median(ratios):.2f}×** | "
            f"{statistics.median(r['p50'] for r in runs):.1f} / {statistics.median(r['p99'] for r in runs):.1f} | "
            f"{statistics.median(r['cpu'] for r in runs):.2f} | {sum(r['errors'] for r in runs)} |")
    lines += ["", f"Before the runs every server returned the same non-empty row counts for the {len(next(iter(agree.values())))} "
              "query texts and their unique variants (`endpoint.verify`).", ""]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
