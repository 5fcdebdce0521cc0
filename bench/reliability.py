"""Reliability under load and attack (issue 10's "What it must show"), one command, bounded in time.

    .venv/bin/python bench/reliability.py --out bench/reliability.md [--store PATH] [--load-seconds 60]

It builds a store in a temporary directory (or uses ``--store``, which it rebuilds in place),
starts ``jllm-kg serve --timeout 2`` as shipped (``tests/live.py``; access log on, to stderr, read
by this script) on 127.0.0.1 and runs, while sampling every second the resident memory (RSS) of
all the server's processes:

A. **Mixed load**: wrk, 64 keep-alive connections for ``--load-seconds`` over SPARQL (repeated and
   unique texts, POST and GET), canned queries, resource pages and ``/dump.ttl``: errors, statuses, memory.
B. **Attack**: 20 slowloris connections (10 sending their headers 1 byte/s, 10 sending full headers
   then a body 1 byte/s, each reconnecting when the server drops it) and an open-loop stream of
   10 hostile requests/s (``{``×2500, 10,000 UNIONs, SERVICE to a listener on 127.0.0.1, and in
   the last part a cartesian COUNT that runs into the 2 s timeout), while one normal client
   (a separate Python process, one request at a time on a keep-alive connection) sends ``ASK {}``
   (answered from the cache) and ``ASK {} # <counter>`` (never cacheable) alternately: its latency
   p50/p99 in a baseline (no attack), under slowloris + parse-level hostiles, and with the
   cartesian COUNT added.
C. **Rebuilds under load**: ``jllm-kg build --store <same path>`` repeatedly during mixed load
   (wrk, 64 connections): failed requests, and whether the new generation is served.
D. **Killed builds**: a build SIGKILLed at several points of its run: the served store still
   answers with the same quad count, and a later build succeeds.
"""
from __future__ import annotations

import argparse
import asyncio
import collections
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.live import Listener, LiveServer, process_tree  # noqa: E402

HERE = Path(__file__).resolve().parent
JLLM = "https://w3id.org/jllm-kg/ontology#"
M = "https://w3id.org/jllm-kg/model/"
JSON = "application/sparql-results+json"
COUNT = "SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }"
CARTESIAN = "SELECT (COUNT(*) AS ?n) WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i }"


# the server's processes -----------------------------------------------------------------------------
def role(pid: int, root: int) -> str:
    try:
        cmd = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return "gone"
    if b"server.http.process" in cmd:
        return "query"
    return "main" if pid == root else "front"


def rss(pid: int) -> int:
    try:
        return int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


class Sampler(threading.Thread):
    """Every second: RSS of each server process by role, and which query processes exist."""

    def __init__(self, root: int) -> None:
        super().__init__(daemon=True)
        self.root, self.phase, self.samples = root, "start", []
        self.stop_event = threading.Event()

    def run(self) -> None:
        while not self.stop_event.is_set():
            by_role: dict[str, int] = collections.defaultdict(int)
            queries = []
            for pid in process_tree(self.root):
                name = role(pid, self.root)
                size = rss(pid)
                by_role[name] += size
                if name == "query":
                    queries.append((pid, size))
            self.samples.append({"t": time.time(), "phase": self.phase, "total": sum(by_role.values()),
                                 "main": by_role["main"], "front": by_role["front"], "query": by_role["query"],
                                 "query_pids": sorted(p for p, _ in queries),
                                 "query_max": max((s for _, s in queries), default=0)})
            self.stop_event.wait(1.0)


class Drain(threading.Thread):
    """Read the server's output (the access log and messages), as a log collector would."""

    def __init__(self, stream) -> None:
        super().__init__(daemon=True)
        self.stream, self.lines = stream, 0
        self.statuses: collections.Counter = collections.Counter()
        self.other: collections.deque = collections.deque(maxlen=40)
        self.failures: list[tuple[float, int, float]] = []  # (time read, status, ms) of 5xx lines

    def run(self) -> None:
        for raw in iter(self.stream.readline, b""):
            self.lines += 1
            line = raw.decode(errors="replace").rstrip()
            parts = line.rsplit(" ", 3)
            if len(parts) == 4 and parts[3].endswith("ms") and parts[1].isdigit():
                self.statuses[int(parts[1])] += 1
                if int(parts[1]) >= 500:
                    self.failures.append((time.time(), int(parts[1]), float(parts[3][:-2])))
            else:
                self.other.append(line)


# requests -------------------------------------------------------------------------------------------
def form(text: str, unique: bool = False) -> str:
    """A URL-encoded form body; with ``unique``, a ``# r{n}`` comment line wrk fills per request."""
    body = urllib.parse.urlencode({"query": ("# r{n}\n" if unique else "") + text})
    return body.replace("%7Bn%7D", "{n}")


def mixed_requests() -> list[tuple[str, str, str, str]]:
    """The mixed load (method, path, body or "-", Accept), in rotation order."""
    lookup = "SELECT ?p ?o WHERE {{ <{}> ?p ?o }}"
    aggregate = (f"SELECT ?developer (COUNT(DISTINCT ?m) AS ?models) WHERE {{ ?m a <{JLLM}Model> ; "
                 f"<{JLLM}developer> ?developer }} GROUP BY ?developer ORDER BY DESC(?models) LIMIT 20")
    lineage = f"SELECT ?model ?ancestor WHERE {{ ?model <{JLLM}baseModel>+ ?ancestor }}"
    return [
        ("POST", "/sparql", form(lookup.format(M + "swallow-7b")), JSON),
        ("GET", "/queries/descendants.json?model=llama-2", "-", "application/json"),
        ("POST", "/sparql", form(lookup.format(M + "llm-jp-13b"), unique=True), JSON),
        ("GET", "/model/llama-2", "-", "text/html"),
        ("GET", "/sparql?" + urllib.parse.urlencode({"query": aggregate}), "-", JSON),
        ("POST", "/sparql", form(lineage, unique=True), JSON),
        ("GET", "/model/swallow-7b", "-", "text/html"),
        ("POST", "/sparql", form(lookup.format(M + "karasu")), JSON),
        ("GET", "/queries/descendants.json?model=llama-2", "-", "application/json"),
        ("POST", "/sparql", form(aggregate, unique=True), JSON),
        ("GET", "/model/llama-2", "-", "text/html"),
        ("GET", "/dump.ttl", "-", "text/turtle"),
    ]


