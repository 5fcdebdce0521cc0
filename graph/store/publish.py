"""``jllm-kg build --store http://…``: load a built generation into a remote store, switch readers to it, drop the old.

Phases (one progress line each, more while uploading):

1. **upload** — every named graph of the new generation goes by the Graph Store HTTP Protocol
   (``PUT ?graph=``, N-Triples) to a staging graph (``urn:jllm-kg:staging:<id>:<graph>``), and
   the union of all of them to ``urn:jllm-kg:union:<id>``. Readers see none of it: they read
   only the graphs the pointer names.
2. **switch** — one SPARQL UPDATE request moves each staging graph to its own name (``MOVE``),
   drops the old generation's graphs that the new one lacks, and rewrites the pointer graph. A
   store that runs an update request as one transaction (Oxigraph, Jena TDB2, GraphDB, …) makes
   the switch atomic: a reader sees the old generation or the new one, never a mix.
3. **drop** — the union graph of the generation before the previous one is dropped; the
   previous one stays for readers that read the pointer just before the switch (the embedded
   store keeps its previous generation for the same reason).

A failure before the switch drops what was staged and leaves the store as it was.
"""
from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator

import pyoxigraph as ox
from pyoxigraph import NamedNode, RdfFormat

from graph.store.client import StoreRefused, Transport, refused
from graph.store.remote import (BUILT, GENERATION, GRAPH, INPUTS, POINTER, PREVIOUS, UNION, NoGraph, Pointer,
                                read_pointer, staging_graph, union_graph)

#: Triples per chunk of an uploaded body (the body is streamed, never held whole).
CHUNK_TRIPLES = 20_000


def _chunks(triples: Iterator[ox.Triple]) -> Iterator[bytes]:
    batch: list[ox.Triple] = []
    for triple in triples:
        batch.append(triple)
        if len(batch) >= CHUNK_TRIPLES:
            yield ox.serialize(batch, None, RdfFormat.N_TRIPLES)
            batch = []
    if batch:
        yield ox.serialize(batch, None, RdfFormat.N_TRIPLES)


def put_graph(transport: Transport, graph: str, triples: Iterator[ox.Triple], stream: bool = False) -> None:
    """Replace ``graph`` with ``triples`` (Graph Store HTTP Protocol ``PUT``, N-Triples): in one body,
    which is retried when the store is briefly unreachable, or ``stream``-ed for a large graph."""
    body = _chunks(triples) if stream else ox.serialize(triples, None, RdfFormat.N_TRIPLES)
    reply = transport.send("store", method="PUT", params=[("graph", graph)], body=body,
                           content_type="application/n-triples")
    if reply.status >= 300:
        raise refused(reply, f"the upload of <{graph}>")
    reply.close()


def update(transport: Transport, text: str, what: str) -> None:
    """Run one SPARQL UPDATE request (a :class:`StoreRefused` names ``what`` when refused)."""
    reply = transport.send("update", form=[("update", text)])
    if reply.status >= 300:
        raise refused(reply, what)
    reply.close()


def switch_update(old: Pointer | None, new: Pointer) -> str:
    """The one SPARQL UPDATE that makes ``new`` the generation readers see.

    >>> print(switch_update(None, Pointer("g2", "urn:u2", ("http://e/a",), "2026-12-01T00:00:00Z")))
    MOVE SILENT GRAPH <urn:jllm-kg:staging:g2:http://e/a> TO GRAPH <http://e/a> ;
    DROP SILENT GRAPH <urn:jllm-kg:pointer> ;
    INSERT DATA { GRAPH <urn:jllm-kg:pointer> { <urn:jllm-kg:pointer> <urn:jllm-kg:generation> "g2" ; <urn:jllm-kg:union> <urn:u2> ; <urn:jllm-kg:built> "2026-12-01T00:00:00Z" ; <urn:jllm-kg:graph> <http://e/a> . } }
    """
    gone = sorted(set(old.graphs) - set(new.graphs)) if old else []
    ops = [f"DROP SILENT GRAPH <{g}>" for g in gone]
    ops += [f"MOVE SILENT GRAPH <{staging_graph(new.generation, g)}> TO GRAPH <{g}>" for g in new.graphs]
    facts = [f"<{GENERATION}> {ox.Literal(new.generation)}", f"<{UNION}> <{new.union}>"]
    facts += [f"<{BUILT}> {ox.Literal(new.built)}"] if new.built else []
    facts += [f"<{INPUTS}> {ox.Literal(new.inputs)}"] if new.inputs else []
    facts += [f"<{PREVIOUS}> <{new.previous}>"] if new.previous else []
    facts += [f"<{GRAPH}> " + ", ".join(f"<{g}>" for g in new.graphs)] if new.graphs else []
    ops.append(f"DROP SILENT GRAPH <{POINTER}>")
    ops.append(f"INSERT DATA {{ GRAPH <{POINTER}> {{ <{POINTER}> {' ; '.join(facts)} . }} }}")
    return " ;\n".join(ops)


