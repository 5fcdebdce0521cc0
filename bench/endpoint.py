"""Benchmark: our /sparql vs `oxigraph serve` vs rdflib-endpoint, same data, same mixed workload.

    .venv/bin/python bench/endpoint.py [--store PATH] [--requests 900] [--clients 4] [--out bench/endpoint.md]

Without ``--store`` it builds the seed graph from the shipped catalog into a temporary
directory. Every server listens on 127.0.0.1 only; the run is bounded by ``--requests``
per server (rdflib-endpoint gets ``--rdflib-requests``) and ``--max-seconds`` per server.
Needs the ``bench`` extra (``pip install -e '.[bench]'``) for rdflib-endpoint.
"""
from __future__ import annotations

import argparse
import http.client
import json
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pyoxigraph import RdfFormat, Store, Triple, serialize  # noqa: E402

from tests.live import LiveServer, free_port  # noqa: E402

JLLM = "https://w3id.org/jllm-kg/ontology#"
M = "https://w3id.org/jllm-kg/model/"
LOOKUPS = ["swallow-7b", "swallow-70b", "llama-2", "llm-jp-13b", "elyza-japanese-llama-2-7b", "rinna-japanese-gpt-neox-3-6b"]
WORKLOAD = {
    "lineage": f"SELECT ?model ?ancestor WHERE {{ ?model <{JLLM}baseModel>+ ?ancestor }}",
    "lookup": "SELECT ?p ?o WHERE {{ <{iri}> ?p ?o }}",
    "aggregate": f"""SELECT ?developer (COUNT(DISTINCT ?m) AS ?models) WHERE {{
        ?m a <{JLLM}Model> ; <{JLLM}developer> ?developer }} GROUP BY ?developer ORDER BY DESC(?models) LIMIT 20""",
}


@dataclass
class Run:
    name: str
    requests: int
    errors: int
    seconds: float
    latencies: dict[str, list[float]]
    cpu_seconds: float = 0.0

    @property
    def cpu_ms_per_request(self) -> float:
        """Server CPU time (user + system, all its processes) per request."""
        return self.cpu_seconds / self.requests * 1000 if self.requests else float("nan")

    @property
    def throughput(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    def percentile(self, p: float, kind: str | None = None) -> float:
        values = sorted(v for k, vs in self.latencies.items() if kind in (None, k) for v in vs)
        if not values:
            return float("nan")
        return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))] * 1000


def merge(name: str, runs: list[Run]) -> Run:
    """Several rounds of one server as one run (total requests over total time)."""
    latencies = {k: [v for r in runs for v in r.latencies[k]] for k in WORKLOAD}
    return Run(name, sum(r.requests for r in runs), sum(r.errors for r in runs), sum(r.seconds for r in runs), latencies,
               sum(r.cpu_seconds for r in runs))


def queries(n: int) -> list[tuple[str, str]]:
    """The mixed workload: lookups, lineage and aggregates, interleaved 3:1:1."""
    out, i = [], 0
    while len(out) < n:
        for kind in ("lookup", "lineage", "lookup", "aggregate", "lookup"):
            text = WORKLOAD[kind].format(iri=M + LOOKUPS[i % len(LOOKUPS)]) if kind == "lookup" else WORKLOAD[kind]
            out.append((kind, text))
            i += 1
    return out[:n]


