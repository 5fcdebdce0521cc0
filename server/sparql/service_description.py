"""The SPARQL 1.1 Service Description of the endpoint (answered by ``GET /sparql`` without a query)."""
from __future__ import annotations

from pyoxigraph import BlankNode, Literal, NamedNode, Triple

from graph.formats import GRAPHS, RESULTS, Format

SD = "http://www.w3.org/ns/sparql-service-description#"
W3C_FORMATS = "http://www.w3.org/ns/formats/"
#: The W3C's unique identifiers for file formats (https://www.w3.org/ns/formats/), by format name:
#: pyoxigraph names JSON-LD ``https://www.w3.org/ns/formats/data/JSON-LD``, which is not one of them.
FORMAT_IRIS = {
    "json": "SPARQL_Results_JSON", "xml": "SPARQL_Results_XML", "csv": "SPARQL_Results_CSV",
    "tsv": "SPARQL_Results_TSV", "ttl": "Turtle", "nt": "N-Triples", "rdf": "RDF_XML", "jsonld": "JSON-LD",
    "nq": "N-Quads", "trig": "TriG", "n3": "N3",
}
VOID = "http://rdfs.org/ns/void#"
RDF_TYPE = NamedNode("http://www.w3.org/1999/02/22-rdf-syntax-ns#type")
PREFIXES = {"sd": SD, "void": VOID, "formats": "http://www.w3.org/ns/formats/"}


def _sd(name: str) -> NamedNode:
    return NamedNode(SD + name)


def format_iri(fmt: Format) -> NamedNode:
    """The W3C IRI of a format (``http://www.w3.org/ns/formats/JSON-LD``), else pyoxigraph's."""
    name = FORMAT_IRIS.get(fmt.name)
    return NamedNode(W3C_FORMATS + name if name else fmt.iri)


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
        triples.append(Triple(service, _sd("resultFormat"), format_iri(fmt)))
    if stats:
        for key, prop in (("triples", "triples"), ("subjects", "distinctSubjects"), ("properties", "properties")):
            triples.append(Triple(dataset, NamedNode(VOID + prop), Literal(str(stats[key]), datatype=NamedNode("http://www.w3.org/2001/XMLSchema#integer"))))
        triples.append(Triple(graph, NamedNode(VOID + "triples"), Literal(str(stats["triples"]), datatype=NamedNode("http://www.w3.org/2001/XMLSchema#integer"))))
    return triples
