"""The SPARQL 1.1 Service Description names every result format by its W3C IRI."""
from __future__ import annotations

import rdflib

from graph.formats import GRAPHS, RESULTS
from server.sparql.service_description import format_iri, service_description

SD = rdflib.Namespace("http://www.w3.org/ns/sparql-service-description#")
W3C = "http://www.w3.org/ns/formats/"


def test_json_ld_has_the_w3c_iri():
    jsonld = next(f for f in GRAPHS if f.media_type == "application/ld+json")
    assert format_iri(jsonld).value == "http://www.w3.org/ns/formats/JSON-LD"


def test_every_result_format_is_a_w3c_format_iri():
    triples = service_description("http://example.org/sparql", None, update=False, network=False)
    iris = {t.object.value for t in triples if t.predicate.value == str(SD.resultFormat)}
    assert len(iris) == len(RESULTS + GRAPHS)
    assert all(iri.startswith(W3C) for iri in iris), iris
    assert not any("/data/" in iri for iri in iris)


def test_get_sparql_describes_the_service_with_w3c_format_iris(client):
    r = client.get("/sparql", headers={"Accept": "text/turtle"})
    assert r.status_code == 200
    g = rdflib.Graph().parse(data=r.data, format="turtle")
    formats = {str(o) for o in g.objects(None, SD.resultFormat)}
    assert W3C + "JSON-LD" in formats and W3C + "Turtle" in formats and W3C + "SPARQL_Results_JSON" in formats
    assert not any(f.startswith("https://") for f in formats)
