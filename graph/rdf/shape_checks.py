"""SHACL shapes compiled to SPARQL queries over the store: the same results as pySHACL, at engine speed.

:func:`compile_shapes` turns every node shape that uses only the constraints listed below into
:class:`Check` objects, one per constraint; any other shape is returned as left over, for pySHACL
(:func:`graph.rdf.validate.validate_store` runs both). Supported, on property shapes whose
``sh:path`` is an IRI:

==================  ===========================================================  ==================
constraint          SPARQL (``?f``: a focus node, ``?v``: a value on the path)   decided in Python
==================  ===========================================================  ==================
``sh:minCount 1``   ``{ focus } FILTER NOT EXISTS { ?f path ?v }``               —
``sh:minCount n``   ``GROUP BY ?f HAVING (COUNT(DISTINCT ?v) < n)``              —
``sh:maxCount 1``   two values ``?v``, ``?w`` that are not the same term (when   —
                    the screen below does not rule it out)
``sh:maxCount n``   ``?f path ?v GROUP BY ?f HAVING (COUNT(DISTINCT ?v) > n)``   —
``sh:class C``      ``?f path ?v MINUS { ?v a C }``                              —
``sh:or`` of        ``?f path ?v MINUS { ?v a C1 } MINUS { ?v a C2 } …``         —
``sh:class`` only
``sh:nodeKind``     ``isIRI`` / ``isLiteral`` / ``isBlank``                      —
``sh:datatype D``   candidates: not a literal of datatype D whose lexical form   rdflib's value, as
                    matches a form every parser accepts                          pySHACL does
``sh:pattern``      candidates: blank, no REGEX match, a newline, or not a       Python ``re``, as
                    plain string                                                 pySHACL does
``sh:min/max``      candidates: the comparison is not true                       pyshacl's
``Exclusive``/                                                                   ``compare_literal``
``Inclusive``
==================  ===========================================================  ==================

Except for ``sh:minCount`` and ``sh:maxCount 1``, a check does not start from the focus nodes: it finds
the violating rows among all the values on the path, in a subquery, and joins them with the distinct
focus nodes, another subquery, which the engine does as one hash join (:func:`_joined`). Starting from
each focus node and looking its values up, or testing ``NOT EXISTS`` per row, cost 2.6 times as long on
a 32,000-family catalog (31 s against 12 s, one thread; bench/scale.md). The two exceptions start from
the focus nodes because the faster forms hold every subject with a value on the path in memory:
``MINUS`` (``sh:minCount 1``) 350 MB and ``GROUP BY`` (``sh:maxCount 1``) 560 MB more at 128,000
families for ``prov:entity`` alone, against 1.3 s and 1.4 s saved.

Checks are screened first (:func:`screen_passes`), since a graph that can be served has no violation. When a
screen rules violations out the check's query is not run; otherwise the query decides, so the results do not change.
- ``sh:maxCount 1``: one scan of the path counts its triples and their distinct subjects; when the two are equal,
  no subject has two values. A path shared by several shapes is screened once. At 64,000 families the
  ``prov:entity`` screen took 0.46 s, against 6.0 s and 3.1 s for the two focus-first queries it stands for; it
  holds the path's distinct subjects (about 25 MB there).
- Checks joined with the focus nodes (class, ``sh:or``, and the checks of each value alone): ``ASK`` whether the
  violating rows, or candidates, exist at all, without the focus nodes' subquery.
All the checks of the shipped shapes took 81 s one after another at 64,000 families, and 47 s with the
``sh:maxCount 1`` screens.

Every query runs over the union of the store's graphs (pySHACL sees the triples without their
graph names), so a fact in any entity graph counts. The checks of the values on one path from the
same focus nodes that test each value alone (node kind, datatype, pattern, range) run as one query (:func:`run_together`). Where SPARQL only narrows the candidates, the
final decision is the same Python code pySHACL runs, so lexical corner cases agree. Messages are
the shape's ``sh:message``, else pySHACL's own wording.
"""
from __future__ import annotations

import os
import re
from concurrent.futures import ThreadPoolExecutor
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

import pyoxigraph as ox
import rdflib
from rdflib.namespace import RDF, RDFS, SH, XSD

_NODE_SHAPE_KEYS = {RDF.type, SH.targetClass, SH.targetSubjectsOf, SH.property, RDFS.label, RDFS.comment}
_PROPERTY_KEYS = {SH.path, SH.minCount, SH.maxCount, SH["class"], SH.datatype, SH.nodeKind, SH.pattern,
                  SH.minExclusive, SH.minInclusive, SH.maxExclusive, SH.maxInclusive, SH["or"], SH.message,
                  SH.name, SH.description, RDF.type}
