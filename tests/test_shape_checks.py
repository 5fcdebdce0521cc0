"""Issue 12: the SHACL shapes run as SPARQL queries (graph.rdf.shape_checks) find exactly the
violations pySHACL finds — on the fixture, shipped and seed catalogs, and on stores with injected
violations of every constraint kind that ontology/shapes.ttl uses."""
from __future__ import annotations

from pathlib import Path

import pytest
import rdflib
import catalog as catalog_package
from pyoxigraph import BlankNode, Literal, NamedNode, Quad, Store
from rdflib.namespace import SH

from graph.catalog import load_catalog
from graph.rdf.iris import Iris
from graph.rdf.mapping import catalog_quads
from graph.rdf.shape_checks import compile_shapes
from graph.rdf.validate import locate, shapes_graph, validate_quads, validate_store, validate_store_pyshacl
from graph.rdf.vocab import DCTERMS, FABIO, JLLM, PROV, RDFS, SCHEMA, SKOS, TYPE, XSD
from tests.test_streaming_build import _catalogs, inject_violations

IRIS = Iris.default()


def _store(catalog_dir: Path) -> Store:
    store = Store()
    store.bulk_extend(catalog_quads(load_catalog(catalog_dir), IRIS))
    return store


def _pyshacl(store: Store) -> list:
    """pySHACL over every triple of the store at once (the reference), located like the build's."""
    return locate(store, validate_quads(list(store), IRIS.base), IRIS.base)


def test_every_shipped_shape_compiles_to_sparql():
    checks, left = compile_shapes(shapes_graph())
    assert left == []
    used = {c.component for c in checks}
    assert used == {"minCount", "maxCount", "class", "or", "nodeKind", "datatype", "pattern", "minExclusive"}


@pytest.mark.parametrize("catalog_dir", _catalogs())
def test_sparql_checks_equal_pyshacl(catalog_dir):
    store = _store(catalog_dir())
    assert validate_store(store, IRIS.base) == _pyshacl(store) == []


@pytest.mark.parametrize("catalog_dir", _catalogs())
def test_sparql_checks_equal_pyshacl_on_injected_catalog_errors(catalog_dir, tmp_path):
    inject_violations(catalog_dir(), tmp_path / "catalog")
    store = _store(tmp_path / "catalog")
    found = validate_store(store, IRIS.base)
    assert found == _pyshacl(store)
    assert len(found) >= 8
    assert all(v.where and v.where.startswith("catalog/") for v in found), [v.render() for v in found]


def _node(path: str) -> NamedNode:
    return NamedNode(IRIS.base + path)


