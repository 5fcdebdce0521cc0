"""SHACL validation of the graph (pySHACL over rdflib; build time only) with readable violations."""
from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import pyoxigraph as ox
import rdflib
from rdflib.namespace import SH

import ontology
from graph.vocab import curie

SHAPES_FILE: Path = ontology.PATH / "shapes.ttl"


@dataclass(frozen=True)
class Violation:
    """One SHACL result: the node, the path, the offending value and the shape's message."""

    focus: str
    focus_label: str | None
    path: str
    value: str | None
    message: str
    severity: str

    def render(self) -> str:
        """One line: ``model/houou-7b "houou-7b": jllm:baseModel = <…>: message``."""
        label = f' "{self.focus_label}"' if self.focus_label else ""
        value = f" = {self.value}" if self.value else ""
        return f"{self.severity}: {self.focus}{label}: {self.path}{value}: {self.message}"


def to_rdflib(quads: Iterable[ox.Quad | ox.Triple]) -> rdflib.Graph:
    """An rdflib graph of the triples of ``quads`` (graph names dropped)."""
    graph = rdflib.Graph()
    add = graph.add
    cache: dict = {}

    def term(t):
        hit = cache.get(t)
        if hit is not None:
            return hit
        if isinstance(t, ox.NamedNode):
            out = rdflib.URIRef(t.value)
        elif isinstance(t, ox.BlankNode):
            out = rdflib.BNode(t.value)
        elif t.language:
            out = rdflib.Literal(t.value, lang=t.language)
        elif t.datatype.value == "http://www.w3.org/2001/XMLSchema#string":
            out = rdflib.Literal(t.value)
        else:
            out = rdflib.Literal(t.value, datatype=rdflib.URIRef(t.datatype.value))
        cache[t] = out
        return out

    for q in quads:
        add((term(q.subject), term(q.predicate), term(q.object)))
    return graph


def shapes_graph() -> rdflib.Graph:
    """The SHACL shapes of ``ontology/shapes.ttl``."""
    return rdflib.Graph().parse(SHAPES_FILE, format="turtle")


def relevant(quads: Iterable[ox.Quad | ox.Triple], shapes: rdflib.Graph) -> list[ox.Quad | ox.Triple]:
    """The triples the shapes can look at: their paths, labels, and types of the classes they name.

    Superclass types are written out by the build, so the class hierarchy itself is not needed;
    dropping the rest (provenance, raw cells, the ontology) makes pySHACL several times faster.
    """
    paths = {ox.NamedNode(str(o)) for o in shapes.objects(None, SH.path) if isinstance(o, rdflib.URIRef)}
    paths.add(ox.NamedNode(str(rdflib.RDFS.label)))
    classes = {ox.NamedNode(str(o)) for p in (SH.targetClass, SH["class"]) for o in shapes.objects(None, p)}
    rdf_type = ox.NamedNode(str(rdflib.RDF.type))
    return [q for q in quads if q.predicate in paths or (q.predicate == rdf_type and q.object in classes)]


def _short(term: rdflib.term.Node | None, base: str) -> str | None:
    if term is None:
        return None
    if isinstance(term, rdflib.URIRef):
        value = str(term)
        return value[len(base):] if base and value.startswith(base) else curie(value)
    if isinstance(term, rdflib.Literal):
        return term.n3()
    return str(term)


def _path_text(report: rdflib.Graph, path: rdflib.term.Node | None) -> str:
    if path is None:
        return "(node)"
    if isinstance(path, rdflib.URIRef):
        return curie(str(path))
    inverse = report.value(path, SH.inversePath)
    return f"^{curie(str(inverse))}" if inverse is not None else "(complex path)"


def validate_quads(quads: Iterable[ox.Quad | ox.Triple], base: str = "") -> list[Violation]:
    """Run the shapes over the triples; return the violations (empty when the graph conforms)."""
    from pyshacl import validate

    shapes = shapes_graph()
    data = to_rdflib(relevant(quads, shapes))
    conforms, report, _ = validate(data, shacl_graph=shapes, inference="none",
                                   advanced=False, abort_on_first=False, allow_warnings=True)
    if conforms:
        return []
    violations = []
    for result in report.subjects(rdflib.RDF.type, SH.ValidationResult):
        focus = report.value(result, SH.focusNode)
        label = data.value(focus, rdflib.RDFS.label) if focus is not None else None
        severity = report.value(result, SH.resultSeverity)
        violations.append(Violation(
            focus=_short(focus, base) or "?",
            focus_label=str(label) if label is not None else None,
            path=_path_text(report, report.value(result, SH.resultPath)),
            value=_short(report.value(result, SH.value), base),
            message=str(report.value(result, SH.resultMessage) or "constraint not met"),
            severity=(str(severity).rsplit("#", 1)[-1] if severity else "Violation"),
        ))
    return sorted(violations, key=lambda v: (v.focus, v.path, v.value or "", v.message))


def validate_command(catalog_dir: Path | None, store_path: Path, echo: Callable[..., None] = print) -> bool:
    """``jllm-kg validate``: check the store (or the graph of ``catalog_dir``); print violations."""
    from graph.iris import Iris

    iris = Iris.default()
    if catalog_dir is not None:
        from graph.catalog import load_catalog
        from graph.mapping import catalog_quads

        quads = catalog_quads(load_catalog(Path(catalog_dir)), iris)
        what = f"the graph of {catalog_dir}"
    else:
        from graph.store import open_store

        store = open_store(store_path)
        quads = list(store.quads_for_pattern(None, None, None, None))
        what = f"the store at {store_path}"
        del store
    violations = validate_quads(quads, iris.base)
    for v in violations:
        echo(v.render())
    if violations:
        echo(f"{len(violations)} SHACL violation(s) in {what}")
        return False
    echo(f"{what} conforms to the SHACL shapes ({len(quads)} quads)")
    return True