def run_wrk(base: str, file: Path, connections: int, seconds: float) -> dict:
    command = ["wrk", "-t2", f"-c{connections}", f"-d{max(1, round(seconds))}s", "--timeout", "10s", "--latency",
               "-s", str(HERE / "requests.lua"), base, "--", str(file), f"{os.getpid()}x{time.time_ns()}"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 60)
    line = next((ln for ln in done.stdout.splitlines() if ln.startswith("RESULT ")), None)
    if line is None:
        raise RuntimeError(f"wrk printed no result:\n{done.stdout}\n{done.stderr}")
    result = json.loads(line[7:])
    result["socket_errors"] = sum(result[k] for k in ("connect", "read", "write", "timeout"))
    result["rps"] = result["requests"] / (result["duration_us"] / 1e6)
    return result


def fetch(url: str, data: dict | None = None, headers: dict | None = None, timeout: float = 30) -> tuple[int, dict, bytes]:
    import urllib.error
    import urllib.request

    body = urllib.parse.urlencode(data).encode() if data is not None else None
    request = urllib.request.Request(url, data=body, headers={"Accept": JSON, **(headers or {})})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, {k.lower(): v for k, v in response.headers.items()}, response.read()
    except urllib.error.HTTPError as err:
        return err.code, {k.lower(): v for k, v in err.headers.items()}, err.read()


def quad_count(server: LiveServer) -> int | str:
    """COUNT(*) over the union graph, never from the cache (a fresh comment each time)."""
    status, _, body = fetch(server.url, {"query": f"# count {time.time_ns()}\n{COUNT}"})
    if status != 200:
        return f"HTTP {status}"
    return int(json.loads(body)["results"]["bindings"][0]["n"]["value"])


# the attack (asyncio) -------------------------------------------------------------------------------
def raw_form(port: int, text: str) -> bytes:
    body = urllib.parse.urlencode({"query": text}).encode()
    return (f"POST /sparql HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAccept: {JSON}\r\n"
            f"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {len(body)}\r\n"
            "Connection: close\r\n\r\n").encode() + body


def reason(body: bytes) -> str:
    """The gist of an error answer: its message without numbers, cut short."""
    try:
        message = json.loads(body)["error"]
    except (ValueError, KeyError, TypeError):
        return ""
    return " ".join(message.split()[:7])


#: The attackers (slowloris, hostile stream) connect from another loopback address than the normal
#: clients: they are other clients, as on the internet (the front serves clients fairly by address).
ATTACKER = "127.0.0.2"


async def exchange(port: int, data: bytes, timeout: float, source: str = ATTACKER) -> tuple[int, float, str]:
    """Send ``data`` on a new connection from ``source``; (status or 0 for no answer, seconds, error message)."""
    started = time.monotonic()
    try:
        reader, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port, local_addr=(source, 0)),
                                                timeout)
    except (OSError, asyncio.TimeoutError):
        return -1, time.monotonic() - started, "connect failed"
    try:
        writer.write(data)
        await writer.drain()
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout)
        status = int(head.split(b" ", 2)[1])
        length = next((int(line.split(b":", 1)[1]) for line in head.lower().split(b"\r\n")
                       if line.startswith(b"content-length:")), None)
        body = await asyncio.wait_for(reader.readexactly(length), timeout) if length else b""
        return status, time.monotonic() - started, reason(body) if status >= 400 else ""
    except (OSError, asyncio.TimeoutError, asyncio.IncompleteReadError, ValueError, IndexError) as err:
        return 0, time.monotonic() - started, type(err).__name__
    finally:
        writer.close()


def hostile_requests(port: int, listener: int, cartesian: bool) -> list[tuple[str, bytes]]:
    target = f"http://127.0.0.1:{listener}"
    out = [
        ("braces ({×2500)", raw_form(port, "SELECT * WHERE " + "{" * 2500 + "}" * 2500)),
        ("10,000 UNIONs", raw_form(port, "SELECT * WHERE { " + " UNION ".join(["{ ?s ?p ?o }"] * 10000) + " }")),
        ("SERVICE:e (prefixed)", raw_form(port, f"PREFIX : <{target}/> SELECT * WHERE {{ SERVICE:e {{ ?s ?p ?o }} }}")),
        ("SERVICE <iri>", raw_form(port, f"SELECT * WHERE {{ SERVICE <{target}/x> {{ ?s ?p ?o }} }}")),
    ]
    if cartesian:
        out.append(("cartesian COUNT (2 s timeout)", raw_form(port, CARTESIAN)))
    return out


