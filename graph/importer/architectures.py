"""Architecture cells: alternatives, sizes in parentheses, registered names."""
from __future__ import annotations

import re

from graph.importer.document import Cell
from graph.importer.markdown_doc import strip_markup


class Architectures:
    """Mixin of :class:`graph.importer.walk.Importer`: architecture cells."""

    def _architecture(self, cell: Cell, where: str) -> dict:
        text = re.sub(r"\(\s*\[.*\]\([^)]*\)\s*\)", " ", cell.raw)
        text = re.sub(r"\[[^\]]*\]\([^)]*\)", " ", text)
        text = strip_markup(text)
        text = re.sub(r"\(\s*\)", "", text).strip()
        ids: list[str] = []
        reg = self.reg["architecture"]
        sizes: list[str] = []
        # "A or B", "A / B" are alternatives, unless the whole cell is a registered name ("org/model + org/model")
        parts = [text] if reg.lookup(text) else re.split(r"\s+(?:または|or|ou)\s+|\s*/\s*", text)
        for part in parts:
            part = part.strip()
            if not part or part in ("-", "－", "―"):
                continue
            found = reg.lookup(part)
            if not found:
                m = re.match(r"^(.*?)\s*[(（]([^)）]*)[)）]\s*$", part)
                if m and m.group(1):
                    found = reg.lookup(m.group(1))
                    if found or re.fullmatch(r"[\w\s,.-]+", m.group(2)):
                        sizes.extend(s.strip() for s in m.group(2).split(",") if s.strip())
                        found = found or reg.resolve(m.group(1), where)
            ids.append(found or reg.resolve(part, where))
        out: dict = {"raw": cell.raw, "ids": ids}
        if sizes:
            out["sizes"] = sizes
        return out

