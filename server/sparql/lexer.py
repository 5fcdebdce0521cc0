"""A linear-time SPARQL tokenizer and the checks built on it (pyoxigraph exposes no parser or algebra).

It knows strings, IRIs, comments, variables, prefixed names and language tags. Every pattern
consumes what it starts (an unterminated string runs to the end of its line, or of the
text for a long string, as one token), so tokenizing is linear in the length of the text, whatever it holds.

The network guard fails closed: any word or prefixed name that *begins* with ``SERVICE`` or
``LOAD`` (any case, after ``\\u`` unescaping) is refused. The engine reads ``<`` as an IRI or as
"less than" by context, which a tokenizer cannot know, so the text is scanned under both
readings and a keyword seen in either is refused. The guard only gives a clear 403: the query
processes cannot open network connections at all (:mod:`server.http.sandbox`).

>>> network_keywords('SELECT * { ?s ?p "SERVICE" } # LOAD')
[]
>>> network_keywords('select * { service <http://127.0.0.1:9/> { ?s ?p ?o } }')
['SERVICE']
>>> network_keywords('PREFIX : <http://127.0.0.1:9/> SELECT * { SERVICE:e { ?s ?p ?o } }')
['SERVICE']
>>> query_form('PREFIX ex: <http://e/> ASK { ex:a ?p ?o }')
'ASK'
>>> check_shape('SELECT * WHERE ' + '{' * 300 + '}' * 300)
Traceback (most recent call last):
...
server.sparql.lexer.QueryShapeError: the query nests 300 levels deep; this endpoint accepts at most 128
"""
from __future__ import annotations

import re
from dataclasses import dataclass

#: Limits checked before the engine parses a query (documented in docs/server.md).
MAX_DEPTH = 128
MAX_UNIONS = 1000

_STRING = (r"'''(?:[^'\\]|\\.|'(?!''))*+(?:''')?"  # possessive, closing quote optional: never backtracks
           r'|"""(?:[^"\\]|\\.|"(?!""))*+(?:""")?'
           r"|'(?:[^'\\\n\r]|\\.)*+'?"
           r'|"(?:[^"\\\n\r]|\\.)*+"?')
_IRI = r"<[^<>\"{}|^`\\\x00-\x20]*>"
_REST = r"""
    |(?P<var>[?$][\w\u00B7\u0300-\u036F\u203F-\u2040]+)
    |(?P<langtag>@[A-Za-z]+(?:-[A-Za-z0-9]+)*)
    |(?P<bnode>_:[\w.\-\u00B7]*)
    |(?P<pname>(?:[^\W\d_][\w.\-\u00B7]*)?:(?:[\w:%.\-\u00B7]|\\.)*)
    |(?P<word>[^\W\d_]\w*)
    |(?P<number>\d+(?:\.\d*)?(?:[eE][+-]?\d+)?)
    |(?P<punct>\^\^|&&|\|\||!=|<=|>=|.)
"""
_HEAD = r"""
     (?P<ws>\s+)
    |(?P<comment>\#[^\n\r]*)
    |(?P<string>""" + _STRING + r""")
"""
#: Reading A: ``<…>`` is an IRI wherever it can be one.
_TOKEN = re.compile(_HEAD + r"|(?P<iri>" + _IRI + r")" + _REST, re.VERBOSE | re.DOTALL)
#: Reading B: ``<…#…>`` is "less than", then a comment from ``#`` to the end of the line.
_TOKEN_LT = re.compile(_HEAD + r"|(?P<iri>" + _IRI.replace(r"\x00-\x20", r"\x00-\x20#") + r")"
                       r"|(?P<lt><[^<>\"{}|^`\\\x00-\x20#]*(?=\#))" + _REST, re.VERBOSE | re.DOTALL)
_UNION = re.compile(r"union", re.IGNORECASE)
_ESCAPE = re.compile(r"\\u([0-9A-Fa-f]{4})|\\U([0-9A-Fa-f]{8})")
NETWORK_KEYWORDS = ("SERVICE", "LOAD")
QUERY_FORMS = ("SELECT", "CONSTRUCT", "DESCRIBE", "ASK")


class QueryShapeError(ValueError):
    """A query nested deeper, or with more UNIONs, than this endpoint accepts."""


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


def tokens(text: str, pattern: re.Pattern = _TOKEN) -> list[Token]:
    """The significant tokens of ``text`` (no whitespace, no comments), in linear time."""
    out = []
    for match in pattern.finditer(text):
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


def _readings(text: str) -> list[list[Token]]:
    """The token lists of ``text`` under both readings of ``<``, escaped and unescaped."""
    variants = [text, _unescaped(text)] if "\\u" in text or "\\U" in text else [text]
    return [tokens(v, pattern) for v in variants for pattern in (_TOKEN, _TOKEN_LT)]


def network_keywords(text: str) -> list[str]:
    """The keywords in ``text`` that could make the engine open a connection (SERVICE, LOAD).

    Fails closed: a word or prefixed name that merely begins with one of them counts.
    """
    folded = text.upper()
    if "\\" not in text and not any(k in folded for k in NETWORK_KEYWORDS):
        return []  # fast path: no such word anywhere, nothing to tokenize
    found: list[str] = []
    for reading in _readings(text):
        for token in reading:
            if token.kind in ("word", "pname"):
                head = token.text.upper()
                found += [k for k in NETWORK_KEYWORDS if head.startswith(k) and k not in found]
    return [k for k in NETWORK_KEYWORDS if k in found]


def check_shape(text: str) -> None:
    """Raise :class:`QueryShapeError` if ``text`` nests deeper than :data:`MAX_DEPTH` or has
    more than :data:`MAX_UNIONS` UNIONs (the engine's parser recurses; such a query could
    exhaust its stack)."""
    variants = [text, _unescaped(text)] if "\\u" in text or "\\U" in text else [text]
    for variant in variants:
        brackets = variant.count("{") + variant.count("(") + variant.count("[")
        if brackets <= MAX_DEPTH and len(_UNION.findall(variant)) <= MAX_UNIONS:
            continue  # cannot be over either limit (the common case: no tokenizing)
        for pattern in (_TOKEN, _TOKEN_LT):
            deepest, unions = _shape(variant, pattern)
            _check(deepest, unions)


def _shape(text: str, pattern: re.Pattern) -> tuple[int, int]:
    """The deepest nesting and the number of UNIONs of ``text`` under one reading."""
    depth = deepest = unions = 0
    for match in pattern.finditer(text):
        kind = match.lastgroup
        if kind == "punct":
            char = match.group()
            if char in "{([":
                depth += 1
                deepest = max(deepest, depth)
            elif char in "})]":
                depth = max(0, depth - 1)
        elif kind == "word" and len(match.group()) == 5 and match.group().upper() == "UNION":
            unions += 1
    return deepest, unions


def _check(deepest: int, unions: int) -> None:
    if deepest > MAX_DEPTH:
        raise QueryShapeError(f"the query nests {deepest} levels deep; this endpoint accepts at most {MAX_DEPTH}")
    if unions > MAX_UNIONS:
        raise QueryShapeError(f"the query has {unions} UNIONs; this endpoint accepts at most {MAX_UNIONS}")


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
