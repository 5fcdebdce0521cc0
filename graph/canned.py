"""Canned queries: the ``queries/*.rq`` files, their parameters, and running them.

Each file holds one SPARQL SELECT query preceded by a grlc-style YAML header on lines that
start with ``#+ ``::

    #+ title: {en: Descendants of a model, ja: モデルの子孫}
    #+ description: {en: …, ja: …}
    #+ params:
    #+   - {name: model, type: model, default: llama-2, description: {en: …, ja: …}}
    #+ tags: [lineage]

An optional ``#+ limit: N`` header sets the default page size. Every query also takes the paging
parameters ``limit`` and ``offset`` (:data:`PAGE_PARAMS`, not declared in the headers): validated
integers appended to the query as ``LIMIT``/``OFFSET`` after its ``ORDER BY``.

The file stem is the query's name everywhere (CLI, URL). Parameter values are validated,
turned into RDF terms and bound with pyoxigraph ``substitutions=`` (SEP-0007 pre-binding), never
spliced into the query text. Pre-binding requires every parameter variable to be in the
query's top-level projection (and in the projection of any subquery that uses it).
"""
from __future__ import annotations

import functools
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

import yaml
from pyoxigraph import Literal, NamedNode, QuerySolutions, Store, Variable

import queries as queries_package
from graph.errors import SourceError, UserError
from graph.rdf.iris import Iris
from graph.rdf.vocab import JLLM, PROV, VOID, XSD

QUERIES_DIR: Path = queries_package.PATH
HEADER = "#+ "
MAX_VALUE_LENGTH = 300
DECIMAL_MAX_EXPONENT = 18

#: IRI parameter types: the class a value must have in the graph, and how a short id expands.
IRI_TYPES: dict[str, tuple[NamedNode, Callable[[Iris, str], list[NamedNode]]]] = {
    "model": (JLLM.Model, lambda iris, v: [iris.model(v), iris.model(v.lower())]),
    "organisation": (PROV.Agent, lambda iris, v: [iris.organisation(v), iris.organisation(v.lower())]),
    "dataset": (JLLM.Dataset, lambda iris, v: [iris.dataset(v), iris.dataset(v.lower())]),
    "licence": (JLLM.Licence, lambda iris, v: [iris.licence(v, True), iris.licence(v, False)]),
    "architecture": (JLLM.Architecture, lambda iris, v: [iris.architecture(v), iris.architecture(v.lower())]),
}
SCALAR_TYPES = ("string", "integer", "decimal", "enum")
PARAM_TYPES = (*IRI_TYPES, *SCALAR_TYPES)
#: Paging parameters every canned query takes, besides its declared ones.
PAGE_PARAMS = ("limit", "offset")
MAX_LIMIT = 10_000
MAX_OFFSET = 10**9


class UnknownQuery(UserError):
    """No canned query of that name."""


class ParamError(UserError):
    """A parameter value that is missing, malformed or not in the graph; names the parameter."""

    def __init__(self, param: str, message: str) -> None:
        self.param = param
        super().__init__(f"parameter '{param}': {message}")


@dataclass(frozen=True)
class Param:
    """One declared parameter of a canned query."""

    name: str
    type: str
    default: str
    description: Mapping[str, str] = field(default_factory=dict)
    enum: tuple[str, ...] = ()

    @property
    def is_iri(self) -> bool:
        return self.type in IRI_TYPES


@dataclass(frozen=True)
class CannedQuery:
    """A parsed ``.rq`` file: header fields and the SPARQL text (header lines removed)."""

    name: str
    title: Mapping[str, str]
    description: Mapping[str, str]
    params: tuple[Param, ...]
    tags: tuple[str, ...]
    sparql: str
    path: Path
    default_limit: int | None = None
    """The page size when the request gives no ``limit`` (``#+ limit:``); None: every row."""

    def text(self, field_name: str, lang: str = "en") -> str:
        """The title or description in ``lang`` (falling back to en, then ja)."""
        value = getattr(self, field_name)
        return value.get(lang) or value.get("en") or value.get("ja") or ""

    def param(self, name: str) -> Param:
        for p in self.params:
            if p.name == name:
                return p
        raise ParamError(name, f"unknown parameter of query '{self.name}' (known: {', '.join(p.name for p in self.params) or 'none'})")


def _langs(value: object, where: Path, key: str) -> dict[str, str]:
    if isinstance(value, str):
        return {"en": value}
    if isinstance(value, dict) and all(isinstance(v, str) for v in value.values()) and value:
        return {str(k): v.strip() for k, v in value.items()}
    raise SourceError(str(where), 1, f"header '{key}' must be text or a mapping {{en: …, ja: …}}")


