"""The walk over the README's sections and tables, dispatching each table to the noun that reads it."""
from __future__ import annotations

from dataclasses import dataclass

from graph.importer.columns import column_key, with_name_column
from graph.importer.architectures import Architectures
from graph.importer.base_models import BaseModels
from graph.importer.benchmarks import Benchmarks
from graph.importer.developers import Developers
from graph.importer.licences import Licences
from graph.importer.model_tables import ModelTables
from graph.importer.papers import Papers
from graph.importer.report import Report
from graph.importer.sections import PAPER_KEYS, is_domain_specific, section_kind, table_type
from graph.importer.document import Cell, Document, Row, Section, Table
from graph.importer.markdown_doc import align_section_ids, slug
from graph.importer.registry import Registries

ROW_ERRORS = (ValueError, KeyError, IndexError)



@dataclass
class _Lang:
    doc: Document
    sections: dict[str, Section]



class Importer(ModelTables, BaseModels, Developers, Licences, Architectures, Benchmarks, Papers):
    """Turns parsed READMEs into catalog entries, resolving names against the registries."""

    def __init__(self, docs: dict[str, Document], registries: Registries, primary: str = "ja") -> None:
        self.primary = primary
        align_section_ids(docs, primary)
        self.langs = {lang: _Lang(doc, {s.id: s for s in doc.root.walk()}) for lang, doc in docs.items()}
        self.reg = registries
        self.report = Report()
        self.families: dict[str, list[dict]] = {}
        self.family_ids: set[str] = set()
        self.family_names: dict[str, str] = {}  # normalised name -> family id
        self.benchmarks: list[dict] = []
        self.papers: list[dict] = []
        self.sections: list[dict] = []
        self.other: dict[str, list[dict]] = {}

    @property
    def main(self) -> _Lang:
        """The README whose cells are parsed (the Japanese one, normally)."""
        return self.langs[self.primary]

    @property
    def others(self) -> list[str]:
        """The other languages given, whose aligned rows supply labels."""
        return [lang for lang in ("ja", "en", "fr") if lang != self.primary and lang in self.langs]

    def where(self, line: int, lang: str | None = None) -> str:
        """``file:line`` of a line of a README (the included file when the line came from one)."""
        return self.langs[lang or self.primary].doc.where(line)

    def src(self, line: int) -> dict:
        """The ``source`` of an entry: the file (README or included part) and line it was read from."""
        file, n = self.main.doc.locate(line)
        return {"file": file, "line": n}

    def _aligned_table(self, lang: str, sid: str, tpos: int) -> Table | None:
        other = self.langs.get(lang)
        if not other or sid not in other.sections:
            return None
        tables = other.sections[sid].tables
        return tables[tpos] if tpos < len(tables) else None

    def _aligned_row(self, lang: str, sid: str, tpos: int, rpos: int, key_links: set[str]) -> Row | None:
        """The row of another language's README that translates this one: the row sharing the most
        links (rows are sometimes ordered differently), else the row at the same position."""
        table = self._aligned_table(lang, sid, tpos)
        if table is None:
            return None

        def shared(row) -> int:
            return len({link.href for c in row.cells for link in c.links} & key_links)

        same = table.rows[rpos] if rpos < len(table.rows) else None
        if key_links:
            best = max(table.rows, key=lambda row: (shared(row), row is same), default=None)
            if best is not None and shared(best):
                return best
        if same is not None and (not key_links or len(table.rows) == len(self.main.sections[sid].tables[tpos].rows)):
            return same
        return None

    def new_family_id(self, *names: str | None) -> str:
        for name in names:
            if name:
                base = slug(name)
                eid, n = base, 2
                while eid in self.family_ids:
                    eid, n = f"{base}-{n}", n + 1
                self.family_ids.add(eid)
                return eid
        raise ValueError("the row has no name in its first cell")

    def run(self) -> None:
        root = self.main.doc.root
        for sec in root.walk():
            if sec is root:
                continue
            path = sec.path()[1:]
            titles = {self.primary: sec.title.text}
            for lang in self.others:
                other = self.langs.get(lang)
                if other and sec.id in other.sections:
                    titles[lang] = other.sections[sec.id].title.text
            kind = section_kind(path)
            entry = {
                "id": sec.id,
                "titles": titles,
                "parent": sec.parent.id if sec.parent and sec.parent.id else None,
                "level": sec.level,
                "kind": kind,
                "domain_specific": is_domain_specific(path),
                "source": self.src(sec.line),
            }
            if not sec.anchored:
                entry["anchored"] = False
            self.sections.append(entry)
            for tpos, table in enumerate(sec.tables):
                self._table(sec, path, tpos, table, kind)
            if kind == "benchmarks" and sec.title.links and sec.level >= 3 and not sec.tables:
                try:
                    self._benchmark(sec, path)
                except ROW_ERRORS as err:  # keep the heading raw rather than lose it
                    self.report.warnings.append(
                        f"{self.where(sec.line)}: benchmark heading could not be parsed ({type(err).__name__}: {err}); kept raw")
                    self.other.setdefault(sec.id, []).append({
                        "source": self.src(sec.line),
                        "cells": {"heading": sec.title.raw, **{f"paragraph_{n}": p.cell.raw for n, p in enumerate(sec.paragraphs, 1)}},
                    })
        self.report.problems.extend(self.main.doc.problems)
        self._keep_malformed_tables()
        for lang in self.others:
            self.report.warnings.extend(self.langs[lang].doc.problems)
        self._claim_repos_once()
        self._resolve_catalog_bases()

    def _table(self, sec: Section, path: list[Section], tpos: int, table: Table, kind: str) -> None:
        keys, unknown = [], []
        headerless = all(h.empty for h in table.headers)
        for pos, header in enumerate(table.headers):
            key, known = column_key(header.raw, pos)
            if headerless and kind == "papers" and len(table.headers) == len(PAPER_KEYS):
                key, known = PAPER_KEYS[pos], True
            keys.append(key)
            unknown.append(not known)
        if not headerless:
            keys = with_name_column(keys)
        for pos, header in enumerate(table.headers):
            if (unknown[pos] and keys[pos] != "name") or keys[pos].startswith("name_"):
                self.report.warnings.append(
                    f"{self.where(table.line)}: unknown column {header.text!r} in section {sec.id!r} kept raw as {keys[pos]!r}")
        ttype = table_type(keys, kind)
        label = sec.id if tpos == 0 else f"{sec.id}#{tpos + 1}"
        self.report.rows[label] = len(table.rows)
        written = 0
        for rpos, row in enumerate(table.rows):
            if all(c.empty for c in row.cells):
                self.report.warnings.append(f"{self.where(row.line)}: empty row in section {sec.id!r} skipped")
                continue
            cells = dict(zip(keys, row.cells))
            if len(row.cells) > len(keys):  # cells past the header's (markdown drops them): kept raw, by position
                cells.update((f"column_{n}", cell) for n, cell in enumerate(row.cells) if n >= len(keys))
                self.report.warnings.append(f"{self.where(row.line)}: row has {len(row.cells)} cells, header has "
                                            f"{len(keys)}: the extra cells kept raw as column_{len(keys)}…")
            elif len(row.cells) != len(keys):
                self.report.warnings.append(f"{self.where(row.line)}: row has {len(row.cells)} cells, header has {len(keys)}")
            if ttype == "papers":
                try:
                    self.papers.append(self._paper(sec, table, row, cells, keys))
                except ROW_ERRORS as err:  # keep the row raw rather than lose it
                    self._keep_raw(sec, row, cells, err)
            elif ttype == "benchmarks":
                try:
                    self.benchmarks.append(self._benchmark_row(sec, path, tpos, rpos, row, cells, keys))
                except ROW_ERRORS as err:
                    self._keep_raw(sec, row, cells, err)
            elif ttype == "models" and kind in ("generative", "autoencoding", "embeddings", "multimodal", "speech", "other"):
                try:
                    fam = self._family(sec, path, tpos, rpos, table, row, cells, keys, kind)
                except ROW_ERRORS as err:  # an unforeseen notation must not lose the row: keep it raw
                    self._keep_raw(sec, row, cells, err)
                else:
                    self.families.setdefault(sec.id, []).append(fam)
            else:
                self.other.setdefault(sec.id, []).append({
                    "source": self.src(row.line),
                    "cells": {k: c.raw for k, c in cells.items()},
                })
                self.report.warnings.append(f"{self.where(row.line)}: row of an unrecognised table in section {sec.id!r} kept generically")
            written += 1
        self.report.entries[label] = written

    def _keep_malformed_tables(self) -> None:
        """The lines of tables markdown could not read (reported as problems), kept raw under the section
        they stand in: one generic entry per table, a cell per line."""
        sections = [sec for sec in self.main.doc.root.walk() if sec.id]
        for start, lines in self.main.doc.malformed:
            sec = max((s for s in sections if s.line <= start), key=lambda s: s.line, default=None)
            self.other.setdefault(sec.id if sec else "top", []).append({
                "source": self.src(start),
                "cells": {f"line_{n}": line for n, line in enumerate(lines, 1)},
            })

    def _keep_raw(self, sec: Section, row: Row, cells: dict[str, Cell], err: Exception) -> None:
        """Keep a row that could not be parsed as a generic raw row, with a warning naming its line."""
        self.report.warnings.append(
            f"{self.where(row.line)}: row could not be parsed ({type(err).__name__}: {err}); kept raw in other/{sec.id}.yaml")
        self.other.setdefault(sec.id, []).append({
            "source": self.src(row.line),
            "cells": {k: c.raw for k, c in cells.items()},
        })