_RANGES = {SH.minExclusive: (">", "Value is not > {}", lambda c: c > 0),
           SH.minInclusive: (">=", "Value is not >= {}", lambda c: c >= 0),
           SH.maxExclusive: ("<", "Value is not < {}", lambda c: c < 0),
           SH.maxInclusive: ("<=", "Value is not <= {}", lambda c: c <= 0)}
_NODE_KINDS = {SH.IRI: "isIRI(?v)", SH.Literal: "isLiteral(?v)", SH.BlankNode: "isBlank(?v)",
               SH.BlankNodeOrIRI: "(isBlank(?v) || isIRI(?v))", SH.BlankNodeOrLiteral: "(isBlank(?v) || isLiteral(?v))",
               SH.IRIOrLiteral: "(isIRI(?v) || isLiteral(?v))"}
#: Lexical forms every datatype's parser (oxigraph's and rdflib's) accepts: values matching them
#: pass without asking Python.
_SAFE_FORMS = {XSD.integer: "^-?[0-9]{1,18}$", XSD.decimal: "^-?[0-9]{1,20}([.][0-9]{1,20})?$",
               XSD.boolean: "^(true|false)$", XSD.gYear: "^[0-9]{4}$",
               XSD.date: "^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|1[0-9]|2[0-8])$", XSD.string: ""}


@dataclass(frozen=True)
class Check:
    """One constraint of one property shape, as a SPARQL SELECT of ``?f`` (and ``?v`` for value constraints)."""

    shape: rdflib.term.Node
    path: rdflib.URIRef
    component: str
    query: str
    message: str | None
    """The shape's ``sh:message``; None: pySHACL's generic wording (:attr:`generic`)."""
    generic: Callable[[rdflib.term.Node], str]
    """The generic message for a focus node."""
    keep: Callable[[rdflib.term.Node], bool] | None = None
    """For candidate rows: True when the value really violates the constraint (pySHACL's own test)."""
    values: str | None = None
    """For a check of each value alone: the pattern binding ``?f`` and ``?v`` (shared by the shape's other
    checks of the same path, :func:`run_checks` evaluates them together) ..."""
    condition: str | None = None
    """... the SPARQL expression that is true for a violating row ..."""
    focus: str | None = None
    """... and the subquery of the distinct focus nodes, which the violating rows are joined with."""
    screen: str | None = None
    """For ``sh:maxCount 1``: a query of two counts over the whole path, the triples and their distinct
    subjects; equal counts mean no subject has two values, so no focus node can violate and :attr:`query`
    need not run (:func:`screen_passes`)."""


def _n3(term: rdflib.term.Node) -> str:
    return term.n3()


def _joined(rows: str, focus: str, variables: str = "?f ?v", modifiers: str = "") -> str:
    """A SELECT of ``variables``: the solutions of the group graph pattern ``rows`` (then ``modifiers``, e.g. a
    GROUP BY): violating rows found among all the values on a path, kept when their ``?f`` is a focus node of
    the subquery ``focus``. Both sides are subqueries, so the engine evaluates each once and joins them by
    hash, instead of looking up the values of every focus node."""
    return f"SELECT {variables} WHERE {{ {{ SELECT {variables} WHERE {{ {rows} }} {modifiers}}} {focus} }}"


def _focus_pattern(shapes: rdflib.Graph, shape: rdflib.term.Node) -> str | None:
    parts = [f"{{ ?f a {_n3(c)} }}" for c in sorted(shapes.objects(shape, SH.targetClass))]
    parts += [f"{{ ?f {_n3(p)} [] }}" for p in sorted(shapes.objects(shape, SH.targetSubjectsOf))]
    return " UNION ".join(parts) if parts else None


def _supported(shapes: rdflib.Graph, node: rdflib.term.Node, keys: set) -> bool:
    return all(p in keys for p in shapes.predicates(node, None))


def _or_classes(shapes: rdflib.Graph, members: rdflib.term.Node) -> list[rdflib.term.Node] | None:
    """The classes of an ``sh:or`` list whose members are each exactly one ``sh:class``; else None."""
    classes = []
    for member in rdflib.collection.Collection(shapes, members):
        preds = set(shapes.predicates(member, None)) - {RDF.type}
        values = list(shapes.objects(member, SH["class"]))
        if preds != {SH["class"]} or len(values) != 1:
            return None
        classes.append(values[0])
    return classes or None


def _stringify(graph: rdflib.Graph, node: rdflib.term.Node) -> str:
    from pyshacl.rdfutil.stringify import stringify_node

    return stringify_node(graph, node)


