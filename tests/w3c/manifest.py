"""W3C SPARQL 1.1 Protocol tests: read a manifest (``mf:ProtocolTest`` with ``ht:`` requests), replay it over HTTP.

Each test is a list of HTTP requests and the response each must get: a status class, and
optionally a boolean result, a result format (``boolean``, ``tabular``, ``RDF``), response
headers or a body. The requests' paths start with ``/sparql``; they are sent as written.
"""
from __future__ import annotations

import http.client
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from rdflib import RDF, RDFS, Graph, Namespace
from rdflib.collection import Collection

MF = Namespace("http://www.w3.org/2001/sw/DataAccess/tests/test-manifest#")
HT = Namespace("http://www.w3.org/2011/http#")
CNT = Namespace("http://www.w3.org/2011/content#")
UT = Namespace("http://www.w3.org/2009/sparql/tests/test-update#")

#: Media types acceptable for each ``mf:expectedFormat``.
EXPECTED_FORMATS = {
    "boolean": {"application/sparql-results+json", "application/sparql-results+xml"},
    "tabular": {"application/sparql-results+json", "application/sparql-results+xml", "text/csv", "text/tab-separated-values"},
    "RDF": {"application/rdf+xml", "text/turtle", "application/n-triples", "application/xhtml+xml", "text/html"},
}


@dataclass
class Exchange:
    """One request of a test and what its response must look like."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes | None
    status_classes: set[int]
    boolean: bool | None = None
    format: str | None = None
    response_headers: dict[str, str] = field(default_factory=dict)


@dataclass
class ProtocolTest:
    """One ``mf:ProtocolTest``: its name, the data it loads and its exchanges."""

    name: str
    title: str
    data: list[tuple[Path, str]]
    exchanges: list[Exchange]

    @property
    def is_update(self) -> bool:
        """True if the test sends a SPARQL Update (run against an update-enabled server)."""
        for ex in self.exchanges:
            ctype = ex.headers.get("content-type", "")
            if "sparql-update" in ctype or "update=" in ex.path or (ex.body or b"").startswith(b"update="):
                return True
        return False


def _headers(graph: Graph, node) -> dict[str, str]:
    if node is None:
        return {}
    return {str(graph.value(h, HT.fieldName)).lower(): str(graph.value(h, HT.fieldValue)) for h in Collection(graph, node)}


def _status_classes(graph: Graph, resp) -> set[int]:
    classes = {int(re.search(r"(\d)xx", str(s), re.I).group(1)) for s in graph.objects(resp, MF.expectedStatus)}
    classes |= {int(str(v)[0]) for v in graph.objects(resp, HT.statusCodeValue)}
    return classes


def read_manifest(path: Path) -> list[ProtocolTest]:
    """The tests of a protocol manifest, in manifest order."""
    graph = Graph()
    graph.parse(path, format="turtle", publicID=path.resolve().as_uri())
    manifest = next(graph.subjects(RDF.type, MF.Manifest))
    tests = []
    for test in Collection(graph, graph.value(manifest, MF.entries)):
        data = [(Path(str(graph.value(gd, UT.graph)).removeprefix("file://")), str(graph.value(gd, RDFS.label)))
                for gd in graph.objects(test, UT.graphData)]
        exchanges = []
        action = graph.value(test, MF.action)
        for request in Collection(graph, graph.value(action, HT.requests)):
            body_node = graph.value(request, HT.body)
            body = None
            if body_node is not None:
                encoding = str(graph.value(body_node, CNT.characterEncoding) or "UTF-8")
                body = str(graph.value(body_node, CNT.chars)).encode(encoding.lower().replace("utf-16", "utf-16"))
            resp = graph.value(request, HT.resp)
            boolean = graph.value(resp, MF.expectedBoolean)
            resp_body = graph.value(resp, HT.body)
            if boolean is None and resp_body is not None:
                chars = str(graph.value(resp_body, CNT.chars)).lower()
                boolean = chars == "true" if chars in ("true", "false") else None
            exchanges.append(Exchange(
                method=str(graph.value(request, HT.methodName)),
                path=str(graph.value(request, HT.absolutePath)),
                headers=_headers(graph, graph.value(request, HT.headers)),
                body=body,
                status_classes=_status_classes(graph, resp),
                boolean=None if boolean is None else (boolean.toPython() if hasattr(boolean, "toPython") else boolean),
                format=str(graph.value(resp, MF.expectedFormat)) if graph.value(resp, MF.expectedFormat) else None,
                response_headers=_headers(graph, graph.value(resp, HT.headers)),
            ))
        tests.append(ProtocolTest(str(test).rsplit("#", 1)[-1], str(graph.value(test, MF.name) or ""), data, exchanges))
    return tests


def _boolean(body: bytes, media_type: str) -> bool | None:
    text = body.decode("utf-8", errors="replace")
    if media_type == "application/sparql-results+json":
        return json.loads(text).get("boolean")
    if media_type == "application/sparql-results+xml":
        match = re.search(r"<boolean>\s*(true|false)\s*</boolean>", text)
        return match.group(1) == "true" if match else None
    return {"true": True, "false": False}.get(text.strip())


def replay(test: ProtocolTest, host: str, port: int, extra_headers: dict[str, str] | None = None) -> list[str]:
    """Send the test's requests in order; the list of failures (empty when it passes)."""
    failures = []
    for number, ex in enumerate(test.exchanges, 1):
        conn = http.client.HTTPConnection(host, port, timeout=30)
        headers = {**ex.headers, **(extra_headers or {})}
        conn.request(ex.method, ex.path, body=ex.body, headers=headers)
        response = conn.getresponse()
        body = response.read()
        conn.close()
        media_type = (response.getheader("Content-Type") or "").split(";")[0].strip().lower()
        where = f"request {number} ({ex.method} {ex.path[:60]})"
        if response.status // 100 not in ex.status_classes:
            failures.append(f"{where}: status {response.status}, expected {sorted(ex.status_classes)}xx: {body[:200]!r}")
            continue
        if ex.format and media_type not in EXPECTED_FORMATS[ex.format]:
            failures.append(f"{where}: Content-Type {media_type!r} is not a {ex.format} format")
        if ex.boolean is not None and _boolean(body, media_type) != ex.boolean:
            failures.append(f"{where}: expected boolean {ex.boolean}, got {body[:200]!r}")
        for name, value in ex.response_headers.items():
            if name == "accept":
                # The extended suite writes "the response is in one of these types" as an
                # Accept header on the response: check Content-Type against its elements.
                allowed = {v.split(";")[0].strip().lower() for v in value.split(",")}
                if media_type not in allowed:
                    failures.append(f"{where}: Content-Type {media_type!r} not in {sorted(allowed)}")
                continue
            got = (response.getheader(name) or "").split(";")[0].strip().lower()
            if got != value.split(";")[0].strip().lower():
                failures.append(f"{where}: header {name} is {got!r}, expected {value!r}")
    return failures
