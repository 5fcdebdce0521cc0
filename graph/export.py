"""``jllm-kg export``: the whole store, deterministically sorted, dataset description first.

The same store always gives the same bytes: quads are read into memory (dumping from the
on-disk store is much slower), sorted, and written by pyoxigraph's serializers.
"""
from __future__ import annotations

import sys
from collections.abc import Iterable
from pathlib import Path

import pyoxigraph as ox
from pyoxigraph import NamedNode, Quad, RdfFormat, Store, Triple

from graph.errors import UserError
from graph.formats import by_name
from graph.store import open_store
from graph.vocab import PREFIXES, RDFS, TYPE, VOID
from graph.void import dataset_iri

#: Export format name → pyoxigraph format, from the one format table (graph/formats.py).
FORMATS: dict[str, RdfFormat] = {name: by_name(name).oxigraph for name in ("ttl", "nt", "nq", "trig", "jsonld")}

_PREDICATE_RANK = {TYPE: 0, RDFS.label: 1}


def _term_key(term) -> str:
    return str(term)


def _sort_key(top: dict) -> object:
    def key(t: Triple | Quad) -> tuple:
        return (top.get(t.subject, 2), _term_key(t.subject), _PREDICATE_RANK.get(t.predicate, 2),
                _term_key(t.predicate), _term_key(t.object))
    return key


def description_subjects(store: Store) -> dict:
    """Rank of the dataset node (0) and its partitions (1): they go first in exports."""
    d = dataset_iri(store)
    if d is None:
        return {}
    ranks = {}
    for p in (VOID.classPartition, VOID.propertyPartition):
        ranks.update((q.object, 1) for q in store.quads_for_pattern(d, p, None, None))
    ranks[d] = 0
    return ranks


def sorted_triples(quads: Iterable[Quad], top: dict) -> list[Triple]:
    """The distinct triples of ``quads`` (graphs merged), description first, then by subject."""
    return sorted({q.triple for q in quads}, key=_sort_key(top))


def sorted_quads(quads: Iterable[Quad], top: dict) -> list[Quad]:
    """Quads grouped by graph (the description's graph first), then as :func:`sorted_triples`."""
    inner = _sort_key(top)

    def key(q: Quad) -> tuple:
        g = q.graph_name
        has_top = isinstance(g, NamedNode) and g.value.endswith("graph/void")
        return (not has_top, "" if not isinstance(g, NamedNode) else g.value, *inner(q))
    return sorted(set(quads), key=key)


def serialize_store(store: Store, fmt: str) -> bytes:
    """The whole store in ``fmt`` (one of :data:`FORMATS`), deterministically."""
    if fmt not in FORMATS:
        raise UserError(f"unknown export format {fmt!r}: use one of {', '.join(FORMATS)}")
    rdf_format = FORMATS[fmt]
    quads = list(store.quads_for_pattern(None, None, None, None))
    top = description_subjects(store)
    items: list = sorted_quads(quads, top) if rdf_format.supports_datasets else sorted_triples(quads, top)
    prefixes = PREFIXES if rdf_format in (RdfFormat.TURTLE, RdfFormat.TRIG) else None
    return ox.serialize(items, None, rdf_format, prefixes=prefixes)


def export_store(store_path: Path, fmt: str = "ttl", output: Path | None = None) -> None:
    """``jllm-kg export``: write the store in ``fmt`` to ``output`` (default: stdout)."""
    if fmt not in FORMATS:
        raise UserError(f"unknown export format {fmt!r}: use one of {', '.join(FORMATS)}")
    store = open_store(store_path)
    data = serialize_store(store, fmt)
    if output is None:
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
    else:
        try:
            Path(output).write_bytes(data)
        except OSError as err:
            raise UserError(f"cannot write {output}: {err.strerror}") from None
