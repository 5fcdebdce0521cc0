"""Dereferenceable IRIs: every path under the base answers with a page or a data document.

Strategy (one, everywhere): **direct content with ``Vary: Accept``** — ``/model/swallow-7b``
answers ``text/html`` with the page and ``text/turtle``, ``application/ld+json``,
``application/n-triples``, ``application/rdf+xml`` with the data document (``*/*`` → Turtle),
and says where the format-specific twin lives (``Content-Location``). The twins
(``/model/swallow-7b.ttl``, ``.jsonld``, ``.nt``, ``.rdf``, ``.html``) answer one format
whatever the ``Accept``. Unsupported types get 406, unknown IRIs 404. A path is only ever
turned into an IRI and looked up in the store: it never reaches the filesystem.
"""
from __future__ import annotations

from urllib.parse import quote

import pyoxigraph as ox
from flask import Blueprint, Response, current_app, render_template, request
from pyoxigraph import NamedNode, Store

from graph.settings import base_iri
from graph.store.client import StoreUnavailable
from graph.store.remote import NoGraph
from graph.rdf.vocab import OWL, PREFIXES, TYPE
from server.errors import ApiError
from server.urls import public_url
from server.pages.describe import Describer, dataset_base, description, exists
from server.pages.labels import LANGS
from graph import formats
from server import errors
from server.sparql import negotiation
from server.pages.lineage import lineage, picture
from server.pages.lineage_svg import render_svg
from server.pages.search import search

bp = Blueprint("resources", __name__)


HTML = formats.HTML
PageFormat = formats.Format  # the page and the data formats come from the one table
#: The data formats of a resource, Turtle first (what ``*/*`` gets), from the one format table.
DATA_FORMATS = tuple(formats.by_name(name) for name in ("ttl", "jsonld", "nt", "rdf"))


def by_extension(ext: str) -> formats.Format | PageFormat | None:
    """The format of a twin extension (``ttl``), or None."""
    return next((f for f in (HTML, *DATA_FORMATS) if f.extension == ext), None)

STORE_KEY = "jllm_kg_pages"


def current_store() -> Store:
    """The store the app serves, reopened when a build has swapped in a new generation."""
    state = current_app.extensions.setdefault(STORE_KEY, {})
    handle = current_app.extensions["jllm"]["store"]
    try:
        generation = handle.target()  # the generation directory, or a remote store's generation id
    except StoreUnavailable as err:
        raise ApiError(503 if isinstance(err, NoGraph) else 502, str(err)) from None
    if state.get("generation") != generation:
        state.clear()
        try:  # the process's one handle (read-write in update mode), shared with the SPARQL views
            state["store"] = handle.store()
        except StoreUnavailable as err:
            raise ApiError(503 if isinstance(err, NoGraph) else 502, str(err)) from None
        except OSError as err:
            raise ApiError(503, f"cannot open the store: {err}") from None
        state["generation"] = generation
        state["base"] = dataset_base(state["store"], current_app.config.get("BASE_IRI") or base_iri())
    return state["store"]


def current_base() -> str:
    """The IRI base of the served store (what ``/model/x`` maps to)."""
    current_store()
    return current_app.extensions[STORE_KEY]["base"]


def generation_cache() -> dict:
    """A dict that lives as long as the current store generation (for the dump, say)."""
    current_store()
    return current_app.extensions[STORE_KEY].setdefault("cache", {})


def page_lang() -> str:
    """``?lang=`` if one of ja/en/fr, else the best of ``Accept-Language``, else English."""
    lang = request.args.get("lang", "")
    if lang in LANGS:
        return lang
    return request.accept_languages.best_match(LANGS, default="en") or "en"


def negotiate(offers: tuple) -> formats.Format | PageFormat | None:
    """The offer the client's ``Accept`` prefers (``*/*`` → the first offer), or None (→ 406)."""
    return negotiation.best(request.headers.get("Accept"), offers)


