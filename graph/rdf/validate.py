"""SHACL validation of the graph (build time only) with readable violations.

Two engines give the same violations: the shapes compiled to SPARQL queries over the store
(:mod:`graph.rdf.shape_checks`, what the build runs) and pySHACL over rdflib, in bounded batches of
focus nodes (:func:`validate_store_pyshacl`; it also checks any shape SPARQL cannot).
"""
from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pyoxigraph as ox
import rdflib
from rdflib.namespace import SH

import ontology
from graph.rdf.vocab import curie

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
    where: str | None = None
    """The catalog file and line of the entity whose graph describes the focus node (``catalog/x.yaml:12``)."""

    def render(self) -> str:
        """One line: ``model/houou-7b "houou-7b": jllm:baseModel = <…>: message (catalog/…:12)``."""
        label = f' "{self.focus_label}"' if self.focus_label else ""
        value = f" = {self.value}" if self.value else ""
        where = f" ({self.where})" if self.where else ""
        return f"{self.severity}: {self.focus}{label}: {self.path}{value}: {self.message}{where}"


def to_rdflib(quads: Iterable[ox.Quad | ox.Triple]) -> rdflib.Graph:
    """An rdflib graph of the triples of ``quads`` (graph names dropped)."""
    graph = rdflib.Graph()
    add = graph.add
    term = rdflib_terms()
    for q in quads:
        add((term(q.subject), term(q.predicate), term(q.object)))
    return graph


def rdflib_term(t: ox.NamedNode | ox.BlankNode | ox.Literal) -> rdflib.term.Node:
    """The rdflib term of a pyoxigraph term (``xsd:string`` literals become plain literals)."""
    if isinstance(t, ox.NamedNode):
        return rdflib.URIRef(t.value)
    if isinstance(t, ox.BlankNode):
        return rdflib.BNode(t.value)
    if t.language:
        return rdflib.Literal(t.value, lang=t.language)
    if t.datatype.value == "http://www.w3.org/2001/XMLSchema#string":
        return rdflib.Literal(t.value)
    return rdflib.Literal(t.value, datatype=rdflib.URIRef(t.datatype.value))


def rdflib_terms() -> Callable[[object], rdflib.term.Node]:
    """:func:`rdflib_term` with a cache (one rdflib object per distinct term)."""
    cache: dict = {}

    def term(t):
        hit = cache.get(t)
        if hit is None:
            hit = cache[t] = rdflib_term(t)
        return hit
    return term


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


def _label(data: rdflib.Graph, focus: rdflib.term.Node | None) -> rdflib.term.Node | None:
    """One label of ``focus``, the same whatever the order of the triples: English first, then the smallest."""
    if focus is None:
        return None
    return best_label(data.objects(focus, rdflib.RDFS.label))


def best_label(labels: Iterable[rdflib.term.Node]) -> rdflib.term.Node | None:
    """English first, then the smallest: the same label whatever the order of the triples."""
    labels = list(labels)
    if not labels:
        return None
    return min(labels, key=lambda lit: (getattr(lit, "language", None) != "en", getattr(lit, "language", None) or "", str(lit)))


def validate_quads(quads: Iterable[ox.Quad | ox.Triple], base: str = "",
                   shapes: rdflib.Graph | None = None, keep: Callable[[rdflib.term.Node], bool] | None = None) -> list[Violation]:
    """Run the shapes over the triples; return the violations (empty when the graph conforms).

    With ``keep``, only the results about focus nodes it accepts are kept (batched validation).
    """
    from pyshacl import validate

    shapes = shapes if shapes is not None else shapes_graph()
    data = to_rdflib(relevant(quads, shapes))
    conforms, report, _ = validate(data, shacl_graph=shapes, inference="none",
                                   advanced=False, abort_on_first=False, allow_warnings=True)
    if conforms:
        return []
    violations = []
    for result in report.subjects(rdflib.RDF.type, SH.ValidationResult):
        focus = report.value(result, SH.focusNode)
        if keep is not None and not keep(focus):
            continue
        label = _label(data, focus)
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


#: Focus nodes per pySHACL run in :func:`validate_store`.
BATCH_SIZE = 20_000