def current_pointer(transport: Transport, where: str) -> Pointer | None:
    """The pointer readers follow now, or None when the store holds no jllm-kg generation."""
    try:
        return read_pointer(transport, where)
    except NoGraph:
        return None


def publish(local: ox.Store, transport: Transport, where: str, generation: str, built: str = "", inputs: str = "",
            progress: Callable[[str], None] = print) -> Pointer:
    """Load ``local`` (a built, validated generation) into the store at ``where`` and switch readers to it."""
    old = current_pointer(transport, where)
    graphs = tuple(sorted(g.value for g in local.named_graphs()))
    new = Pointer(generation, union_graph(generation), graphs, built, inputs, old.union if old else "")
    progress(f"uploading {len(graphs):,} graphs of {generation} to {where} (Graph Store Protocol, staging names)")
    started = last = time.perf_counter()
    try:
        for done, name in enumerate(graphs, 1):
            put_graph(transport, staging_graph(generation, name),
                      (q.triple for q in local.quads_for_pattern(None, None, None, NamedNode(name))))
            if time.perf_counter() - last >= 5.0:
                progress(f"uploaded {done:,}/{len(graphs):,} graphs")
                last = time.perf_counter()
        progress(f"uploaded {len(graphs):,} graphs in {time.perf_counter() - started:.1f}s; uploading their union")
        put_graph(transport, new.union, (q.triple for q in local), stream=True)
        progress("switching readers to the new generation (one SPARQL UPDATE)")
        update(transport, switch_update(old, new), "the generation switch")
    except BaseException:
        _discard(transport, new)
        raise
    progress(f"switched: readers now see {generation}")
    if old is not None and old.previous:
        update(transport, f"DROP SILENT GRAPH <{old.previous}>", "dropping an old generation")
        progress(f"dropped the generation before {old.generation} (kept {old.generation}'s union for open readers)")
    return new


def _discard(transport: Transport, new: Pointer) -> None:
    """Drop what a failed publication staged (best effort: the store may be what failed)."""
    ops = [f"DROP SILENT GRAPH <{staging_graph(new.generation, g)}>" for g in new.graphs]
    try:
        update(transport, " ;\n".join([*ops, f"DROP SILENT GRAPH <{new.union}>"]), "dropping a failed upload")
    except (OSError, StoreRefused):
        pass


def build_remote(location: str, catalog_dir=None, base: str | None = None, inputs: str = "",
                 echo: Callable[..., None] = print, transport: Transport | None = None, part_bytes: int | None = None,
                 round_bytes: int | None = None) -> Pointer:
    """``jllm-kg build --store http://…``: build and validate a generation in a scratch directory
    (the embedded build, SHACL included), then :func:`publish` it; the scratch is removed."""
    import shutil
    import tempfile
    from pathlib import Path

    from graph.build import build_date, build_store
    from graph.store.client import Endpoints, HttpTransport

    transport = transport or HttpTransport(Endpoints.of(location), timeout=120.0)
    current_pointer(transport, location)  # unreachable or refusing: fail now, before the build
    scratch = Path(tempfile.mkdtemp(prefix="jllm-kg-build-"))
    try:
        echo(f"building the new generation in a scratch store ({scratch}), then loading it into {location}")
        build_store(catalog_dir=catalog_dir, store_path=scratch / "store", base=base, echo=echo, part_bytes=part_bytes,
                    round_bytes=round_bytes)
        generation = (scratch / "store").resolve().name.replace("store.gen-", "gen-")
        local = ox.Store.read_only(str((scratch / "store").resolve()))
        pointer = publish(local, transport, location, generation, build_date(), inputs,
                          progress=lambda line: print(f"[remote] {line}", file=sys.stderr, flush=True))
        del local
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    echo(f"built {location} -> {generation}: {len(pointer.graphs):,} graphs")
    return pointer