def resolve(path: str) -> tuple[NamedNode, formats.Format | PageFormat | None] | None:
    """The resource a request path names, with the format a twin extension fixes (or None).

    The path is looked up as given, then with a known extension removed (``.ttl`` → Turtle).
    """
    store, base = current_store(), current_base()
    for candidate, fmt in _candidates(path):
        try:
            iri = NamedNode(base + candidate)
        except ValueError:
            continue
        if exists(store, iri):
            return iri, fmt
    return None


def _candidates(path: str):
    yield path, None
    yield _encode(path), None
    stem, dot, ext = path.rpartition(".")
    if dot and stem and (fmt := by_extension(ext)) is not None:
        yield stem, fmt
        yield _encode(stem), fmt


def _encode(path: str) -> str:
    # The IRI scheme keeps non-ASCII as is and percent-encodes other ASCII (graph/rdf/iris.py).
    return "".join(ch if ord(ch) > 127 or ch.isalnum() or ch in "-._~/" else quote(ch) for ch in path)


def twin_paths(path: str) -> dict[str, str]:
    """Extension → path of each twin of the resource at ``path``."""
    return {f.extension: f"{path}.{f.extension}" for f in [HTML, *DATA_FORMATS]}


def link_header(path: str) -> str:
    """The HTTP ``Link`` header advertising the data twins of ``path``."""
    return ", ".join(f'<{quote(path + "." + f.extension, safe="/%:@!$&()*+,;=-._~")}>; rel="alternate"; type="{f.media_type}"'
                     for f in DATA_FORMATS)


def serialize(triples, fmt: formats.Format) -> bytes:
    """Triples in a data format, by pyoxigraph (prefixes in Turtle and RDF/XML)."""
    prefixes = PREFIXES if fmt.oxigraph in (ox.RdfFormat.TURTLE, ox.RdfFormat.RDF_XML) else None
    return ox.serialize(list(triples), format=fmt.oxigraph, prefixes=prefixes)


def respond(iri: NamedNode, path: str, fixed: formats.Format | PageFormat | None, html, data) -> Response:
    """Answer for a resource: the fixed twin format, or by ``Accept`` (406 if none fits).

    ``html()`` renders the page; ``data()`` gives the triples of the data document.
    """
    fmt = fixed or negotiate((DATA_FORMATS[0], HTML, *DATA_FORMATS[1:]))
    if fmt is None:
        return not_acceptable()
    if fmt is HTML:
        resp = Response(html(), mimetype="text/html")
    else:
        resp = Response(serialize(data(), fmt), content_type=fmt.content_type)
    resp.headers["Link"] = link_header(path)
    if fixed is None:
        resp.vary.add("Accept")
        resp.headers["Content-Location"] = quote(f"{path}.{fmt.extension}", safe="/%:@!$&()*+,;=-._~")
    if fmt is HTML:
        resp.vary.add("Accept-Language")
    return resp


def not_acceptable() -> Response:
    """406 with the list of what is offered."""
    offered = ", ".join([HTML.media_type, *(f.media_type for f in DATA_FORMATS)])
    return errors.error_response(406, f"not acceptable: this resource is available as {offered}")


def not_found(path: str) -> Response:
    """404: a helpful page (search box, suggestions by label) for browsers, a short text otherwise."""
    wants_html = request.accept_mimetypes.best_match(["text/plain", "text/html"]) == "text/html" \
        and request.accept_mimetypes["text/html"] >= request.accept_mimetypes["text/turtle"]
    if not wants_html:
        return errors.error_response(404, f"no resource /{path} in this graph: search labels at /search?q=…")
    lang = page_lang()
    words = path.rstrip("/").rsplit("/", 1)[-1].rsplit(".", 1)[0].replace("-", " ").replace("_", " ")
    suggestions = search(current_store(), words, current_base(), lang, limit=12) if words.strip() else []
    if not suggestions:
        first = words.split(" ")[0] if words.strip() else ""
        suggestions = search(current_store(), first, current_base(), lang, limit=12) if len(first) >= 3 else []
    html = render_template("not_found.html", path="/" + path, query=words, suggestions=suggestions, lang=lang)
    return Response(html, status=404, mimetype="text/html")


