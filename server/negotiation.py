"""``Accept`` header negotiation with q-values over the format table.

>>> best("text/csv;q=0.9, application/sparql-results+xml", RESULTS).name
'xml'
>>> best("*/*", GRAPHS).name
'ttl'
>>> best("text/html", RESULTS) is None
True
"""
from __future__ import annotations

import functools
from dataclasses import dataclass

from server.formats import GRAPHS, RESULTS, Format  # noqa: F401  (RESULTS/GRAPHS used in doctests)


@dataclass(frozen=True)
class Range:
    """One media range of an ``Accept`` header."""

    type: str
    subtype: str
    q: float
    order: int

    def matches(self, media_type: str) -> bool:
        """True if this range covers ``media_type``."""
        main, _, sub = media_type.partition("/")
        return (self.type in ("*", main)) and (self.subtype in ("*", sub))

    @property
    def specificity(self) -> int:
        """2 for ``a/b``, 1 for ``a/*``, 0 for ``*/*``."""
        return (self.type != "*") + (self.subtype != "*")


def parse_accept(header: str | None) -> list[Range]:
    """Media ranges of an ``Accept`` header; a missing or empty header means ``*/*``."""
    if not header or not header.strip():
        return [Range("*", "*", 1.0, 0)]
    ranges = []
    for order, part in enumerate(header.split(",")):
        fields = [f.strip() for f in part.split(";")]
        media = fields[0].lower()
        if "/" not in media:
            if media == "*":
                media = "*/*"
            else:
                continue
        q = 1.0
        for param in fields[1:]:
            key, _, value = param.partition("=")
            if key.strip().lower() == "q":
                try:
                    q = min(max(float(value), 0.0), 1.0)
                except ValueError:
                    q = 1.0  # a malformed weight is ignored
        main, _, sub = media.partition("/")
        ranges.append(Range(main, sub, q, order))
    return ranges


def quality(ranges: list[Range], fmt: Format) -> float:
    """The q-value the client gives ``fmt``: from the most specific range matching it."""
    best_range = None
    for media_type in (fmt.media_type, *fmt.aliases):
        for rng in ranges:
            if rng.matches(media_type) and (best_range is None or rng.specificity > best_range.specificity):
                best_range = rng
    return best_range.q if best_range else 0.0


@functools.lru_cache(maxsize=512)
def best(accept: str | None, offered: tuple[Format, ...]) -> Format | None:
    """The offered format the client prefers (ties go to ``offered`` order), or None if none is acceptable.

    Cached: clients send the same few ``Accept`` headers over and over.
    """
    ranges = parse_accept(accept)
    scored = [(quality(ranges, fmt), -i, fmt) for i, fmt in enumerate(offered)]
    q, _, fmt = max(scored, key=lambda item: (item[0], item[1]))
    return fmt if q > 0 else None
