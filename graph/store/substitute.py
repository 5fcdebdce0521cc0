"""Pre-bound variables for a store that has no ``substitutions=``: a ``VALUES`` block at the top of the WHERE group.

pyoxigraph binds canned-query parameters with ``substitutions=`` (never by splicing text). The
SPARQL 1.1 Protocol has no such parameter, so for a remote store the same bindings become an
inline ``VALUES`` block placed first in the query's outermost group: the pattern is joined with
it before any ``FILTER`` of the group is applied, which is what pre-binding means. Terms are
written in N-Triples syntax by pyoxigraph (quotes and backslashes escaped), never pasted raw.

>>> from pyoxigraph import Literal, NamedNode, Variable
>>> with_values('SELECT ?m WHERE { ?m ?p ?o }', {Variable("m"): NamedNode("http://e/a")})
'SELECT ?m WHERE { VALUES (?m) { (<http://e/a>) } ?m ?p ?o }'
>>> with_values('CONSTRUCT { ?s ?p "{" } WHERE { ?s ?p ?o }', {Variable("s"): Literal('a"b')})
'CONSTRUCT { ?s ?p "{" } WHERE { VALUES (?s) { ("a\\\\"b") } ?s ?p ?o }'
"""
from __future__ import annotations

import re
from collections.abc import Mapping

from graph.errors import UserError

_TOKEN = re.compile(r"""
     (?P<string>'''(?:[^'\\]|\\.|'(?!''))*+(?:''')?|\"\"\"(?:[^"\\]|\\.|"(?!""))*+(?:\"\"\")?
                |'(?:[^'\\\n\r]|\\.)*+'?|"(?:[^"\\\n\r]|\\.)*+"?)
    |(?P<iri><[^<>"{}|^`\\\x00-\x20]*>)
    |(?P<comment>\#[^\n\r]*)
    |(?P<var>[?$]\w+)
    |(?P<word>[A-Za-z_][\w-]*(?::[\w.\-]*)?)
    |(?P<brace>[{}])
    |(?P<other>.)
""", re.VERBOSE | re.DOTALL)


def where_group(text: str) -> int:
    """The offset just after the ``{`` that opens the query's outermost WHERE group.

    >>> where_group('ASK { ?s ?p ?o }')
    5
    >>> where_group('CONSTRUCT { ?s ?p ?o } WHERE { ?s ?p ?o }')
    30
    """
    depth, after_where, form = 0, False, None
    for match in _TOKEN.finditer(text):
        kind, value = match.lastgroup, match.group()
        if kind == "word" and depth == 0:
            upper = value.upper()
            if upper in ("SELECT", "CONSTRUCT", "DESCRIBE", "ASK") and form is None:
                form = upper
            elif upper == "WHERE":
                after_where = True
        elif kind == "brace":
            if value == "{":
                if depth == 0 and (after_where or (form is not None and form != "CONSTRUCT")):
                    return match.end()
                depth += 1
            else:
                depth -= 1
    raise UserError("cannot bind parameters: the query has no WHERE group")


def with_values(text: str, substitutions: Mapping) -> str:
    """``text`` with ``substitutions`` (variable → term) as a ``VALUES`` block opening its WHERE group."""
    if not substitutions:
        return text
    names = " ".join(f"?{getattr(v, 'value', v)}" for v in substitutions)
    terms = " ".join(str(t) for t in substitutions.values())
    at = where_group(text)
    return f"{text[:at]} VALUES ({names}) {{ ({terms}) }}{text[at:]}"
