"""``jllm-kg build``: catalog → quads → SHACL check → new store generation → atomic swap."""
from __future__ import annotations

import os
import sys
import time
from collections import Counter
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path

from pyoxigraph import NamedNode, Quad, Store

import catalog as catalog_package
from graph.catalog import load_catalog
from graph.errors import UserError
from graph.iris import Iris
from graph.mapping import catalog_quads
from graph.store import build_lock, discard, new_generation, swap_in
from graph.validate import validate_quads
from graph.vocab import TYPE, curie
from graph.void import describe

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


def graph_summary(quads: list[Quad], iris: Iris) -> list[str]:
    """Lines: quads per kind of named graph and entities per class (jllm classes first)."""
    prefix = iris.graph("").value
    per_kind: Counter[str] = Counter()
    graphs: set[str] = set()
    for q in quads:
        name = q.graph_name.value if isinstance(q.graph_name, NamedNode) else ""
        kind = name[len(prefix):].split("/", 1)[0] if name.startswith(prefix) else "(default)"
        per_kind[kind] += 1
        graphs.add(name)
    kinds = Counter(name[len(prefix):].split("/", 1)[0] for name in graphs)
    lines = ["quads per graph:"]
    for kind, count in sorted(per_kind.items(), key=lambda kv: -kv[1]):
        lines.append(f"  {prefix}{kind}{'/…' if kinds[kind] > 1 else ''}: {count:,} quads in {kinds[kind]} graph(s)")
    classes = Counter(q.object.value for q in quads if q.predicate == TYPE and isinstance(q.object, NamedNode)
                      and not q.graph_name.value.endswith("graph/ontology"))
    lines.append("entities per class:")
    for cls, count in sorted(classes.items(), key=lambda kv: (not curie(kv[0]).startswith("jllm:"), -kv[1], kv[0])):
        if curie(cls).startswith("jllm:"):
            lines.append(f"  {curie(cls)}: {count:,}")
    return lines


def build_store(catalog_dir: Path | None = None, store_path: Path = Path("store"), base: str | None = None,
                echo: Callable[..., None] = print) -> int:
    """Build the store at ``store_path`` from ``catalog_dir`` (default: the shipped catalog).

    The graph is validated with SHACL first; a graph with violations is never swapped in (the
    violations are printed and :class:`UserError` is raised). Returns the number of quads.
    """
    started = time.perf_counter()
    iris = Iris.default(base)
    catalog_dir = Path(catalog_dir) if catalog_dir is not None else catalog_package.PATH
    store_path = Path(store_path)

    def progress(message: str) -> None:
        print(f"[{time.perf_counter() - started:5.2f}s] {message}", file=sys.stderr, flush=True)

    progress(f"reading {catalog_dir}")
    quads, void, commit = dataset_quads(catalog_dir, iris, echo)
    progress(f"mapped {len(quads):,} quads; validating with SHACL")
    violations = validate_quads(quads, iris.base)
    if violations:
        for v in violations:
            echo(v.render())
        raise UserError(f"{len(violations)} SHACL violation(s): the store at {store_path} was left unchanged")
    with build_lock(store_path):
        generation = new_generation(store_path)
        progress(f"loading into {generation.name}")
        try:
            store = Store(str(generation))
            store.bulk_extend(quads + void)
            store.flush()
            _pause("after-load")
            store.optimize()
            count = len(store)
            del store
            _pause("before-swap")
        except BaseException:
            discard(generation)
            raise
        previous = swap_in(store_path, generation)
    progress("swapped in" + (f" (previous generation {previous.name} kept for open readers)" if previous else ""))
    for line in graph_summary(quads, iris):
        echo(line)
    echo(f"built {store_path} -> {generation.name}: {count:,} quads from {catalog_dir}"
         f"{f' (upstream commit {commit})' if commit else ''} in {time.perf_counter() - started:.2f}s")
    return count
