"""The catalog README's structure as data: sections holding tables and prose, cells with their links.

:mod:`graph.importer.markdown_doc` builds these from markdown; what the cells *mean* is decided in
:mod:`graph.importer.cells` and the importer's per-table modules.
"""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Link:
    """A markdown link inside a cell or paragraph."""

    text: str
    href: str
    raw: str  # the link text as written (markdown emphasis kept)


@dataclass
class Cell:
    """One table cell: its raw markdown, its plain text split at ``<br>``, and its links."""

    raw: str
    lines: list[str]
    links: list[Link]
    footnotes: list[str]

    @property
    def text(self) -> str:
        """Plain text, lines joined by a newline."""
        return "\n".join(self.lines).strip()

    @property
    def empty(self) -> bool:
        return not self.raw.strip()


@dataclass
class Row:
    line: int  # 1-based line in the source file
    cells: list[Cell]


@dataclass
class Table:
    line: int
    headers: list[Cell]
    rows: list[Row]


@dataclass
class Paragraph:
    line: int
    cell: Cell  # paragraphs are parsed like cells: text, links


@dataclass
class Section:
    """A heading and what follows it until the next heading of the same or higher level."""

    id: str
    title: Cell
    level: int
    line: int
    parent: Section | None = None
    children: list[Section] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)
    paragraphs: list[Paragraph] = field(default_factory=list)
    anchored: bool = False  # id comes from an explicit <a id> anchor
    anchor: str = ""  # the fragment that links to this heading in the README as written (<a id> or heading slug)

    def path(self) -> list[Section]:
        """This section and its ancestors, outermost first."""
        out: list[Section] = []
        node: Section | None = self
        while node is not None:
            out.append(node)
            node = node.parent
        return list(reversed(out))

    def walk(self):
        yield self
        for child in self.children:
            yield from child.walk()


@dataclass
class Document:
    file: str
    root: Section
    footnotes: dict[str, int]  # footnote label -> line of its definition
    problems: list[str]
    origins: list[tuple[str, int]] | None = None  # per line: (file, line) before includes were expanded
    malformed: list[tuple[int, list[str]]] = field(default_factory=list)  # (first line, raw lines) of unreadable tables

    def locate(self, line: int) -> tuple[str, int]:
        """The file and line a line of this (possibly include-expanded) document came from."""
        if self.origins and 0 < line <= len(self.origins):
            return self.origins[line - 1]
        return self.file, line

    def where(self, line: int) -> str:
        """``file:line`` of a document line, naming the included file when it came from one."""
        file, n = self.locate(line)
        return f"{file}:{n}"
