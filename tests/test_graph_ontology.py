"""The ontology documents every term it declares, and declares every jllm term the graph uses."""
from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

import pyoxigraph as ox
import pytest
import rdflib

import ontology
from graph.build import dataset_quads
from graph.rdf.iris import Iris
from graph.rdf.mapping import ontology_triples
from graph.settings import ONTOLOGY_NS

FIXTURE = Path(__file__).parent / "fixtures" / "catalog"
RDF_TYPE = "http://www.w3.org/1999/02/22-rdf-syntax-ns#type"
RDFS = "http://www.w3.org/2000/01/rdf-schema#"
OWL = "http://www.w3.org/2002/07/owl#"


def _terms() -> dict[str, dict[str, set]]:
    info: dict[str, dict[str, set]] = defaultdict(lambda: defaultdict(set))
    for t in ontology_triples():
        if t.subject.value.startswith(ONTOLOGY_NS):
            obj = t.object
            info[t.subject.value][t.predicate.value].add(obj.language if isinstance(obj, ox.Literal) and obj.language else obj.value)
    return info


@pytest.mark.parametrize("term", sorted(_terms()))
def test_term_has_labels_and_comments(term):
    info = _terms()[term]
    assert {"ja", "en"} <= info[RDFS + "label"], term
    assert {"ja", "en"} <= info[RDFS + "comment"], term
    if {OWL + "ObjectProperty", OWL + "DatatypeProperty"} & info[RDF_TYPE]:
        assert info[RDFS + "range"], f"{term} has no rdfs:range"


def test_graph_uses_only_declared_terms():
    quads, void, _ = dataset_quads(FIXTURE, Iris.default())
    declared = set(_terms())
    used = {t.value for q in quads + void for t in (q.predicate, q.object)
            if isinstance(t, ox.NamedNode) and t.value.startswith(ONTOLOGY_NS) and t.value != ONTOLOGY_NS}
    assert used - declared == set()


def test_ontology_and_shapes_parse_with_rdflib():
    g = rdflib.Graph().parse(ontology.PATH / "jllm.ttl", format="turtle")
    assert (rdflib.URIRef(ONTOLOGY_NS + "baseModel"), rdflib.RDFS.subPropertyOf, rdflib.URIRef("http://www.w3.org/ns/prov#wasDerivedFrom")) in g
    shapes = rdflib.Graph().parse(ontology.PATH / "shapes.ttl", format="turtle")
    assert len(shapes) > 50


def test_jsonld_context_reads_a_model():
    context = json.loads((ontology.PATH / "context.jsonld").read_text(encoding="utf-8"))
    doc = {"@context": context["@context"], "@id": "https://w3id.org/jllm-kg/model/houou-7b", "@type": "ModelFamily",
           "name": {"@value": "houou-7b", "@language": "ja"}, "baseModel": "https://w3id.org/jllm-kg/model/youri-7b",
           "parametersBillions": "7"}
    g = rdflib.Graph().parse(data=json.dumps(doc), format="json-ld")
    s = rdflib.URIRef("https://w3id.org/jllm-kg/model/houou-7b")
    assert (s, rdflib.RDF.type, rdflib.URIRef(ONTOLOGY_NS + "ModelFamily")) in g
    assert (s, rdflib.URIRef(ONTOLOGY_NS + "baseModel"), rdflib.URIRef("https://w3id.org/jllm-kg/model/youri-7b")) in g
    assert (s, rdflib.URIRef(ONTOLOGY_NS + "parametersBillions"),
            rdflib.Literal("7", datatype=rdflib.XSD.decimal)) in g
