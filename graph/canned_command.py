"""``jllm-kg query``: listing the canned queries and running one from the command line, printed as an
aligned table, SPARQL JSON or CSV."""
from __future__ import annotations

import unicodedata
from collections.abc import Callable, Iterable
from pathlib import Path

from pyoxigraph import Literal, NamedNode, QuerySolutions

from graph.canned import get_query, load_queries, run_query, store_iris
from graph.errors import UserError
from graph.formats import by_name
from graph.rdf.iris import Iris

CLI_FORMATS = ("table", "json", "csv")


def parse_cli_params(pairs: Iterable[str]) -> dict[str, str]:
    """``["model=llama-2", …]`` → ``{"model": "llama-2"}``; a pair without ``=`` is a UserError."""
    out: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise UserError(f"--param expects NAME=VALUE, got {pair!r}")
        out[key.strip()] = value
    return out


# ------------------------------------------------------------------ running

def term_text(term: object, iris: Iris | None = None) -> str:
    """A readable cell: literals by value, resource IRIs under the base as ``model/x``."""
    if term is None:
        return ""
    if isinstance(term, NamedNode):
        base = (iris or Iris.default()).base
        return term.value[len(base):] if term.value.startswith(base) else term.value
    return str(getattr(term, "value", term))


def table_rows(solutions: QuerySolutions, hidden: Iterable[str] = ()) -> tuple[list[str], list[list[object]]]:
    """Column names (minus ``hidden``) and rows of terms (None for unbound)."""
    names = [v.value for v in solutions.variables if v.value not in set(hidden)]
    rows = [[sol[name] for name in names] for sol in solutions]
    return names, rows


def render_table(columns: list[str], rows: list[list[object]], iris: Iris | None = None, width: int = 60) -> str:
    """An aligned plain-text table; long cells are cut with an ellipsis."""
    cells = [[_cut(term_text(t, iris), width) for t in row] for row in rows]
    widths = [max([len(c)] + [_width(r[i]) for r in cells]) for i, c in enumerate(columns)]
    line = lambda values: "  ".join(_pad(v, w) for v, w in zip(values, widths)).rstrip()  # noqa: E731
    out = [line(columns), line(["-" * w for w in widths])]
    out.extend(line(r) for r in cells)
    out.append(f"({len(rows)} row{'s' if len(rows) != 1 else ''})")
    return "\n".join(out)


def _width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _pad(text: str, width: int) -> str:
    return text + " " * (width - _width(text))


def _cut(text: str, width: int) -> str:
    text = " ".join(text.split())
    return text if _width(text) <= width else text[: width - 1] + "…"


def serialize(solutions: QuerySolutions, fmt: str) -> bytes:
    """SPARQL results as ``json`` or ``csv`` (``tsv``, ``xml``) with pyoxigraph's serializer."""
    return solutions.serialize(format=by_name(fmt).oxigraph)


def query_command(name: str | None, params: Iterable[str], fmt: str, store_path: Path,
                  echo: Callable[[str], None] = print) -> None:
    """``jllm-kg query [NAME]``: list the canned queries, or run one and print the result."""
    if fmt not in CLI_FORMATS:
        raise UserError(f"--format must be one of {', '.join(CLI_FORMATS)}, got {fmt!r}")
    if not name:
        if params:
            raise UserError("--param needs a query NAME")
        rows = [[Literal(q.name), Literal(q.text("title")),
                 Literal(" ".join(f"{p.name}={p.default}" for p in q.params))] for q in load_queries().values()]
        echo(render_table(["name", "title", "params (defaults)"], rows, width=70))
        return
    from graph.store.backend import open_reader

    query = get_query(name)
    values = parse_cli_params(params)
    store = open_reader(store_path)
    iris = store_iris(store)
    solutions = run_query(store, query, values, iris)
    if fmt == "table":
        echo(render_table(*table_rows(solutions, hidden=[p.name for p in query.params]), iris=iris))
    else:
        echo(serialize(solutions, fmt).decode("utf-8").rstrip("\n"))
