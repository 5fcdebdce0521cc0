"""Benchmark: `jllm-kg serve` vs `oxigraph serve-read-only`, same quads, driven by wrk (C, keep-alive).

    .venv/bin/python bench/endpoint.py --out bench/endpoint.md [--store PATH] [--duration 10] [--rounds 3]

Without ``--store`` it builds the seed graph from the shipped catalog into a temporary directory.
The quads of the store are exported to N-Quads and loaded with ``oxigraph load`` into a second
temporary directory served by ``oxigraph serve-read-only --union-default-graph`` (PyPI
``oxigraph``, the same version as ``pyoxigraph``). Our server is ``jllm-kg serve`` as shipped
(``tests/live.py``), with ``JLLM_KG_ACCESS_LOG=off`` for the measured rounds and one extra pair of
runs with the access log on (to stderr, read by this script as a log collector would).

wrk (``/usr/bin/wrk``, Debian package ``wrk``) runs ``bench/sparql_mix.lua``: SPARQL POST forms,
rotating over 20 query texts in a 3:1:1 lookup/lineage/aggregate mix. Two mixes: *repeated* (the
20 texts as they are) and *unique* (a comment with a per-request counter makes every text
different, so no cache can answer). 16 and 64 connections, ``wrk -t2``, rounds interleaved
(ours, oxigraph, oxigraph, ours, …). Everything listens on 127.0.0.1 and every run is bounded
by ``--duration``. A profile of our server during a unique-mix run follows (py-spy, per-process CPU).
"""
from __future__ import annotations

import argparse
import collections
import json
import os
import platform
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.live import LiveServer, free_port, process_tree  # noqa: E402

JLLM = "https://w3id.org/jllm-kg/ontology#"
M = "https://w3id.org/jllm-kg/model/"
LOOKUPS = ["swallow-7b", "swallow-70b", "llm-jp-13b", "elyza-japanese-llama-2-7b", "youri-7b", "karasu",
           "nekomata-7b", "plamo-13b", "cyberagentlm2-calm2", "shisa-7b", "stockmark-13b", "heron"]
WORKLOAD = {
    "lookup": "SELECT ?p ?o WHERE {{ <{iri}> ?p ?o }}",
    "lineage": f"SELECT ?model ?ancestor WHERE {{{{ ?model <{JLLM}baseModel>+ ?ancestor }}}} LIMIT {{limit}}",
    "aggregate": f"SELECT ?developer (COUNT(DISTINCT ?m) AS ?models) WHERE {{{{ ?m a <{JLLM}Model> ; "
                 f"<{JLLM}developer> ?developer }}}} GROUP BY ?developer ORDER BY DESC(?models) LIMIT {{limit}}",
}
LUA = Path(__file__).resolve().parent / "sparql_mix.lua"
MIXES = ("repeated", "unique")
ACCEPT = "application/sparql-results+json"


def workload() -> list[tuple[str, str]]:
    """The 20 distinct query texts, in rotation order: (lookup, lineage, lookup, aggregate, lookup) × 4.

    Lookups name 12 different models; the 4 lineage and 4 aggregate texts differ only by a LIMIT
    above their row count (so they return the same rows).
    """
    out, lookup = [], 0
    for variant in range(4):
        for kind in ("lookup", "lineage", "lookup", "aggregate", "lookup"):
            if kind == "lookup":
                text = WORKLOAD["lookup"].format(iri=M + LOOKUPS[lookup])
                lookup += 1
            elif kind == "lineage":
                text = WORKLOAD["lineage"].format(limit=1000 + variant)
            else:
                text = WORKLOAD["aggregate"].format(limit=20 + variant)
            out.append((kind, text))
    return out


# processes ---------------------------------------------------------------------------------------
def cpu_of(pid: int) -> float:
    """User + system CPU seconds of ``pid`` so far (0 if it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def role(pid: int) -> str:
    """What a process of our server is: the granian main process, the front (granian worker), a query process."""
    try:
        cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return "gone"
    if "server.http.process" in cmd:
        return "query process"
    if "oxigraph" in cmd:
        return "oxigraph"
    return "python"


def roles(root: int) -> dict[int, str]:
    """Each process of a server tree by role; the granian worker is the ``python`` child of the root."""
    tree = process_tree(root)
    out = {pid: role(pid) for pid in tree}
    for pid, name in out.items():
        if name == "python":
            out[pid] = "granian main" if pid == root else "front (granian worker)"
    return out


def cpu_by_role(tree: dict[int, str]) -> dict[str, float]:
    out: dict[str, float] = collections.defaultdict(float)
    for pid, name in tree.items():
        out[name] += cpu_of(pid)
    return dict(out)


class Drain(threading.Thread):
    """Read a server's stdout/stderr (what a log collector does), counting lines, keeping the last few."""

    def __init__(self, stream) -> None:
        super().__init__(daemon=True)
        self.stream, self.lines, self.tail = stream, 0, collections.deque(maxlen=20)

    def run(self) -> None:
        for line in iter(self.stream.readline, b""):
            self.lines += 1
            self.tail.append(line.decode(errors="replace").rstrip())


