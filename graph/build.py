"""``jllm-kg build``: catalog → quads streamed into a new store generation → SHACL check in batches → atomic swap."""
from __future__ import annotations

import gc
import os
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime, timezone
from pathlib import Path

from pyoxigraph import NamedNode, Quad, Store

import catalog as catalog_package
from graph.catalog import iter_families, load_catalog
from graph.errors import UserError
from graph.rdf.iris import Iris
from graph.rdf.mapping import catalog_quads, entity_batches
from graph.store.export import write_sorted
from graph.store.generations import build_lock, discard, dump_path, new_generation, swap_in
from graph.rdf.validate import validate_store
from graph.rdf.vocab import TYPE, curie
from graph.rdf.void import describe, store_counts

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


def _summary_lines(per_graph: Iterable[tuple[str, int]], classes: Iterable[tuple[str, int]], iris: Iris) -> list[str]:
    prefix = iris.graph("").value
    per_kind: Counter[str] = Counter()
    kinds: Counter[str] = Counter()
    for name, count in per_graph:
        kind = name[len(prefix):].split("/", 1)[0] if name.startswith(prefix) else "(default)"
        per_kind[kind] += count
        kinds[kind] += 1
    lines = ["quads per graph:"]
    for kind, count in sorted(per_kind.items(), key=lambda kv: (-kv[1], kv[0])):
        lines.append(f"  {prefix}{kind}{'/…' if kinds[kind] > 1 else ''}: {count:,} quads in {kinds[kind]} graph(s)")
    lines.append("entities per class:")
    for cls, count in sorted(classes, key=lambda kv: (not curie(kv[0]).startswith("jllm:"), -kv[1], kv[0])):
        if curie(cls).startswith("jllm:"):
            lines.append(f"  {curie(cls)}: {count:,}")
    return lines


def graph_summary(quads: list[Quad], iris: Iris) -> list[str]:
    """Lines: quads per kind of named graph and entities per class (jllm classes first)."""
    per_graph: Counter[str] = Counter(q.graph_name.value if isinstance(q.graph_name, NamedNode) else "" for q in quads)
    classes = Counter(q.object.value for q in quads if q.predicate == TYPE and isinstance(q.object, NamedNode)
                      and not q.graph_name.value.endswith("graph/ontology"))
    return _summary_lines(per_graph.items(), classes.items(), iris)


def store_summary(store: Store, iris: Iris) -> list[str]:
    """:func:`graph_summary` of everything in ``store``, counted by the engine."""
    per_graph = ((row[0].value, int(row[1].value)) for row in store.query(
        "SELECT ?g (COUNT(*) AS ?n) WHERE { GRAPH ?g { ?s ?p ?o } } GROUP BY ?g"))
    classes = [(row[0].value, int(row[1].value)) for row in store.query(
        "SELECT ?c (COUNT(*) AS ?n) WHERE { GRAPH ?g { ?s a ?c } "
        'FILTER(isIRI(?c) && !STRENDS(STR(?g), "graph/ontology")) } GROUP BY ?c')]
    return _summary_lines(per_graph, classes, iris)


class _Progress:
    """Progress lines on stderr with counts and rate, at most every ``every`` seconds."""

    def __init__(self, started: float, every: float = 5.0) -> None:
        self.started, self.every = started, every
        self.last = time.perf_counter()

    def __call__(self, message: str) -> None:
        print(f"[{time.perf_counter() - self.started:5.2f}s] {message}", file=sys.stderr, flush=True)
        self.last = time.perf_counter()

    def due(self) -> bool:
        return time.perf_counter() - self.last >= self.every


def build_store(catalog_dir: Path | None = None, store_path: Path = Path("store"), base: str | None = None,
                echo: Callable[..., None] = print) -> int:
    """Build the store at ``store_path`` from ``catalog_dir`` (default: the shipped catalog).

    Streaming: the model files are read one at a time and each entity's quads go straight into
    the bulk loader of a new generation; the generation is then validated with SHACL in bounded
    batches (:func:`graph.rdf.validate.validate_store`). A graph with violations is never swapped in
    (the violations are printed, the generation is deleted and :class:`UserError` is raised).
    Returns the number of quads.
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
        progress(f"loading into {generation.name}")
        frozen = False
        try:
            store = Store(str(generation))
            gc.collect()
            gc.freeze()  # the registries and the ontology stay: keep the collector off them
            frozen = True
            entities = emitted = 0
            load_started = time.perf_counter()

            def stream() -> Iterator[Quad]:
                nonlocal entities, emitted
                for batch in entity_batches(cat, iris, iter_families(cat)):
                    entities += 1
                    emitted += len(batch)
                    yield from batch
                    if progress.due():
                        rate = emitted / max(time.perf_counter() - load_started, 1e-9)
                        progress(f"mapped and loading: {entities:,} entities, {emitted:,} quads ({rate:,.0f} quads/s)")

            store.bulk_extend(stream())
            store.flush()
            rate = emitted / max(time.perf_counter() - load_started, 1e-9)
            progress(f"loaded {entities:,} entities, {emitted:,} quads ({len(store):,} distinct; {rate:,.0f} quads/s)")
            if cat.kept_aside:
                echo(f"rows kept aside by import (under other/, not in the graph): {len(cat.kept_aside)}")
                for where in cat.kept_aside:
                    echo(f"  {where}")
            progress("validating with the SHACL shapes (as SPARQL queries over the new generation)")
            violations = validate_store(store, iris.base, progress=progress)
            if violations:
                for v in violations:
                    echo(v.render())
                raise UserError(f"{len(violations)} SHACL violation(s): the store at {store_path} was left unchanged")
            summary = store_summary(store, iris)
            store.bulk_extend(describe(store_counts(store, iris), iris, cat.commit, build_date(), cat.date))
            store.flush()
            _pause("after-load")
            store.optimize()
            count = len(store)
            progress("writing the Turtle dump")
            dump = dump_path(generation)
            partial = dump.with_name(dump.name + ".tmp")
            write_sorted(store, "ttl", partial, scratch=generation.parent)  # runs on the store's disk, not /tmp
            os.replace(partial, dump)
            progress(f"wrote {dump.name} ({dump.stat().st_size:,} bytes)")
            del store
            _pause("before-swap")
        except BaseException:
            discard(generation)
            raise
        finally:
            if frozen:
                gc.unfreeze()
        previous = swap_in(store_path, generation)
    progress("swapped in" + (f" (previous generation {previous.name} kept for open readers)" if previous else ""))
    for line in summary:
        echo(line)
    echo(f"built {store_path} -> {generation.name}: {count:,} quads from {catalog_dir}"
         f"{f' (upstream commit {cat.commit})' if cat.commit else ''} in {time.perf_counter() - started:.2f}s")
    return count
