"""The SPARQL 1.1 Service Description of the endpoint (answered by ``GET /sparql`` without a query)."""
from __future__ import annotations

from pyoxigraph import BlankNode, Literal, NamedNode, Triple

from server.formats import GRAPHS, RESULTS

SD = "http://www.w3.org/ns/sparql-service-description#"
VOID = "http://rdfs.org/ns/void#"
RDF_TYPE = NamedNode("http://www.w3.org/1999/02/22-rdf-syntax-ns#type")
PREFIXES = {"sd": SD, "void": VOID, "formats": "http://www.w3.org/ns/formats/"}


def _sd(name: str) -> NamedNode:
    return NamedNode(SD + name)


def service_description(endpoint: str, stats: dict | None, update: bool, network: bool) -> list[Triple]:
    """Triples describing the service at ``endpoint``: languages, formats, features, default dataset."""
    service, dataset, graph = NamedNode(endpoint), BlankNode(), BlankNode()
    triples = [
        Triple(service, RDF_TYPE, _sd("Service")),
        Triple(service, _sd("endpoint"), service),
        Triple(service, _sd("supportedLanguage"), _sd("SPARQL11Query")),
        Triple(service, _sd("feature"), _sd("UnionDefaultGraph")),
        Triple(service, _sd("defaultEntailmentRegime"), NamedNode("http://www.w3.org/ns/entailment/Simple")),
        Triple(service, _sd("defaultDataset"), dataset),
        Triple(dataset, RDF_TYPE, _sd("Dataset")),
        Triple(dataset, RDF_TYPE, NamedNode(VOID + "Dataset")),
        Triple(dataset, _sd("defaultGraph"), graph),
        Triple(graph, RDF_TYPE, _sd("Graph")),
    ]
    if update:
        triples.append(Triple(service, _sd("supportedLanguage"), _sd("SPARQL11Update")))
    if network:
        triples.append(Triple(service, _sd("feature"), _sd("BasicFederatedQuery")))
    for fmt in RESULTS + GRAPHS:
        triples.append(Triple(service, _sd("resultFormat"), NamedNode(fmt.iri)))
    if stats:
        for key, prop in (("triples", "triples"), ("subjects", "distinctSubjects"), ("properties", "properties")):
            triples.append(Triple(dataset, NamedNode(VOID + prop), Literal(str(stats[key]), datatype=NamedNode("http://www.w3.org/2001/XMLSchema#integer"))))
        triples.append(Triple(graph, NamedNode(VOID + "triples"), Literal(str(stats["triples"]), datatype=NamedNode("http://www.w3.org/2001/XMLSchema#integer"))))
    return triples