def parse_query_file(path: Path) -> CannedQuery:
    """Parse one ``.rq`` file; a malformed header is a :class:`SourceError`.

    >>> q = parse_query_file(QUERIES_DIR / "descendants.rq")
    >>> (q.name, q.params[0].name, q.params[0].default)
    ('descendants', 'model', 'llama-2')
    """
    path = Path(path)
    header, body = [], []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith(HEADER) or line.rstrip() == HEADER.rstrip():
            header.append(line[len(HEADER):])
        else:
            body.append(line)
    try:
        meta = yaml.safe_load("\n".join(header)) or {}
    except yaml.YAMLError as err:
        raise SourceError(str(path), None, f"bad YAML header: {err}") from None
    if not isinstance(meta, dict) or "title" not in meta:
        raise SourceError(str(path), 1, "missing '#+ title:' header")
    params = []
    for raw in meta.get("params") or []:
        if not isinstance(raw, dict) or not raw.get("name") or raw.get("type") not in PARAM_TYPES:
            raise SourceError(str(path), None, f"bad parameter {raw!r}: needs name and type (one of {', '.join(PARAM_TYPES)})")
        if raw.get("default") is None:
            raise SourceError(str(path), None, f"parameter '{raw['name']}' needs a default")
        enum = tuple(str(v) for v in raw.get("enum") or ())
        if raw["type"] == "enum" and str(raw["default"]) not in enum:
            raise SourceError(str(path), None, f"parameter '{raw['name']}': default not among enum values")
        params.append(Param(str(raw["name"]), str(raw["type"]), str(raw["default"]),
                            _langs(raw.get("description") or raw["name"], path, "description"), enum))
    if any(p.name in PAGE_PARAMS for p in params):
        raise SourceError(str(path), None, f"parameter names {', '.join(PAGE_PARAMS)} are reserved for paging")
    default_limit = meta.get("limit")
    if default_limit is not None and (not isinstance(default_limit, int) or not 1 <= default_limit <= MAX_LIMIT):
        raise SourceError(str(path), None, f"header 'limit' must be an integer from 1 to {MAX_LIMIT}")
    return CannedQuery(
        name=path.stem, title=_langs(meta["title"], path, "title"),
        description=_langs(meta.get("description") or meta["title"], path, "description"),
        params=tuple(params), tags=tuple(str(t) for t in meta.get("tags") or ()),
        sparql="\n".join(body).strip() + "\n", path=path, default_limit=default_limit,
    )


def load_queries(directory: Path | None = None) -> dict[str, CannedQuery]:
    """Every canned query of ``directory`` (default: the shipped ``queries/``), by name.

    Files are parsed once and again only when one is added, removed or changed (keyed by the
    names, sizes and modification times of the ``.rq`` files).

    >>> load_queries()["descendants"] is load_queries()["descendants"]
    True
    """
    folder = Path(directory or QUERIES_DIR).resolve()
    files = sorted(folder.glob("*.rq"))
    key = tuple((p.name, st.st_size, st.st_mtime_ns) for p in files for st in (p.stat(),))
    return dict(_parsed(folder, key))


@functools.lru_cache(maxsize=16)
def _parsed(folder: Path, key: tuple[tuple[str, int, int], ...]) -> tuple[tuple[str, CannedQuery], ...]:
    """The parsed files of ``folder`` as they were when ``key`` was taken."""
    return tuple((name.removesuffix(".rq"), parse_query_file(folder / name)) for name, _, _ in key)


def get_query(name: str, directory: Path | None = None) -> CannedQuery:
    """The canned query ``name``; :class:`UnknownQuery` lists the known names."""
    found = load_queries(directory)
    if name not in found:
        raise UnknownQuery(f"no canned query '{name}' (known: {', '.join(found)})")
    return found[name]


# ------------------------------------------------------------------ parameters

Exists = Callable[[NamedNode, NamedNode], bool]
"""``exists(node, cls)``: whether ``node`` has rdf:type ``cls`` in the graph."""


def store_exists(store: Store) -> Exists:
    """An :data:`Exists` check against a local store."""
    def exists(node: NamedNode, cls: NamedNode) -> bool:
        return bool(store.query("ASK { ?x a ?cls }", use_default_graph_as_union=True,
                                substitutions={Variable("x"): node, Variable("cls"): cls}))
    return exists


def _iri_term(param: Param, value: str, exists: Exists, iris: Iris) -> NamedNode:
    cls, expand = IRI_TYPES[param.type]
    if re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*:", value):
        try:
            candidates = [NamedNode(value)]
        except ValueError:
            raise ParamError(param.name, f"not a valid IRI: {value!r}") from None
    elif re.fullmatch(r"[\w.+~-]+", value):
        candidates = expand(iris, value)
    else:
        raise ParamError(param.name, f"expected a {param.type} id (such as {param.default!r}) or a full IRI, got {value!r}")
    for node in candidates:
        if exists(node, cls):
            return node
    raise ParamError(param.name, f"no {param.type} {value!r} in the graph")