def _datatype_keep(rule: rdflib.term.Node) -> Callable[[rdflib.term.Node], bool]:
    """pySHACL's DatatypeConstraintComponent test, negated: True when ``v`` is not of datatype ``rule``."""
    actual = {XSD.string: (str, bytes), RDF.langString: (str, bytes), XSD.integer: int, XSD.float: float,
              XSD.decimal: Decimal, XSD.boolean: bool, XSD.date: date}

    def ok_value(v: rdflib.Literal) -> bool:
        kind = actual.get(rule)
        return True if kind is None else isinstance(v.value, kind)

    def keep(v: rdflib.term.Node) -> bool:
        if not isinstance(v, rdflib.Literal):
            return True
        if v.datatype == rule:
            return getattr(v, "ill_typed", None) is True or not ok_value(v)
        if rule == RDFS.Literal or (rule == RDFS.Datatype and v.datatype):
            return False
        if v.datatype is None and v.language is None and rule == XSD.string:
            return not ok_value(v)
        if rule == RDF.langString and v.language:
            return not ok_value(v)
        return True
    return keep


def _pattern_keep(pattern: str) -> Callable[[rdflib.term.Node], bool]:
    """pySHACL's PatternConstraintComponent test, negated."""
    from pyshacl.constraints.core.string_based_constraints import PatternConstraintComponent

    matcher = re.compile(pattern)

    def keep(v: rdflib.term.Node) -> bool:
        if isinstance(v, rdflib.BNode):
            return True
        text = PatternConstraintComponent.value_node_to_string(v)
        return not (matcher.match(text) or matcher.search(text))
    return keep


def _range_keep(bound: rdflib.Literal, test: Callable[[int], bool]) -> Callable[[rdflib.term.Node], bool]:
    """pySHACL's value range test (min/max, exclusive/inclusive), negated."""
    from pyshacl.rdfutil.compare import compare_literal

    bound_is_string = isinstance(bound.value, str)

    def keep(v: rdflib.term.Node) -> bool:
        if not isinstance(v, rdflib.Literal) or isinstance(v.value, str) != bound_is_string:
            return True
        try:
            return not test(compare_literal(v, bound))
        except (TypeError, NotImplementedError):
            return True
    return keep


