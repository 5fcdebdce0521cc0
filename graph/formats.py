"""The one table of formats: names ↔ media types ↔ file extensions ↔ pyoxigraph formats.

Every route that negotiates or serializes looks formats up here.

>>> by_name("ttl").media_type
'text/turtle'
>>> by_media_type("application/sparql-results+json").name
'json'
>>> [f.name for f in RESULTS]
['json', 'xml', 'csv', 'tsv']
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from pyoxigraph import QueryResultsFormat, RdfFormat

Kind = Literal["results", "graph", "dataset", "page"]


@dataclass(frozen=True)
class Format:
    """One serialization: its short name, media type, extension and pyoxigraph format."""

    name: str
    media_type: str
    extension: str
    kind: Kind
    oxigraph: QueryResultsFormat | RdfFormat | None
    aliases: tuple[str, ...] = ()

    @property
    def content_type(self) -> str:
        """The ``Content-Type`` header value (``charset=utf-8`` for ``text/*``)."""
        return f"{self.media_type}; charset=utf-8" if self.media_type.startswith("text/") else self.media_type

    @property
    def iri(self) -> str:
        """The W3C format IRI (``http://www.w3.org/ns/formats/...``), for service descriptions."""
        return self.oxigraph.iri if self.oxigraph is not None else ""


#: SELECT / ASK results, in order of preference when the client accepts anything.
RESULTS: tuple[Format, ...] = (
    Format("json", "application/sparql-results+json", "srj", "results", QueryResultsFormat.JSON, ("application/json",)),
    Format("xml", "application/sparql-results+xml", "srx", "results", QueryResultsFormat.XML, ("application/xml", "text/xml")),
    Format("csv", "text/csv", "csv", "results", QueryResultsFormat.CSV),
    Format("tsv", "text/tab-separated-values", "tsv", "results", QueryResultsFormat.TSV),
)
#: CONSTRUCT / DESCRIBE graphs, in order of preference.
GRAPHS: tuple[Format, ...] = (
    Format("ttl", "text/turtle", "ttl", "graph", RdfFormat.TURTLE, ("application/x-turtle",)),
    Format("nt", "application/n-triples", "nt", "graph", RdfFormat.N_TRIPLES, ("text/plain",)),
    Format("rdf", "application/rdf+xml", "rdf", "graph", RdfFormat.RDF_XML),
    Format("jsonld", "application/ld+json", "jsonld", "graph", RdfFormat.JSON_LD, ("application/json",)),
)
#: Whole datasets (quads), for dumps.
DATASETS: tuple[Format, ...] = (
    Format("trig", "application/trig", "trig", "dataset", RdfFormat.TRIG),
    Format("nq", "application/n-quads", "nq", "dataset", RdfFormat.N_QUADS),
)
#: The HTML page of a resource or canned query, offered beside its data formats.
HTML = Format("html", "text/html", "html", "page", None, ("application/xhtml+xml",))
ALL: tuple[Format, ...] = RESULTS + GRAPHS + DATASETS + (HTML,)


def by_name(name: str) -> Format | None:
    """The format with this short name or extension (``json``, ``ttl``, ``srj``…), or None."""
    name = name.lower().lstrip(".")
    return next((f for f in ALL if name in (f.name, f.extension)), None)


def by_media_type(media_type: str, kinds: tuple[Kind, ...] = ("results", "graph", "dataset", "page")) -> Format | None:
    """The format of a media type (parameters ignored), among ``kinds``, or None."""
    media_type = media_type.split(";")[0].strip().lower()
    for fmt in ALL:
        if fmt.kind in kinds and (media_type == fmt.media_type or media_type in fmt.aliases):
            return fmt
    return None