def param_term(param: Param, value: str, exists: Exists, iris: Iris) -> NamedNode | Literal:
    """The RDF term for a raw parameter value; :class:`ParamError` when it does not fit the type."""
    if len(value) > MAX_VALUE_LENGTH:
        raise ParamError(param.name, f"value longer than {MAX_VALUE_LENGTH} characters")
    value = value.strip()
    if not value:
        raise ParamError(param.name, "empty value")
    if param.is_iri:
        return _iri_term(param, value, exists, iris)
    if param.type == "integer":
        if not re.fullmatch(r"[+-]?\d{1,18}", value):
            raise ParamError(param.name, f"expected an integer (at most 18 digits), got {value!r}")
        return Literal(str(int(value)), datatype=XSD.integer)
    if param.type == "decimal":
        return Literal(_decimal_lexical(param, value), datatype=XSD.decimal)
    if param.type == "enum" and value not in param.enum:
        raise ParamError(param.name, f"expected one of {', '.join(param.enum)}, got {value!r}")
    return Literal(value)


def _decimal_lexical(param: Param, value: str) -> str:
    """The canonical ``xsd:decimal`` form of a number written plainly or with an exponent (``1e3``)."""
    if not re.fullmatch(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d{1,6})?", value):
        raise ParamError(param.name, f"expected a decimal number, got {value!r}")
    number = Decimal(value)
    if number and number.adjusted() >= DECIMAL_MAX_EXPONENT:
        raise ParamError(param.name, f"{value!r} is out of range (|x| < 1e{DECIMAL_MAX_EXPONENT})")
    if number and number.adjusted() < -DECIMAL_MAX_EXPONENT:
        number = Decimal(0)  # far below any size in the catalog
    lexical = format(number.normalize() if number else Decimal(0), "f")
    return lexical if "." in lexical else lexical + ".0"


def bind_params(query: CannedQuery, values: Mapping[str, str], exists: Exists,
                iris: Iris | None = None) -> dict[Variable, NamedNode | Literal]:
    """Substitutions for ``query``: every declared parameter, from ``values`` or its default.

    IRI values must name an entity of the parameter's type (checked with ``exists``).
    Unknown parameter names are a :class:`ParamError`.
    """
    iris = iris or Iris.default()
    for name in values:
        query.param(name)
    return {Variable(p.name): param_term(p, str(values.get(p.name, p.default)), exists, iris) for p in query.params}


@dataclass(frozen=True)
class Page:
    """Which rows of a canned query's ordered results to return."""

    limit: int | None = None
    offset: int = 0

    def sparql(self, text: str) -> str:
        """``text`` (a SELECT ending with its ``ORDER BY``) with this page's ``LIMIT``/``OFFSET`` appended.

        >>> Page(10, 20).sparql("SELECT ?x WHERE { ?x ?p ?o } ORDER BY ?x\\n")
        'SELECT ?x WHERE { ?x ?p ?o } ORDER BY ?x\\nLIMIT 10 OFFSET 20\\n'
        """
        clause = " ".join(part for part in (f"LIMIT {self.limit}" if self.limit is not None else "",
                                            f"OFFSET {self.offset}" if self.offset else "") if part)
        return text if not clause else text.rstrip("\n") + "\n" + clause + "\n"


def _page_number(name: str, value: str, low: int, high: int) -> int:
    value = value.strip()
    if not re.fullmatch(r"\d{1,10}", value) or not low <= int(value) <= high:
        raise ParamError(name, f"expected an integer from {low} to {high:,}, got {value!r}")
    return int(value)


def split_page(query: CannedQuery, values: Mapping[str, str]) -> tuple[dict[str, str], Page]:
    """The query's own parameter values, and the page that ``limit``/``offset`` ask for.

    >>> split_page(get_query("descendants"), {"model": "llama-2", "limit": "5", "offset": "10"})
    ({'model': 'llama-2'}, Page(limit=5, offset=10))
    """
    rest = {k: v for k, v in values.items() if k not in PAGE_PARAMS}
    limit = query.default_limit
    if "limit" in values:
        limit = _page_number("limit", str(values["limit"]), 1, MAX_LIMIT)
    offset = _page_number("offset", str(values["offset"]), 0, MAX_OFFSET) if "offset" in values else 0
    return rest, Page(limit, offset)


def store_iris(store: Store) -> Iris:
    """The IRI scheme the store was built with (its VoID ``void:uriSpace``), else the default."""
    for quad in store.quads_for_pattern(None, VOID.uriSpace, None, None):
        if isinstance(quad.object, Literal) and quad.object.value:
            return Iris.default(quad.object.value)
    return Iris.default()


def run_query(store: Store, query: CannedQuery, values: Mapping[str, str],
              iris: Iris | None = None) -> QuerySolutions:
    """Validate and bind ``values`` (``limit``/``offset`` page the rows), then run ``query`` over the union of the store's graphs."""
    values, page = split_page(query, values)
    bindings = bind_params(query, values, store_exists(store), iris or store_iris(store))
    return store.query(page.sparql(query.sparql), use_default_graph_as_union=True, substitutions=bindings)