def _property_checks(shapes: rdflib.Graph, node_shape: rdflib.term.Node, prop: rdflib.term.Node,
                     focus: str) -> list[Check] | None:
    if not _supported(shapes, prop, _PROPERTY_KEYS):
        return None
    path = shapes.value(prop, SH.path)
    messages = list(shapes.objects(prop, SH.message))
    if not isinstance(path, rdflib.URIRef) or len(messages) > 1:
        return None
    message = str(messages[0]) if messages else None
    p = _n3(path)
    path_text = _stringify(shapes, path)
    values = f"?f {p} ?v ."
    focus_nodes = f"{{ SELECT DISTINCT ?f WHERE {{ {focus} }} }}"
    checks: list[Check] = []

    def add(component: str, query: str, generic: Callable[[rdflib.term.Node], str],
            keep: Callable[[rdflib.term.Node], bool] | None = None, condition: str | None = None,
            screen: str | None = None) -> None:
        checks.append(Check(node_shape, path, component, query, message, generic, keep,
                            values if condition else None, condition, focus_nodes if condition else None, screen))

    def on_values(condition: str) -> str:
        return _joined(f"{values} FILTER({condition})", focus_nodes)

    for name, rule in ((SH.minCount, "<"), (SH.maxCount, ">")):
        for bound in shapes.objects(prop, name):
            n = int(bound)
            word = "Less" if rule == "<" else "More"
            generic = (lambda f, n=n, word=word: f"{word} than {n} values on {_stringify(rdflib.Graph(), f)}->{path_text}")
            if rule == "<" and n == 1:
                query = f"SELECT ?f WHERE {{ {{ {focus} }} FILTER NOT EXISTS {{ ?f {p} ?v }} }}"
            elif rule == "<":
                query = (f"SELECT ?f WHERE {{ {{ {focus} }} OPTIONAL {{ ?f {p} ?v }} }} "
                         f"GROUP BY ?f HAVING (COUNT(DISTINCT ?v) < {n})")
            elif n == 1:
                query = f"SELECT ?f WHERE {{ {{ {focus} }} ?f {p} ?v . ?f {p} ?w . FILTER(!sameTerm(?v, ?w)) }}"
            else:
                query = _joined(values, focus_nodes, "?f", f"GROUP BY ?f HAVING (COUNT(DISTINCT ?v) > {n}) ")
            add(name.fragment, query, generic,
                screen=f"SELECT (COUNT(*) AS ?n) (COUNT(DISTINCT ?f) AS ?s) WHERE {{ {values} }}" if rule == ">" and n == 1 else None)
    classes = list(shapes.objects(prop, SH["class"]))
    if len(classes) > 1:
        return None
    for cls in classes:
        add("class", _joined(f"{values} MINUS {{ ?v a {_n3(cls)} }}", focus_nodes),
            lambda f, text=f"Value does not have class {_stringify(shapes, cls)}": text,
            screen=f"ASK {{ {values} MINUS {{ ?v a {_n3(cls)} }} }}")
    for members in shapes.objects(prop, SH["or"]):
        alternatives = _or_classes(shapes, members)
        if alternatives is None or message is None:
            return None
        missing = " ".join(f"MINUS {{ ?v a {_n3(c)} }}" for c in alternatives)
        add("or", _joined(f"{values} {missing}", focus_nodes), lambda f: "", screen=f"ASK {{ {values} {missing} }}")
    for kind in shapes.objects(prop, SH.nodeKind):
        if kind not in _NODE_KINDS:
            return None
        condition = f"!{_NODE_KINDS[kind]}"
        add("nodeKind", on_values(condition), lambda f, text=f"Value is not of Node Kind {_stringify(shapes, kind)}": text,
            condition=condition)
    for rule in shapes.objects(prop, SH.datatype):
        safe = _SAFE_FORMS.get(rule)
        form = "" if safe == "" else f" && REGEX(STR(?v), {rdflib.Literal(safe).n3()})" if safe else " && false"
        condition = f"!(isLiteral(?v) && DATATYPE(?v) = {_n3(rule)}{form})"
        add("datatype", on_values(condition),
            lambda f, text=f"Value is not Literal with datatype {_stringify(shapes, rule)}": text, _datatype_keep(rule),
            condition)
    for pattern in shapes.objects(prop, SH.pattern):
        text = str(pattern.value) if isinstance(pattern, rdflib.Literal) and pattern.value is not None else str(pattern)
        plain = f"(DATATYPE(?v) = {_n3(XSD.string)} || DATATYPE(?v) = {_n3(RDF.langString)})"
        condition = (f"isBlank(?v) || (isLiteral(?v) && !{plain}) || "
                     f'CONTAINS(STR(?v), "\\n") || !REGEX(STR(?v), {rdflib.Literal(text).n3()})')
        add("pattern", on_values(condition),
            lambda f, text=f"Value does not match pattern '{text}'": text, _pattern_keep(text), condition)
    for name, (op, wording, test) in _RANGES.items():
        for bound in shapes.objects(prop, name):
            if not isinstance(bound, rdflib.Literal):
                return None
            condition = f"!COALESCE(?v {op} {bound.n3()}, false)"
            add(name.fragment, on_values(condition),
                lambda f, text=wording.format(_stringify(shapes, bound)): text, _range_keep(bound, test), condition)
    return checks


def compile_shapes(shapes: rdflib.Graph) -> tuple[list[Check], list[rdflib.term.Node]]:
    """The checks of every node shape SPARQL can run, and the node shapes left for pySHACL."""
    checks: list[Check] = []
    left: list[rdflib.term.Node] = []
    for node_shape in sorted(set(shapes.subjects(RDF.type, SH.NodeShape))):
        focus = _focus_pattern(shapes, node_shape)
        compiled: list[Check] | None = [] if focus and _supported(shapes, node_shape, _NODE_SHAPE_KEYS) else None
        for prop in shapes.objects(node_shape, SH.property):
            if compiled is None:
                break
            more = _property_checks(shapes, node_shape, prop, focus)  # type: ignore[arg-type]
            compiled = None if more is None else compiled + more
        if compiled is None:
            left.append(node_shape)
        else:
            checks.extend(compiled)
    return checks, left


Results = list[tuple[rdflib.term.Node, rdflib.term.Node | None]]


def _results(check: Check, rows: Iterable[tuple[object, object]], term: Callable[[object], rdflib.term.Node]) -> Results:
    """The distinct (focus, value) of ``rows`` (value None for cardinality) that violate ``check``, as rdflib terms."""
    seen: set = set()
    out: Results = []
    for f, v in rows:
        key = (f, None if check.component in ("minCount", "maxCount") else v)
        if key in seen:
            continue
        seen.add(key)
        focus = term(key[0])
        value = term(key[1]) if key[1] is not None else None
        if check.keep is None or check.keep(value):
            out.append((focus, value))
    return out


