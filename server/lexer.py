"""A SPARQL tokenizer and the checks built on it (pyoxigraph exposes no parser or algebra).

It knows strings, IRIs, comments, variables, prefixed names and language tags, so a
keyword is only seen where the SPARQL parser would see one:

>>> network_keywords('SELECT * { ?s ?p "SERVICE" } # LOAD')
[]
>>> network_keywords('select * { service <http://127.0.0.1:9/> { ?s ?p ?o } }')
['SERVICE']
>>> query_form('PREFIX ex: <http://e/> ASK { ex:a ?p ?o }')
'ASK'
"""
from __future__ import annotations

import re
from dataclasses import dataclass

_TOKEN = re.compile(
    r"""
     (?P<ws>\s+)
    |(?P<comment>\#[^\n\r]*)
    |(?P<string>'''(?:[^'\\]|\\.|'(?!''))*'''|\"\"\"(?:[^"\\]|\\.|"(?!""))*\"\"\"|'(?:[^'\\\n\r]|\\.)*'|"(?:[^"\\\n\r]|\\.)*")
    |(?P<iri><[^<>"{}|^`\\\x00-\x20]*>)
    |(?P<var>[?$][\w\u00B7\u0300-\u036F\u203F-\u2040]+)
    |(?P<langtag>@[A-Za-z]+(?:-[A-Za-z0-9]+)*)
    |(?P<bnode>_:[\w.\-\u00B7]*)
    |(?P<pname>(?:[^\W\d_][\w.\-\u00B7]*)?:(?:[\w:%.\-\u00B7]|\\.)*)
    |(?P<word>[^\W\d_]\w*)
    |(?P<number>\d+(?:\.\d*)?(?:[eE][+-]?\d+)?)
    |(?P<punct>\^\^|&&|\|\||!=|<=|>=|.)
    """,
    re.VERBOSE | re.DOTALL,
)
_ESCAPE = re.compile(r"\\u([0-9A-Fa-f]{4})|\\U([0-9A-Fa-f]{8})")
NETWORK_KEYWORDS = ("SERVICE", "LOAD")
QUERY_FORMS = ("SELECT", "CONSTRUCT", "DESCRIBE", "ASK")


@dataclass(frozen=True)
class Token:
    """One lexical token: its kind (``word``, ``iri``, ``string``…), text and offset."""

    kind: str
    text: str
    start: int

    @property
    def keyword(self) -> str:
        """The upper-cased text of a ``word`` token, else ``""``."""
        return self.text.upper() if self.kind == "word" else ""


def tokens(text: str) -> list[Token]:
    """The significant tokens of ``text`` (no whitespace, no comments)."""
    out = []
    for match in _TOKEN.finditer(text):
        kind = match.lastgroup or "punct"
        if kind not in ("ws", "comment"):
            out.append(Token(kind, match.group(), match.start()))
    return out


def _unescaped(text: str) -> str:
    """``text`` with ``\\uXXXX`` / ``\\UXXXXXXXX`` escapes decoded (SPARQL allows them anywhere)."""
    def decode(match: re.Match) -> str:
        try:
            return chr(int(match.group(1) or match.group(2), 16))
        except ValueError:
            return match.group()
    return _ESCAPE.sub(decode, text)


def network_keywords(text: str) -> list[str]:
    """The keywords in ``text`` that would make the engine open a connection (SERVICE, LOAD)."""
    folded = text.upper()
    if "\\" not in text and not any(k in folded for k in NETWORK_KEYWORDS):
        return []  # fast path: no such word anywhere, nothing to tokenize
    found: list[str] = []
    variants = [text, _unescaped(text)] if "\\u" in text or "\\U" in text else [text]
    for variant in variants:
        for token in tokens(variant):
            if token.keyword in NETWORK_KEYWORDS and token.keyword not in found:
                found.append(token.keyword)
    return found


def query_form(text: str) -> str | None:
    """SELECT, CONSTRUCT, DESCRIBE or ASK: the first query-form keyword, or None."""
    return next((t.keyword for t in tokens(text) if t.keyword in QUERY_FORMS), None)


def has_dataset_clause(text: str) -> bool:
    """True if the query names its own dataset (``FROM`` / ``FROM NAMED``)."""
    if "FROM" not in text.upper():
        return False
    return any(t.keyword == "FROM" for t in tokens(text))


def has_using_clause(update: str) -> bool:
    """True if the update names its own dataset (``USING`` or ``WITH``)."""
    return any(t.keyword in ("USING", "WITH") for t in tokens(update))


def add_using(update: str, default_graphs: list[str], named_graphs: list[str]) -> str:
    """``update`` with ``USING <g>`` / ``USING NAMED <g>`` before the WHERE of each DELETE/INSERT operation.

    This is how the protocol's ``using-graph-uri`` / ``using-named-graph-uri`` apply
    (SPARQL 1.1 Protocol §2.2.3). ``DELETE WHERE`` takes no USING and is left alone.

    >>> add_using('INSERT { ?s a 1 } WHERE { ?s ?p ?o }', ['http://g'], [])
    'INSERT { ?s a 1 } USING <http://g> WHERE { ?s ?p ?o }'
    """
    if not default_graphs and not named_graphs:
        return update
    clause = " ".join([f"USING <{g}>" for g in default_graphs] + [f"USING NAMED <{g}>" for g in named_graphs]) + " "
    depth, previous, cuts = 0, "", []
    for token in tokens(update):
        if token.text == "{":
            depth += 1
        elif token.text == "}":
            depth -= 1
        elif token.keyword == "WHERE" and depth == 0 and previous != "DELETE":
            cuts.append(token.start)
        previous = token.keyword or token.text
    for cut in reversed(cuts):
        update = update[:cut] + clause + update[cut:]
    return update
