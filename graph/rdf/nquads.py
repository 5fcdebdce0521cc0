"""The catalog as an N-Quads stream, written by a child process of the build (which copies it to the file its bulk loader reads).

``python -m graph.rdf.nquads CATALOG BASE REPORT [PART PARTS]`` reads the catalog (model files one at a time;
with PARTS > 1, the model files whose position modulo PARTS is PART, and everything else only in part 0),
maps each entity (:func:`graph.rdf.mapping.entity_batches`) and writes its quads as N-Quads to
stdout; progress goes to stderr, and at the end a JSON report (entities and distinct quads per
kind of graph, rows import kept aside) is written to the file ``REPORT``. Beside it, two lists
the build would otherwise read back from the engine, which must then fetch the text of every IRI
(:func:`side_lines`): in :func:`typed_path` of ``REPORT``, the typed subjects under BASE (in named graphs),
one IRI per line, each once per entity, which the build counts once (``sort -u``) for VoID's
``void:entities``; in :func:`links_path`, the ``jllm:baseModel`` links, ``child<TAB>base`` per line, from
which it computes the lineage levels. A catalog error is one
line on stderr and exit status 2.

Reading and mapping run in this process, one per core: the Python work runs outside the build
process, which holds no Python object per quad, and the engine loads the finished text afterwards
(:mod:`graph.store.mapped_text` says why not at the same time). Memory is one model file's records.
"""
from __future__ import annotations

import gc
import json
import sys
import time
from collections import Counter
from pathlib import Path

import pyoxigraph as ox

from graph.rdf.vocab import JLLM, TYPE

BASE_MODEL = JLLM.baseModel


#: Kinds of graph that many entities write into (one graph each).
SHARED = {"provenance", "ontology", "void", "(default)"}


def kind_of(graph: ox.NamedNode | ox.DefaultGraph, prefix: str) -> str:
    """The kind of a named graph: ``model`` for ``<base>graph/model/x``, ``(default)`` for others.

    >>> kind_of(ox.NamedNode("https://w3id.org/jllm-kg/graph/model/x"), "https://w3id.org/jllm-kg/graph/")
    'model'
    """
    name = graph.value if isinstance(graph, ox.NamedNode) else ""
    return name[len(prefix):].split("/", 1)[0] if name.startswith(prefix) else "(default)"


def typed_path(report: Path) -> Path:
    """Where the child that writes ``report`` lists the typed subjects under the base (see above)."""
    return report.with_name(report.stem + ".typed.txt")


def links_path(report: Path) -> Path:
    """Where the child that writes ``report`` lists the ``jllm:baseModel`` links (see above)."""
    return report.with_name(report.stem + ".bases.txt")


def write_catalog(catalog_dir: Path, base: str, out, report: Path, every: float = 5.0, part: int = 0, parts: int = 1) -> None:
    """Write the quads of ``catalog_dir`` to the binary stream ``out`` as N-Quads; the report to ``report``."""
    from graph.catalog import iter_families, load_catalog
    from graph.rdf.iris import Iris
    from graph.rdf.mapping import entity_batches

    started = last = time.perf_counter()
    iris = Iris.default(base)
    cat = load_catalog(catalog_dir, families=False)
    prefix = iris.graph("").value
    quads: Counter[str] = Counter()
    graphs: Counter[str] = Counter()
    shared: set[str] = set()
    entities = emitted = 0
    typed_out = open(typed_path(report), "w", encoding="utf-8")
    links_out = open(links_path(report), "w", encoding="utf-8")
    gc.collect()
    gc.freeze()  # registries and ontology stay: keep the collector off them
    gc.disable()  # records and quads hold no cycles; one generation-0 pass per model file is enough

    def batches():
        nonlocal entities, emitted, last
        for batch in entity_batches(cat, iris, iter_families(cat, part, parts), rest=part == 0):
            distinct = set(batch)
            entities += 1
            emitted += len(distinct)
            for name, n in Counter(q.graph_name for q in distinct).items():
                kind = kind_of(name, prefix)
                quads[kind] += n
                if kind in SHARED:
                    shared.add(kind)
                else:
                    graphs[kind] += 1
            typed, links = side_lines(distinct, iris.base)
            typed_out.writelines(typed)
            links_out.writelines(links)
            yield from distinct
            if entities % 1000 == 0:
                gc.collect(0)
                now = time.perf_counter()
                if now - last >= every:
                    last = now
                    print(f"[{now - started:5.2f}s] {f'part {part + 1}/{parts}: ' if parts > 1 else ''}mapped {entities:,} entities, {emitted:,} quads "
                          f"({emitted / (now - started):,.0f} quads/s)", file=sys.stderr, flush=True)

    with typed_out, links_out:
        ox.serialize(batches(), out, ox.RdfFormat.N_QUADS)
    out.flush()
    graphs.update({kind: 1 for kind in shared})
    report.write_text(json.dumps({"entities": entities, "quads": emitted, "per_kind": dict(quads),
                                  "graphs": dict(graphs), "kept_aside": cat.kept_aside}), encoding="utf-8")


def side_lines(quads: set[ox.Quad], base: str) -> tuple[set[str], set[str]]:
    """The lines ``quads`` add to the two lists beside the report: the subjects under ``base`` typed
    (``rdf:type``) in a named graph, and the ``jllm:baseModel`` links between IRIs (``child<TAB>base``).

    >>> t, b = ox.NamedNode("http://www.w3.org/1999/02/22-rdf-syntax-ns#type"), BASE_MODEL
    >>> g, c = ox.NamedNode("http://b/graph/x"), ox.NamedNode("http://b/C")
    >>> typed, links = side_lines({ox.Quad(ox.NamedNode("http://b/x"), t, c, g), ox.Quad(ox.NamedNode("http://b/x"), t, t, g),
    ...     ox.Quad(ox.NamedNode("http://o/y"), t, c, g), ox.Quad(ox.NamedNode("http://b/z"), t, c),
    ...     ox.Quad(ox.NamedNode("http://b/x"), b, ox.NamedNode("http://b/z"), g), ox.Quad(ox.NamedNode("http://b/x"), b, ox.Literal("z"), g)},
    ...     "http://b/")
    >>> sorted(typed), sorted(links)
    (['http://b/x\\n'], ['http://b/x\\thttp://b/z\\n'])
    """
    typed, links = set(), set()
    for q in quads:
        predicate = q.predicate
        if predicate == TYPE:
            subject = q.subject
            if type(subject) is ox.NamedNode and subject.value.startswith(base) and type(q.graph_name) is ox.NamedNode:
                typed.add(subject.value + "\n")
        elif predicate == BASE_MODEL:
            subject, target = q.subject, q.object
            if type(subject) is ox.NamedNode and type(target) is ox.NamedNode:
                links.add(f"{subject.value}\t{target.value}\n")
    return typed, links


def main(argv: list[str]) -> int:
    from graph.errors import UserError

    catalog_dir, base, report, *split = argv
    part, parts = (int(split[0]), int(split[1])) if split else (0, 1)
    try:
        write_catalog(Path(catalog_dir), base, sys.stdout.buffer, Path(report), part=part, parts=parts)
    except UserError as err:
        print(f"error: {err}", file=sys.stderr, flush=True)
        return 2
    except BrokenPipeError:
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
