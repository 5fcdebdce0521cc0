"""The catalog README as a tree of sections holding tables and prose, read with markdown-it-py.

Only structure lives here (sections, tables, cells, links, line numbers); what the cells
*mean* is decided in :mod:`graph.importer.cells` and :mod:`graph.importer`.
"""
from __future__ import annotations

import html
import re
import unicodedata
from pathlib import Path

from markdown_it import MarkdownIt
from markdown_it.token import Token

from graph.errors import SourceError
from graph.importer.document import Cell, Document, Link, Paragraph, Row, Section, Table

_ANCHOR = re.compile(r'<a\s+id=["\']([^"\']+)["\']\s*>\s*</a>', re.I)
_BR = re.compile(r"<br\s*/?>", re.I)
_TAG = re.compile(r"<[^>]+>")
_FOOTNOTE = re.compile(r"\[\^([^\]\s]+)\]")
_TABLE_LINE = re.compile(r"^\s*\|")


def normalise_space(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def slug(text: str) -> str:
    """A lowercase ASCII-ish slug; keeps non-Latin letters (readable IRIs in any script).

    >>> slug("Swallow 7B")
    'swallow-7b'
    >>> slug("rinna GPT (英語やコードも含めて学習されたモデル)")
    'rinna-gpt-英語やコードも含めて学習されたモデル'
    """
    text = unicodedata.normalize("NFKC", text).casefold()
    text = re.sub(r"[^\w]+", "-", text)
    return text.strip("-_") or "x"


def _cell_from_inline(tok: Token | None) -> Cell:
    if tok is None:
        return Cell("", [], [], [])
    lines: list[str] = [""]
    links: list[Link] = []
    current: Link | None = None
    raw_link: list[str] = []
    for child in tok.children or []:
        kind = child.type
        if kind in ("text", "text_special", "code_inline"):
            lines[-1] += child.content
            if current is not None:
                current.text += child.content
                raw_link.append(child.content)
        elif kind in ("softbreak", "hardbreak"):
            lines[-1] += " "
        elif kind == "html_inline":
            if _BR.fullmatch(child.content.strip()):
                lines.append("")
                if current is not None:
                    current.text += " "
                    raw_link.append("<br>")
        elif kind == "link_open":
            current = Link("", child.attrGet("href") or "", "")
            raw_link = []
        elif kind == "link_close":
            if current is not None:
                current.raw = "".join(raw_link)
                current.text = normalise_space(current.text)
                links.append(current)
            current = None
        elif kind in ("strong_open", "strong_close"):
            if current is not None:
                raw_link.append("**")
        elif kind == "image":
            lines[-1] += child.content
    raw = tok.content.strip()
    text_lines = [normalise_space(_FOOTNOTE.sub("", line)) for line in lines]
    footnotes = sorted(set(_FOOTNOTE.findall(raw)), key=lambda s: (len(s), s))
    return Cell(raw=raw, lines=[line for line in text_lines], links=links, footnotes=footnotes)


def _check_tables(src_lines: list[str], doc: Document, tables_at: set[int]) -> list[str]:
    """Find pipe-table blocks that markdown-it did not read as tables (malformed tables): a problem each,
    and their lines in ``doc.malformed`` (the importer keeps them raw).

    ``tables_at`` holds every 0-based source line covered by a table markdown-it read, so a
    GFM row written without its leading pipe does not split a table into a "malformed" rest.
    """
    problems: list[str] = []
    i = 0
    in_fence = False
    while i < len(src_lines):
        line = src_lines[i]
        if line.lstrip().startswith("```"):
            in_fence = not in_fence
        if not in_fence and _TABLE_LINE.match(line):
            start = i
            while i < len(src_lines) and _TABLE_LINE.match(src_lines[i]):
                i += 1
            if not any(n in tables_at for n in range(start, i)) and (i - start) >= 2:
                problems.append(
                    f"{doc.where(start + 1)}: malformed table: lines {start + 1}-{i} look like a table "
                    "but have no valid header/delimiter row (| --- | --- |) with matching column count; kept raw"
                )
                doc.malformed.append((start + 1, src_lines[start:i]))
            continue
        i += 1
    return problems


def parse_document(path: Path, display_name: str | None = None) -> Document:
    """Parse a catalog README into sections with their tables and paragraphs.

    Raises :class:`SourceError` when the file cannot be read as UTF-8 markdown.
    """
    file = display_name or path.name
    try:
        src = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as err:
        raise SourceError(file, None, f"not UTF-8 text ({err.reason} at byte {err.start})") from None
    except OSError as err:
        raise SourceError(file, None, f"cannot read: {err.strerror}") from None
    return parse_markdown(src, file)


def parse_markdown(src: str, file: str, origins: list[tuple[str, int]] | None = None) -> Document:
    """Parse markdown text (see :func:`parse_document`); ``origins`` maps lines to included files."""
    md = MarkdownIt("commonmark").enable("table")
    tokens = md.parse(src)
    src_lines = src.splitlines()
    root = Section(id="", title=Cell("", [], [], []), level=0, line=1)
    current = root
    pending_anchor: str | None = None
    footnotes: dict[str, int] = {}
    tables_at: set[int] = set()
    used_ids: set[str] = set()

    i = 0
    while i < len(tokens):
        tok = tokens[i]
        if tok.type == "heading_open":
            level = int(tok.tag[1:])
            inline = tokens[i + 1]
            title = _cell_from_inline(inline)
            line = (tok.map or [0])[0] + 1
            if pending_anchor:
                sid, anchored = pending_anchor, True
            else:
                sid, anchored = slug(title.text), False
            base_sid, n = sid, 2
            while sid in used_ids:
                sid, n = f"{base_sid}-{n}", n + 1
            used_ids.add(sid)
            pending_anchor = None
            parent = current
            while parent.level >= level:
                assert parent.parent is not None
                parent = parent.parent
            section = Section(id=sid, title=title, level=level, line=line, parent=parent, anchored=anchored, anchor=sid)
            parent.children.append(section)
            current = section
            i += 3
            continue
        if tok.type == "paragraph_open":
            inline = tokens[i + 1]
            line = (tok.map or [0])[0] + 1
            anchor = _ANCHOR.fullmatch(inline.content.strip())
            if anchor:
                pending_anchor = anchor.group(1)
            else:
                fn = re.match(r"\[\^([^\]]+)\]:", inline.content)
                if fn:
                    footnotes[fn.group(1)] = line
                current.paragraphs.append(Paragraph(line=line, cell=_cell_from_inline(inline)))
            i += 3
            continue
        if tok.type == "html_block":
            anchor = _ANCHOR.search(tok.content)
            if anchor and _ANCHOR.sub("", tok.content).strip() == "":
                pending_anchor = anchor.group(1)
        if tok.type == "table_open":
            start, end = (tok.map or [0, 1])
            tables_at.update(range(start, end))
            table, i = _read_table(tokens, i, start + 1)
            current.tables.append(table)
            continue
        i += 1

    for pos, text in enumerate(src_lines, 1):
        fn = re.match(r"^\[\^([^\]\s]+)\]:", text)
        if fn:
            footnotes.setdefault(fn.group(1), pos)
    doc = Document(file=file, root=root, footnotes=footnotes, problems=[], origins=origins)
    problems = _check_tables(src_lines, doc, tables_at)
    for sec in root.walk():
        for table in sec.tables:
            width = len(table.headers)
            for row in table.rows:
                pieces = source_cells(src_lines[row.line - 1])
                if len(pieces) > width == len(row.cells):  # markdown drops cells past the header's; kept raw here
                    row.cells.extend(_cell_from_inline(_inline(md, piece.strip())) for piece in pieces[width:])
    doc.problems = problems
    return doc


def _inline(md: MarkdownIt, text: str) -> Token | None:
    """The inline token of ``text`` parsed as a cell's content."""
    return next((tok for tok in md.parse(text) if tok.type == "inline"), None) if text else None


def source_cells(line: str) -> list[str]:
    r"""The raw cells of a pipe-table source line (escaped pipes and code spans do not split).

    >>> source_cells(r"| a | b \| c | `x|y` |")
    [' a ', ' b \\| c ', ' `x|y` ']
    >>> source_cells("a | b")
    ['a ', ' b']
    """
    text = line.strip()
    cells, current = [], ""
    for piece in re.split(r"(`[^`]*`|\\.|\|)", text):
        if piece == "|":
            cells.append(current)
            current = ""
        else:
            current += piece
    cells.append(current)
    if text.startswith("|"):
        cells = cells[1:]
    if len(cells) > 1 and text.endswith("|") and not text.endswith("\\|"):
        cells = cells[:-1]
    return cells


def _read_table(tokens: list[Token], i: int, line: int) -> tuple[Table, int]:
    headers: list[Cell] = []
    rows: list[Row] = []
    in_head = False
    row: Row | None = None
    while i < len(tokens):
        tok = tokens[i]
        if tok.type == "table_close":
            return Table(line=line, headers=headers, rows=rows), i + 1
        if tok.type == "thead_open":
            in_head = True
        elif tok.type == "thead_close":
            in_head = False
        elif tok.type == "tr_open" and not in_head:
            row = Row(line=(tok.map or [0])[0] + 1, cells=[])
        elif tok.type == "tr_close" and not in_head and row is not None:
            rows.append(row)
            row = None
        elif tok.type in ("th_open", "td_open"):
            inline = tokens[i + 1] if tokens[i + 1].type == "inline" else None
            cell = _cell_from_inline(inline)
            if in_head:
                headers.append(cell)
            elif row is not None:
                row.cells.append(cell)
        i += 1
    return Table(line=line, headers=headers, rows=rows), i


def detect_language(doc: Document) -> str:
    r"""``ja``, ``fr`` or ``en``: the language of a catalog README, from its headings and table headers.

    >>> detect_language(parse_markdown("## 汎用\n\n| | 開発元 |\n|---|---|\n| a | b |\n", "x.md"))
    'ja'
    >>> detect_language(parse_markdown("## Usage général\n\n| | Développeur |\n|---|---|\n| a | b |\n", "x.md"))
    'fr'
    """
    text = " ".join(
        [sec.title.text for sec in doc.root.walk()]
        + [h.text for sec in doc.root.walk() for t in sec.tables for h in t.headers]
    )
    japanese = sum(1 for ch in text if "\u3040" <= ch <= "\u30ff" or "\u4e00" <= ch <= "\u9fff")
    if japanese >= 3:
        return "ja"
    french = len(re.findall(r"[éèêàçù]|\b(?:Développeur|Licence|Données|Modèles?|Domaine)\b", text))
    return "fr" if french >= 2 else "en"


def unescape(text: str) -> str:
    """HTML entities decoded (``&#x2011;`` → ``‑``)."""
    return html.unescape(text)


def strip_markup(text: str) -> str:
    """Markdown emphasis and HTML tags removed, ``<br>`` as a space, entities decoded."""
    text = _BR.sub(" ", text)
    text = _TAG.sub("", text)
    text = text.replace("**", "").replace("\\*", "*")
    text = _FOOTNOTE.sub("", text)
    return normalise_space(html.unescape(text))


def align_section_ids(docs: dict[str, Document], primary: str) -> None:
    """Give headings without an ``<a id>`` anchor one stable id in every language.

    Sections are matched across languages by their position in the heading tree; an unanchored
    section gets ``<parent id>-<slug of its en heading>`` (the primary heading when there is no
    matching en one), so the id does not change when the ja wording does.
    """
    used = {s.id for s in docs[primary].root.walk() if s.anchored}

    def walk(node: Section, matches: dict[str, Section | None]) -> None:
        for pos, child in enumerate(node.children):
            twins = {lang: (m.children[pos] if m is not None and len(m.children) == len(node.children) else None)
                     for lang, m in matches.items()}
            if not child.anchored:
                en = twins.get("en") if primary != "en" else child
                base = slug((en or child).title.text)
                if node.id:
                    base = f"{node.id}-{base}"
                sid, n = base, 2
                while sid in used:
                    sid, n = f"{base}-{n}", n + 1
                used.add(sid)
                child.id = sid
                for twin in twins.values():
                    if twin is not None and not twin.anchored:
                        twin.id = sid
            walk(child, twins)

    walk(docs[primary].root, {lang: doc.root for lang, doc in docs.items() if lang != primary})
