"""Paper tables: the architectures and training methods papers (included from ``parts/`` upstream)."""
from __future__ import annotations

import re

from graph.importer.cells import arxiv_id, parse_date
from graph.importer.document import Cell, Row, Section, Table
from graph.importer.markdown_doc import normalise_space, slug, strip_markup


class Papers:
    """Mixin of :class:`graph.importer.walk.Importer`: paper rows."""

    def _paper(self, sec: Section, table: Table, row: Row, cells: dict[str, Cell], keys: list[str]) -> dict:
        """A paper row: the architecture or method it introduces, date, venue, link and arXiv id."""
        first = row.cells[0]
        paper_cell = cells.get("paper")
        link = paper_cell.links[0] if paper_cell and paper_cell.links else None
        url = link.href if link else None
        title = normalise_space(link.text) if link else (paper_cell.text if paper_cell else "")
        ax = arxiv_id(url or "")
        pid = f"arxiv-{ax}" if ax else slug(title)[:80]
        is_method = "method" in keys or bool(re.search(r"training|学習手法|entraînement", f"{sec.id} {sec.title.text}", re.I))
        reg = self.reg["training_method" if is_method else "architecture"]
        introduced = strip_markup(first.raw)
        venue_cell = cells.get("venue")
        venue = venue_cell.text if venue_cell else None
        entry = {
            "id": pid,
            "title": title,
            "url": url,
            "arxiv": ax,
            "date": parse_date(cells["date"].text) if "date" in cells else None,
            "venue": None if venue in (None, "", "-", "－") else venue,
            "table": "training-methods" if is_method else "architectures",
            "introduces": {"raw": first.raw, "id": reg.lookup(introduced) or reg.resolve(introduced, self.where(row.line))},
            "source": self.src(row.line),
            "cells": {k: c.raw for k, c in cells.items()},
        }
        return entry