def page_html(iri: NamedNode, path: str) -> str:
    """The HTML page of a resource (with its lineage picture for models)."""
    lang = page_lang()
    store, base = current_store(), current_base()
    page = Describer(store, base, lang).page(iri)
    svg = None
    if page.is_model:
        graph = lineage(store, iri, base, lang)
        if graph.edges:
            svg = render_svg(picture(graph, base, lang))
    return render_template("resource.html", page=page, lang=lang, lineage_svg=svg, path=path,
                           twins=twin_paths(path), formats=DATA_FORMATS)


def ontology_triples(store: Store) -> list[ox.Triple]:
    """Every triple of the ontology's named graph (the one holding the ``owl:Ontology``)."""
    for q in store.quads_for_pattern(None, TYPE, OWL.Ontology, None):
        return sorted({x.triple for x in store.quads_for_pattern(None, None, None, q.graph_name)}, key=str)
    return []


@bp.route("/ontology")
@bp.route("/ontology.<ext>")
def ontology(ext: str | None = None) -> Response:
    """The ontology: HTML documentation generated from it, or the ontology itself as data."""
    fixed = None
    if ext is not None:
        fixed = by_extension(ext)
        if fixed is None:
            return not_found("ontology." + ext)
    store, base = current_store(), current_base()
    from server.pages.ontology_doc import ontology_page

    def html() -> str:
        lang = page_lang()
        return render_template("ontology.html", doc=ontology_page(store, base, lang), lang=lang,
                               twins=twin_paths("/ontology"), formats=DATA_FORMATS, path="/ontology")
    return respond(NamedNode(base + "ontology"), "/ontology", fixed, html, lambda: ontology_triples(store))


@bp.route("/context.jsonld")
def jsonld_context() -> Response:
    """The JSON-LD context of the ontology's terms (``ontology/context.jsonld``), for compacting our JSON-LD."""
    from ontology import PATH

    return Response((PATH / "context.jsonld").read_bytes(), content_type="application/ld+json")


@bp.route("/describe")
def describe_outside() -> Response:
    """Pages for IRIs outside the base that the graph describes (SPDX licences): ``?iri=``."""
    value = request.args.get("iri", "")
    fmt = by_extension(request.args.get("format", "")) if request.args.get("format") else None
    try:
        iri = NamedNode(value)
    except ValueError:
        return errors.error_response(400, "parameter 'iri' must be an absolute IRI")
    if not exists(current_store(), iri):
        return not_found("describe")
    path = "/describe?iri=" + quote(value, safe="")
    resp = respond(iri, path, fmt, lambda: page_html(iri, path), lambda: description(current_store(), iri))
    resp.headers["Link"] = ", ".join(f'<{path}&format={f.extension}>; rel="alternate"; type="{f.media_type}"' for f in DATA_FORMATS)
    resp.headers.pop("Content-Location", None)
    return resp


def _sparql_url(query: str) -> str:
    """The endpoint's URL answering ``query`` (GET, SPARQL 1.1 Protocol)."""
    return public_url("/sparql") + "?query=" + quote(query, safe="")


@bp.route("/<path:path>")
def resource(path: str) -> Response:
    """Any other path: the resource ``<base><path>`` (or its twin), else 404."""
    found = resolve(path)
    if found is None:
        return not_found(path)
    iri, fixed = found
    base = current_base()
    page_path = "/" + quote(iri.value[len(base):], safe="/%:@!$&'()*+,;=-._~")
    return respond(iri, page_path, fixed, lambda: page_html(iri, page_path),
                   lambda: description(current_store(), iri, base, _sparql_url))