def process_tree(root: int) -> list[int]:
    """``root`` and all its descendants."""
    children = subprocess.run(["pgrep", "-P", str(root)], capture_output=True, text=True).stdout.split()
    return [root] + [p for child in children for p in process_tree(int(child))]


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU time consumed so far by ``pids`` (from /proc)."""
    total = 0.0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def run_load(name: str, host: str, port: int, path: str, n: int, clients: int, max_seconds: float,
             server_pid: int | None = None) -> Run:
    """Send ``n`` queries with ``clients`` keep-alive connections; time each one (and the server's CPU)."""
    pids = process_tree(server_pid) if server_pid else []
    cpu_before = cpu_seconds(pids)
    work = queries(n)
    latencies: dict[str, list[float]] = {k: [] for k in WORKLOAD}
    errors = 0
    lock = threading.Lock()
    cursor = iter(range(n))
    deadline = time.monotonic() + max_seconds

    def client() -> None:
        nonlocal errors
        conn = http.client.HTTPConnection(host, port, timeout=60)
        while time.monotonic() < deadline:
            with lock:
                index = next(cursor, None)
            if index is None:
                break
            kind, text = work[index]
            body = urllib.parse.urlencode({"query": text})
            started = time.perf_counter()
            try:
                conn.request("POST", path, body=body, headers={
                    "Content-Type": "application/x-www-form-urlencoded", "Accept": "application/sparql-results+json"})
                response = conn.getresponse()
                data = response.read()
                ok = response.status == 200 and b"bindings" in data
            except (OSError, http.client.HTTPException):
                ok = False
                conn.close()
                conn = http.client.HTTPConnection(host, port, timeout=60)
            elapsed = time.perf_counter() - started
            with lock:
                latencies[kind].append(elapsed)
                errors += 0 if ok else 1
        conn.close()

    started = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        for _ in range(clients):
            pool.submit(client)
    seconds = time.perf_counter() - started
    done = sum(len(v) for v in latencies.values())
    return Run(name, done, errors, seconds, latencies, cpu_seconds(pids) - cpu_before)


def answers(host: str, port: int, path: str) -> dict[str, int]:
    """Row counts of each workload query (to check the servers agree)."""
    out = {}
    for kind, text in (("lineage", WORKLOAD["lineage"]), ("lookup", WORKLOAD["lookup"].format(iri=M + "swallow-7b")),
                       ("aggregate", WORKLOAD["aggregate"])):
        conn = http.client.HTTPConnection(host, port, timeout=120)
        conn.request("POST", path, body=urllib.parse.urlencode({"query": text}),
                     headers={"Content-Type": "application/x-www-form-urlencoded", "Accept": "application/sparql-results+json"})
        response = conn.getresponse()
        data = response.read()
        conn.close()
        out[kind] = len(json.loads(data)["results"]["bindings"]) if response.status == 200 else -response.status
    return out


def wait_ready(host: str, port: int, path: str, process: subprocess.Popen, seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}")
        try:
            answers(host, port, path)
            return
        except (OSError, http.client.HTTPException, ValueError, KeyError):
            time.sleep(0.2)
    raise RuntimeError(f"server on {port} not ready")


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def prepare(store_arg: str | None, work: Path) -> tuple[Path, Path, Path, int]:
    """Our store, a copy for oxigraph serve, an N-Triples export (union of graphs) for rdflib-endpoint."""
    if store_arg:
        store_path = Path(store_arg)
    else:
        from graph.build import build_store
        store_path = work / "store"
        build_store(store_path=store_path, echo=lambda *a, **k: None)
    copy = work / "oxigraph-copy"
    shutil.copytree(store_path.resolve(), copy)
    store = Store.read_only(str(store_path.resolve()))
    triples = {Triple(q.subject, q.predicate, q.object) for q in store}
    nt = work / "data.nt"
    nt.write_bytes(serialize(sorted(triples, key=str), format=RdfFormat.N_TRIPLES))
    return store_path, copy, nt, len(triples)


def engine_cpu_ms(store_path: Path, n: int = 500) -> float:
    """CPU per request of the query engine alone: pyoxigraph running and serializing the workload in process."""
    from server.worker import Job, run_job

    store = Store.read_only(str(Path(store_path).resolve()))
    jobs = [Job("query", text, results_format="json") for _, text in queries(n)]
    for job in jobs[:50]:
        run_job(store, job)
    started = time.process_time()
    for job in jobs:
        run_job(store, job)
    return (time.process_time() - started) / n * 1000


CEILING = "Flask + gunicorn, no query (ceiling)"


def report(runs: list[Run], agree: dict[str, dict[str, int]], args, triples: int, command: str,
           ratios: list[float], engine_ms: float) -> str:
    ox = next(r for r in runs if r.name.startswith("oxigraph"))
    lines = [
        "# Endpoint benchmark",
        "",
        f"Same data ({triples:,} distinct triples: the seed graph, union of its named graphs), same mixed workload "
        f"(lookups : lineage property path : GROUP BY/COUNT aggregate = 3 : 1 : 1, SPARQL JSON results, "
        f"POST form), {args.clients} concurrent keep-alive clients, all on 127.0.0.1. "
        f"Machine: {os.cpu_count()} cores, Python {platform.python_version()}, {platform.system()}. "
        "The client (Python threads) runs on the same cores as the servers, so absolute numbers are "
        "lower bounds; the ratios are the point. "
        f"Load average when the run started: {args.load[0]:.2f} (other work on the machine skews single rounds; "
        "hence interleaved rounds).",
        "",
        "| server | requests | errors | req/s | p50 ms | p99 ms | server CPU ms/request | req/s vs oxigraph serve | p50 vs oxigraph | p99 vs oxigraph | CPU/request vs oxigraph |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for run in runs:
        lines.append(f"| {run.name} | {run.requests} | {run.errors} | {run.throughput:.0f} | {run.percentile(50):.1f} | "
                     f"{run.percentile(99):.1f} | {run.cpu_ms_per_request:.2f} | {run.throughput / ox.throughput:.2f}× | "
                     f"{run.percentile(50) / ox.percentile(50):.2f}× | {run.percentile(99) / ox.percentile(99):.2f}× | "
                     f"{run.cpu_ms_per_request / ox.cpu_ms_per_request:.2f}× |")
    lines += ["", f"Throughput ratio jllm-kg / oxigraph serve in each of the {len(ratios)} interleaved rounds: "
              + ", ".join(f"{r:.2f}×" for r in ratios) + f" (median {statistics.median(ratios):.2f}×)."]
    ours = next(r for r in runs if r.name.startswith("jllm-kg"))
    lines += ["", "Where our time goes: the same queries run by pyoxigraph in process (no HTTP, no worker) cost "
              f"{engine_ms:.2f} ms CPU each; `oxigraph serve` spends {ox.cpu_ms_per_request:.2f} ms per request in all, "
              f"our server {ours.cpu_ms_per_request:.2f} ms. The difference "
              f"({ours.cpu_ms_per_request - engine_ms:.2f} ms) is HTTP in Python (gunicorn + Flask, a new connection per "
              "request since sync workers do not keep connections alive) and our view code. When the cores are busy, "
              "throughput follows CPU per request; when they are idle, it follows latency."]
    ceiling = next((r for r in runs if r.name == CEILING), None)
    if ceiling is not None:
        lines += ["", f"The stack's ceiling: the same Flask + gunicorn set-up answering a constant empty result "
                  f"(`bench/ceiling_app.py`, no engine, no worker) reaches {ceiling.throughput:.0f} req/s, "
                  f"{ceiling.throughput / ox.throughput:.2f}× oxigraph serve, with this client on these cores; "
                  f"jllm-kg serve reaches {ours.throughput / ceiling.throughput:.2f}× of that ceiling. "
                  f"Per request, the stack costs {ceiling.cpu_ms_per_request:.2f} ms CPU and the engine {engine_ms:.2f} ms; "
                  f"the remaining {ours.cpu_ms_per_request - ceiling.cpu_ms_per_request - engine_ms:.2f} ms is our view code "
                  "(protocol, negotiation, SERVICE/LOAD guard, the watchdog's start and stop, the store look-up)."]
    lines += ["", "Per query kind, p50 / p99 in ms:", "", "| server | " + " | ".join(WORKLOAD) + " |",
              "|---|" + "---:|" * len(WORKLOAD)]
    for run in runs:
        lines.append(f"| {run.name} | " + " | ".join(
            f"{run.percentile(50, k):.1f} / {run.percentile(99, k):.1f}" for k in WORKLOAD) + " |")
    lines += ["", "Rows returned per query (the servers must agree):", "", "| server | " + " | ".join(WORKLOAD) + " |",
              "|---|" + "---:|" * len(WORKLOAD)]
    for name, counts in agree.items():
        lines.append(f"| {name} | " + " | ".join(str(counts[k]) for k in WORKLOAD) + " |")
    lines += [
        "",
        "Our server: `jllm-kg serve` = gunicorn sync workers "
        f"({args.workers or (os.cpu_count() or 1) + 1} processes), each running its query in-process under a watchdog "
        "that answers 503 and ends the process at the timeout or the memory cap (a hard, kill-based timeout). "
        "`oxigraph serve --union-default-graph` on a copy of the same store; the two run in interleaved rounds. "
        "rdflib-endpoint on an N-Triples export of the same triples, fewer requests because it is slow.",
        "",
        "Reproduce (from the repository root, after `pip install -e '.[bench]'`):",
        "",
        "```",
        command,
        "```",
        "",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", help="existing store (default: build the seed graph in a temp dir)")
    parser.add_argument("--requests", type=int, default=900, help="requests per server (default 900)")
    parser.add_argument("--rdflib-requests", type=int, default=90, help="requests for rdflib-endpoint (default 90)")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds per server (default 3)")
    parser.add_argument("--clients", type=int, default=4, help="concurrent clients (default 4)")
    parser.add_argument("--workers", type=int, default=None, help="our worker processes (default: as `jllm-kg serve`, cores + 1)")
    parser.add_argument("--max-seconds", type=float, default=120, help="time bound per server (default 120)")
    parser.add_argument("--skip-rdflib", action="store_true", help="do not run rdflib-endpoint")
    parser.add_argument("--out", default=None, help="write the Markdown report here (default: print it)")
    args = parser.parse_args()
    command = "python bench/endpoint.py " + " ".join(sys.argv[1:])
    args.load = os.getloadavg()

    with tempfile.TemporaryDirectory(prefix="jllm-bench-") as tmp:
        work = Path(tmp)
        store_path, copy, nt, triples = prepare(args.store, work)
        agree: dict[str, dict[str, int]] = {}
        rounds: dict[str, list[Run]] = {"jllm-kg serve": [], "oxigraph serve": [], CEILING: [], "rdflib-endpoint": []}
        ceiling_port = free_port()
        processes = args.workers or (os.cpu_count() or 1) + 1
        ceiling = subprocess.Popen([str(Path(sys.executable).parent / "gunicorn"), "-k", "sync", "-w", str(processes),
                                    "-b", f"127.0.0.1:{ceiling_port}",
                                    "--chdir", str(Path(__file__).parent), "ceiling_app:app"],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        port = free_port()
        oxigraph = subprocess.Popen([str(Path(sys.executable).parent / "oxigraph"), "serve", "--location", str(copy),
                                     "--bind", f"127.0.0.1:{port}", "--union-default-graph"],
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        try:
            with LiveServer(store_path, workers=args.workers) as ours:
                wait_ready("127.0.0.1", port, "/query", oxigraph)
                wait_ready("127.0.0.1", ceiling_port, "/sparql", ceiling)
                targets = {"jllm-kg serve": (ours.port, "/sparql", ours.process.pid), "oxigraph serve": (port, "/query", oxigraph.pid),
                           CEILING: (ceiling_port, "/sparql", ceiling.pid)}
                for name, (p, path, _) in targets.items():
                    if name != CEILING:
                        agree[name] = answers("127.0.0.1", p, path)
                    run_load("warm-up", "127.0.0.1", p, path, 50, args.clients, 30)
                # Interleaved rounds, so that load from elsewhere on the machine hits both alike.
                per_round = max(1, args.requests // args.rounds)
                for _ in range(args.rounds):
                    for name, (p, path, pid) in targets.items():
                        rounds[name].append(run_load(name, "127.0.0.1", p, path, per_round, args.clients, args.max_seconds, pid))
        finally:
            stop(oxigraph)
            stop(ceiling)

        if not args.skip_rdflib:
            port = free_port()
            process = subprocess.Popen([str(Path(sys.executable).parent / "rdflib-endpoint"), "serve", str(nt),
                                        "--host", "127.0.0.1", "--port", str(port)],
                                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
            try:
                wait_ready("127.0.0.1", port, "/", process, seconds=300)
                agree["rdflib-endpoint"] = answers("127.0.0.1", port, "/")
                rounds["rdflib-endpoint"].append(
                    run_load("rdflib-endpoint", "127.0.0.1", port, "/", args.rdflib_requests, args.clients, args.max_seconds,
                             process.pid))
            finally:
                stop(process)
        runs = [merge(name, rs) for name, rs in rounds.items() if rs]
        ratios = [a.throughput / b.throughput for a, b in zip(rounds["jllm-kg serve"], rounds["oxigraph serve"])]

        engine_ms = engine_cpu_ms(store_path)
    text = report(runs, agree, args, triples, command, ratios, engine_ms)
    if args.out:
        Path(args.out).write_text(text, encoding="utf-8")
    print(text)


if __name__ == "__main__":
    main()
