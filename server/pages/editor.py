"""``/sparql-editor``: YASGUI configured for our endpoint only, or a plain form when its assets are missing.

YASGUI (``@zazuko/yasgui``) is installed at set-up by ``npm ci`` from the committed
``package.json`` + ``package-lock.json``; its built files are served from
``node_modules/@zazuko/yasgui/build/`` through an allow-list of file names (a URL never names a
file). It talks to ``/sparql`` only: no endpoint catalogue, no Linked Open Vocabularies or prefix.cc
look-ups (only the prefix list bundled in YASGUI and ours).
"""
from __future__ import annotations

import json
from pathlib import Path

from flask import Blueprint, Response, current_app, render_template, request, send_file, url_for
from markupsafe import Markup

from graph.canned import load_queries
from graph.errors import SourceError
from graph.rdf.vocab import PREFIXES
from server.errors import ApiError
from server.pages.resources import page_lang

bp = Blueprint("sparql_editor", __name__)

PROJECT_ROOT = Path(__file__).resolve().parents[2]
YASGUI_FILES = {
    "yasgui.min.js": "text/javascript",
    "yasgui.min.css": "text/css",
    "yasgui.min.js.map": "application/json",
}
"""The only files served from the YASGUI build directory."""
DEFAULT_QUERY = """SELECT ?model ?label WHERE {
  ?model a jllm:ModelFamily ; rdfs:label ?label .
  FILTER(LANG(?label) = "en")
} ORDER BY ?label LIMIT 20
"""


def yasgui_dir() -> Path:
    """Where the YASGUI build lives (``YASGUI_DIR`` in the app config overrides it)."""
    return Path(current_app.config.get("YASGUI_DIR") or PROJECT_ROOT / "node_modules" / "@zazuko" / "yasgui" / "build")


def yasgui_installed() -> bool:
    """Whether the YASGUI build files are there."""
    d = yasgui_dir()
    return all((d / name).is_file() for name in ("yasgui.min.js", "yasgui.min.css"))


def prefix_block() -> str:
    """``PREFIX`` lines for every vocabulary the graph uses."""
    return "".join(f"PREFIX {p}: <{ns}>\n" for p, ns in PREFIXES.items() if p != "sh")


def examples(lang: str) -> list[dict]:
    """The canned queries (queries/*.rq) as example tabs, with their default parameter values
    written in (a VALUES-free form: the editor runs plain SPARQL)."""
    try:
        queries = load_queries()
    except SourceError as err:  # a broken query header must not take the editor down; /queries names it
        current_app.logger.error("canned queries not offered as examples: %s", err)
        return []
    return [{"name": q.name, "title": q.text("title", lang), "query": q.sparql} for q in queries.values()]


@bp.route("/sparql-editor")
def editor() -> Response:
    """The editor page, prefilled with our prefixes, ``?query=`` and the canned queries as tabs."""
    lang = page_lang()
    query = request.args.get("query") or prefix_block() + "\n" + DEFAULT_QUERY
    endpoint = "/sparql"
    yasgui = None
    if yasgui_installed():
        yasgui = {"js": url_for("sparql_editor.vendor", name="yasgui.min.js"),
                  "css": url_for("sparql_editor.vendor", name="yasgui.min.css")}
    config = {"endpoint": endpoint, "query": query, "prefixes": {p: ns for p, ns in PREFIXES.items() if p != "sh"},
              "examples": examples(lang), "explicitQuery": "query" in request.args}
    data = json.dumps(config, ensure_ascii=False).replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    config_json = Markup(f'<script type="application/json" id="editor-config">{data}</script>')
    html = render_template("sparql_editor.html", lang=lang, endpoint=endpoint, query=query, yasgui=yasgui,
                           examples=config["examples"], config_json=config_json)
    return Response(html, mimetype="text/html")


@bp.route("/static/vendor/yasgui/<name>")
def vendor(name: str) -> Response:
    """One allow-listed YASGUI build file (404 for any other name or when not installed)."""
    if name not in YASGUI_FILES:
        raise ApiError(404, f"no editor asset {name!r} (served: {', '.join(YASGUI_FILES)})")
    path = yasgui_dir() / name
    if not path.is_file():
        raise ApiError(404, "the SPARQL editor assets are not installed (run `npm ci`)")
    return send_file(path, mimetype=YASGUI_FILES[name], max_age=86400)
