"""Real SPARQL clients (SPARQLWrapper, rdflib) against the live endpoint serving the seed catalog."""
from __future__ import annotations

import pytest
from pyoxigraph import Store
from rdflib import Graph, Literal, URIRef
from rdflib.plugins.stores.sparqlstore import SPARQLStore
from SPARQLWrapper import CSV, JSON, TURTLE, SPARQLWrapper

from tests.live import LiveServer

M = "https://w3id.org/jllm-kg/model/"
JLLM = "https://w3id.org/jllm-kg/ontology#"
COUNT_MODELS = f"SELECT (COUNT(DISTINCT ?m) AS ?n) WHERE {{ ?m a <{JLLM}Model> }}"


@pytest.fixture(scope="module")
def server(seed_store_path):
    with LiveServer(seed_store_path) as live:
        yield live


@pytest.fixture(scope="module")
def model_count(seed_store_path) -> int:
    """The ground truth, straight from the store."""
    store = Store.read_only(str(seed_store_path.resolve()))
    return int(next(iter(store.query(COUNT_MODELS, use_default_graph_as_union=True)))["n"].value)


def test_sparqlwrapper_select_json(server, model_count):
    client = SPARQLWrapper(server.url)
    client.setQuery(f"""SELECT ?base ?label WHERE {{ <{M}swallow-7b> <{JLLM}baseModel> ?base .
                       <{M}swallow-7b> <http://www.w3.org/2000/01/rdf-schema#label> ?label FILTER(lang(?label) = "en") }}""")
    client.setReturnFormat(JSON)
    rows = client.query().convert()["results"]["bindings"]
    assert [(r["base"]["value"], r["label"]["value"]) for r in rows] == [(M + "llama-2", "Swallow 7B")]
    client.setQuery(COUNT_MODELS)
    assert int(client.query().convert()["results"]["bindings"][0]["n"]["value"]) == model_count > 100


def test_sparqlwrapper_post_csv_and_construct(server):
    client = SPARQLWrapper(server.url)
    client.setMethod("POST")
    client.setQuery(f"SELECT ?base WHERE {{ <{M}swallow-7b> <{JLLM}baseModel> ?base }}")
    client.setReturnFormat(CSV)
    assert client.query().convert().decode().splitlines() == ["base", M + "llama-2"]
    client.setQuery(f"CONSTRUCT {{ <{M}swallow-7b> <{JLLM}baseModel> ?b }} WHERE {{ <{M}swallow-7b> <{JLLM}baseModel> ?b }}")
    client.setReturnFormat(TURTLE)
    graph = Graph().parse(data=client.query().convert(), format="turtle")
    assert set(graph) == {(URIRef(M + "swallow-7b"), URIRef(JLLM + "baseModel"), URIRef(M + "llama-2"))}


def test_rdflib_sparqlstore(server, model_count):
    graph = Graph(store=SPARQLStore(query_endpoint=server.url, returnFormat="json"))
    labels = {row.label for row in graph.query(
        f"SELECT ?label WHERE {{ <{M}swallow-7b> <http://schema.org/name> ?label }}")}
    assert Literal("Swallow 7B", lang="en") in labels
    assert int(next(iter(graph.query(COUNT_MODELS))).n) == model_count
    assert (URIRef(M + "swallow-7b"), URIRef(JLLM + "baseModel"), URIRef(M + "llama-2")) in graph


def test_rdflib_service_clause(server):
    rows = Graph().query(f"""SELECT ?base WHERE {{
        SERVICE <{server.url}> {{ <{M}swallow-7b> <{JLLM}baseModel> ?base }} }}""")
    assert [str(r.base) for r in rows] == [M + "llama-2"]
