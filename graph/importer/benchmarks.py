"""Benchmarks: rows of the benchmark tables (one per category), or linked headings in older READMEs."""
from __future__ import annotations

import re

from graph.importer.document import Cell, Row, Section
from graph.importer.markdown_doc import normalise_space, slug


class Benchmarks:
    """Mixin of :class:`graph.importer.walk.Importer`: benchmark rows and headings."""

    def _benchmark(self, sec: Section, path: list[Section]) -> None:
        head = sec.title
        link = head.links[0]
        m = re.search(r"[(（]([^()（）]+)[)）]\s*$", head.text)
        dev_text = m.group(1) if m else None
        names = {self.primary: normalise_space(link.text)}
        lines = {}
        for lang in self.others:
            other = self.langs.get(lang)
            if other is None:
                continue
            match = next((s for s in other.doc.root.walk() if s.title.links and s.title.links[0].href == link.href), None)
            if match is None:  # same position among the linked headings of the same category
                mine = [s for s in (sec.parent.children if sec.parent else []) if s.title.links]
                theirs_parent = other.sections.get(sec.parent.id) if sec.parent else None
                theirs = [s for s in theirs_parent.children if s.title.links] if theirs_parent else []
                if len(mine) == len(theirs) and sec in mine:
                    match = theirs[mine.index(sec)]
            if match is not None:
                names[lang] = normalise_space(match.title.links[0].text)
                lines[lang] = match.line
        category = next((s.id for s in reversed(path[:-1]) if s.anchored), sec.parent.id if sec.parent else None)
        includes, questions, links = prose_facts([p.cell for p in sec.paragraphs])
        dev = self._developers(Cell(dev_text, [dev_text], [], []), self.where(sec.line)) if dev_text else None
        bid = self._benchmark_id(names.get("en") or names[self.primary])
        entry: dict = {
            "id": bid,
            "names": names,
            "url": link.href,
            "developers": dev,
            "category": category,
            "section": sec.anchor or sec.id,
            "includes": includes,
            "questions": questions,
            "links": links,
            "source": {**self.src(sec.line), **({"lines": lines} if lines else {})},
        }
        self.benchmarks.append(entry)
        label = category or "benchmarks"
        self.report.rows[f"benchmarks/{label}"] = self.report.rows.get(f"benchmarks/{label}", 0) + 1
        self.report.entries[f"benchmarks/{label}"] = self.report.entries.get(f"benchmarks/{label}", 0) + 1

    def _benchmark_id(self, name: str) -> str:
        base = slug(name)
        taken = {b["id"] for b in self.benchmarks}
        bid, n = base, 2
        while bid in taken:
            bid, n = f"{base}-{n}", n + 1
        return bid

    def _benchmark_row(self, sec: Section, path: list[Section], tpos: int, rpos: int, row: Row, cells: dict[str, Cell],
                       keys: list[str]) -> dict:
        """A row of a benchmark table (one table per category): name and link, developer, facts of the description."""
        name_cell = cells.get("name") or row.cells[0]
        link = next((l for l in name_cell.links if not l.href.startswith("#")), None)
        key_links = {l.href for c in row.cells for l in c.links}
        names = {self.primary: self._name(name_cell)}
        lines = {}
        for lang in self.others:
            other = self._aligned_row(lang, sec.id, tpos, rpos, key_links)
            if other is not None:
                names[lang] = self._name(other.cells[0])
                lines[lang] = other.line
        where = self.where(row.line)
        anchor = re.search(r'<a\s+id=["\']([^"\']+)["\']', name_cell.raw)
        desc = cells.get("description")
        includes, questions, links = prose_facts([desc] if desc else [])
        entry: dict = {
            "id": self._benchmark_id(names.get("en") or names[self.primary]),
            "names": names,
            "url": link.href if link else None,
            "developers": self._developers(cells["developer"], where) if "developer" in cells and not cells["developer"].empty else None,
            "category": sec.id,
            "section": anchor.group(1) if anchor else sec.id,
            "includes": includes,
            "questions": questions,
            "links": links,
            "source": {**self.src(row.line), **({"lines": lines} if lines else {})},
        }
        return entry


def prose_facts(cells: list[Cell]) -> tuple[list[dict], int | None, list[str]]:
    """What a benchmark's description says as facts: included tasks or benchmarks, question count, links."""
    prose = " ".join(c.text for c in cells)
    links = [l.href for c in cells for l in c.links]
    includes: list[dict] = []
    for l in (l for c in cells for l in c.links):
        if l.href.startswith("#"):
            includes.append({"name": normalise_space(l.text), "benchmark": l.href[1:]})
    tm = re.search(r"([A-Za-z0-9][\w\-]*(?:\s*,\s*[A-Za-z0-9][\w\-]*)+)\s*の\s*(\d+)\s*つの(タスク|カテゴリ)", prose)
    if tm:
        for name in re.split(r"\s*,\s*", tm.group(1)):
            includes.append({"name": name, "type": "task" if tm.group(3) == "タスク" else "category"})
    for name in re.findall(r"[(（]([a-z][a-z0-9_]+)[)）]", prose):
        includes.append({"name": name, "type": "task"})
    for a, b, parent in re.findall(r"(\w[\w\-]*)\s*や\s*(\w[\w\-]*)\s*といった\s*(\w+)\s*のタスク", prose):
        includes.extend([{"name": a, "type": "task", "from": parent}, {"name": b, "type": "task", "from": parent}])
    q = re.search(r"計\s*([\d,]+)\s*問", prose) or re.search(r"([\d,]+)\s*(?:問|件|題)", prose)
    questions = int(q.group(1).replace(",", "")) if q and q.group(1).replace(",", "").isdigit() else None
    return includes, questions, [l for l in links if not l.startswith("#")]

