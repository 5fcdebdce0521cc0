"""Curated registries (catalog/registries/*.yaml): name normalisation, look-up and minting.

A registry maps the many spellings of a thing (labels in ja/en/fr, aliases, typos) to one id.
Names nobody registered are *minted*: they get an id from the name and are reported, never dropped.
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

from graph.catalog import REGISTRY_FILES, read_yaml
from graph.errors import SourceError
from graph.importer.markdown_doc import slug, strip_markup

#: Registry kinds and their file names, in a fixed order.
KINDS: dict[str, str] = REGISTRY_FILES

_DASHES = re.compile(r"[\u2010\u2011\u2012\u2013\u2014\u2015\u2212\uff0d]")


def normalise(name: str) -> str:
    """The form names are compared in.

    >>> normalise("CC BY&#x2011;SA 4.0") == normalise("cc by-sa 4.0")
    True
    >>> normalise("Megagon Labs <br> (リクルート)")
    'megagon labs (リクルート)'
    """
    text = strip_markup(name)
    text = unicodedata.normalize("NFKC", text)
    text = _DASHES.sub("-", text)
    text = re.sub(r"\s+", " ", text).strip()
    return text.casefold()


@dataclass
class Registry:
    """One kind of curated entity: entries by id and an index of normalised names."""

    kind: str
    entries: dict[str, dict] = field(default_factory=dict)
    index: dict[str, str] = field(default_factory=dict)
    minted: dict[str, dict] = field(default_factory=dict)

    def add(self, entry: dict, file: str = "") -> None:
        eid = str(entry["id"])
        self.entries[eid] = entry
        names = [eid, *(entry.get("labels") or {}).values(), *(entry.get("aliases") or [])]
        for name in names:
            if name:
                self.index.setdefault(normalise(str(name)), eid)

    def lookup(self, name: str) -> str | None:
        """The id registered for this name, or None."""
        return self.index.get(normalise(name))

    def resolve(self, name: str, where: str) -> str:
        """The id for ``name``; mints (and remembers) a new one when the registry lacks it."""
        found = self.lookup(name)
        if found:
            return found
        key = normalise(name)
        eid = slug(strip_markup(name))[:80] or "x"
        taken = set(self.entries) | {m["id"] for k, m in self.minted.items() if k != key}
        base, n = eid, 2
        while eid in taken:
            eid, n = f"{base}-{n}", n + 1
        entry = self.minted.setdefault(key, {"id": eid, "name": strip_markup(name), "seen_in": []})
        if where not in entry["seen_in"]:
            entry["seen_in"].append(where)
        return entry["id"]

    def find_in(self, text: str) -> list[tuple[int, int, str]]:
        """Registered names occurring in ``text`` (normalised), longest first, non-overlapping.

        Returns (start, end, id) spans over ``normalise(text)``.
        """
        norm = normalise(text)
        spans: list[tuple[int, int, str]] = []
        for name, eid in sorted(self.index.items(), key=lambda kv: -len(kv[0])):
            if len(name) < 2:
                continue
            for m in re.finditer(re.escape(name), norm):
                s, e = m.span()
                # whole-word-ish: do not match inside an ASCII word
                if s > 0 and norm[s - 1].isascii() and norm[s - 1].isalnum() and name[0].isascii() and name[0].isalnum():
                    continue
                if e < len(norm) and norm[e].isascii() and norm[e].isalnum() and name[-1].isascii() and name[-1].isalnum():
                    continue
                if any(s < e2 and s2 < e for s2, e2, _ in spans):
                    continue
                spans.append((s, e, eid))
        return sorted(spans)


@dataclass
class Registries:
    """All registries, keyed by kind."""

    by_kind: dict[str, Registry]

    def __getitem__(self, kind: str) -> Registry:
        return self.by_kind[kind]

    def minted_report(self) -> dict[str, list[dict]]:
        return {
            kind: sorted(reg.minted.values(), key=lambda m: m["id"])
            for kind, reg in self.by_kind.items()
            if reg.minted
        }


def load_registries(directory: Path) -> Registries:
    """Read every registry file in ``directory`` (missing files are empty registries)."""
    by_kind: dict[str, Registry] = {}
    for kind, name in KINDS.items():
        reg = Registry(kind)
        path = directory / name
        if path.exists():
            data = read_yaml(path, f"{directory.name}/{name}") or []
            if not isinstance(data, list):
                raise SourceError(f"{directory.name}/{name}", 1, "a registry must be a YAML list of entries")
            seen: set[str] = set()
            for pos, entry in enumerate(data, 1):
                if not isinstance(entry, dict) or "id" not in entry:
                    raise SourceError(f"{directory.name}/{name}", None, f"entry {pos} has no 'id'")
                if str(entry["id"]) in seen:
                    raise SourceError(f"{directory.name}/{name}", None, f"duplicate id {entry['id']!r}")
                seen.add(str(entry["id"]))
                reg.add(entry)
        by_kind[kind] = reg
    return Registries(by_kind)
