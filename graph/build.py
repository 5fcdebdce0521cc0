"""``jllm-kg build``: catalog → N-Quads streamed into a new store generation → VoID counts and the home page's
family counts → SHACL as SPARQL → atomic swap."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from itertools import chain, islice
from datetime import datetime, timezone
from pathlib import Path

from pyoxigraph import NamedNode, Quad, Store

import catalog as catalog_package
from graph.catalog import load_catalog
from graph.errors import UserError
from graph.rdf.iris import Iris
from graph.rdf.family_summary import summary_quads
from graph.rdf.first_children import first_children_quads
from graph.rdf.lineage_levels import base_links_in, level_quads
from graph.rdf.mapping import catalog_quads
from graph.rdf.nquads import links_path, typed_path
from graph.store.export import SortedWriter, description_subjects, quad_lines, write_sorted_into
from graph.store.mapped_text import MappedText, load_rounds, loader_count, part_groups, part_size, read_command, round_size, segment_size, worker_count
from graph.store.zstd import sort_options, zstd_command
from graph.store.generations import build_lock, discard, dump_path, new_generation, swap_in
from graph.rdf.validate import validate_store
from graph.rdf.vocab import curie
from graph.rdf.void import describe, store_counts

MAPPERS_ENV = "JLLM_KG_BUILD_MAPPERS"
"""How many child processes map the catalog (default: 2 on two cores or more)."""
PAUSE_ENV = "JLLM_KG_BUILD_PAUSE_AT"
"""Test hook: the name of a build step to sleep at (``after-load``, ``before-swap``)."""


def _pause(step: str) -> None:
    if os.environ.get(PAUSE_ENV) == step:
        print(f"build paused at {step}", file=sys.stderr, flush=True)
        time.sleep(3600)


def build_date() -> str:
    """Now in UTC as ``xsd:dateTime``, or ``$SOURCE_DATE_EPOCH`` for reproducible builds."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    moment = datetime.fromtimestamp(int(epoch), timezone.utc) if epoch else datetime.now(timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def dataset_quads(catalog_dir: Path, iris: Iris, echo: Callable[..., None] | None = None) -> tuple[list[Quad], list[Quad], str | None]:
    """The data quads of a catalog and their VoID description; rows kept aside under ``other/`` are reported."""
    cat = load_catalog(catalog_dir)
    if echo is not None and cat.kept_aside:
        echo(f"rows kept aside by import (under other/, not in the graph): {len(cat.kept_aside)}")
        for where in cat.kept_aside:
            echo(f"  {where}")
    quads = catalog_quads(cat, iris)
    return quads, describe(quads, iris, cat.commit, build_date(), cat.date), cat.commit


def _summary_lines(per_kind: dict[str, int], graphs: dict[str, int], classes: Iterable[tuple[str, int]], iris: Iris) -> list[str]:
    prefix = iris.graph("").value
    lines = ["quads per graph:"]
    for kind, count in sorted(per_kind.items(), key=lambda kv: (-kv[1], kv[0])):
        n = graphs.get(kind, 1)
        lines.append(f"  {prefix}{kind}{'/…' if n > 1 else ''}: {count:,} quads in {n} graph(s)")
    lines.append("entities per class:")
    for cls, count in sorted(classes, key=lambda kv: (not curie(kv[0]).startswith("jllm:"), -kv[1], kv[0])):
        if curie(cls).startswith("jllm:"):
            lines.append(f"  {curie(cls)}: {count:,}")
    return lines


class _Progress:
    """Progress lines on stderr with counts and rate."""

    def __init__(self, started: float) -> None:
        self.started = started

    def __call__(self, message: str) -> None:
        print(f"[{time.perf_counter() - self.started:5.2f}s] {message}", file=sys.stderr, flush=True)


def _files_size(directory: Path) -> int | None:
    """The size of the files in ``directory`` (None if it cannot be listed)."""
    size = 0
    try:
        for entry in os.scandir(directory):
            try:
                size += entry.stat().st_size if entry.is_file() else 0
            except OSError:  # compacted away while it was counted
                pass
    except OSError:
        return None
    return size