def focus_nodes(store: ox.Store, shapes: rdflib.Graph) -> Iterator[ox.NamedNode | ox.BlankNode]:
    """Every focus node of the shapes in ``store``, each once, streamed from the engine's indexes.

    A node is yielded under the first target class it has (classes in IRI order), then subjects
    of ``sh:targetSubjectsOf`` predicates that have none of those classes.
    """
    classes = sorted({ox.NamedNode(str(o)) for o in shapes.objects(None, SH.targetClass)}, key=lambda n: n.value)
    predicates = sorted({ox.NamedNode(str(o)) for o in shapes.objects(None, SH.targetSubjectsOf)}, key=lambda n: n.value)
    rdf_type = ox.NamedNode(str(rdflib.RDF.type))

    def types(node) -> set:
        return {q.object for q in store.quads_for_pattern(node, rdf_type, None, None)}

    for rank, cls in enumerate(classes):
        earlier = set(classes[:rank])
        previous = None
        for q in store.quads_for_pattern(None, rdf_type, cls, None):
            node = q.subject
            if node == previous:
                continue
            previous = node
            if not earlier or not (types(node) & earlier):
                yield node
    target = set(classes)
    for predicate in predicates:
        previous = None
        for q in store.quads_for_pattern(None, predicate, None, None):
            node = q.subject
            if node == previous:
                continue
            previous = node
            if not (types(node) & target):
                yield node


LABEL = ox.NamedNode(str(rdflib.RDFS.label))


def _term(t) -> rdflib.term.Node:
    return rdflib.URIRef(t.value) if isinstance(t, ox.NamedNode) else rdflib.BNode(t.value)


def _batch_shapes(shapes: rdflib.Graph) -> tuple[rdflib.Graph, dict]:
    """The shapes without their class/subject targets, and each shape's target classes and predicates."""
    targets: dict = {}
    untargeted = rdflib.Graph()
    for s, p, o in shapes:
        if p in (SH.targetClass, SH.targetSubjectsOf):
            classes, predicates = targets.setdefault(s, (set(), set()))
            (classes if p == SH.targetClass else predicates).add(ox.NamedNode(str(o)))
        else:
            untargeted.add((s, p, o))
    return untargeted, targets


def _targets_only(shapes: rdflib.Graph, targets: dict) -> rdflib.Graph:
    """A graph with just the targets of the shapes in ``targets`` (what :func:`focus_nodes` reads)."""
    out = rdflib.Graph()
    for shape, (classes, predicates) in targets.items():
        for cls in classes:
            out.add((shape, SH.targetClass, rdflib.URIRef(cls.value)))
        for predicate in predicates:
            out.add((shape, SH.targetSubjectsOf, rdflib.URIRef(predicate.value)))
    return out


def validate_store(store: ox.Store, base: str = "", progress: Callable[[str], None] | None = None,
                   batch_size: int = BATCH_SIZE) -> list[Violation]:
    """The violations of the whole store: the shapes SPARQL can check as queries
    (:mod:`graph.rdf.shape_checks`), any other shape with pySHACL in batches; each located in the catalog.
    """
    from graph.rdf.shape_checks import compile_shapes, run_checks

    shapes = shapes_graph()
    checks, left = compile_shapes(shapes)
    term = rdflib_terms()
    violations: list[Violation] = []
    blank = rdflib.Graph()
    last = time.perf_counter()
    for n, (check, results) in enumerate(run_checks(store, checks, term), start=1):
        for focus, value in results:
            label = best_label(term(q.object) for q in store.quads_for_pattern(ox.NamedNode(str(focus)), LABEL, None, None)) \
                if isinstance(focus, rdflib.URIRef) else None
            violations.append(Violation(
                focus=_short(focus, base) or "?", focus_label=str(label) if label is not None else None,
                path=_path_text(blank, check.path), value=_short(value, base),
                message=check.message if check.message is not None else check.generic(focus), severity="Violation"))
        if progress is not None and (n in (1, len(checks)) or time.perf_counter() - last >= 5):
            last = time.perf_counter()
            progress(f"checked {n}/{len(checks)} constraints as SPARQL ({check.component} on {curie(str(check.path))}), "
                     f"{len(violations)} violation(s)")
    if left:
        violations.extend(validate_store_pyshacl(store, base, batch_size, only=left, progress=None if progress is None else (
            lambda done, found: progress(f"pySHACL: {done:,} focus nodes, {found} violation(s)"))))
    return locate(store, sorted(violations, key=lambda v: (v.focus, v.path, v.value or "", v.message)), base)


def locate(store: ox.Store, violations: list[Violation], base: str = "") -> list[Violation]:
    """``violations`` with ``where`` set: the catalog file and line of the (first) entity graph describing the focus node."""
    from dataclasses import replace

    from graph.rdf.vocab import JLLM

    found: dict[str, str | None] = {}
    out = []
    for v in violations:
        if v.focus not in found:
            iri = v.focus if ":" in v.focus.split("/", 1)[0] else base + v.focus
            places = []
            try:
                node = ox.NamedNode(iri)
            except ValueError:
                node = None
            for q in store.quads_for_pattern(node, None, None, None) if node is not None else ():
                graph = q.graph_name
                if isinstance(graph, ox.NamedNode):
                    file = next(store.quads_for_pattern(graph, JLLM.catalogFile, None, None), None)
                    line = next(store.quads_for_pattern(graph, JLLM.catalogLine, None, None), None)
                    if file is not None:
                        places.append((file.object.value, int(line.object.value) if line is not None else 0))
            found[v.focus] = "{}:{}".format(*min(places)) if places else None
        out.append(replace(v, where=found[v.focus]))
    return out


