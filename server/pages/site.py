"""The home page, label search, the Turtle dump, the VoID description and the sitemap."""
from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import urlencode
from xml.sax.saxutils import escape as xml_escape

from flask import Blueprint, Response, current_app, jsonify, render_template, request, send_file
from pyoxigraph import NamedNode

from graph.canned import load_queries
from graph.errors import SourceError
from graph.rdf.vocab import PREFIXES
from server.errors import ApiError
from server.pages.labels import local_path
from server.pages.browse import browse_lists, class_counts, counting, families_by_section, source_revision
from server.pages.resources import (DATA_FORMATS, HTML, STORE_KEY, page_html, current_base, current_store, generation_cache, link_header,
                              negotiate, not_acceptable, page_lang, serialize)
from server.pages.search import search
from server.urls import public_root

bp = Blueprint("pages", __name__)

SITEMAP_QUERY = """
PREFIX foaf: <http://xmlns.com/foaf/0.1/>
SELECT DISTINCT ?s WHERE { ?g foaf:primaryTopic ?s FILTER(isIRI(?s)) } ORDER BY STR(?s)
"""


@bp.app_context_processor
def site_helpers() -> dict:
    """``lang_url(l)``: this page in another language (for the switch in every layout)."""
    def lang_url(lang: str) -> str:
        args = {k: v for k, v in request.args.items() if k != "lang"}
        args["lang"] = lang
        return request.path + "?" + urlencode(args)
    return {"lang_url": lang_url}


@bp.app_template_filter("term_href")
def term_href(iri: str) -> str:
    """Where a property or class links: its entry in /ontology for jllm terms, else the IRI."""
    ns = PREFIXES["jllm"]
    return "/ontology#" + iri[len(ns):] if iri.startswith(ns) else iri


def _queries(lang: str) -> list[dict]:
    """The canned queries for the home page; a broken ``.rq`` file leaves them out (``/queries`` names it)."""
    try:
        queries = load_queries()
    except SourceError as err:
        current_app.logger.error("canned queries not listed on the home page: %s", err)
        return []
    return [{"name": q.name, "title": q.text("title", lang)} for q in queries.values()]


@bp.route("/")
def home() -> Response:
    """What the graph holds, browse lists, search, canned queries and the data downloads."""
    lang = page_lang()
    store, base = current_store(), current_base()
    cache = generation_cache()
    if ("home", lang) not in cache:  # counts and lists are facts of the generation: computed once per language
        mode = counting(store)
        cache[("home", lang)] = {"counts": class_counts(store, base, lang), "sections": families_by_section(store, base, lang, mode),
                                 "lists": browse_lists(store, base, lang, mode), "source": source_revision(store)}
    html = render_template("home.html", lang=lang, **cache[("home", lang)], queries=_queries(lang))
    resp = Response(html, mimetype="text/html")
    resp.headers["Link"] = '</dump.ttl>; rel="alternate"; type="text/turtle", </.well-known/void>; rel="describedby"; type="text/turtle"'
    resp.vary.add("Accept-Language")
    return resp


@bp.route("/search")
@bp.route("/search.<ext>")
def search_page(ext: str | None = None) -> Response:
    """Label search over ja/en/fr labels and alternative names (partial, case-insensitive)."""
    if ext not in (None, "json", "html"):
        raise ApiError(404, "/search answers .html or .json")
    query = request.args.get("q", "")[:200]
    lang = page_lang()
    hits = search(current_store(), query, current_base(), lang) if query.strip() else []
    as_json = ext == "json" or (ext is None and request.accept_mimetypes.best_match(["text/html", "application/json"]) == "application/json")
    if as_json:
        resp = jsonify({"ok": True, "query": query, "count": len(hits),
                        "results": [{"iri": h.iri, "label": h.label, "type": h.type_label, "href": h.href} for h in hits]})
    else:
        json_url = "/search.json?" + urlencode({"q": query, "lang": lang})
        resp = Response(render_template("search.html", lang=lang, query=query, search_query=query, hits=hits,
                                        json_url=json_url), mimetype="text/html")
        resp.headers["Link"] = f'<{json_url}>; rel="alternate"; type="application/json"'
    resp.vary.add("Accept-Language")  # labels in the client's language unless ?lang= says
    if ext is None:
        resp.vary.add("Accept")  # HTML or JSON by Accept
    return resp


@bp.route("/dump.ttl")
def dump() -> Response:
    """The whole graph as Turtle: the file the build wrote next to the generation (graph.store.generations.dump_path),
    sent with ETag and range support; for an older generation without one, computed once (graph/store/export.py)."""
    from graph.store.generations import dump_path
    from server.http.process import FILE_BY_PATH, FILE_HEADER

    current_store()
    generation = current_app.extensions[STORE_KEY]["generation"]
    path = dump_path(Path(generation))
    if os.path.isabs(generation) and path.is_file():  # a remote store's generation has no file
        resp = send_file(path, mimetype="text/turtle", conditional=True, etag=True, max_age=0,
                         download_name="jllm-kg.ttl", as_attachment=True)
        resp.headers["Content-Type"] = "text/turtle; charset=utf-8"
        if resp.status_code == 200 and request.environ.get(FILE_BY_PATH):
            resp.response = []  # the front streams the file from disk (server/http/front.py)
            resp.headers[FILE_HEADER] = str(path)
        return resp
    cache = generation_cache()
    if "dump" not in cache:
        from graph.store.export import serialize_store

        cache["dump"] = serialize_store(current_store(), "ttl")
    resp = Response(cache["dump"], content_type="text/turtle; charset=utf-8")
    resp.headers["Content-Disposition"] = 'attachment; filename="jllm-kg.ttl"'
    return resp


@bp.route("/.well-known/void")
def void() -> Response:
    """The VoID/DCAT description of the dataset (negotiated; HTML shows the dataset's page)."""
    from graph.rdf.void import dataset_iri, void_description

    store = current_store()
    fmt = negotiate((DATA_FORMATS[0], HTML, *DATA_FORMATS[1:]))
    if fmt is None:
        return not_acceptable()
    d = dataset_iri(store)
    if fmt is HTML and d is not None:
        base = current_base()
        path = "/" + d.value[len(base):] if d.value.startswith(base) else "/.well-known/void"
        resp = Response(page_html(d, path), mimetype="text/html")
    else:
        resp = Response(serialize(void_description(store), fmt if fmt is not HTML else DATA_FORMATS[0]),
                        content_type=(fmt if fmt is not HTML else DATA_FORMATS[0]).content_type)
    resp.vary.add("Accept")
    resp.headers["Link"] = link_header("/.well-known/void").replace("/.well-known/void.", "/void.")
    return resp


@bp.route("/sitemap.xml")
def sitemap() -> Response:
    """Every resource page (the primary topic of each named graph), the home page and the ontology."""
    root = public_root()
    base = current_base()
    paths = ["/", "/ontology", "/queries", "/sparql-editor"]
    for row in current_store().query(SITEMAP_QUERY, use_default_graph_as_union=True):
        s = row["s"]
        if isinstance(s, NamedNode) and s.value.startswith(base):
            paths.append(local_path(s.value, base) or "/")
    body = ['<?xml version="1.0" encoding="UTF-8"?>', '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">']
    body += [f"<url><loc>{xml_escape(root + p)}</loc></url>" for p in paths]
    body.append("</urlset>")
    return Response("\n".join(body) + "\n", mimetype="application/xml")