class _Ticker:
    """While the engine loads (it reports nothing), a progress line every ``every`` seconds with the size of
    the generation's files so far."""

    def __init__(self, progress: _Progress, generation: Path, text_bytes: int, every: float = 10.0) -> None:
        self.progress, self.generation, self.text_bytes, self.every = progress, generation, text_bytes, every
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._run, name="load-progress", daemon=True)

    def _run(self) -> None:
        started = time.perf_counter()
        while not self.stopped.wait(self.every):
            size = _files_size(self.generation)
            if size is None:
                continue
            self.progress(f"loading: {time.perf_counter() - started:,.0f} s, store files {size / 1e6:,.0f} MB "
                          f"(from {self.text_bytes / 1e6:,.0f} MB of N-Quads)")

    def __enter__(self) -> "_Ticker":
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stopped.set()
        self.thread.join()


def _relay(stream, progress: _Progress, last: list[str]) -> None:
    """Copy a child's stderr lines to ours (progress lines re-timed to the build's clock)."""
    for raw in stream:
        line = raw.decode("utf-8", "replace").rstrip("\n")
        if line:
            last[:] = [line]
            progress(line.split("] ", 1)[1] if line.startswith("[") and "] " in line else line)


def mapper_count() -> int:
    """Child processes mapping the catalog: ``$JLLM_KG_BUILD_MAPPERS``, else 2 on two cores or more."""
    return worker_count(MAPPERS_ENV)