def validate_store_pyshacl(store: ox.Store, base: str = "", batch_size: int = BATCH_SIZE,
                           progress: Callable[[int, int], None] | None = None,
                           only: Iterable[rdflib.term.Node] | None = None) -> list[Violation]:
    """The violations of the whole store found by pySHACL, in bounded batches of focus nodes
    (with ``only``: of those node shapes alone).

    Every shape looks one step from its focus node: the values on its paths and the types of
    those values (``sh:class``). So a batch holds, for up to ``batch_size`` focus nodes, all
    their triples the shapes can look at and the types of the nodes they point to. The shapes'
    class and subject targets are replaced, for the batch, by ``sh:targetNode`` lists of the
    batch's own focus nodes (the nodes pulled in as context are incomplete, and are checked in
    their own batch). Each focus node is in exactly one batch, so the result is the same as
    :func:`validate_quads` over the whole graph.
    """
    shapes = shapes_graph()
    untargeted, targets = _batch_shapes(shapes)
    if only is not None:
        keep = set(only)
        targets = {shape: t for shape, t in targets.items() if shape in keep}
        if not targets:
            return []
    rdf_type = ox.NamedNode(str(rdflib.RDF.type))
    violations: list[Violation] = []
    done = 0

    def run(batch: list) -> None:
        quads: list[ox.Quad] = []
        seen_objects: set = set()
        batch_shapes = rdflib.Graph()
        for prefix, namespace in shapes.namespaces():  # default messages name classes by these prefixes
            batch_shapes.bind(prefix, namespace, override=True)
        for triple in untargeted:
            batch_shapes.add(triple)
        for node in batch:
            own = list(store.quads_for_pattern(node, None, None, None))
            quads.extend(own)
            types = {q.object for q in own if q.predicate == rdf_type}
            predicates = {q.predicate for q in own}
            for shape, (classes, subjects_of) in targets.items():
                if types & classes or predicates & subjects_of:
                    batch_shapes.add((shape, SH.targetNode, _term(node)))
            for q in own:
                o = q.object
                if isinstance(o, (ox.NamedNode, ox.BlankNode)) and o not in seen_objects:
                    seen_objects.add(o)
                    quads.extend(store.quads_for_pattern(o, rdf_type, None, None))
        mine = {_term(node) for node in batch}
        violations.extend(validate_quads(quads, base, batch_shapes, keep=mine.__contains__))

    batch: list = []
    targeted = shapes if only is None else _targets_only(shapes, targets)
    for node in focus_nodes(store, targeted):
        batch.append(node)
        if len(batch) >= batch_size:
            run(batch)
            done += len(batch)
            batch = []
            if progress is not None:
                progress(done, len(violations))
    if batch:
        run(batch)
        done += len(batch)
        if progress is not None:
            progress(done, len(violations))
    return sorted(violations, key=lambda v: (v.focus, v.path, v.value or "", v.message))


def validate_command(catalog_dir: Path | None, store_path: Path, echo: Callable[..., None] = print) -> bool:
    """``jllm-kg validate``: check the store (or the graph of ``catalog_dir``); print violations."""
    from graph.rdf.iris import Iris

    iris = Iris.default()
    if catalog_dir is not None:
        from graph.catalog import load_catalog
        from graph.rdf.mapping import catalog_quads

        store = ox.Store()
        store.bulk_extend(catalog_quads(load_catalog(Path(catalog_dir)), iris))
        violations = validate_store(store, iris.base)
        count = len(store)
        what = f"the graph of {catalog_dir}"
    else:
        from graph.store.backend import open_reader

        store = open_reader(store_path)
        scratch = None
        if hasattr(store, "snapshot"):  # a remote store: validated on a local on-disk copy (one streamed query)
            import tempfile

            scratch = tempfile.TemporaryDirectory(prefix="jllm-kg-validate-")
            store = store.snapshot(scratch.name)
        violations = validate_store(store, iris.base)
        count = len(store)
        what = f"the store at {store_path}"
        del store
        if scratch is not None:
            scratch.cleanup()
    for v in violations:
        echo(v.render())
    if violations:
        echo(f"{len(violations)} SHACL violation(s) in {what}")
        return False
    echo(f"{what} conforms to the SHACL shapes ({count} quads)")
    return True

