"""HTTP views of the canned queries: ``/queries``, ``/queries/NAME[.html|.json|.csv]``, ``/openapi.json``.

Thin views: parse the request, pick the format (extension, else ``Accept``), call
:func:`graph.canned.run_query`, and let pyoxigraph serialize JSON and CSV.
"""
from __future__ import annotations

import json
from urllib.parse import quote, urlencode

from flask import Blueprint, Response, abort, jsonify, render_template, request
from pyoxigraph import NamedNode, Variable

from graph.canned import MAX_LIMIT, CannedQuery, ParamError, UnknownQuery, bind_params, get_query, load_queries, split_page
from graph.errors import SourceError
from graph.rdf.iris import Iris
from server.sparql import execution
from server.errors import ApiError, error_response
from graph.formats import by_name
from server.sparql.negotiation import best
from server.pages.openapi import openapi_document
from server.urls import public_root

bp = Blueprint("canned", __name__)


@bp.errorhandler(SourceError)
def _broken_query_file(err: SourceError) -> Response:
    """A malformed ``.rq`` file is the server's fault: say which file and line, in the one error shape."""
    return error_response(500, f"broken canned query: {err}")

#: Output formats of a canned query, from the one format table (JSON first: what ``*/*`` gets).
OFFERED = (by_name("json"), by_name("html"), by_name("csv"))
EXTENSIONS = tuple(f.extension if f.name != "json" else "json" for f in OFFERED)


def _base() -> str:
    from server.pages.resources import current_base

    return current_base()


def _lang() -> str:
    lang = request.args.get("lang", "")
    return lang if lang in ("ja", "en", "fr") else "en"


def _negotiate(ext: str | None) -> str:
    if ext is not None:
        if ext not in EXTENSIONS:
            abort(404)
        return ext
    chosen = best(request.headers.get("Accept"), OFFERED)
    if chosen is None:
        raise ApiError(406, f"canned query results are offered as {', '.join(f.media_type for f in OFFERED)}")
    return chosen.name


def _split(name: str) -> tuple[str, str | None]:
    stem, dot, ext = name.rpartition(".")
    return (stem, ext) if dot else (name, None)


def _exists(node: NamedNode, cls: NamedNode) -> bool:
    """Whether ``node`` is a ``cls``, asked through the query workers (same limits as every query)."""
    outcome = execution.run_query("ASK { ?x a ?cls }", results_format="json",
                                  substitutions={Variable("x"): node, Variable("cls"): cls})
    if outcome.status != 200:
        raise ApiError(outcome.status, outcome.error or "query failed")
    return bool(json.loads(outcome.body)["boolean"])


def _run(query: CannedQuery, values: dict[str, str], fmt: str) -> bytes:
    """Bind ``values`` and run ``query`` in a worker (``limit``/``offset`` page it); the body serialized by pyoxigraph as ``fmt``."""
    values, page = split_page(query, values)
    bindings = bind_params(query, values, _exists, Iris.default(_base()))
    outcome = execution.run_query(page.sparql(query.sparql), results_format=fmt, substitutions=bindings)
    if outcome.status != 200:
        raise ApiError(outcome.status, outcome.error or "query failed")
    return outcome.body


def href(iri: str, base: str) -> str:
    """Where a result IRI links to: its page here when it lies under the base, else the IRI."""
    if iri.startswith(base):
        return "/" + quote(iri[len(base):], safe="/-._~!$&'()*+,;=:@%")
    return iri


def query_summary(query: CannedQuery) -> dict:
    """The JSON description of one canned query (its list entry)."""
    return {
        "name": query.name, "title": dict(query.title), "description": dict(query.description),
        "tags": list(query.tags), "url": f"/queries/{query.name}",
        "params": [{"name": p.name, "type": p.type, "default": p.default, **({"enum": list(p.enum)} if p.enum else {}),
                    "description": dict(p.description)} for p in query.params],
        "paging": {"limit": query.default_limit, "max_limit": MAX_LIMIT, "offset": 0},
    }


@bp.get("/queries")
@bp.get("/queries.<ext>")
def query_list(ext: str | None = None) -> Response | str:
    """All canned queries, as HTML or JSON."""
    fmt = _negotiate(ext) if ext != "json" else "json"
    queries = load_queries()
    if fmt == "html":
        page = Response(render_template("queries.html", lang=_lang(), queries=queries.values()))
        page.headers["Link"] = '</queries.json>; rel="alternate"; type="application/json", </openapi.json>; rel="service-desc"; type="application/json"'
        page.vary.add("Accept")
        return page
    if fmt != "json":
        abort(404)
    return jsonify({"queries": [query_summary(q) for q in queries.values()]})


@bp.get("/queries/<name>")
def query_view(name: str) -> Response | tuple[str, int]:
    """Run a canned query with query-string parameters; HTML table, SPARQL JSON or CSV."""
    stem, ext = _split(name)
    try:
        query = get_query(stem)
    except UnknownQuery as err:
        if ext in ("json", "csv"):
            raise ApiError(404, str(err)) from None
        return render_template("queries.html", lang=_lang(), queries=load_queries().values(),
                               error=str(err)), 404
    fmt = _negotiate(ext)
    values = {key: request.args[key] for key in request.args if key != "lang"}
    error, status, table = None, 200, {"columns": [], "rows": []}
    try:
        body = _run(query, values, "json" if fmt == "html" else fmt)
    except ParamError as err:
        if fmt != "html":
            raise ApiError(400, str(err)) from None
        error, status = str(err), 400
    else:
        if fmt != "html":
            return Response(body, content_type=by_name(fmt).content_type)
        table = _html_table(json.loads(body), [p.name for p in query.params], _base())
    def data_url(ext: str) -> str:
        return f"/queries/{query.name}.{ext}" + (("?" + urlencode(values)) if values else "")

    page = Response(render_template(
        "query.html", lang=_lang(), query=query, values=values, error=error, **table,
        editor_url="/sparql-editor?" + urlencode({"query": query.sparql}), data_url=data_url,
    ), status=status)
    page.headers["Link"] = ", ".join(
        f'<{data_url(ext)}>; rel="alternate"; type="{by_name(ext).media_type}"' for ext in ("json", "csv"))
    page.vary.add("Accept")
    return page


def _html_table(results: dict, hidden: list[str], base: str) -> dict:
    """Columns and cells from SPARQL JSON results: an ``xLabel`` column becomes the text of the ``x`` link."""
    columns = [c for c in results["head"]["vars"] if c not in hidden]
    shown = [c for c in columns if not (c.endswith("Label") and c[: -len("Label")] in columns)]
    rows = []
    for binding in results["results"]["bindings"]:
        line = []
        for name in shown:
            term, label = binding.get(name), binding.get(name + "Label")
            iri = term["value"] if term and term["type"] == "uri" else None
            text = label["value"] if label else (term["value"] if term else "")
            line.append({"text": text, "href": href(iri, base) if iri else None, "iri": iri})
        rows.append(line)
    return {"columns": shown, "rows": rows}


@bp.get("/openapi.json")
def openapi() -> Response:
    """The OpenAPI 3 document of the canned-query API."""
    return jsonify(openapi_document(load_queries(), server_url=public_root()))