class Attack:
    """Slowloris connections and a stream of hostile requests, on an asyncio loop in a thread."""

    def __init__(self, port: int, listener: int, slow: int, rate: float) -> None:
        self.port, self.listener, self.slow, self.rate = port, listener, slow, rate
        self.slow_stats: dict[str, list[tuple[float, str]]] = {"headers 1 byte/s": [], "body 1 byte/s": []}
        self.slow_open = 0
        self.hostile: list[tuple[str, str, int, float, str]] = []  # (part, kind, status, seconds, message)
        self.part = ""
        self.cartesian = False
        self.loop = asyncio.new_event_loop()
        self.stop_at = float("inf")
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)

    def start(self) -> None:
        self.thread.start()

    def run(self, coro):
        return asyncio.run_coroutine_threadsafe(coro, self.loop)

    async def slowloris(self, kind: str) -> None:
        if kind == "headers 1 byte/s":
            prefix = b""
            drip = (f"GET /sparql?query=ASK%7B%7D HTTP/1.1\r\nHost: 127.0.0.1:{self.port}\r\nX-Slow: ".encode()
                    + b"a" * 100_000)
        else:
            prefix = (f"POST /sparql HTTP/1.1\r\nHost: 127.0.0.1:{self.port}\r\n"
                      "Content-Type: application/sparql-query\r\nContent-Length: 100000\r\n\r\n").encode()
            drip = b"ASK {} " + b"#" * 100_000
        while time.monotonic() < self.stop_at:
            opened = time.monotonic()
            try:
                reader, writer = await asyncio.open_connection("127.0.0.1", self.port, local_addr=(ATTACKER, 0))
            except OSError:
                self.slow_stats[kind].append((0.0, "connect failed"))
                await asyncio.sleep(1)
                continue
            self.slow_open += 1
            answer = asyncio.ensure_future(reader.read(4096))
            outcome = "held until the end"
            try:
                if prefix:
                    writer.write(prefix)
                for i in range(len(drip)):
                    writer.write(drip[i:i + 1])
                    await writer.drain()
                    await asyncio.wait([answer], timeout=1.0)
                    if answer.done() or time.monotonic() >= self.stop_at:
                        break
                if answer.done():
                    data = answer.result()
                    outcome = ("closed: HTTP " + data.split(b" ", 2)[1].decode()) if data.startswith(b"HTTP/") else \
                        ("closed, no answer" if not data else "closed: other bytes")
            except (OSError, asyncio.CancelledError) as err:
                outcome = f"reset ({type(err).__name__})"
            finally:
                self.slow_open -= 1
                if not answer.done():
                    answer.cancel()
                writer.close()
            self.slow_stats[kind].append((time.monotonic() - opened, outcome))

    async def slow_clients(self, seconds: float) -> None:
        self.stop_at = time.monotonic() + seconds
        kinds = ["headers 1 byte/s"] * (self.slow // 2) + ["body 1 byte/s"] * (self.slow - self.slow // 2)
        await asyncio.gather(*(self.slowloris(kind) for kind in kinds))

    async def hostile_stream(self, seconds: float, cartesian: bool, part: str) -> None:
        """Open loop: one hostile request every 1/rate s, each on its own connection, whatever the answers."""
        requests = hostile_requests(self.port, self.listener, cartesian)
        tasks = []
        start = time.monotonic()
        i = 0

        async def one(kind: str, data: bytes) -> None:
            status, took, message = await exchange(self.port, data, 20)
            self.hostile.append((part, kind, status, took, message))

        while time.monotonic() - start < seconds:
            kind, data = requests[i % len(requests)]
            tasks.append(asyncio.ensure_future(one(kind, data)))
            i += 1
            await asyncio.sleep(max(0.0, start + i / self.rate - time.monotonic()))
        await asyncio.gather(*tasks)


# the normal client (a separate process) -------------------------------------------------------------
def probe_main(port: int, seconds: float, kind: str, out: str) -> None:
    """One client, one request at a time on a keep-alive connection, every 20 ms: ``ASK {}`` (kind
    "cached": the front's cache answers) or ``ASK {}`` with a fresh comment (kind "uncached": a
    query process must answer). Writes [(time, kind, status, ms, error message)]."""
    import http.client

    records = []
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    end = time.monotonic() + seconds
    n = 0
    while time.monotonic() < end:
        n += 1
        text = "ASK {}" if kind == "cached" else f"ASK {{}} # probe {n} {time.time_ns()}"
        path = "/sparql?" + urllib.parse.urlencode({"query": text})
        started = time.perf_counter()
        message = ""
        try:
            conn.request("GET", path, headers={"Accept": JSON})
            response = conn.getresponse()
            body = response.read()
            status = response.status
            message = reason(body) if status >= 400 else ""
        except (OSError, http.client.HTTPException) as err:
            status, message = 0, type(err).__name__
            conn.close()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        records.append((time.time(), kind, status, (time.perf_counter() - started) * 1000, message))
        time.sleep(0.02)
    Path(out).write_text(json.dumps(records))


# the phases ------------------------------------------------------------------------------------------
def build(store: Path, timeout: float = 120) -> tuple[int, float, str]:
    """Run ``jllm-kg build --store store``: (exit code, seconds, its last line of output)."""
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "jllm_kg.cli", "build", "--store", str(store)],
                          capture_output=True, text=True, timeout=timeout)
    output = (done.stdout + done.stderr).strip().splitlines()
    return done.returncode, time.monotonic() - started, output[-1] if output else ""


def pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def mb(n: float) -> str:
    return f"{n / 1e6:,.0f}"


def phase_a(server: LiveServer, work: Path, args, sampler: Sampler) -> dict:
    file = work / "mixed.txt"
    file.write_text("".join("\t".join(r) + "\n" for r in mixed_requests()))
    sampler.phase = "A: mixed load"
    started = time.time()
    result = run_wrk(server.base, file, args.connections, args.load_seconds)
    sampler.phase = "between"
    result["window"] = (started, time.time())
    return result