def run_check(store: ox.Store, check: Check, term: Callable[[object], rdflib.term.Node]) -> Results:
    """The distinct (focus, value) results of ``check`` (value None for cardinality), as rdflib terms."""
    value = check.component not in ("minCount", "maxCount")
    # a list of terms: no name may hold the (unsendable) solutions, which a logged traceback would keep alive
    rows = [(row["f"], row["v"] if value else None) for row in store.query(check.query, use_default_graph_as_union=True)]
    return _results(check, rows, term)


def screen_passes(store: ox.Store, check: Check, known: dict[str, bool] | None = None) -> bool:
    """True when :attr:`Check.screen` proves that ``check`` has no violation (:func:`_screened`). False means
    "maybe": the check's query decides. ``known``: screens already run, by query (shapes share paths)."""
    return _screened(store, check.screen, known)


def _screened(store: ox.Store, screen: str | None, known: dict[str, bool] | None) -> bool:
    """Whether ``screen`` rules violations out: an ``ASK`` that finds nothing, or two counts over a path (triples,
    each once per graph it is in, and distinct subjects) that are equal, so no subject has two values."""
    if screen is None:
        return False
    if known is not None and screen in known:
        return known[screen]
    if screen.startswith("ASK"):
        passed = not bool(store.query(screen, use_default_graph_as_union=True))
    else:
        row = next(iter(store.query(screen, use_default_graph_as_union=True)))
        passed = row["n"].value == row["s"].value
    if known is not None:
        known[screen] = passed
    return passed


def _value_screen(checks: list[Check]) -> str | None:
    """For checks of each value alone (:attr:`Check.condition`): whether any value on the path is a candidate,
    without the focus nodes (their subquery is most of such a check's cost, and a valid graph has no candidate)."""
    if checks[0].condition is None:
        return None
    either = " || ".join(f"COALESCE({c.condition}, false)" for c in checks)
    return f"ASK {{ {checks[0].values} FILTER({either}) }}"


def run_together(store: ox.Store, checks: list[Check], term: Callable[[object], rdflib.term.Node],
                 known: dict[str, bool] | None = None) -> list[Results]:
    """The results of ``checks``, which share their :attr:`Check.values` pattern, from one query: the pattern is
    matched once and each row is flagged by every check's condition. A check alone is screened first
    (:func:`screen_passes`, ``known``: the screens run so far)."""
    if _screened(store, checks[0].screen if len(checks) == 1 and checks[0].screen else _value_screen(checks), known):
        return [[] for _ in checks]
    if len(checks) == 1:
        return [run_check(store, checks[0], term)]
    binds = " ".join(f"BIND(COALESCE({c.condition}, false) AS ?c{n})" for n, c in enumerate(checks))
    flags = [f"?c{n}" for n in range(len(checks))]
    query = _joined(f"{checks[0].values} {binds} FILTER({' || '.join(flags)})", checks[0].focus or "",
                    f"?f ?v {' '.join(flags)}")
    rows = [(row["f"], row["v"], [row[f"c{n}"].value == "true" for n in range(len(checks))])
            for row in store.query(query, use_default_graph_as_union=True)]
    return [_results(check, ((f, v) for f, v, flags in rows if flags[n]), term) for n, check in enumerate(checks)]


#: Threads running the checks (one per core, at most 4): the engine releases the GIL while it evaluates.
CHECK_THREADS = min(4, os.cpu_count() or 1)


def run_checks(store: ox.Store, checks: list[Check], term: Callable[[object], rdflib.term.Node]
               ) -> Iterator[tuple[Check, Results]]:
    """Each check with its :func:`run_check` results, in order, evaluated on :data:`CHECK_THREADS` threads;
    the checks of the values on one path from the same focus nodes in one query (:func:`run_together`).
    Each query holds its hash tables (a ``MINUS`` side, the distinct focus nodes) while it runs, up to
    about 360 MB at 128,000 families: the threads' peaks add up (bench/scale.md)."""
    groups: dict[object, list[int]] = {}
    for n, check in enumerate(checks):
        groups.setdefault((check.values, check.focus) if check.values else n, []).append(n)
    results: dict[int, Results] = {}
    ready = 0
    known: dict[str, bool] = {}  # a race runs a screen twice, with the same answer
    with ThreadPoolExecutor(CHECK_THREADS) as pool:
        for members, found in zip(groups.values(), pool.map(
                lambda members: run_together(store, [checks[n] for n in members], term, known), groups.values())):
            results.update(zip(members, found))
            while ready in results:
                yield checks[ready], results.pop(ready)
                ready += 1