def broken_quads() -> list[Quad]:
    """Quads breaking every constraint kind of the shapes (several in lexical corner cases)."""
    g = _node("graph/model/broken")
    fam, var, var2, paper, ds, lic = (_node("model/broken"), _node("model/hf/x/broken"), _node("model/hf/x/broken-2"),
                                      _node("paper/arxiv/broken"), _node("dataset/broken"), _node("licence/broken"))
    stray = _node("thing/untyped")
    stage, usage, deriv, sec = (_node("model/broken/stage/1"), _node("model/broken/stage/1/usage/1"),
                                _node("model/broken/derivation/x"), _node("section/broken"))
    facts = [
        # minCount: no label, no identifier, no title, no prefLabel, no url / hfRepository, no variantOf
        (ds, TYPE, JLLM.Dataset), (lic, TYPE, JLLM.Licence), (paper, TYPE, FABIO.ResearchPaper),
        (sec, TYPE, JLLM.CatalogSection), (var2, TYPE, JLLM.ModelVariant),
        # maxCount (values in two graphs count once), class, nodeKind, datatype, pattern, minExclusive
        (fam, TYPE, JLLM.ModelFamily), (fam, TYPE, JLLM.Model), (fam, RDFS.label, Literal("Broken", language="en")),
        (fam, RDFS.label, NamedNode("http://example.org/label-as-iri")),                      # nodeKind Literal
        (fam, JLLM.section, sec), (fam, JLLM.section, _node("section/other")),                  # maxCount + class
        (fam, JLLM.developer, ds),                                                             # class
        (fam, JLLM.baseModel, Literal("llama-2")),                                             # class + nodeKind
        (fam, JLLM.contextLength, Literal("abc", datatype=XSD.integer)),                       # ill-typed
        (fam, JLLM.contextLength, Literal("4096")),                                            # plain string
        (fam, JLLM.contextLength, Literal("+0004096", datatype=XSD.integer)),                 # valid, odd form
        (fam, JLLM.releaseYear, Literal("2023", datatype=XSD.integer)),
        (fam, JLLM.releaseYear, Literal("x", datatype=XSD.gYear)),                             # pySHACL lets it pass
        (fam, JLLM.platform, Literal("API", language="en")),                                   # langString ≠ string
        (fam, JLLM.series, Literal("not a model")),                                            # targetSubjectsOf
        (fam, JLLM.hasVariant, var), (var, TYPE, JLLM.ModelVariant), (var, RDFS.label, Literal("x/broken")),
        (var, JLLM.variantOf, fam), (var, JLLM.variantOf, _node("model/llama-2")),              # maxCount 1
        (var, SCHEMA.url, NamedNode("http://example.org/not-hf")),                             # pattern
        (var, SCHEMA.url, Literal("https://huggingface.co/x/broken")),                         # nodeKind IRI
        (var, JLLM.hfRepository, Literal("x/broken")), (var, JLLM.hfRepository, Literal("x/broken", language="en")),
        (var, JLLM.parametersBillions, Literal("-1.5", datatype=XSD.decimal)),                # minExclusive
        (var, JLLM.contextLength, Literal("0", datatype=XSD.integer)),                        # minExclusive
        (var, JLLM.contextLength, Literal("big")),                                             # datatype + range
        (fam, JLLM.trainingStage, stage), (stage, TYPE, JLLM.TrainingStage), (stage, TYPE, PROV.Activity),
        (stage, JLLM.tokens, Literal("-5", datatype=XSD.integer)), (stage, PROV.used, lic),
        (stage, JLLM.method, _node("method/none")), (stage, JLLM.method, _node("method/other")),
        (usage, TYPE, PROV.Usage), (usage, PROV.entity, BlankNode("b1")),                     # class on a blank node
        (fam, PROV.qualifiedDerivation, deriv), (deriv, TYPE, PROV.Derivation),
        (deriv, JLLM.inferred, Literal("yes", datatype=XSD.boolean)),                          # ill-typed boolean
        (paper, FABIO.hasArXivId, Literal("2307.09288\n")),                                    # Python's $ accepts it
        (paper, FABIO.hasArXivId, Literal("abc")), (paper, DCTERMS.date, Literal("2023-02-30", datatype=XSD.date)),
        (paper, JLLM.introduces, ds), (paper, RDFS.label, Literal("P")),                       # sh:or
        (lic, DCTERMS.identifier, Literal("a")), (lic, DCTERMS.identifier, Literal("b")),
        (lic, JLLM.commercialUse, Literal("1", datatype=XSD.boolean)),                         # valid, odd form
        (sec, SKOS.broader, fam), (sec, RDFS.label, Literal("S")),
        # not a focus node of any shape (no type): its values on the shapes' paths break nothing
        (stray, JLLM.baseModel, Literal("llama-2")), (stray, JLLM.variantOf, fam), (stray, JLLM.variantOf, var),
        (stray, PROV.entity, ds), (stray, JLLM.contextLength, Literal("big")), (stray, SCHEMA.url, Literal("x")),
        (stray, JLLM.introduces, lic),
    ]
    quads = [Quad(s, p, o, g) for s, p, o in facts]
    quads.append(Quad(fam, JLLM.section, sec, _node("graph/model/other")))  # the same value from another graph
    return quads


@pytest.mark.parametrize("catalog_dir", _catalogs())
def test_sparql_checks_equal_pyshacl_on_every_constraint_kind(catalog_dir):
    store = _store(catalog_dir())
    store.bulk_extend(broken_quads())
    found = validate_store(store, IRIS.base)
    assert found == _pyshacl(store)
    shapes = shapes_graph()
    kinds = {(v.path, v.message) for v in found}
    assert ("jllm:contextLength", "Value is not Literal with datatype xsd:integer") in kinds
    assert ("schema:url", "a variant has its Hugging Face URL") in kinds
    assert any(m.startswith("More than 1 values on <") for _, m in kinds)
    assert any(m.startswith("Less than 1 values on <") for _, m in kinds)
    assert ("jllm:parametersBillions", "Value is not > Literal(\"0\", datatype=xsd:integer)") in kinds
    # every constraint component used by the shapes is violated at least once
    assert len(found) >= 30 and len({str(p) for p in shapes.predicates() if str(p).startswith(str(SH))}) > 5


def _with_licence_shape(name: str, path: NamedNode, constraints: dict) -> tuple[rdflib.Graph, rdflib.URIRef]:
    """The shipped shapes plus a node shape ``name`` on every licence, one property shape on ``path``."""
    extra = shapes_graph()
    shape = rdflib.URIRef(f"https://w3id.org/jllm-kg/shapes#{name}")
    prop = rdflib.BNode()
    extra.add((shape, rdflib.RDF.type, SH.NodeShape))
    extra.add((shape, SH.targetClass, rdflib.URIRef(str(JLLM.Licence.value))))
    extra.add((shape, SH.property, prop))
    extra.add((prop, SH.path, rdflib.URIRef(str(path.value))))
    for key, value in constraints.items():
        extra.add((prop, key, rdflib.Literal(value)))
    return extra, shape