def phase_b(server: LiveServer, listener: Listener, args, sampler: Sampler, work: Path) -> dict:
    attack = Attack(server.port, listener.port, args.slow, args.rate)
    attack.start()
    seconds = args.attack_seconds
    probes = {kind: (work / f"probe-{kind}.json", subprocess.Popen(
        [sys.executable, __file__, "--probe", str(server.port), str(3 * seconds + 1), kind, str(work / f"probe-{kind}.json")]))
        for kind in ("cached", "uncached")}
    marks = {"baseline": time.time()}
    sampler.phase = "B: baseline"
    time.sleep(seconds)
    marks["slowloris + parse-level hostiles"] = time.time()
    sampler.phase = "B: slowloris + hostiles"
    slow = attack.run(attack.slow_clients(2 * seconds))
    attack.run(attack.hostile_stream(seconds, False, "slowloris + parse-level hostiles")).result(seconds + 60)
    marks["slowloris + hostiles incl. cartesian COUNT"] = time.time()
    sampler.phase = "B: + cartesian COUNT"
    attack.run(attack.hostile_stream(seconds, True, "slowloris + hostiles incl. cartesian COUNT")).result(seconds + 60)
    marks["end"] = time.time()
    slow.result(seconds + 60)
    records = []
    for file, process in probes.values():
        process.wait(timeout=3 * seconds + 60)
        records += json.loads(file.read_text())
    sampler.phase = "between"
    attack.loop.call_soon_threadsafe(attack.loop.stop)
    return {"marks": marks, "probe": records, "attack": attack, "listener": listener.connections}


def phase_c(server: LiveServer, work: Path, store: Path, args, sampler: Sampler) -> dict:
    file = work / "mixed.txt"
    etag_query = {"query": "SELECT ?p ?o WHERE { <https://w3id.org/jllm-kg/model/swallow-7b> ?p ?o }"}
    _, before_headers, before_body = fetch(server.url, etag_query)
    target_before = os.readlink(store) if store.is_symlink() else str(store)
    count_before = quad_count(server)
    sampler.phase = "C: rebuilds under load"
    out: dict = {}

    def load() -> None:
        started = time.time()
        out["wrk"] = run_wrk(server.base, file, args.connections, args.rebuild_seconds)
        out["window"] = (started, time.time())

    driver = threading.Thread(target=load)
    driver.start()
    builds = []
    time.sleep(2)
    deadline = time.monotonic() + args.rebuild_seconds - 6
    while time.monotonic() < deadline and len(builds) < args.rebuilds:
        builds.append(build(store))
        time.sleep(2)
    driver.join()
    sampler.phase = "between"
    time.sleep(0.5)
    _, after_headers, after_body = fetch(server.url, etag_query)
    out.update(builds=builds, target_before=target_before, target_after=os.readlink(store) if store.is_symlink() else "",
               etag_before=before_headers.get("etag"), etag_after=after_headers.get("etag"),
               same_body=before_body == after_body, count_before=count_before, count_after=quad_count(server),
               generations=sorted(p.name for p in store.parent.iterdir() if p.name.startswith(store.name + ".gen")))
    return out


#: Where D kills a build: after the first output line containing the text, plus a delay (s).
KILL_POINTS = [("reading", 0.05, "reading the catalog"), ("validating", 0.05, "SHACL validation"),
               ("loading into", 0.0, "bulk load just started"), ("loading into", 0.08, "bulk load under way")]


