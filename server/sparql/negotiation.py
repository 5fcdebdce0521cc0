"""``Accept`` negotiation over the format table: werkzeug parses the header (``MIMEAccept``); the
q-value of a format is that of the most specific range matching it (RFC 9110 §12.5.1), so
``json;q=0, */*`` excludes JSON — werkzeug's own ``best_match`` would let ``*/*`` win there.

>>> best("text/csv;q=0.9, application/sparql-results+xml", RESULTS).name
'xml'
>>> best("*/*", GRAPHS).name
'ttl'
>>> best("text/html", RESULTS) is None
True
>>> best("application/sparql-results+json;q=0, */*", RESULTS).name
'xml'
"""
from __future__ import annotations

import functools

from werkzeug.datastructures import MIMEAccept
from werkzeug.http import parse_accept_header

from graph.formats import GRAPHS, RESULTS, Format  # noqa: F401  (RESULTS/GRAPHS: the doctests' names)


@functools.lru_cache(maxsize=512)
def best(accept: str | None, offered: tuple[Format, ...]) -> Format | None:
    """The offered format the client prefers (ties go to ``offered`` order), or None if none is acceptable.

    A missing or empty header means ``*/*``. Cached: clients send the same few headers over and over.
    """
    ranges = parse_accept_header(accept if accept and accept.strip() else "*/*", MIMEAccept)
    scored = []
    for order, fmt in enumerate(offered):
        # the most specific range naming any of the format's media types decides
        _, quality = max(_match(ranges, media_type) for media_type in (fmt.media_type, *fmt.aliases))
        if quality > 0:
            scored.append((-quality, order, fmt))
    return min(scored, key=lambda item: item[:2])[2] if scored else None


def _match(ranges: MIMEAccept, media_type: str) -> tuple[int, float]:
    """Specificity and q-value of the most specific range covering ``media_type`` ((-1, 0) if none)."""
    main, _, sub = media_type.partition("/")
    found, specificity = 0.0, -1
    for value, quality in ranges:
        kind, _, subtype = value.split(";")[0].strip().lower().partition("/")
        if kind == "*":
            subtype = "*"
        if kind in ("*", main) and subtype in ("*", sub):
            rank = (kind != "*") + (subtype != "*")
            if rank > specificity:
                found, specificity = quality, rank
    return specificity, found