def test_a_shape_sparql_cannot_run_goes_to_pyshacl(tmp_path, monkeypatch):
    """sh:hasValue is not compiled: that node shape is checked by pySHACL, the rest by SPARQL, same result."""
    extra, shape = _with_licence_shape("Extra", JLLM.commercialUse, {SH.hasValue: True})
    checks, left = compile_shapes(extra)
    assert left == [shape]
    monkeypatch.setattr("graph.rdf.validate.shapes_graph", lambda: extra)
    store = _store(Path(__file__).parent / "fixtures" / "catalog")
    found = validate_store(store, IRIS.base)
    assert found and all(v.path == "jllm:commercialUse" for v in found)
    reference = locate(store, validate_quads(list(store), IRIS.base, extra), IRIS.base)
    assert found == reference
    assert validate_store_pyshacl(store, IRIS.base, only=[shape], batch_size=3) == validate_quads(list(store), IRIS.base, extra)


def test_counts_other_than_one_agree_with_pyshacl(monkeypatch):
    """sh:minCount 2 and sh:maxCount 2 (compiled to GROUP BY, unused by the shipped shapes): the same
    violations as pySHACL, a value repeated in two graphs counted once, a stray subject ignored."""
    extra, shape = _with_licence_shape("Counts", DCTERMS.identifier, {SH.minCount: 2, SH.maxCount: 2})
    checks, left = compile_shapes(extra)
    assert left == [] and {c.component for c in checks if c.shape == shape} == {"minCount", "maxCount"}
    monkeypatch.setattr("graph.rdf.validate.shapes_graph", lambda: extra)
    store = _store(Path(__file__).parent / "fixtures" / "catalog")
    three, two, stray = _node("licence/three"), _node("licence/two"), _node("thing/untyped")
    g, h = _node("graph/licence/three"), _node("graph/licence/two")
    store.bulk_extend([Quad(three, TYPE, JLLM.Licence, g), Quad(three, RDFS.label, Literal("3"), g)]
                      + [Quad(three, DCTERMS.identifier, Literal(x), g) for x in "abc"]
                      + [Quad(two, TYPE, JLLM.Licence, h), Quad(two, RDFS.label, Literal("2"), h)]
                      + [Quad(two, DCTERMS.identifier, Literal(x), h) for x in "ab"]
                      + [Quad(two, DCTERMS.identifier, Literal("a"), g)]
                      + [Quad(stray, DCTERMS.identifier, Literal(x), h) for x in "abc"])
    found = validate_store(store, IRIS.base)
    assert found == locate(store, validate_quads(list(store), IRIS.base, extra), IRIS.base)
    more = [v for v in found if v.message.startswith("More than 2")]
    assert [v.focus for v in more] == ["licence/three"]
    assert any(v.message.startswith("Less than 2") for v in found)  # the fixture's licences have one identifier


def test_screens_rule_out_violations_of_a_valid_graph_and_never_hide_one():
    """A check is screened before its query (graph/rdf/shape_checks.py): on the shipped graph every
    ``sh:maxCount 1`` screen passes (so the queries are skipped); a second value on the path of a subject that is
    no focus node makes the screen fail without a violation, and on a focus node the check reports it."""
    from graph.rdf.shape_checks import screen_passes

    store = _store(catalog_package.PATH)
    checks, _ = compile_shapes(shapes_graph())
    at_most_one = [c for c in checks if c.component == "maxCount" and c.screen is not None]
    failed = {str(c.path) for c in at_most_one if not screen_passes(store, c)}
    two_values = {str(r["p"].value) for r in store.query(
        "SELECT DISTINCT ?p WHERE { ?s ?p ?v , ?w FILTER(!sameTerm(?v, ?w)) }", use_default_graph_as_union=True)}
    assert failed == {str(c.path) for c in at_most_one} & two_values  # a screen fails only where a subject has two values
    assert len(failed) < len(at_most_one) / 4 and PROV.entity.value not in failed
    section = next(c for c in at_most_one if str(c.path) == JLLM.section.value)
    family, first = next((q.subject, q.object) for q in store.quads_for_pattern(None, JLLM.section, None, None))
    second = next(q.object for q in store.quads_for_pattern(None, JLLM.section, None, None) if q.object != first)
    g = IRIS.graph("provenance")
    store.add(Quad(second, JLLM.section, first, g))  # a section is no family: two values, no focus node
    store.add(Quad(second, JLLM.section, second, g))
    assert not screen_passes(store, section)  # the query decides ...
    assert validate_store(store, IRIS.base) == _pyshacl(store) == []  # ... and finds no violation
    store.add(Quad(family, JLLM.section, second, g))
    found = validate_store(store, IRIS.base)
    assert found == _pyshacl(store) and [v.path for v in found] == ["jllm:section"]