def phase_d(server: LiveServer, store: Path, sampler: Sampler) -> dict:
    sampler.phase = "D: killed builds"
    rows = []
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    for trigger, delay, label in KILL_POINTS:
        target_before = os.readlink(store)
        count_before = quad_count(server)
        started = time.monotonic()
        process = subprocess.Popen([sys.executable, "-m", "jllm_kg.cli", "build", "--store", str(store)], env=env,
                                   stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
        seen = []
        assert process.stdout is not None
        for raw in iter(process.stdout.readline, b""):
            seen.append(raw.decode(errors="replace").rstrip())
            if trigger in seen[-1]:
                time.sleep(delay)
                break
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        seen += process.stdout.read().decode(errors="replace").splitlines()
        killed_at = time.monotonic() - started
        target_after = os.readlink(store)
        count_after = quad_count(server)
        status, _, _ = fetch(server.base + "/model/llama-2", headers={"Accept": "text/html"})
        on_disk = sorted(p.name for p in store.parent.iterdir() if p.name.startswith(store.name + ".gen"))
        rows.append({"label": label, "at": killed_at, "reached": seen[-1] if seen else "(no output)",
                     "target_before": target_before, "target_after": target_after, "count_before": count_before,
                     "count_after": count_after, "page": status, "on_disk": len(on_disk)})
    code, seconds, last = build(store)
    count = quad_count(server)
    leftovers = sorted(p.name for p in store.parent.iterdir() if p.name != store.name and p.name != ".store.lock")
    sampler.phase = "end"
    return {"rows": rows, "final_build": (code, seconds, last), "final_count": count, "leftovers": leftovers,
            "target": os.readlink(store)}


# the report -----------------------------------------------------------------------------------------
def failures_timeline(window: tuple[float, float], sampler: Sampler, drain: Drain) -> str:
    """When, within ``window``, 5xx answers were logged and query processes were replaced."""
    start, end = window
    failures = [f for f in drain.failures if start <= f[0] <= end + 2]
    samples = [s for s in sampler.samples if start <= s["t"] <= end + 1]
    replaced = []
    for before, after in zip(samples, samples[1:]):
        new = set(after["query_pids"]) - set(before["query_pids"])
        if new:
            replaced.append((after["t"] - start, len(new)))
    if not failures and not replaced:
        return ""
    per_second = collections.Counter(int(t - start) for t, _, _ in failures)
    text = ("When it went wrong (seconds into the run; 5xx lines as the access log was read, and new query "
            "processes as the once-a-second sampler saw them): 5xx at " +
            (", ".join(f"{sec} s ×{n}" for sec, n in sorted(per_second.items())) or "none") +
            "; query processes replaced at " + (", ".join(f"{t:.0f} s ({n})" for t, n in replaced) or "none") + ".")
    if failures:
        text += (f" Those 5xx were answered after a median {statistics.median(ms for _, _, ms in failures):,.0f} ms "
                 "(the front's timing).")
    return text


def shape_costs() -> dict[str, float]:
    """CPU ms of the query process's shape check (``server.sparql.lexer.check_shape``) on the hostile texts, in process."""
    from server.sparql import lexer

    texts = {"braces": "SELECT * WHERE " + "{" * 2500 + "}" * 2500,
             "unions": "SELECT * WHERE { " + " UNION ".join(["{ ?s ?p ?o }"] * 10000) + " }"}
    out = {}
    for name, text in texts.items():
        started = time.process_time()
        for _ in range(5):
            try:
                lexer.check_shape(text)
            except Exception:  # noqa: BLE001 - QueryShapeError is the expected outcome
                pass
        out[name] = (time.process_time() - started) / 5 * 1000
    out["unions_kb"] = len(texts["unions"]) / 1000
    return out


def summary(args, a: dict, b: dict, c: dict, d: dict, sampler: Sampler) -> list[str]:
    """Issue 10's targets, one row each, with the measured result."""
    def verdict(ok: bool) -> str:
        return "met" if ok else "**missed**"

    rows = []
    a_errors = a["status"] + a["socket_errors"]
    rows.append((f"{args.connections} clients × {args.load_seconds:g} s mixed load: 0 errors",
                 f"{a_errors} of {a['requests']:,} ({', '.join(f'{k}: {v}' for k, v in a['errors'].items()) or 'none'})",
                 verdict(a_errors == 0)))
    series = [x for x in sampler.samples if x["phase"] == "A: mixed load"]
    later = [x for x in sampler.samples if x["phase"] not in ("A: mixed load", "start")]
    if series:
        tail = series[-20:]
        query_flat = max(x["query"] for x in series) < 1.5 * series[0]["query"]
        front_flat = (max(x["front"] for x in tail) - min(x["front"] for x in tail)) < 0.1 * max(x["front"] for x in tail)
        front_later = max((x["front"] for x in later), default=0)
        rows.append(("flat memory",
                     f"query processes {mb(series[0]['query'])} → {mb(series[-1]['query'])} MB (max "
                     f"{mb(max(x['query'] for x in series))}); front {mb(series[0]['front'])} → {mb(series[-1]['front'])} MB "
                     f"(last 20 s: {mb(min(x['front'] for x in tail))}–{mb(max(x['front'] for x in tail))} MB; at most "
                     f"{mb(front_later)} MB in the phases after A): the front's response cache (`JLLM_KG_CACHE_MB`, "
                     "default 256) fills with the answers to the unique texts",
                     ("met" if query_flat and front_flat else
                      "query processes flat; the front grows with its cache and levels off "
                      f"{'within A' if front_flat else f'only after A (a bounded cache, not yet full at {args.load_seconds:g} s)'}"
                      if query_flat else "**not flat**")))
    marks = list(b["marks"].values())
    names = list(b["marks"])[:-1]
    for kind, label in (("cached", "`ASK {}` (cache)"), ("uncached", "`ASK {}` + fresh comment")):
        parts = []
        ok = True
        for i, name in enumerate(names[1:], 1):
            lat = [r[3] for r in b["probe"] if marks[i] <= r[0] < marks[i + 1] and r[1] == kind]
            bad = sum(1 for r in b["probe"] if marks[i] <= r[0] < marks[i + 1] and r[1] == kind and r[2] != 200)
            parts.append(f"{name}: p99 {pct(lat, 99):,.0f} ms, {bad} non-200")
            ok = ok and pct(lat, 99) < 50 and bad == 0
        rows.append((f"a normal client's {label} p99 < 50 ms under 20 slowloris + 10 hostile/s", "; ".join(parts), verdict(ok)))
    w = c["wrk"]
    failed = w["status"] + w["socket_errors"]
    rows.append(("rebuilds during load: 0 failed requests",
                 f"{len(c['builds'])} builds, {failed} failed of {w['requests']:,}; ETag "
                 f"{'changed (new generation served)' if c['etag_before'] != c['etag_after'] else 'unchanged'}",
                 verdict(failed == 0 and all(x[0] == 0 for x in c["builds"]))))
    intact = all(r["count_before"] == r["count_after"] and r["target_before"] == r["target_after"] and r["page"] == 200
                 for r in d["rows"])
    rows.append(("a killed build leaves the served store intact",
                 f"{len(d['rows'])} builds killed (reading, SHACL, bulk load): served store and quad count unchanged "
                 f"in {sum(1 for r in d['rows'] if r['count_before'] == r['count_after'] and r['target_before'] == r['target_after'])}"
                 f"; next build exit {d['final_build'][0]}", verdict(intact and d["final_build"][0] == 0)))
    rows.append(("no SERVICE request reaches the network", f"{b['listener']} connections to the listener", verdict(b["listener"] == 0)))
    lines = ["| target (issue 10) | measured | |", "|---|---|---|"]
    lines += [f"| {t} | {m} | {v} |" for t, m, v in rows]
    return lines


def report(args, command: str, started: str, elapsed: float, a: dict, b: dict, c: dict, d: dict,
           sampler: Sampler, drain: Drain, loads: dict[str, tuple[float, float, float]], quads: int | str) -> str:
    costs = shape_costs()
    lines = [
        "# Reliability under load and attack (issue 10)",
        "",
        f"Run {started} UTC with `{command}` (one command; {elapsed:.0f} s). Server: `jllm-kg serve --timeout 2` as shipped "
        f"(`tests/live.py`; {len({p for s in sampler.samples[:3] for p in s['query_pids']})} query processes (the default: 2 × cores + 2), "
        "access log on, to stderr, read by this script), on a store built for the run "
        f"({quads:,} quads). All traffic on 127.0.0.1. Machine: {os.cpu_count()} cores, shared with other engineers' "
        "jobs during the run; load average (1 min) at the start of each phase: "
        + ", ".join(f"{k} {v[0]:.1f}" for k, v in loads.items()) + ".",
        "",
        *summary(args, a, b, c, d, sampler),
        "",
        "How to read the results (see also the tables below): a query process serves one request at a time, and "
        "every request that is not a cache hit — refusals such as SERVICE (403) and the nesting/UNION limits (400) "
        f"included; that check costs {costs['unions']:.0f} ms CPU for the {costs['unions_kb']:.0f} KB 10,000-UNION "
        f"query and {costs['braces']:.0f} ms for `{{`×2500, measured in process — needs one. A request waits up to "
        "`JLLM_KG_QUEUE_TIMEOUT` (30 s) for a free process, then runs at most the timeout (2 s here) from when it "
        "starts. Processes are handed out fairly by client address, and one client may hold at most N − 1 of the N "
        "processes, so the attackers (another address) never take the last one; cache hits never wait for a "
        "query process at all.",
        "",
    ]
    # A
    statuses = ", ".join(f"{k}: {v:,}" for k, v in sorted(a["statuses"].items()))
    a_errors = a["status"] + a["socket_errors"]
    lines += [
        f"## A. Mixed load: {args.connections} connections × {args.load_seconds:g} s",
        "",
        f"`wrk -t2 -c{args.connections} -d{args.load_seconds:g}s --timeout 10s -s bench/requests.lua` rotating over 12 "
        "requests: SPARQL POST forms (lookups repeated, and lookup/lineage/aggregate made unique per request by a "
        "comment, so query processes work), a SPARQL GET (aggregate), `/queries/descendants.json?model=llama-2`, "
        "`/model/llama-2` and `/model/swallow-7b` (HTML), `/dump.ttl` (1 in 12).",
        "",
        "| requests | req/s | p50 ms | p99 ms | max ms | statuses | non-2xx | socket errors | **errors** |",
        "|---:|---:|---:|---:|---:|---|---:|---:|---:|",
        f"| {a['requests']:,} | {a['rps']:,.0f} | {a['p50_us'] / 1000:.1f} | {a['p99_us'] / 1000:.1f} | "
        f"{a['max_us'] / 1000:.0f} | {statuses} | {a['status']} | {a['socket_errors']} | **{a_errors}** |",
        "",
        "Error answers by message: " + (", ".join(f"{k}…: {v}" for k, v in sorted(a["errors"].items(), key=lambda kv: -kv[1])[:8]) or "none") + ".",
        "",
    ]
    timeline = failures_timeline(a["window"], sampler, drain)
    if timeline:
        lines += [timeline, ""]
    # memory
    lines += ["### Memory (RSS of all server processes, sampled every second)", "",
              "| phase | samples | total MB min / first / last / max | front MB first / last / max | query processes MB (sum) first / last / max | largest query process MB | query process PIDs seen |",
              "|---|---:|---:|---:|---:|---:|---:|"]
    phases = []
    for s in sampler.samples:
        if s["phase"] not in phases and s["phase"] not in ("between", "start", "end"):
            phases.append(s["phase"])
    for phase in phases:
        ss = [s for s in sampler.samples if s["phase"] == phase]
        pids = {p for s in ss for p in s["query_pids"]}
        lines.append(
            f"| {phase} | {len(ss)} | {mb(min(s['total'] for s in ss))} / {mb(ss[0]['total'])} / {mb(ss[-1]['total'])} / "
            f"{mb(max(s['total'] for s in ss))} | {mb(ss[0]['front'])} / {mb(ss[-1]['front'])} / {mb(max(s['front'] for s in ss))} | "
            f"{mb(ss[0]['query'])} / {mb(ss[-1]['query'])} / {mb(max(s['query'] for s in ss))} | "
            f"{mb(max(s['query_max'] for s in ss))} | {len(pids)} |")
    series = [s for s in sampler.samples if s["phase"] == "A: mixed load"]
    if series:
        lines += ["", "Total RSS during A, every 5 s (MB): " + ", ".join(mb(s["total"]) for s in series[::5]) + "."]
    # B
    probe = b["probe"]
    marks = b["marks"]
    names = list(marks)[:-1]
    lines += ["", "## B. A normal client under slowloris and hostile queries", "",
              f"Three consecutive parts of {args.attack_seconds:g} s: a baseline with no attack; then {args.slow} slowloris "
              f"connections ({args.slow // 2} sending a request line and an endless header 1 byte/s, "
              f"{args.slow - args.slow // 2} sending full headers with `Content-Length: 100000` then the body 1 byte/s; "
              "each reconnects when the server drops it) plus an open-loop stream of "
              f"{args.rate:g} hostile requests/s, each on a new connection (`{{`×2500, 10,000 `UNION`s, `SERVICE:e` with a "
              "prefix naming a listener on 127.0.0.1, `SERVICE <http://127.0.0.1:…/x>`); then the same with a cartesian "
              f"`COUNT(*)` over three triple patterns added to the rotation (1 in 5 of the stream: {args.rate / 5:g}/s, each "
              "running until the 2 s timeout kills its query process). The attackers connect from "
              f"{ATTACKER}, the normal clients from 127.0.0.1: different clients, which the front serves in turn.",
              "",
              "The normal clients are two separate Python processes (`bench/reliability.py --probe`), each a single "
              "sequential client on one keep-alive connection sending a request every 20 ms after the previous answer: "
              "one sends `GET /sparql?query=ASK {}` (answered from the front's cache), the other `ASK {} # probe <n> <ns>` "
              "(a new text each time: a query process must answer). Latency as the client sees it, Python client "
              "overhead included.",
              "",
              "| part | variant | requests | non-200 (why) | p50 ms | p99 ms | max ms | target p99 < 50 ms |",
              "|---|---|---:|---|---:|---:|---:|---|"]
    bounds = list(marks.values())
    for i, name in enumerate(names):
        for kind in ("cached", "uncached"):
            rs = [r for r in probe if bounds[i] <= r[0] < bounds[i + 1] and r[1] == kind]
            lat = [r[3] for r in rs]
            bad = sum(1 for r in rs if r[2] != 200)
            why = collections.Counter(f"{r[2]} {r[4]}".strip() for r in rs if r[2] != 200)
            ok = pct(lat, 99) < 50 and bad == 0
            lines.append(f"| {name} | `ASK {{}}` {'(cache)' if kind == 'cached' else '+ fresh comment (query process)'} | "
                         f"{len(rs)} | {bad}{' (' + '; '.join(f'{k}…: {v}' for k, v in why.items()) + ')' if why else ''} | {pct(lat, 50):.1f} | {pct(lat, 99):.1f} | {max(lat, default=float('nan')):.1f} | "
                         f"{'met' if ok else '**missed**'} |")
    attack: Attack = b["attack"]
    lines += ["", "Hostile requests (status counts; 0 = no answer before the connection ended or 20 s):", "",
              "| part | request | sent | statuses | median s | max s |", "|---|---|---:|---|---:|---:|"]
    groups: dict = collections.defaultdict(list)
    reasons: collections.Counter = collections.Counter()
    for part, kind, status, took, message in attack.hostile:
        groups[(part, kind)].append((status, took))
        reasons[(part, kind, status, message)] += 1
    for (part, kind), rows in groups.items():
        counts = collections.Counter(s for s, _ in rows)
        lines.append(f"| {part} | {kind} | {len(rows)} | " + ", ".join(f"{k}: {v}" for k, v in sorted(counts.items()))
                     + f" | {statistics.median(t for _, t in rows):.2f} | {max(t for _, t in rows):.2f} |")
    lines += ["", "Answers to the hostile requests by message (first words):", "", "| part | request | status | message | count |",
              "|---|---|---:|---|---:|"]
    for (part, kind, status, message), count in sorted(reasons.items(), key=lambda kv: (kv[0][0], kv[0][1], kv[0][2], -kv[1])):
        lines.append(f"| {part} | {kind} | {status} | {message or '-'} | {count} |")
    lines += ["", f"Connections that reached the listener on 127.0.0.1 (SERVICE targets): **{b['listener']}**.", "",
              "Slowloris connections (how long the server let each one live, and how it ended; a connection still open "
              "when the attack ended counts as held):", "", "| kind | connections | held s: median / max | endings |",
              "|---|---:|---:|---|"]
    for kind, rows in attack.slow_stats.items():
        if rows:
            endings = collections.Counter(o for _, o in rows)
            lines.append(f"| {kind} | {len(rows)} | {statistics.median(t for t, _ in rows):.1f} / {max(t for t, _ in rows):.1f} | "
                         + ", ".join(f"{k}: {v}" for k, v in endings.most_common()) + " |")
    # C
    w = c["wrk"]
    statuses = ", ".join(f"{k}: {v:,}" for k, v in sorted(w["statuses"].items()))
    lines += ["", f"## C. Rebuilds under load ({args.connections} connections, {args.rebuild_seconds:g} s)", "",
              "The same mixed load as A while `jllm-kg build --store <the served path>` runs again and again "
              "(2 s apart):", "",
              "| requests | req/s | p50 ms | p99 ms | max ms | statuses | non-2xx | socket errors | **failed requests** |",
              "|---:|---:|---:|---:|---:|---|---:|---:|---:|",
              f"| {w['requests']:,} | {w['rps']:,.0f} | {w['p50_us'] / 1000:.1f} | {w['p99_us'] / 1000:.1f} | "
              f"{w['max_us'] / 1000:.0f} | {statuses} | {w['status']} | {w['socket_errors']} | **{w['status'] + w['socket_errors']}** |",
              "", "Error answers by message: " + (", ".join(f"{k}…: {v}" for k, v in sorted(w["errors"].items(), key=lambda kv: -kv[1])[:8]) or "none") + ".",
              "", failures_timeline(c["window"], sampler, drain) or "No 5xx answers and no query process replaced during C.",
              "", "| build | exit code | seconds | last line |", "|---:|---:|---:|---|"]
    for i, (code, seconds, last) in enumerate(c["builds"], 1):
        lines.append(f"| {i} | {code} | {seconds:.1f} | `{last[:110]}` |")
    lines += ["", f"Served store before: `{c['target_before']}`, after: `{c['target_after']}`. ETag of a fixed query "
              f"before `{c['etag_before']}`, after `{c['etag_after']}` "
              f"({'changed: the new generation is served' if c['etag_before'] != c['etag_after'] else '**unchanged**'}); "
              f"bodies {'identical' if c['same_body'] else 'differ'} (same catalog). Quad count before {c['count_before']}, "
              f"after {c['count_after']}. Generations on disk after: {len(c['generations'])}."]
    # D
    lines += ["", "## D. Builds killed mid-way (SIGKILL to the build's process group)", "",
              "Each build below was killed right after it printed the line that marks a stage (plus a short delay), "
              "while the server kept serving the store:", "",
              "| killed during | at s | last line the build printed | served store before → after | quad count before → after | `/model/llama-2` | generations on disk |",
              "|---|---:|---|---|---:|---:|---:|"]
    for row in d["rows"]:
        same = "unchanged" if row["target_before"] == row["target_after"] else "→ `" + row["target_after"] + "`"
        lines.append(f"| {row['label']} | {row['at']:.2f} | `{row['reached'][:80]}` | `{row['target_before']}` {same} | "
                     f"{row['count_before']} → {row['count_after']} | {row['page']} | {row['on_disk']} |")
    code, seconds, last = d["final_build"]
    lines += ["", f"A normal build afterwards: exit {code} in {seconds:.1f} s (`{last[:110]}`); quad count served then "
              f"{d['final_count']}. Left in the store's directory after it: "
              + ", ".join(f"`{x}`" for x in d["leftovers"]) + "."]
    # log
    lines += ["", "## Server log", "",
              "This script reads the server's output as a log collector would. It must: the front writes the access "
              "log to stderr synchronously in its event loop, so a server whose stderr is a pipe nobody reads (as "
              "`tests/live.py` starts it) stops answering altogether once the pipe's 64 KiB are full — about 1,200 "
              "requests with the access log on (the default).", "",
              f"{drain.lines:,} lines; access-log statuses: "
              + ", ".join(f"{k}: {v:,}" for k, v in sorted(drain.statuses.items())) + ". Other lines (last 40):", "", "```"]
    lines += [line[:200] for line in drain.other] or ["(none)"]
    lines += ["```", "", "## Reproduce", "", "```", command, "```", ""]
    return "\n".join(lines)


def main() -> None:
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # run the clean-up (servers stopped) on SIGTERM
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", help="store to serve and rebuild in place (default: a temporary build)")
    parser.add_argument("--load-seconds", type=float, default=60)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--attack-seconds", type=float, default=20, help="length of each part of B (default 20)")
    parser.add_argument("--slow", type=int, default=20, help="slowloris connections (default 20)")
    parser.add_argument("--rate", type=float, default=10, help="hostile requests per second (default 10)")
    parser.add_argument("--rebuild-seconds", type=float, default=30)
    parser.add_argument("--rebuilds", type=int, default=6, help="at most this many rebuilds in C (default 6)")
    parser.add_argument("--out", help="write the Markdown report here (default: print it)")
    parser.add_argument("--probe", nargs=4, metavar=("PORT", "SECONDS", "KIND", "OUT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.probe:
        probe_main(int(args.probe[0]), float(args.probe[1]), args.probe[2], args.probe[3])
        return
    command = ".venv/bin/python bench/reliability.py " + " ".join(sys.argv[1:])
    started_at, started = time.strftime("%Y-%m-%d %H:%M", time.gmtime()), time.monotonic()
    loads: dict[str, tuple[float, float, float]] = {}
    with tempfile.TemporaryDirectory(prefix="jllm-reliability-") as tmp:
        work = Path(tmp)
        store = Path(args.store) if args.store else work / "store" / "store"
        store.parent.mkdir(parents=True, exist_ok=True)
        if not store.exists():
            code, _, last = build(store)
            if code:
                raise SystemExit(f"build failed: {last}")
        listener = Listener()
        listener.start()
        with LiveServer(store, timeout=2, pipe_output=True) as server:
            drain = Drain(server.process.stdout)
            drain.start()
            sampler = Sampler(server.process.pid)
            sampler.start()
            quads = quad_count(server)
            print(f"serving {quads} quads on {server.base}", flush=True)
            loads["A"] = os.getloadavg()
            a = phase_a(server, work, args, sampler)
            print(f"A: {a['requests']} requests, errors {a['status'] + a['socket_errors']}, statuses {a['statuses']}", flush=True)
            loads["B"] = os.getloadavg()
            b = phase_b(server, listener, args, sampler, work)
            print(f"B: {len(b['probe'])} probes, {len(b['attack'].hostile)} hostile requests", flush=True)
            loads["C"] = os.getloadavg()
            c = phase_c(server, work, store, args, sampler)
            print(f"C: {c['wrk']['requests']} requests, builds {[x[0] for x in c['builds']]}", flush=True)
            loads["D"] = os.getloadavg()
            d = phase_d(server, store, sampler)
            print(f"D: {[(r['count_before'], r['count_after']) for r in d['rows']]}", flush=True)
            time.sleep(1)
            sampler.stop_event.set()
        elapsed = time.monotonic() - started
        text = report(args, command, started_at, elapsed, a, b, c, d, sampler, drain, loads, quads)
    if args.out:
        Path(args.out).write_text(text, encoding="utf-8")
        print(f"wrote {args.out}")
    else:
        print(text)


if __name__ == "__main__":
    main()
