"""Scale runs (issue 12): synthetic catalogs of growing size, built, validated, exported and served.

``.venv/bin/python bench/scale.py --sizes 1000,10000,100000 [--workdir /tmp/jllm-scale] [--limit 600]``
writes ``bench/scale.md``. Per size, every step runs as its own child process, timed (wall) and
measured (peak RSS of that child, from ``wait4``); a step past ``--limit`` seconds or
``--max-rss-gb`` is killed, recorded, and the run stops at that size. In the same run the same
quads go through raw pyoxigraph: ``Store.dump`` (N-Quads and TriG) of the built store, then
``Store.bulk_load`` of that N-Quads file into a fresh store, for the ratios. Then a live
``jllm-kg serve`` (tests/live.py) answers ``--requests`` GETs of each URL (median) and the time to
the first byte of ``/dump.ttl``.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import signal
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.live import LiveServer  # noqa: E402

DISK_STEPS = ["build", "build in parts", "export nq", "raw dump nq", "raw bulk_load"]
URLS = ["/queries/descendants.json?model=llama-2", "/queries/descendants.json?model=llama-2&limit=100&offset=1000",
        "/model/llama-2", "/"]


@dataclass
class Step:
    """One child process: wall time, peak RSS, exit status, the last stderr line."""

    name: str
    seconds: float
    rss_mb: float
    code: int
    killed: str = ""
    last_line: str = ""
    disk_mb: float = 0.0
    """Peak of the disk space used on the work directory's file system above its level at the step's start."""

    @property
    def ok(self) -> bool:
        return self.code == 0 and not self.killed

    def cell(self) -> str:
        if self.killed:
            return f"**killed** ({self.killed}) after {self.seconds:.0f} s at {self.rss_mb / 1024:.1f} GB"
        if self.code:
            return f"**failed** (exit {self.code})"
        return f"{self.seconds:.1f} s / {self.rss_mb:,.0f} MB"


def _rss_mb(pid: int) -> float:
    """Resident memory of a process and its children (MB), from /proc."""
    total = 0
    try:
        pids = [pid] + [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return 0.0
    for p in pids:
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            pass
    return total / 1024


def run(name: str, args: list[str], limit: float, max_rss_gb: float, log: Path, env: dict | None = None) -> Step:
    """Run ``args`` as a child, killing it past ``limit`` seconds or ``max_rss_gb``; stderr+stdout to ``log``."""
    started = time.perf_counter()
    with open(log, "wb") as out:
        proc = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
                                env={**os.environ, **(env or {})}, cwd=ROOT)
        killed = ""
        peak = disk = 0.0
        used_before = shutil.disk_usage(log.parent).used

        def watch() -> None:
            nonlocal killed, peak, disk
            while proc.returncode is None:
                rss = _rss_mb(proc.pid)
                peak = max(peak, rss)
                disk = max(disk, (shutil.disk_usage(log.parent).used - used_before) / 2**20)
                if rss > max_rss_gb * 1024:
                    killed = f"RSS over {max_rss_gb:g} GB"
                elif time.perf_counter() - started > limit:
                    killed = f"over {limit:.0f} s"
                if killed:
                    try:
                        os.killpg(proc.pid, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
                    return
                time.sleep(0.5)

        watcher = threading.Thread(target=watch, daemon=True)
        watcher.start()
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - started  # before the watcher's join, which adds up to its 0.5 s poll
        proc.returncode = os.waitstatus_to_exitcode(status)
        watcher.join(timeout=2)
    lines = [l for l in log.read_text(errors="replace").splitlines() if l.strip()]
    last = next((l for l in reversed(lines) if l.startswith("[")), lines[-1] if lines else "")
    return Step(name, seconds, max(usage.ru_maxrss / 1024, peak), proc.returncode, killed, last, disk)


def py(*code_args: str) -> list[str]:
    return [sys.executable, *code_args]


def cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "jllm_kg.cli", *args]


RAW_DUMP = """
import sys, time
from pyoxigraph import RdfFormat, Store
store = Store.read_only(sys.argv[1])
store.dump(sys.argv[2], RdfFormat.N_QUADS if sys.argv[2].endswith('.nq') else RdfFormat.TRIG)
"""
RAW_LOAD = """
import sys
from pyoxigraph import RdfFormat, Store
store = Store(sys.argv[2])
store.bulk_load(path=sys.argv[1], format=RdfFormat.N_QUADS)
store.flush(); store.optimize()
print(len(store))
"""


def _get(url: str) -> tuple[float, int, int]:
    """Time one GET; pages (not ``.json``) are asked for as HTML, as a browser does."""
    accept = "application/sparql-results+json" if ".json" in url else "text/html"
    t = time.perf_counter()
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers={"Accept": accept}), timeout=120) as r:
            size, status = len(r.read()), r.status
    except urllib.error.HTTPError as err:
        size, status = len(err.read()), err.code
    return time.perf_counter() - t, status, size


def _uncached(url: str, i: int) -> str:
    """The same request made distinct for the front's response cache: canned queries get an
    ``offset`` (``offset=0`` is the first page itself), pages an ignored query argument."""
    sep = "&" if "?" in url else "?"
    return f"{url}{sep}offset=0&lang=en{'&lang=en' * i}" if url.startswith("/queries/") else f"{url}{sep}nocache={i}"


def http_times(store: Path, requests: int) -> dict[str, str]:
    """Per URL: median uncached time (distinct URLs, see :func:`_uncached`), median cached time,
    and time to first byte (and total) of /dump.ttl, against a live server."""
    out: dict[str, str] = {}
    with LiveServer(store, workers=2, startup=300) as server:
        for url in URLS:
            cold = [_get(server.base + _uncached(url, i)) for i in range(requests)]
            warm = [_get(server.base + url) for _ in range(requests)]
            status, size = cold[-1][1], cold[-1][2]
            out[url] = (f"{statistics.median(t for t, _, _ in cold) * 1000:,.0f} ms uncached "
                        f"(max {max(t for t, _, _ in cold) * 1000:,.0f}), {statistics.median(t for t, _, _ in warm) * 1000:,.0f} ms "
                        f"cached ({status}, {size:,} B)")
        t = time.perf_counter()
        try:
            with urllib.request.urlopen(server.base + "/dump.ttl", timeout=300) as r:
                r.read(1)
                first = time.perf_counter() - t
                size = 1 + sum(len(chunk) for chunk in iter(lambda: r.read(1 << 20), b""))
                total = time.perf_counter() - t
                out["/dump.ttl"] = f"first byte {first * 1000:,.0f} ms, all {size / 1e6:,.1f} MB in {total:.1f} s ({r.status})"
        except urllib.error.HTTPError as err:
            out["/dump.ttl"] = f"{err.code} after {time.perf_counter() - t:.1f} s"
    return out


@dataclass
class SizeResult:
    families: int
    quads: int = 0
    steps: dict[str, Step] = field(default_factory=dict)
    http: dict[str, str] = field(default_factory=dict)
    stopped: str = ""
    load: str = ""
    """Load average (1, 5, 15 min) when this size started."""


def run_size(n: int, workdir: Path, limit: float, max_rss_gb: float, requests: int, part_mb: int | None = None) -> SizeResult:
    res = SizeResult(n)
    res.load = "{:.1f} / {:.1f} / {:.1f}".format(*os.getloadavg())
    here = workdir / f"{n}"
    shutil.rmtree(here, ignore_errors=True)
    here.mkdir(parents=True)
    cat, store, logs = here / "catalog", here / "store", here
    steps = [
        ("synth", py(str(ROOT / "bench" / "synth.py"), "--families", str(n), "--out", str(cat))),
        ("build", cli("build", "--catalog", str(cat), "--store", str(store))),
        *([("build in parts", cli("build", "--catalog", str(cat), "--store", str(here / "store-parts"),
                                   "--load-part-mb", str(part_mb)))] if part_mb is not None else []),
        ("validate", cli("validate", "--store", str(store))),
        ("export ttl", cli("export", "--format", "ttl", "-o", str(here / "export.ttl"), "--store", str(store))),
        ("export nq", cli("export", "--format", "nq", "-o", str(here / "export.nq"), "--store", str(store))),
        ("export trig", cli("export", "--format", "trig", "-o", str(here / "export.trig"), "--store", str(store))),
        ("raw dump nq", None),
        ("raw dump trig", None),
        ("raw bulk_load", None),
    ]
    for name, args in steps:
        if name == "raw dump nq":
            args = py("-c", RAW_DUMP, str(store.resolve()), str(here / "raw.nq"))
        elif name == "raw dump trig":
            args = py("-c", RAW_DUMP, str(store.resolve()), str(here / "raw.trig"))
        elif name == "raw bulk_load":
            args = py("-c", RAW_LOAD, str(here / "raw.nq"), str(here / "raw-store"))
        print(f"[{n:,}] {name} …", file=sys.stderr, flush=True)
        step = run(name, args, limit, max_rss_gb, logs / f"{name.replace(' ', '-')}.log",
                   env={"SOURCE_DATE_EPOCH": "1764547200"})
        res.steps[name] = step
        print(f"[{n:,}] {name}: {step.cell()}", file=sys.stderr, flush=True)
        if not step.ok:
            res.stopped = f"{name} {step.cell()}; last progress line: `{step.last_line}`"
            return res
        if name == "build in parts":  # measured, then removed: the disk is needed for the raw copies
            for gen in here.glob("store-parts*"):
                shutil.rmtree(gen, ignore_errors=True) if gen.is_dir() and not gen.is_symlink() else gen.unlink(missing_ok=True)
        if name == "build":
            text = (logs / "build.log").read_text(errors="replace")
            built = re.findall(r"^built .*?: ([\d,]+) quads", text, re.M)
            res.quads = int(built[-1].replace(",", "")) if built else 0
    print(f"[{n:,}] http …", file=sys.stderr, flush=True)
    res.http = http_times(store, requests)
    for name in ("raw.nq", "raw.trig", "export.ttl", "export.nq", "export.trig", "raw-store"):  # keep the disk free
        p = here / name
        shutil.rmtree(p, ignore_errors=True) if p.is_dir() else p.unlink(missing_ok=True)
    shutil.rmtree(cat, ignore_errors=True)
    return res


def machine() -> str:
    cpu = next((l.split(":", 1)[1].strip() for l in Path("/proc/cpuinfo").read_text().splitlines()
                if l.startswith("model name")), platform.processor())
    mem = int(next(l for l in Path("/proc/meminfo").read_text().splitlines() if l.startswith("MemTotal")).split()[1])
    load = os.getloadavg()
    import pyoxigraph
    return (f"{platform.node()}: {os.cpu_count()} cores ({cpu}), {mem / 1024 / 1024:.0f} GB RAM, "
            f"Linux {platform.release()}, Python {platform.python_version()}, pyoxigraph {pyoxigraph.__version__}; "
            f"load average at start {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f} (shared machine)")


def ratio(a: Step | None, b: Step | None) -> str:
    if a is None or b is None or not a.ok or not b.ok or b.seconds <= 0:
        return "—"
    return f"{a.seconds / b.seconds:.2f}×"


def report(results: list[SizeResult], command: str, started: str, machine_line: str, limit: float, max_rss: float,
           part_mb: int | None = None) -> str:
    lines = ["# Scale runs (issue 12)", "",
             f"Command: `{command}` (started {started} UTC).", "", f"Machine: {machine_line}.", "",
             f"Each step is a child process: wall time / peak RSS (from `wait4`, max with /proc polling); a step is "
             f"killed past {limit:.0f} s or {max_rss:g} GB and the run stops there. Catalogs from `bench/synth.py` "
             "(seed 12). Raw pyoxigraph: `Store.dump` of the built store (N-Quads, TriG) and `Store.bulk_load` of "
             "that N-Quads into a fresh store (+ `optimize`), the same quads. `SOURCE_DATE_EPOCH` is set.", "",
             "`export --format ttl` copies the dump the build wrote next to the generation; `nq` and `trig` are sorted from "
             "the store (the engine's N-Quads dump → awk → GNU sort → awk, then pyoxigraph's serializer for TriG).", "",
             "| families | quads | `jllm-kg build` | `validate` | `export --format ttl` | `export --format nq` | "
             "`export --format trig` | raw dump nq | raw dump TriG | raw `bulk_load` | build / bulk_load | "
             "export ttl / TriG dump | export nq / nq dump | export trig / TriG dump |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in results:
        s = r.steps
        cell = lambda k: s[k].cell() if k in s else "—"  # noqa: E731
        lines.append(f"| {r.families:,} | {r.quads:,} | {cell('build')} | {cell('validate')} | {cell('export ttl')} | "
                     f"{cell('export nq')} | {cell('export trig')} | {cell('raw dump nq')} | {cell('raw dump trig')} | "
                     f"{cell('raw bulk_load')} | {ratio(s.get('build'), s.get('raw bulk_load'))} | "
                     f"{ratio(s.get('export ttl'), s.get('raw dump trig'))} | {ratio(s.get('export nq'), s.get('raw dump nq'))} | "
                     f"{ratio(s.get('export trig'), s.get('raw dump trig'))} |")
    if any("build in parts" in r.steps for r in results):
        how = (f"in parts of about {part_mb} MB, one `bulk_load` call each" if part_mb else "in one `bulk_load` call, "
               "whatever their size")
        lines += ["", f"The same build with `--load-part-mb {part_mb}` (the mapped N-Quads bulk-loaded {how}; by default "
                  "`jllm-kg build` loads up to 1 GB of N-Quads in one call and larger texts in parts of 256 MB), in the same run:", "",
                  "| families | `jllm-kg build --load-part-mb` | / raw `bulk_load` | / `jllm-kg build` |", "|---|---|---|---|"]
        for r in results:
            if "build in parts" in r.steps:
                s = r.steps
                lines.append(f"| {r.families:,} | {s['build in parts'].cell()} | {ratio(s.get('build in parts'), s.get('raw bulk_load'))} | "
                             f"{ratio(s.get('build in parts'), s.get('build'))} |")
    lines += ["", "Peak disk space used above the level at each step's start (the file system of the work directory, "
              "polled every 0.5 s; other writers on it would count too):", "",
              "| families | " + " | ".join(f"`{k}`" for k in DISK_STEPS) + " |", "|---|" + "---|" * len(DISK_STEPS)]
    for r in results:
        lines.append(f"| {r.families:,} | " + " | ".join(
            f"{r.steps[k].disk_mb / 1024:,.2f} GB" if k in r.steps else "—" for k in DISK_STEPS) + " |")
    lines += ["", "Served (`jllm-kg serve --workers 2` via tests/live.py). *Uncached*: the median of N requests each made distinct "
              "for the front's per-generation response cache (canned queries: an `offset=0` and repeated `lang=en`; pages: an "
              "ignored `nocache=i` argument), so each one is computed; *cached*: the median of N repeats of the URL itself. "
              "Status and size of the answer:", "",
              "| families | " + " | ".join(f"`{u}`" for u in URLS) + " | `/dump.ttl` |",
              "|---|" + "---|" * (len(URLS) + 1)]
    for r in results:
        if r.http:
            lines.append(f"| {r.families:,} | " + " | ".join(r.http.get(u, "—") for u in URLS) + f" | {r.http.get('/dump.ttl', '—')} |")
    lines += ["", "Where each run stopped:", ""]
    for r in results:
        lines.append(f"- {r.families:,} families: " + (r.stopped or "all steps done") + (f" (load average at its start {r.load})" if r.load else ""))
    return "\n".join(lines) + "\n"


def http_only(args: argparse.Namespace) -> int:
    """Redo the HTTP part of a previous run (same workdir), keeping its step figures."""
    saved = json.loads((args.workdir / "results.json").read_text(encoding="utf-8"))
    meta = json.loads((args.workdir / "meta.json").read_text(encoding="utf-8"))
    results = []
    for item in saved:
        res = SizeResult(item["families"], item["quads"], {k: Step(**v) for k, v in item["steps"].items()},
                         item["http"], item["stopped"], item.get("load", ""))
        store = args.workdir / str(res.families) / "store"
        if not res.stopped and store.exists():
            print(f"[{res.families:,}] http …", file=sys.stderr, flush=True)
            res.http = http_times(store, args.requests)
        results.append(res)
    command = meta["command"] + f"; then HTTP re-measured: python bench/scale.py --http-only --requests {args.requests}"
    args.out.write_text(report(results, command, meta["started"], meta["machine"], meta["limit"], meta["max_rss"],
                               meta.get("part_mb")),
                        encoding="utf-8")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1000,10000,100000,1000000")
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/jllm-scale"))
    parser.add_argument("--limit", type=float, default=600, help="seconds per step before it is killed")
    parser.add_argument("--max-rss-gb", type=float, default=8)
    parser.add_argument("--requests", type=int, default=10)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "scale.md")
    parser.add_argument("--part-mb", type=int, default=None,
                        help="also time `jllm-kg build --load-part-mb N` at each size (0: in one bulk load)")
    parser.add_argument("--http-only", action="store_true",
                        help="re-measure HTTP on the stores a previous run left in --workdir (its results.json)")
    args = parser.parse_args(argv)
    if args.http_only:
        return http_only(args)
    command = "python bench/scale.py " + " ".join(argv if argv is not None else sys.argv[1:])
    started = time.strftime("%Y-%m-%d %H:%M", time.gmtime())
    machine_line = machine()
    args.workdir.mkdir(parents=True, exist_ok=True)
    (args.workdir / "meta.json").write_text(json.dumps({"command": command, "started": started, "machine": machine_line,
                                                        "limit": args.limit, "max_rss": args.max_rss_gb, "part_mb": args.part_mb}),
                                             encoding="utf-8")
    results: list[SizeResult] = []
    for n in (int(s) for s in args.sizes.split(",")):
        res = run_size(n, args.workdir, args.limit, args.max_rss_gb, args.requests, args.part_mb)
        results.append(res)
        args.out.write_text(report(results, command, started, machine_line, args.limit, args.max_rss_gb, args.part_mb),
                            encoding="utf-8")
        (args.workdir / "results.json").write_text(json.dumps(
            [{"families": r.families, "quads": r.quads, "stopped": r.stopped, "http": r.http, "load": r.load,
              "steps": {k: vars(v) for k, v in r.steps.items()}} for r in results], indent=1), encoding="utf-8")
        if res.stopped:
            break
    return 0


if __name__ == "__main__":
    sys.exit(main())