def _map(catalog_dir: Path, iris: Iris, scratch: Path, progress: _Progress, mapped: Path,
         segment_bytes: int) -> tuple[dict, MappedText]:
    """Map the catalog into N-Quads segment files named after ``mapped``: :func:`mapper_count` child processes
    (:mod:`graph.rdf.nquads`), each on its share of the model files, their output copied whole lines at a
    time into the segments (:class:`graph.store.mapped_text.MappedText`) until all are done. Their merged
    report, and the text."""
    parts = mapper_count()
    children, lasts, relays = [], [], []
    for part in range(parts):
        child = subprocess.Popen([sys.executable, "-m", "graph.rdf.nquads", str(catalog_dir), iris.base,
                                  str(scratch / f"mapping-{part}.json"), str(part), str(parts)],
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        last: list[str] = []
        relay = threading.Thread(target=_relay, args=(child.stderr, progress, last), daemon=True)
        relay.start()
        children.append(child)
        lasts.append(last)
        relays.append(relay)
    text: MappedText | None = None
    copied = False
    try:
        try:
            text = MappedText([c.stdout for c in children], mapped, segment_bytes, zstd_command())
        except OSError as err:  # the first segment file cannot be made
            raise UserError(f"writing the mapped quads to {mapped} failed: {err.strerror or err}") from None
        try:
            text.wait_done()
        except OSError as err:
            raise UserError(f"loading the mapped quads failed: {err}") from None
        copied = True
    finally:
        if not copied:  # a failed copy, or an interrupted build: the children may be blocked on a full pipe
            for child in children:
                if child.poll() is None:
                    child.kill()
            if text is not None:
                text.stop()
        for child in children:
            child.stdout.close()
        codes = [c.wait() for c in children]
        for relay in relays:
            relay.join(timeout=5)
    for code, last in zip(codes, lasts):
        if code != 0:
            raise UserError((last[0] if last else f"exit status {code}").removeprefix("error: "))
    return _merged([json.loads((scratch / f"mapping-{part}.json").read_text(encoding="utf-8")) for part in range(parts)],
                   catalog_dir), text


def _distinct_lines(paths: list[Path], scratch: Path) -> subprocess.Popen:
    """GNU ``sort -u`` of the text files ``paths`` into ``scratch/distinct.txt``, started (count it with :func:`_lines`)."""
    with open(scratch / "distinct.txt", "wb") as out:
        return subprocess.Popen(["sort", "-u", "-S", "64M", *sort_options(), "-T", str(scratch), *map(str, paths)], stdout=out,
                                env={**os.environ, "LC_ALL": "C"})


def _lines(sort: subprocess.Popen, scratch: Path) -> int:
    """The number of distinct lines :func:`_distinct_lines` found (waits for it)."""
    if sort.wait() != 0:
        raise UserError(f"counting the typed subjects failed (sort exit status {sort.returncode})")
    count = 0
    with open(scratch / "distinct.txt", "rb") as lines:
        while chunk := lines.read(1 << 20):
            count += chunk.count(b"\n")
    return count


def _merged(reports: list[dict], catalog_dir: Path) -> dict:
    """One report from the mapping children's: counts added (shared graphs counted once), rows kept aside in file order."""
    from graph.catalog import model_files
    from graph.rdf.nquads import SHARED

    out: dict = {"entities": 0, "quads": 0, "per_kind": Counter(), "graphs": Counter(), "kept_aside": [], "parts": len(reports)}
    for report in reports:
        out["entities"] += report["entities"]
        out["quads"] += report["quads"]
        out["per_kind"].update(report["per_kind"])
        for kind, n in report["graphs"].items():
            out["graphs"][kind] = max(out["graphs"][kind], n) if kind in SHARED else out["graphs"][kind] + n
        out["kept_aside"] += report["kept_aside"]
    rank = {path.relative_to(catalog_dir).as_posix(): n for n, path in enumerate(model_files(catalog_dir))}
    out["kept_aside"].sort(key=lambda where: rank.get(where.split(":", 1)[0], len(rank)))
    return out


#: Quads per ``bulk_extend`` call of the build's own additions (lineage levels, first children).
EXTEND_CHUNK = 100_000


def extend_in_chunks(store: Store, quads: Iterable[Quad], chunk: int = EXTEND_CHUNK) -> int:
    """Bulk-add ``quads`` to ``store`` ``chunk`` at a time; how many. One ``bulk_extend`` over a million
    quads (the lineage levels at 1 M families) held 919 MB at its peak, in chunks of 100,000 178 MB, for
    36.6 s against 32.2 s (a million level quads into an empty store, one process each)."""
    count = 0
    quads = iter(quads)
    while batch := list(islice(quads, chunk)):
        store.bulk_extend(batch)
        count += len(batch)
    return count


def _optimize(store: Store, result: list[BaseException | None]) -> None:
    try:
        store.optimize()
        result.append(None)
    except BaseException as err:  # raised by the build
        result.append(err)


class _Dump:
    """The generation's sorted Turtle dump (:class:`graph.store.export.SortedWriter`), sorted from text,
    not from the store: the N-Quads the mapping children wrote (the segments of :attr:`mapped`, which the
    engine loads from; typed literals are written as the engine stores them, :func:`graph.rdf.mapping.terms.typed`,
    so the text equals the store's own dump), then the graphs the build adds afterwards (:meth:`add`). The
    sort starts when the mapping ends (:meth:`start`: a ``zstd -dc`` or ``cat`` child feeds it the segments)
    and runs beside the load and the rest of the build; the engine never dumps."""

    def __init__(self, path: Path, scratch: Path) -> None:
        self.path, self.partial, self.scratch = path, path.with_name(path.name + ".tmp"), scratch
        self.mapped = scratch / "mapped.nq"
        self.writer: SortedWriter | None = None
        self.reader: subprocess.Popen | None = None
        self.feeder: threading.Thread | None = None
        self.failed: list[BaseException] = []

    def start(self, report: dict, text: MappedText) -> None:
        """The mapping has ended (``report``: its counts; ``text``: its segments): sort the text, beside the
        load. With a quad in the default graph (or a graph of another base), a line's last term might not be
        its graph: the store is sorted at the end instead (:meth:`add`)."""
        if "(default)" not in report["per_kind"]:
            self.writer = SortedWriter("ttl", str(self.partial), {}, scratch=self.scratch)
            self.reader = subprocess.Popen(read_command(text.segments), stdout=self.writer.sink)

    def add(self, store: Store, graphs: list[NamedNode], top: dict) -> None:
        """The ``graphs`` of ``store`` are complete: write them after the mapped text (a thread feeds them
        to the sort); ``top``: the description's subjects, which go first."""
        if self.writer is None:
            self.writer = SortedWriter("ttl", str(self.partial), top, scratch=self.scratch)
            write_sorted_into(self.writer, store)
            return
        # read and fed on a thread, beside the SHACL checks (the engine runs them without the GIL)
        self.feeder = threading.Thread(target=self._feed, args=(store, graphs, top), name="dump-feed", daemon=True)
        self.feeder.start()

    def _feed(self, store: Store, graphs: list[NamedNode], top: dict) -> None:
        try:
            added = self.scratch / "added.nq"
            with open(added, "wb") as out:  # a file first: the sort reads its input in order, the mapped text first
                out.writelines(quad_lines(chain.from_iterable(store.quads_for_pattern(None, None, None, g) for g in graphs)))
            if self.reader.wait() != 0:
                raise UserError(f"reading the mapped N-Quads for the sort failed (exit status {self.reader.returncode})")
            self.writer.sink.write(f"# top {self.writer.top_file(top)}\n".encode("utf-8"))
            with open(added, "rb") as lines:
                shutil.copyfileobj(lines, self.writer.sink, 1 << 20)  # the GIL is released while a write blocks
            self.writer.sink.close()
        except BaseException as err:  # raised by finish()
            self.failed.append(err)

    def finish(self) -> None:
        """Wait for the sorted dump and move it into place."""
        assert self.writer is not None
        if self.feeder is not None:
            self.feeder.join()
        try:
            self.writer.close()
            if self.failed:
                raise UserError(str(self.failed[0]))
        except UserError as err:
            raise UserError(f"writing the Turtle dump failed: {err}") from None
        os.replace(self.partial, self.path)

    def abort(self) -> None:
        """Stop writing (a failed build)."""
        if self.reader is not None and self.reader.poll() is None:
            self.reader.kill()
            self.reader.wait()
        if self.writer is not None:
            self.writer.abort()
        if self.feeder is not None:
            self.feeder.join()
        self.partial.unlink(missing_ok=True)


def build_store(catalog_dir: Path | None = None, store_path: Path = Path("store"), base: str | None = None,
                echo: Callable[..., None] = print, part_bytes: int | None = None, round_bytes: int | None = None) -> int:
    """Build the store at ``store_path`` from ``catalog_dir`` (default: the shipped catalog).

    ``part_bytes``: load the mapped N-Quads in parts of about that size, one engine bulk load each,
    which bounds the loader's memory (:mod:`graph.store.mapped_text`); 0: in one bulk load; None: one
    bulk load for a text up to 256 MB, parts of 64 MB above (:func:`graph.store.mapped_text.part_size`).
    ``round_bytes``: load them in rounds of about that size, the store compacted between two rounds, which
    bounds the engine's files on disk; 0: one round; None: as many as the free disk space needs
    (:func:`graph.store.mapped_text.round_count`).

    Streaming: child processes read the model files and write each entity's quads as N-Quads
    (:mod:`graph.rdf.nquads`) into scratch segment files (compressed by ``zstd`` where it is installed), which
    the engine then bulk-loads into a new generation
    (:mod:`graph.store.mapped_text`). From then on the sorted Turtle dump is written on the side
    (:class:`_Dump`), while the engine loads, the build adds the lineage levels,
    the engine counts the VoID statistics and the generation is checked against the SHACL shapes,
    as SPARQL queries (:func:`graph.rdf.validate.validate_store`). A graph with violations is never swapped in (the violations are
    printed, the generation is deleted and :class:`UserError` is raised). Returns the number of quads.
    """
    started = time.perf_counter()
    iris = Iris.default(base)
    catalog_dir = Path(catalog_dir) if catalog_dir is not None else catalog_package.PATH
    store_path = Path(store_path)
    progress = _Progress(started)

    progress(f"reading {catalog_dir}")
    cat = load_catalog(catalog_dir, families=False)
    with build_lock(store_path):
        generation = new_generation(store_path)
        progress(f"mapping and loading into {generation.name}")
        dump = store = optimizer = typed = None
        try:
            with tempfile.TemporaryDirectory(prefix="jllm-kg-build-", dir=generation.parent) as tmp:
                store = Store(str(generation))
                dump = _Dump(dump_path(generation), Path(tmp))
                report, text = _map(catalog_dir, iris, Path(tmp), progress, dump.mapped, segment_size(part_bytes))
                dump.start(report, text)
                reports = [Path(tmp) / f"mapping-{n}.json" for n in range(report["parts"])]
                typed = _distinct_lines([typed_path(r) for r in reports], Path(tmp))
                size = text.written
                part = part_size(size, part_bytes)
                stored = sum(s.path.stat().st_size for s in text.segments)
                loaders = loader_count()
                free = shutil.disk_usage(generation).free
                rounds = round_size(size, round_bytes, free)
                round_total = len(part_groups(text.segments, rounds))  # rounds are made of whole segments
                progress(f"mapped {report['entities']:,} entities, {report['quads']:,} quads ({size / 1e6:,.0f} MB of "
                         f"N-Quads in {len(text.segments)} segment(s), {stored / 1e6:,.0f} MB on disk); loading them{f' in parts of {part / 2**20:,.0f} MB, {loaders} at a time' if part else ''}"
                         f"{f' in {round_total} rounds of about {rounds / 1e6:,.0f} MB, the store compacted between two ({free / 1e6:,.0f} MB free)' if round_total > 1 else ''}, "
                         "and sorting them for the Turtle dump on the side")
                load_started = time.perf_counter()

                def between(done: int, total: int) -> None:
                    progress(f"loaded round {done} of {total}; compacting the store ({(_files_size(generation) or 0) / 1e6:,.0f} MB of files)")

                try:
                    with _Ticker(progress, generation, size):
                        parts = load_rounds(store, text.segments, part, loaders, rounds, between)
                        progress("the engine has every part; flushing it")  # minutes on a large store (8 at 1 M families):
                        store.flush()                                        # the ticker goes on meanwhile
                except (SyntaxError, OSError, ValueError) as err:
                    raise UserError(f"loading the mapped quads failed: {err}") from None
                if dump.writer is None:  # not sorted from the text (see _Dump.start): its disk space back now
                    text.remove()
                rate = report["quads"] / max(time.perf_counter() - load_started, 1e-9)
                progress(f"loaded {report['entities']:,} entities, {report['quads']:,} quads "
                         f"({rate:,.0f} quads/s{f', in {parts} parts' if parts > 1 else ''}; "
                         "the same quad in two entities is stored once)")
                bases = base_links_in(links_path(r) for r in reports)
                extend_in_chunks(store, level_quads(store, iris, bases))
                extend_in_chunks(store, first_children_quads(store, iris, bases))
                del bases
                store.flush()
                progress("added the lineage levels and the hubs' first children")
                if report["kept_aside"]:
                    echo(f"rows kept aside by import (under other/, not in the graph): {len(report['kept_aside'])}")
                    for where in report["kept_aside"]:
                        echo(f"  {where}")
                # the VoID counts and the home page's counts side by side (each runs its queries on two threads;
                # the engine releases the GIL): both count the data alone, so both are written afterwards
                with ThreadPoolExecutor(1) as side:
                    home = side.submit(summary_quads, store, iris)
                    counts = store_counts(store, iris, entities=_lines(typed, Path(tmp)))  # the lineage graph types nothing
                    progress(f"counted {counts.triples:,} quads, {counts.entities:,} entities (VoID)")
                    home_quads = home.result()
                progress("counted the model families per section, developer, licence and dataset (home page)")
                summary = _summary_lines(report["per_kind"], report["graphs"],
                                         ((c.value, n) for c, n in counts.classes.items()), iris)
                described = set(describe(counts, iris, cat.commit, build_date(), cat.date)) | set(home_quads)
                store.bulk_extend(described)
                store.flush()
                count = counts.triples + len(described)  # all in the new VoID graph: no quad stored before
                dump.add(store, [iris.graph("lineage"), iris.graph("void")], description_subjects(store))
                _pause("after-load")
                progress("validating with the SHACL shapes (as SPARQL queries) while the engine compacts the store")
                optimized: list[BaseException | None] = []
                optimizer = threading.Thread(target=_optimize, args=(store, optimized), name="optimize", daemon=True)
                optimizer.start()  # compaction makes reads faster (about 25 % on lineage paths); the GIL is released
                violations = validate_store(store, iris.base, progress=progress)
                optimizer.join()
                if optimized[0] is not None:
                    raise UserError(f"compacting the store failed: {optimized[0]}")
                progress("compacted the store; waiting for the Turtle dump")
                if violations:
                    for v in violations:
                        echo(v.render())
                    raise UserError(f"{len(violations)} SHACL violation(s): the store at {store_path} was left unchanged")
                dump.finish()
                progress(f"wrote {dump.path.name} ({dump.path.stat().st_size:,} bytes)")
                store = None
            _pause("before-swap")
        except BaseException:
            if typed is not None and typed.poll() is None:
                typed.kill()
                typed.wait()
            if dump is not None:
                dump.abort()
            if optimizer is not None:
                optimizer.join()  # the engine cannot stop a compaction: it ends before the generation goes
            store = None  # closed (its background work ended) before its directory goes
            discard(generation)
            raise
        previous = swap_in(store_path, generation)
    progress("swapped in" + (f" (previous generation {previous.name} kept for open readers)" if previous else ""))
    for line in summary:
        echo(line)
    echo(f"built {store_path} -> {generation.name}: {count:,} quads ({counts.triples:,} of data + "
         f"{count - counts.triples:,} of the VoID description) from {catalog_dir}"
         f"{f' (upstream commit {cat.commit})' if cat.commit else ''} in {time.perf_counter() - started:.2f}s")
    return count
