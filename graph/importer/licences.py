"""Licence cells: one licence per line (or per ``&``), with what it applies to."""
from __future__ import annotations

import re

from graph.importer.document import Cell
from graph.importer.registry import normalise


class Licences:
    """Mixin of :class:`graph.importer.walk.Importer`: licence cells."""

    def _licences(self, cell: Cell, where: str) -> dict:
        reg = self.reg["licence"]
        values: list[dict] = []
        lines = []
        for line in cell.lines or [cell.text]:
            pieces = re.split(r"\s+&\s+", line)
            lines.extend(pieces if len(pieces) > 1 and all(reg.find_in(p) for p in pieces) else [line])
        for line in lines:
            line = line.strip()
            if not line:
                continue
            item: dict = {}
            uncertain = bool(re.search(r"\(\s*[?？]\s*\)", line))
            body = re.sub(r"\(\s*[?？]\s*\)", "", line).strip()
            inner = re.fullmatch(r"[(（](.*)[)）]", body)
            if inner:
                body = inner.group(1).strip()
            spans = reg.find_in(body)
            applies = None
            if spans:
                start, end, lid = spans[0]
                norm = normalise(body)
                applies_text = norm[:start].strip(" :：(")
                applies = applies_text or None
                item["id"] = lid
            else:
                m = re.match(r"^(?P<who>[^:：]+)[:：]\s*(?P<lic>.+)$", body)
                if m:
                    applies, body = m.group("who").strip(), m.group("lic").strip()
                item["id"] = reg.lookup(body) or reg.resolve(body, where)
            if applies:
                applies = re.sub(r"\s*(モデル|model|modèle)s?\s*", " ", applies)
                applies = re.sub(r"(は|のみ|では)$", "", applies.strip()).strip(" :：") or None
            if applies:
                item["applies_to"] = applies
            if uncertain:
                item["uncertain"] = True
            links = [link.href for link in cell.links if normalise(link.text) in normalise(line)]
            if links:
                item["url"] = links[0]
            item["raw"] = line
            values.append(item)
        return {"raw": cell.raw, "values": values}