# servers ------------------------------------------------------------------------------------------
def prepare(store_arg: str | None, work: Path) -> tuple[Path, Path, int]:
    """Our store (built if not given) and an oxigraph directory loaded from its quads as N-Quads."""
    from pyoxigraph import RdfFormat, Store

    if store_arg:
        store_path = Path(store_arg)
        if not store_path.exists():
            subprocess.run([sys.executable, "-m", "jllm_kg.cli", "build", "--store", str(store_path)], check=True,
                           stdout=subprocess.DEVNULL)
    else:
        store_path = work / "store"
        subprocess.run([sys.executable, "-m", "jllm_kg.cli", "build", "--store", str(store_path)], check=True,
                       stdout=subprocess.DEVNULL)
    nquads = work / "data.nq"
    Store.read_only(str(store_path.resolve())).dump(str(nquads), format=RdfFormat.N_QUADS)
    quads = sum(1 for _ in nquads.open("rb"))
    location = work / "oxigraph"
    subprocess.run([oxigraph_bin(), "load", "--location", str(location), "--file", str(nquads)], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return store_path, location, quads


def oxigraph_bin() -> str:
    return str(Path(sys.executable).parent / "oxigraph")


class Oxigraph:
    """``oxigraph serve-read-only --union-default-graph`` on 127.0.0.1."""

    def __init__(self, location: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/query"
        self.process = subprocess.Popen([oxigraph_bin(), "serve-read-only", "--location", str(location),
                                         "--bind", f"127.0.0.1:{self.port}", "--union-default-graph"],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                post(self.url, "ASK {}")
                return
            except OSError:
                if self.process.poll() is not None:
                    raise RuntimeError(f"oxigraph exited with {self.process.returncode}") from None
                time.sleep(0.1)
        raise RuntimeError("oxigraph serve did not start")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def post(url: str, text: str) -> tuple[int, bytes]:
    data = urllib.parse.urlencode({"query": text}).encode()
    request = urllib.request.Request(url, data=data, headers={
        "Content-Type": "application/x-www-form-urlencoded", "Accept": ACCEPT})
    with urllib.request.urlopen(request, timeout=30) as response:
        return response.status, response.read()


def rows(url: str, text: str) -> int:
    """Rows of a SELECT (or -status on an error)."""
    try:
        status, body = post(url, text)
    except urllib.error.HTTPError as err:
        return -err.code
    return len(json.loads(body)["results"]["bindings"]) if status == 200 else -status


def verify(urls: dict[str, str], texts: list[tuple[str, str]]) -> dict[str, dict[str, int]]:
    """Every query (and a unique-mix variant of it) returns the same non-empty rows on both servers."""
    out: dict[str, dict[str, int]] = {name: {} for name in urls}
    for index, (kind, text) in enumerate(texts):
        for variant in (text, f"# u0-{index}\n{text}"):
            counts = {name: rows(url, variant) for name, url in urls.items()}
            if len(set(counts.values())) != 1 or min(counts.values()) <= 0:
                raise SystemExit(f"servers disagree or return nothing for {variant!r}: {counts}")
        for name in urls:
            out[name][f"{kind} {index + 1}"] = counts[name]
    return out


# wrk -----------------------------------------------------------------------------------------------
@dataclass
class Run:
    server: str
    mix: str
    connections: int
    round: int
    requests: int
    seconds: float
    p50: float  # ms
    p90: float
    p99: float
    maximum: float
    bytes: int
    non2xx: int
    socket_errors: int
    cpu: dict[str, float] = field(default_factory=dict)  # CPU seconds by process role during the run
    output: str = ""
    output_lines: int = 0

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    @property
    def errors(self) -> int:
        return self.non2xx + self.socket_errors

    @property
    def cpu_ms(self) -> float:
        """Server CPU (all its processes) per request, ms."""
        return sum(self.cpu.values()) / self.requests * 1000 if self.requests else float("nan")

    @property
    def cores(self) -> float:
        """Cores the server kept busy during the run (its CPU seconds over the run's seconds)."""
        return sum(self.cpu.values()) / self.seconds if self.seconds else float("nan")


def wrk(url: str, queries_file: Path, mix: str, connections: int, seconds: float, threads: int,
        tree: dict[int, str] | None = None) -> tuple[dict, str, dict[str, float]]:
    before = cpu_by_role(tree) if tree else {}
    command = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{max(1, round(seconds))}s", "--timeout", "5s", "--latency",
               "-s", str(LUA), url, "--", str(queries_file), mix, f"{os.getpid()}x{time.time_ns()}"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 60)
    after = cpu_by_role(tree) if tree else {}
    line = next((ln for ln in done.stdout.splitlines() if ln.startswith("RESULT ")), None)
    if line is None:
        raise RuntimeError(f"wrk printed no result:\n{done.stdout}\n{done.stderr}")
    return json.loads(line[7:]), done.stdout, {k: after.get(k, 0.0) - before.get(k, 0.0) for k in after}


def measure(server: str, url: str, queries_file: Path, mix: str, connections: int, round_: int, args,
            tree: dict[int, str] | None) -> Run:
    result, output, cpu = wrk(url, queries_file, mix, connections, args.duration, args.threads, tree)
    socket_errors = sum(result[k] for k in ("connect", "read", "write", "timeout"))
    run = Run(server, mix, connections, round_, result["requests"], result["duration_us"] / 1e6,
              result["p50_us"] / 1000, result["p90_us"] / 1000, result["p99_us"] / 1000, result["max_us"] / 1000,
              result["bytes"], result["status"], socket_errors, cpu, output)
    print(f"  round {round_} {server:8} {mix:8} c={connections:<3} {run.rps:8.0f} req/s  p50 {run.p50:6.1f} ms  "
          f"p99 {run.p99:6.1f} ms  errors {run.errors}  cpu {run.cpu_ms:.2f} ms/req  load {os.getloadavg()[0]:.1f}",
          flush=True)
    return run


# profile --------------------------------------------------------------------------------------------
def py_spy(pid: int, seconds: float, out: Path) -> subprocess.Popen:
    return subprocess.Popen([str(Path(sys.executable).parent / "py-spy"), "record", "-p", str(pid), "-d", f"{seconds:g}",
                             "-r", "200", "--nonblocking", "--format", "raw", "-o", str(out)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def summarise(raw: Path, top: int = 12) -> tuple[int, list[tuple[str, float]], list[tuple[str, float]]]:
    """Samples, the top frames by self time and by inclusive time (share of samples), from py-spy's raw output."""
    self_time: collections.Counter = collections.Counter()
    inclusive: collections.Counter = collections.Counter()
    total = 0
    if not raw.exists():
        return 0, [], []
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        n = int(count)
        total += n
        frames = [re.sub(r":\d+\)$", ")", f) for f in stack.split(";")]
        self_time[frames[-1] or "(no Python frame: granian's Rust threads)"] += n
        for frame in set(frames):
            inclusive[frame] += n
    boring = ("runpy", "click/", "granian/server", "multiprocessing/", "threading.py", "jllm_kg/cli.py",
              "server/http/serve.py", "run_forever", "run_until_complete", "_run_once", "<module>")
    share = lambda c: [(f, n * 100 / total) for f, n in c]  # noqa: E731
    incl = [(f, n) for f, n in inclusive.most_common() if f and not any(b in f for b in boring)]
    return total, share(self_time.most_common(top)), share(incl[:top])


def engine_only(store_path: Path, texts: list[tuple[str, str]], n: int = 2000) -> float:
    """CPU ms per query of pyoxigraph alone (query + SPARQL JSON serialisation, in process, no HTTP)."""
    from pyoxigraph import QueryResultsFormat, Store

    store = Store.read_only(str(Path(store_path).resolve()))
    work = [text for _, text in texts]
    for text in work:
        store.query(text, use_default_graph_as_union=True).serialize(format=QueryResultsFormat.JSON)
    started = time.process_time()
    for i in range(n):
        store.query(work[i % len(work)], use_default_graph_as_union=True).serialize(format=QueryResultsFormat.JSON)
    return (time.process_time() - started) / n * 1000


def flask_path(store_path: Path, texts: list[tuple[str, str]], n: int = 1500) -> dict:
    """CPU ms per request of a query process's work, measured in this process (no HTTP, no front):
    ``server.http.process.respond`` answering a unique-mix POST (the query process's own path for SPARQL
    queries: werkzeug parse, negotiation, guard, engine, no Flask dispatch), plus the pickling of
    the request and the reply (``server.http.wire.pack``); and a cProfile of that path (top functions by
    own time)."""
    import cProfile
    import pstats

    from server.http import wire
    from server.app import create_app
    from server.config import load_config
    from server.http.process import respond as call

    config = load_config({"store_path": str(Path(store_path)), "access_log": "off",
                          "public_url": "http://127.0.0.1:8000"})  # as `jllm-kg serve` sets it
    config = {k: (str(v) if k == "store_path" else v) for k, v in config.items()}
    app = create_app(config)

    def request(i: int) -> tuple:
        body = urllib.parse.urlencode({"query": f"# f{i}\n" + texts[i % len(texts)][1]}).encode()
        headers = [("host", "127.0.0.1:8000"), ("content-type", "application/x-www-form-urlencoded"),
                   ("accept", ACCEPT), ("content-length", str(len(body)))]
        return ("POST", "/sparql", "", headers, body, "http", "127.0.0.1:8000", "127.0.0.1:40000")

    for i in range(50):
        assert call(app, request(i))[0] == 200
    requests_ = [request(100 + i) for i in range(n)]
    started = time.process_time()
    replies = [call(app, r) for r in requests_]
    app_ms = (time.process_time() - started) / n * 1000
    started = time.process_time()
    for r, reply in zip(requests_, replies):
        wire.pack(r)
        wire.pack((*reply, "generation"))
    wire_ms = (time.process_time() - started) / n * 1000
    profiler = cProfile.Profile()
    profiler.enable()
    for i in range(n // 3):
        call(app, request(10_000 + i))
    profiler.disable()
    stats = pstats.Stats(profiler)
    total = sum(v[2] for v in stats.stats.values())  # type: ignore[attr-defined]
    top = sorted(stats.stats.items(), key=lambda kv: -kv[1][2])[:12]  # type: ignore[attr-defined]
    rows = [(f"{Path(f).name}:{line} {name}" if f != "~" else name, v[2] / total * 100, v[3] / total * 100)
            for (f, line, name), v in top]
    return {"app_ms": app_ms, "wire_ms": wire_ms, "top": rows}


def profile(ours: LiveServer, queries_file: Path, args, work: Path) -> dict:
    """A unique-mix run on our server with py-spy on the front and on one query process, and CPU per role."""
    tree = roles(ours.process.pid)
    front = next(pid for pid, name in tree.items() if name.startswith("front"))
    query = sorted(pid for pid, name in tree.items() if name == "query process")
    seconds = max(4.0, args.duration - 3)
    outcome: dict = {"seconds": seconds}
    result: dict = {}

    def load() -> None:
        result["run"] = measure("ours", ours.url, queries_file, "unique", 16, 0, args, tree)

    driver = threading.Thread(target=load)
    driver.start()
    time.sleep(1.5)
    spies = [py_spy(front, seconds, work / "front.raw"), py_spy(query[0], seconds, work / "query.raw")]
    for spy in spies:
        spy.wait(timeout=seconds + 60)
    driver.join()
    outcome["run"] = result["run"]
    outcome["front"] = summarise(work / "front.raw")
    outcome["query"] = summarise(work / "query.raw")
    return outcome


# report ---------------------------------------------------------------------------------------------
def machine() -> dict[str, str]:
    model = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    from importlib.metadata import version

    ox = subprocess.run([oxigraph_bin(), "--version"], capture_output=True, text=True).stdout.strip()
    wrk_version = subprocess.run(["wrk", "-v"], capture_output=True, text=True)
    return {
        "cores": str(os.cpu_count()), "cpu": model, "kernel": platform.release(),
        "python": platform.python_version(), "pyoxigraph": version("pyoxigraph"), "oxigraph": ox,
        "granian": version("granian"), "flask": version("flask"),
        "wrk": (wrk_version.stdout + wrk_version.stderr).strip().splitlines()[0],
    }


def med(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def summary_rows(runs: list[Run], args) -> list[str]:
    lines = [
        "| mix | conns | ours req/s (median; range) | oxigraph req/s (median; range) | **req/s ratio** (median of rounds; range) "
        "| ours p50 / p99 ms | oxigraph p50 / p99 ms | **p99 ratio** | errors ours / oxigraph (non-2xx + socket) | target |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for mix in MIXES:
        for conns in args.connections:
            ours = sorted((r for r in runs if r.server == "ours" and r.mix == mix and r.connections == conns),
                          key=lambda r: r.round)
            ox = sorted((r for r in runs if r.server == "oxigraph" and r.mix == mix and r.connections == conns),
                        key=lambda r: r.round)
            ratios = [a.rps / b.rps for a, b in zip(ours, ox)]
            p99 = med([a.p99 for a in ours]) / med([b.p99 for b in ox])
            goal = 1.5 if mix == "repeated" else 0.7
            errors = sum(r.errors for r in ours), sum(r.errors for r in ox)
            met = med(ratios) >= goal and p99 <= 2 and errors[0] == 0
            lines.append(
                f"| {mix} | {conns} | {med([r.rps for r in ours]):,.0f} ({min(r.rps for r in ours):,.0f}–{max(r.rps for r in ours):,.0f}) "
                f"| {med([r.rps for r in ox]):,.0f} ({min(r.rps for r in ox):,.0f}–{max(r.rps for r in ox):,.0f}) "
                f"| **{med(ratios):.2f}×** ({min(ratios):.2f}–{max(ratios):.2f}) "
                f"| {med([r.p50 for r in ours]):.1f} / {med([r.p99 for r in ours]):.1f} "
                f"| {med([r.p50 for r in ox]):.1f} / {med([r.p99 for r in ox]):.1f} | **{p99:.2f}×** "
                f"| {errors[0]} / {errors[1]} | ≥ {goal}×, p99 ≤ 2×, 0 errors: **{'met' if met else 'missed'}** |")
    return lines


def report(args, info: dict[str, str], quads: int, agree: dict, runs: list[Run], logged: list[Run],
           prof: dict | None, engine_ms: float, flask: dict, loads: list[tuple[float, float, float]], others: str,
           command: str, started: str, sweep: dict[int, tuple[Run, Run]] | None = None) -> str:
    lines = [
        "# Endpoint benchmark: `jllm-kg serve` vs `oxigraph serve-read-only`",
        "",
        f"Run {started} UTC with `{command}` (one command; it took {args.elapsed:.0f} s).",
        "",
        f"**Machine:** {info['cores']} cores ({info['cpu']}), Linux {info['kernel']}. "
        f"**Versions:** Python {info['python']}, pyoxigraph {info['pyoxigraph']}, {info['oxigraph']} (PyPI `oxigraph`), "
        f"granian {info['granian']}, Flask {info['flask']}, {info['wrk']}.",
        "",
        f"**Load from elsewhere:** the load generator, both servers and other engineers' jobs shared the "
        f"{info['cores']} cores. Load average (1 min) at the start of each round: "
        + ", ".join(f"{a:.1f}" for a, _, _ in loads) + f". Other busy processes seen at the start: {others or 'none'}. "
        "Absolute numbers are therefore low and noisy; the rounds are interleaved (the server that goes first "
        "alternates) so that outside load hits both servers alike, and the ratios are per round.",
        "",
        "On a remote store (`jllm-kg serve --store http://…`, issue 13): the canned lineage queries through jllm-kg "
        "against the same SPARQL sent directly to `oxigraph serve`, and two replicas against one, are in "
        "[remote.md](remote.md) (`bench/remote.py`).",
        "",
        "## Set-up",
        "",
        f"- Same quads: the store's {quads:,} quads exported to N-Quads and loaded with `oxigraph load` into a temporary "
        "directory served by `oxigraph serve-read-only --union-default-graph` (POST `/query`).",
        "- Ours: `jllm-kg serve` as shipped (`tests/live.py`): granian + the RSGI front (response cache, ETag), "
        f"{args.workers_seen} query processes (default: 2 × cores + 2, of which one client may use all but one) under seccomp, 10 s kill-based timeout, the memory "
        "cap, negotiation and the SERVICE/LOAD guard all on; `JLLM_KG_ACCESS_LOG=off` for the measured rounds "
        "(access log on: see below). POST `/sparql`.",
        f"- Load: `wrk -t{args.threads} -cN -d{args.duration:g}s --timeout 5s --latency -s bench/sparql_mix.lua URL -- "
        "QUERIES MIX` (keep-alive). Each request is a SPARQL POST form (`Accept: application/sparql-results+json`) "
        "rotating over 20 query texts in a 3:1:1 lookup/lineage/aggregate mix: 12 lookups `SELECT ?p ?o WHERE { <model> ?p ?o }` "
        "over 12 models, 4 lineage `?model jllm:baseModel+ ?ancestor` and 4 `GROUP BY ?developer COUNT(DISTINCT ?m)` "
        "aggregates (the variants differ by a LIMIT above their row count).",
        "- *repeated*: those 20 texts as they are. *unique*: a comment line `# u<run>-<thread>-<counter>` before each text, so "
        "no two requests have the same text, in a run or across runs (our cache cannot answer; the rows are the same).",
        f"- {args.rounds} interleaved rounds; in each round, for each mix and connection count, both servers run "
        f"back to back ({args.duration:g} s each), the one that goes first alternating. A {args.warmup:g} s warm-up per "
        "server precedes the rounds.",
        "- Before measuring, every query text and its unique-mix variant was sent to both servers: both return the same "
        "non-empty row counts (below).",
        "",
        "## Results",
        "",
        "Medians over the rounds; the ratio column is the median of the per-round ratios ours / oxigraph "
        "(> 1 = ours faster). p99 ratio = ours / oxigraph (< 1 = ours better). Targets from issue 11.",
        "",
        *summary_rows(runs, args),
        "",
        "Every run (server CPU = user + system time of all the server's processes during the run, per request; "
        "cores busy = that CPU time over the run's duration; bytes/req includes headers):",
        "",
        "| round | server | mix | conns | requests | req/s | p50 ms | p90 ms | p99 ms | max ms | non-2xx | socket errors | bytes/req | server CPU ms/req | cores busy |",
        "|---:|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in sorted(runs, key=lambda r: (r.mix, r.connections, r.round, r.server)):
        lines.append(f"| {r.round} | {r.server} | {r.mix} | {r.connections} | {r.requests:,} | {r.rps:,.0f} | {r.p50:.1f} | "
                     f"{r.p90:.1f} | {r.p99:.1f} | {r.maximum:.1f} | {r.non2xx} | {r.socket_errors} | "
                     f"{r.bytes / max(1, r.requests):,.0f} | {r.cpu_ms:.2f} | {r.cores:.2f} |")
    if sweep:
        lines += ["", "### How many query processes", "",
                  f"Unique mix, 16 connections, one run of {args.duration:g} s per setting: `jllm-kg serve` restarted with "
                  "`JLLM_KG_WORKERS=N` (one client, the load generator, may hold N − 1 of them) and `JLLM_KG_PIPELINE` "
                  "(1: a process holds one request at a time; 2: a client holding as many processes as cores queues "
                  "its next request behind its own running one, `docs/server.md`), each run next to an "
                  "`oxigraph serve` run (the one that goes first alternates). *Cores busy* is the server's CPU time over "
                  "the run's duration: without pipelining a process idles between its reply and the next request the "
                  "front hands it, so too few processes leave the cores idle; more running processes than cores cost "
                  "CPU per request instead.", "",
                  "| query processes | ours req/s | oxigraph req/s | **ratio** | ours p50 / p99 ms | ours CPU ms/req | ours cores busy | oxigraph cores busy |",
                  "|---:|---:|---:|---:|---:|---:|---:|---:|"]
        for n, (a, b) in sweep.items():
            workers, _, depth = n.partition("x")
            default = int(workers) == args.workers_seen and depth in ("", "2")
            label = f"{workers}, {'no pipelining' if depth == '1' else 'pipelining ' + (depth or '2') + ' deep'}"
            lines.append(f"| {label}{' (default)' if default else ''} | {a.rps:,.0f} | {b.rps:,.0f} | "
                         f"**{a.rps / b.rps:.2f}×** | {a.p50:.1f} / {a.p99:.1f} | {a.cpu_ms:.2f} | {a.cores:.2f} | {b.cores:.2f} |")
    if logged:
        lines += ["", "### With the access log on", "",
                  "The same server restarted with the default `JLLM_KG_ACCESS_LOG=-` (one line per request to stderr, "
                  "read by this script as a log collector would), one run per mix at 16 connections right after the "
                  "last round, compared with the medians of the measured rounds (log off):", "",
                  "| mix | conns | req/s log on | req/s log off (median) | p50 / p99 ms log on | errors | log lines |",
                  "|---|---:|---:|---:|---:|---:|---:|"]
        for r in logged:
            off = med([x.rps for x in runs if x.server == "ours" and x.mix == r.mix and x.connections == r.connections])
            lines.append(f"| {r.mix} | {r.connections} | {r.rps:,.0f} | {off:,.0f} | {r.p50:.1f} / {r.p99:.1f} | "
                         f"{r.errors} | {r.output_lines:,} |")
    lines += ["", "## Where our time goes", ""]
    ox_unique = [r for r in runs if r.server == "oxigraph" and r.mix == "unique"]
    ours_unique = [r for r in runs if r.server == "ours" and r.mix == "unique"]
    ours_rep = [r for r in runs if r.server == "ours" and r.mix == "repeated"]
    share: dict[str, float] = collections.defaultdict(float)
    for r in ours_unique:
        for k, v in r.cpu.items():
            share[k] += v
    total_requests = sum(r.requests for r in ours_unique)
    lines += [
        f"Server CPU per request (median over runs): oxigraph {med([r.cpu_ms for r in ox_unique]):.2f} ms (unique mix); "
        f"ours {med([r.cpu_ms for r in ours_unique]):.2f} ms on the unique mix, {med([r.cpu_ms for r in ours_rep]):.2f} ms "
        f"on the repeated mix (answered by the front's cache). pyoxigraph alone, in process (query + JSON "
        f"serialisation, no HTTP), costs {engine_ms:.2f} ms per query of this mix.",
        "",
        "Our CPU per request on the unique mix, by process (all unique-mix runs):",
        "",
        "| process | CPU ms / request |",
        "|---|---:|",
    ]
    for name, seconds in sorted(share.items(), key=lambda kv: -kv[1]):
        lines.append(f"| {name} | {seconds / max(1, total_requests) * 1000:.2f} |")
    lines += [
        "",
        f"The query process's work in isolation (this script's process, no HTTP, no front, no contention with the "
        f"load generator): `server.http.process.respond` answering a unique-mix POST form (werkzeug parse, negotiation, "
        f"guard, engine; no Flask dispatch) costs "
        f"**{flask['app_ms']:.2f} ms CPU** per request, of which pyoxigraph (query + JSON) is {engine_ms:.2f} ms, so "
        f"werkzeug and our protocol code add **{flask['app_ms'] - engine_ms:.2f} ms**; pickling the request and the "
        f"reply for the socket between front and query process costs {flask['wire_ms']:.3f} ms. cProfile of that path "
        "(share of the profiled time; pyoxigraph's `query`/`serialize` are native calls, counted as one function each):",
        "",
        "| own time % | cumulative % | function |",
        "|---:|---:|---|",
    ]
    for name, own, cumulative in flask["top"]:
        lines.append(f"| {own:.1f} | {cumulative:.1f} | `{name[:100]}` |")
    ox_cpu, ours_cpu = med([r.cpu_ms for r in ox_unique]), med([r.cpu_ms for r in ours_unique])
    front_ms = share.get("front (granian worker)", 0.0) / max(1, total_requests) * 1000
    query_ms = share.get("query process", 0.0) / max(1, total_requests) * 1000
    unique_ratio = med([a.rps / b.rps for a, b in zip(
        sorted(ours_unique, key=lambda r: (r.connections, r.round)), sorted(ox_unique, key=lambda r: (r.connections, r.round)))])
    budget = ox_cpu / 0.7
    ours_cores, ox_cores = med([r.cores for r in ours_unique]), med([r.cores for r in ox_unique])
    lines += [
        "",
        "**Reading.** With the load generator and both servers on 2 cores (and other jobs besides), throughput on the "
        "unique mix is CPU per request times the cores a server keeps busy. Cores busy (median over unique-mix runs): "
        f"ours {ours_cores:.2f}, oxigraph {ox_cores:.2f}. oxigraph / ours CPU per request = {ox_cpu:.2f} / {ours_cpu:.2f} = "
        f"**{ox_cpu / ours_cpu:.2f}**, against a measured req/s ratio of {unique_ratio:.2f} (median over rounds and "
        f"connection counts). `oxigraph serve` spends about what pyoxigraph alone spends on the query and its JSON "
        f"({engine_ms:.2f} ms): its HTTP costs next to nothing. Ours adds, per request, {front_ms:.2f} ms in the front "
        f"(granian's Rust I/O thread, the asyncio hand-off from it — `call_soon_threadsafe` / `_write_to_self` — the "
        f"body read, the cache look-up, the pickled round trip to a query process) and {query_ms - engine_ms:.2f} ms in the "
        f"query process beyond the engine (werkzeug's request object, our protocol parsing, negotiation and guard, "
        f"the socket round trip; {flask['app_ms'] - engine_ms:.2f} ms of it measured in process). "
        f"For the 0.7× target with the cores equally busy, ours may spend at most {ox_cpu:.2f} / 0.7 = {budget:.2f} ms "
        f"per request, i.e. {budget - engine_ms:.2f} ms above the engine, against {ours_cpu - engine_ms:.2f} ms now. "
        f"Even with no Flask at all, the front alone ({front_ms:.2f} ms) leaves the CPU ratio at about "
        f"{ox_cpu / (engine_ms + front_ms):.2f}×.",
        "",
        "**What is done, and what would close the rest** (the last two not measured here). Done: SPARQL queries skip "
        "the Flask dispatch in the query process (`server.http.process.respond`); the front runs on uvloop; and "
        "pipelining: a client holding as many processes as cores queues its next request in one of them, behind its "
        "running one, so a process reads its next request as soon as it has replied and the cores stay busy with "
        "as many running processes as cores (the table *How many query processes* above). Left: "
        f"(1) werkzeug's request object and our protocol code ({flask['app_ms'] - engine_ms:.2f} ms) could shrink to a "
        "plain form/query-string parse for the common protocol forms; (2) the front's Python per request — granian's "
        "Rust thread hands every request to the asyncio loop, and a miss makes a pickled round trip to a query "
        "process — would go with a front written in Rust (the cache look-up and the dispatch outside the GIL), or by "
        "evaluating queries in the front's own process, which gives up what the query processes buy: a killed query "
        "ends only its own request, and the kernel filter sits on the processes that evaluate queries, not on the "
        "one holding the client connections (`bench/designs.md`). (3) More cores do "
        "not change the CPU ratio. The repeated mix clears its target by a wide margin because "
        "the front answers from its cache at ~0.1 ms CPU per request, less than the engine alone.",
    ]
    if prof:
        run = prof["run"]
        lines += [
            "",
            f"py-spy (`py-spy record --nonblocking -r 200 --format raw`, {prof['seconds']:g} s) on the front (granian worker "
            f"process) and on one query process during a unique-mix run at 16 connections ({run.rps:,.0f} req/s, "
            f"p50 {run.p50:.1f} ms, p99 {run.p99:.1f} ms, {run.cpu_ms:.2f} ms CPU/request; the profiler itself costs "
            "some of it). Shares are of the samples taken (py-spy leaves out idle threads; a thread blocked in a "
            "`recv` it reads as active may still be counted):",
            "",
        ]
        for label, key in (("front", "front"), ("query process", "query")):
            total, selfs, incl = prof[key]
            lines += [f"**{label}** ({total:,} samples):", "", "| self % | frame | | inclusive % | frame |",
                      "|---:|---|---|---:|---|"]
            for i in range(max(len(selfs), len(incl))):
                a = selfs[i] if i < len(selfs) else ("", 0.0)
                b = incl[i] if i < len(incl) else ("", 0.0)
                lines.append(f"| {a[1]:.1f} | `{a[0][:90]}` | | {b[1]:.1f} | `{b[0][:90]}` |")
            lines.append("")
    if args.findings:
        lines += ["### Findings", "", Path(args.findings).read_text(encoding="utf-8").strip(), ""]
    lines += ["", "## Rows returned by each query (both servers agree)", "",
              "| query | " + " | ".join(agree) + " |", "|---|" + "---:|" * len(agree)]
    for query in next(iter(agree.values())):
        lines.append(f"| {query} | " + " | ".join(str(agree[name][query]) for name in agree) + " |")
    lines += ["", "## Reproduce", "", "From the repository root, with the `bench` extra installed and `wrk` on the PATH "
              "(`apt-get install wrk`):", "", "```", command, "```", ""]
    return "\n".join(lines)


def busy_processes() -> str:
    """Other processes using CPU right now (name, %CPU), to say what shared the machine."""
    out = subprocess.run(["ps", "-eo", "pcpu,comm,args", "--sort=-pcpu", "--no-headers"], capture_output=True, text=True).stdout
    mine = os.getpid()
    busy = []
    for line in out.splitlines()[:8]:
        parts = line.split(None, 2)
        if len(parts) == 3 and float(parts[0]) >= 10 and str(mine) not in parts[2]:
            busy.append(f"`{parts[2][:60]}` ({parts[0]} %)")
    return ", ".join(busy)


def main() -> None:
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # run the clean-up (servers stopped) on SIGTERM
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", help="our store (built there if missing; default: a temporary build)")
    parser.add_argument("--duration", type=float, default=10, help="seconds per wrk run (default 10)")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds (default 3)")
    parser.add_argument("--connections", type=lambda s: [int(x) for x in s.split(",")], default=[16, 64],
                        help="connection counts (default 16,64)")
    parser.add_argument("--threads", type=int, default=2, help="wrk threads (default 2)")
    parser.add_argument("--warmup", type=float, default=3, help="warm-up seconds per server (default 3)")
    parser.add_argument("--no-profile", action="store_true", help="skip the py-spy profile run")
    parser.add_argument("--no-access-log-run", action="store_true", help="skip the runs with the access log on")
    parser.add_argument("--sweep", type=lambda s: [x.strip() for x in s.split(",") if x.strip()],
                        default=["3", "6", "3x1", "6x1"],
                        help="query-process counts to compare on the unique mix, N or NxDEPTH (pipelining depth; "
                             "x1 = none; default 3,6,3x1,6x1; '' for none)")
    parser.add_argument("--findings", help="a Markdown file of findings to include in the report")
    parser.add_argument("--out", help="write the Markdown report here (default: print it)")
    args = parser.parse_args()
    if not shutil.which("wrk"):
        raise SystemExit("wrk is not installed (apt-get install wrk)")
    command = ".venv/bin/python bench/endpoint.py " + " ".join(sys.argv[1:])
    started_at, started = time.strftime("%Y-%m-%d %H:%M", time.gmtime()), time.monotonic()
    others = busy_processes()
    info = machine()
    texts = workload()
    runs: list[Run] = []
    logged: list[Run] = []
    loads: list[tuple[float, float, float]] = []
    prof = None
    with tempfile.TemporaryDirectory(prefix="jllm-bench-") as tmp:
        work = Path(tmp)
        store_path, location, quads = prepare(args.store, work)
        queries_file = work / "queries.txt"
        queries_file.write_text("".join(urllib.parse.quote(text, safe="") + "\n" for _, text in texts))
        oxigraph = Oxigraph(location)
        try:
            with LiveServer(store_path, env={"JLLM_KG_ACCESS_LOG": "off"}, pipe_output=True) as ours:
                Drain(ours.process.stdout).start()
                tree = roles(ours.process.pid)
                args.workers_seen = sum(1 for name in tree.values() if name == "query process")
                ox_tree = {oxigraph.process.pid: "oxigraph"}
                servers = {"ours": (ours.url, tree), "oxigraph": (oxigraph.url, ox_tree)}
                agree = verify({name: url for name, (url, _) in servers.items()}, texts)
                print(f"verified {len(texts)} queries on both servers; warming up", flush=True)
                for name, (url, _) in servers.items():
                    for mix in MIXES:
                        wrk(url, queries_file, mix, 16, args.warmup / 2, args.threads)
                for round_ in range(1, args.rounds + 1):
                    loads.append(os.getloadavg())
                    order = ["ours", "oxigraph"] if round_ % 2 else ["oxigraph", "ours"]
                    for mix in MIXES:
                        for conns in args.connections:
                            for name in order:
                                url, t = servers[name]
                                runs.append(measure(name, url, queries_file, mix, conns, round_, args, t))
                        order.reverse()
                if not args.no_profile:
                    print("profiling a unique-mix run of ours", flush=True)
                    prof = profile(ours, queries_file, args, work)
            sweep = {}
            for i, n in enumerate(args.sweep):
                workers, _, depth = n.partition("x")
                with LiveServer(store_path, env={"JLLM_KG_ACCESS_LOG": "off", "JLLM_KG_WORKERS": workers,
                                                 "JLLM_KG_PIPELINE": depth or "2"}, pipe_output=True) as probe:
                    Drain(probe.process.stdout).start()
                    probe_tree = roles(probe.process.pid)
                    wrk(probe.url, queries_file, "unique", 16, args.warmup / 2, args.threads)
                    pair = [("ours", probe.url, probe_tree), ("oxigraph", oxigraph.url, ox_tree)]
                    got = {name: measure(f"{name}/{n}" if name == "ours" else name, url, queries_file, "unique", 16, 0,
                                         args, t) for name, url, t in (pair if i % 2 == 0 else pair[::-1])}
                    sweep[n] = (got["ours"], got["oxigraph"])
            if not args.no_access_log_run:
                logged_server = LiveServer(store_path, env={"JLLM_KG_ACCESS_LOG": "-"}, pipe_output=True)
                with logged_server as ours:
                    drain = Drain(ours.process.stdout)
                    drain.start()
                    tree = roles(ours.process.pid)
                    for mix in MIXES:
                        wrk(ours.url, queries_file, mix, 16, args.warmup / 2, args.threads)
                    for mix in MIXES:
                        before = drain.lines
                        run = measure("ours+log", ours.url, queries_file, mix, 16, 0, args, tree)
                        time.sleep(0.5)
                        run.output_lines = drain.lines - before
                        logged.append(run)
            engine_ms = engine_only(store_path, texts)
            flask = flask_path(store_path, texts)
        finally:
            oxigraph.stop()
        args.elapsed = time.monotonic() - started
        text = report(args, info, quads, agree, runs, logged, prof, engine_ms, flask, loads, others, command, started_at,
                      sweep)
    if args.out:
        Path(args.out).write_text(text, encoding="utf-8")
        print(f"wrote {args.out}")
    else:
        print(text)


if __name__ == "__main__":
    main()
