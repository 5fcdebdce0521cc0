"""``jllm-kg import``: the catalog README (ja, en, fr) → YAML entry files in ``catalog/``.

Every table row becomes an entry or a reported problem naming file and line; every cell is kept
raw beside its parsed value. Registries are read, never written.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml

import catalog as catalog_pkg
from graph.cells import (
    arxiv_id, assign, hf_repo, infer_variant_parents, parse_context, parse_date, parse_size,
)
from graph.columns import COLUMNS, column_key
from graph.errors import UserError
from graph.markdown_doc import (Cell, Document, Section, Table, align_section_ids, detect_language, normalise_space,
                                parse_document, parse_markdown, slug,
                                strip_markup)
from graph.catalog import read_yaml
from graph.registry import Registries, load_registries, normalise
from graph.settings import UPSTREAM_REPO
from graph.training import parse_training

_UPSTREAM_NAMES = {"ja": "README.md", "en": "README_en.md", "fr": "README_fr.md"}
_HF_MARKS = {"◯": "available", "○": "available", "〇": "available", "△": "convertible", "✕": "unsupported",
             "×": "unsupported", "※": "unofficial"}
_KIND_WORDS = [
    ("generative", ("generative", "テキスト生成", "text generation", "génération de texte")),
    ("autoencoding", ("autoencoding", "入力テキストの処理", "encoder", "encodeur")),
    ("embeddings", ("embedding", "埋め込み", "plongement")),
    ("multimodal", ("multimodal", "vision", "視覚", "画像")),
    ("speech", ("speech", "音声", "parole")),
    ("benchmarks", ("benchmark", "ベンチマーク", "評価")),
    ("papers", ("reference", "原論文", "paper")),
]


# ---------------------------------------------------------------- YAML output

class _Dumper(yaml.SafeDumper):
    """Block style, UTF-8, multi-line strings as literal blocks."""


def _str_rep(dumper: yaml.SafeDumper, data: str):
    style = "|" if "\n" in data else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", data, style=style)


_Dumper.add_representer(str, _str_rep)


def dump_yaml(data: object) -> str:
    """Deterministic, human-readable YAML (keys in insertion order, UTF-8, wide lines)."""
    return yaml.dump(data, Dumper=_Dumper, allow_unicode=True, sort_keys=False, width=4096, default_flow_style=False)


# ---------------------------------------------------------------- report

@dataclass
class Report:
    """What an import saw and wrote; printed by every import."""

    rows: dict[str, int] = field(default_factory=dict)
    entries: dict[str, int] = field(default_factory=dict)
    files: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    raw_only: list[str] = field(default_factory=list)
    minted: dict[str, list[dict]] = field(default_factory=dict)
    variants: int = 0

    def render(self) -> str:
        out = ["Coverage report", "", "rows seen per section:"]
        for sec, n in self.rows.items():
            out.append(f"  {sec:45} {n:4d} rows → {self.entries.get(sec, 0):4d} entries")
        out.append(f"entries written: {sum(self.entries.values())} (+ {self.variants} variants) in {len(self.files)} files")
        out.append(f"cells kept raw only (not parsed into structure): {len(self.raw_only)}")
        out.extend(f"  {c}" for c in self.raw_only)
        total = sum(len(v) for v in self.minted.values())
        out.append(f"unresolved names (minted as new entities): {total}")
        for kind, items in self.minted.items():
            out.append(f"  {kind}: {len(items)}")
            for m in items:
                out.append(f"    {m['id']}: {m['name']!r} ({', '.join(m['seen_in'][:3])}{' …' if len(m['seen_in']) > 3 else ''})")
        out.append(f"warnings: {len(self.warnings)}")
        out.extend(f"  {w}" for w in self.warnings)
        out.append(f"problems (rows not turned into entries): {len(self.problems)}")
        out.extend(f"  {p}" for p in self.problems)
        return "\n".join(out)


# ---------------------------------------------------------------- sections

def section_kind(path: list[Section]) -> str:
    """The kind of catalog part a section belongs to, from its anchors and titles (outermost first)."""
    for sec in path:
        hay = f"{sec.id} {sec.title.text}".casefold()
        for kind, words in _KIND_WORDS:
            if any(w in hay for w in words):
                return kind
    return "other"


def _is_domain_specific(path: list[Section]) -> bool:
    return any(re.search(r"domain|ドメイン特化|spécifique", f"{s.id} {s.title.text}", re.I) for s in path)


def _default_stage(path: list[Section]) -> str:
    hay = " ".join(f"{s.id} {s.title.text}" for s in path).casefold()
    if "merge" in hay or "マージ" in hay or "fusion" in hay:
        return "merge"
    if "instruction-only" in hay or "指示チューニング" in hay:
        return "instruction-tuning"
    if "continual" in hay or "継続事前学習" in hay or "english-based" in hay:
        return "continual-pre-training"
    return "pre-training"


def _table_type(keys: list[str], kind: str) -> str:
    """``papers``, ``benchmarks``, ``models`` or ``other``, from the column keys and the section kind."""
    if "paper" in keys and ("date" in keys or "venue" in keys):
        return "papers"
    if kind == "benchmarks" and ("description" in keys or "developer" in keys):
        return "benchmarks"
    if "name" in keys or keys[:1] == ["column_0"]:
        return "models"
    return "other"


#: Column keys of a paper table written with an empty header row (``|||||``, the included parts).
_PAPER_KEYS = ["name", "date", "venue", "paper"]


# ---------------------------------------------------------------- import

#: What a parser may raise on a notation it does not know; anything else is a bug and propagates.
_ROW_ERRORS = (ValueError, KeyError, IndexError)

@dataclass
class _Lang:
    doc: Document
    sections: dict[str, Section]


class Importer:
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

    # -- helpers
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

    def _aligned_row(self, lang: str, sid: str, tpos: int, rpos: int, key_links: set[str]):
        table = self._aligned_table(lang, sid, tpos)
        if table is None:
            return None
        def links(row):
            return {link.href for c in row.cells for link in c.links}
        if rpos < len(table.rows):
            cand = table.rows[rpos]
            if not key_links or links(cand) & key_links or len(table.rows) == len(self.main.sections[sid].tables[tpos].rows):
                return cand
        for cand in table.rows:  # rows moved: find by shared links
            if key_links and links(cand) & key_links:
                return cand
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

    # -- the walk
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
                "domain_specific": _is_domain_specific(path),
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
                except _ROW_ERRORS as err:  # keep the heading raw rather than lose it
                    self.report.warnings.append(
                        f"{self.where(sec.line)}: benchmark heading could not be parsed ({type(err).__name__}: {err}); kept raw")
                    self.other.setdefault(sec.id, []).append({
                        "source": self.src(sec.line),
                        "cells": {"heading": sec.title.raw, **{f"paragraph_{n}": p.cell.raw for n, p in enumerate(sec.paragraphs, 1)}},
                    })
        self.report.problems.extend(self.main.doc.problems)
        for lang in self.others:
            self.report.warnings.extend(self.langs[lang].doc.problems)
        self._claim_repos_once()
        self._resolve_catalog_bases()

    def _claim_repos_once(self) -> None:
        """A Hugging Face repo linked from two rows (an upstream typo) stays with the first family; reported."""
        owner: dict[str, dict] = {}
        for fams in self.families.values():
            for fam in fams:
                kept = []
                for v in fam["variants"]:
                    first = owner.setdefault(v["repo"], fam)
                    if first is fam:
                        kept.append(v)
                        continue
                    self.report.warnings.append(
                        f"{fam['source']['file']}:{fam['source']['line']}: {v['repo']} is also linked from family "
                        f"{first['id']!r} ({first['source']['file']}:{first['source']['line']}); attached to {first['id']!r} only")
                if len(kept) != len(fam["variants"]):
                    repos = {v["repo"] for v in kept}
                    for v in kept:
                        v.get("derived_from", [])[:] = [d for d in v.get("derived_from", []) if d["variant"] in repos]
                        if "derived_from" in v and not v["derived_from"]:
                            del v["derived_from"]
                    self.report.variants -= len(fam["variants"]) - len(kept)
                    fam["variants"] = kept

    def _table(self, sec: Section, path: list[Section], tpos: int, table: Table, kind: str) -> None:
        keys = []
        headerless = all(h.empty for h in table.headers)
        for pos, header in enumerate(table.headers):
            key, known = column_key(header.raw, pos)
            if headerless and kind == "papers" and len(table.headers) == len(_PAPER_KEYS):
                key, known = _PAPER_KEYS[pos], True
            if not known:
                self.report.warnings.append(
                    f"{self.where(table.line)}: unknown column {header.text!r} in section {sec.id!r} kept raw as {key!r}")
            keys.append(key)
        ttype = _table_type(keys, kind)
        label = sec.id if tpos == 0 else f"{sec.id}#{tpos + 1}"
        self.report.rows[label] = len(table.rows)
        written = 0
        for rpos, row in enumerate(table.rows):
            if all(c.empty for c in row.cells):
                self.report.warnings.append(f"{self.where(row.line)}: empty row in section {sec.id!r} skipped")
                continue
            if len(row.cells) != len(keys):
                self.report.warnings.append(f"{self.where(row.line)}: row has {len(row.cells)} cells, header has {len(keys)}")
            cells = dict(zip(keys, row.cells))
            if ttype == "papers":
                try:
                    self.papers.append(self._paper(sec, table, row, cells, keys))
                except _ROW_ERRORS as err:  # keep the row raw rather than lose it
                    self._keep_raw(sec, row, cells, err)
            elif ttype == "benchmarks":
                try:
                    self.benchmarks.append(self._benchmark_row(sec, path, tpos, rpos, row, cells, keys))
                except _ROW_ERRORS as err:
                    self._keep_raw(sec, row, cells, err)
            elif ttype == "models" and kind in ("generative", "autoencoding", "embeddings", "multimodal", "speech", "other"):
                try:
                    fam = self._family(sec, path, tpos, rpos, table, row, cells, keys, kind)
                except _ROW_ERRORS as err:  # an unforeseen notation must not lose the row: keep it raw
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

    def _keep_raw(self, sec: Section, row, cells: dict[str, Cell], err: Exception) -> None:
        """Keep a row that could not be parsed as a generic raw row, with a warning naming its line."""
        self.report.warnings.append(
            f"{self.where(row.line)}: row could not be parsed ({type(err).__name__}: {err}); kept raw in other/{sec.id}.yaml")
        self.other.setdefault(sec.id, []).append({
            "source": self.src(row.line),
            "cells": {k: c.raw for k, c in cells.items()},
        })

    # -- model families
    def _family(self, sec, path, tpos, rpos, table, row, cells: dict[str, Cell], keys, kind) -> dict:
        where = self.where(row.line)
        name_cell = cells.get("name") or row.cells[0]
        key_links = {link.href for c in row.cells for link in c.links}
        aligned = {lang: self._aligned_row(lang, sec.id, tpos, rpos, key_links) for lang in self.others}
        names = {self.primary: self._name(name_cell)}
        lines = {}
        for lang, other_row in aligned.items():
            if other_row is not None:
                names[lang] = self._name(other_row.cells[0])
                lines[lang] = other_row.line
            elif lang in self.langs:
                self.report.warnings.append(f"{where}: no matching row in the {lang} README")
        fid = self.new_family_id(names.get("en"), names[self.primary])
        for lang_name in names.values():
            self.family_names.setdefault(normalise(lang_name), fid)
        homepage = name_cell.links[0].href if name_cell.links else None
        fam: dict = {"id": fid, "names": names}
        if homepage:
            fam["homepage"] = homepage
        fam["kind"] = kind
        src: dict = self.src(row.line)
        if lines:
            src["lines"] = lines
        fam["source"] = src

        if "domain" in cells:
            dom = {"raw": cells["domain"].raw, self.primary: cells["domain"].text}
            for lang, other_row in aligned.items():
                if other_row is not None and "domain" in keys:
                    dom[lang] = other_row.cells[keys.index("domain")].text if keys.index("domain") < len(other_row.cells) else None
            fam["domain"] = dom
        if "architecture" in cells:
            fam["architecture"] = self._architecture(cells["architecture"], where)
        base_models: list[dict] = []
        if "base_model" in cells and not cells["base_model"].empty:
            base_models.extend(self._base_cell(cells["base_model"], where, _default_stage(path)))
        if "developer" in cells:
            fam["developers"] = self._developers(cells["developer"], where)
        if "year" in cells and not cells["year"].empty:
            year = re.fullmatch(r"\s*((?:19|20)\d\d)\s*", cells["year"].text)
            fam["release_year"] = int(year.group(1)) if year else None
            if not year:
                self.report.raw_only.append(f"{where}: release year {cells['year'].raw!r}")
        if "platform" in cells and not cells["platform"].empty:
            fam["platforms"] = [p for line in cells["platform"].lines for p in (normalise_space(x) for x in re.split(r"、|,", line)) if p]

        # variants: every Hugging Face model link outside the licence cell
        variants: dict[str, dict] = {}
        for key, cell in cells.items():
            if key == "licence":
                continue
            for link in cell.links:
                repo = hf_repo(link.href)
                if not repo:
                    continue
                label = normalise_space(link.text)
                if not re.search(r"[A-Za-z0-9]", label):  # "◯", "公開されている": name it by its repo
                    label = repo.split("/")[-1]
                current = variants.get(repo)
                if current is None or (current["_from_name"] and key != "name"):
                    variants[repo] = {"repo": repo, "url": f"https://huggingface.co/{repo}", "label": label,
                                      "label_raw": link.raw, "_from_name": key == "name"}
        for v in variants.values():
            size = parse_size(v["label_raw"]) or parse_size(v["repo"].split("/")[-1])
            v.pop("_from_name")
            if v["label_raw"] == v["label"]:
                v.pop("label_raw")
            if size:
                v["size"] = size
        family_size = next((b.get("size") for b in base_models if b.get("size")), None)
        if family_size:
            for v in variants.values():
                if "size" not in v:
                    v["size"] = dict(family_size)

        if "context_length" in cells and not cells["context_length"].empty:
            cl = cells["context_length"]
            values = parse_context(cl.lines)
            fam["context_length"] = {"raw": cl.raw, "values": values}
            if not values:
                self.report.raw_only.append(f"{where}: context length {cl.raw!r}")
            self._spread(values, variants, "context_length", lambda item: item["value"])
        if "licence" in cells:
            fam["licences"] = self._licences(cells["licence"], where)
            self._spread(fam["licences"]["values"], variants, "licence", lambda item: item["id"])
        if "training" in cells and not cells["training"].empty:
            parsed = parse_training(cells["training"].lines, self.reg, _default_stage(path), where, self._is_model_name)
            fam["training"] = {"raw": cells["training"].raw, "stages": parsed.stages}
            if parsed.unknown:
                fam["training"]["unknown"] = True
            if parsed.unparsed:
                self.report.warnings.append(
                    f"{where}: training text kept raw (not a registered dataset or a name): "
                    + "; ".join(repr(u) for u in parsed.unparsed))
            for base, how in parsed.bases:
                ref = self._base_ref(base, where, explicit_from="training")
                ref["kind"] = how or _default_stage(path)
                base_models.append(ref)
            if not parsed.stages and not parsed.unknown:
                self.report.raw_only.append(f"{where}: training {cells['training'].raw!r}")
        if base_models:
            fam["base_models"] = base_models
        if "hf_available" in cells:
            hf = cells["hf_available"]
            mark = next((m for ch, m in _HF_MARKS.items() if hf.text.startswith(ch) or hf.raw.lstrip("[ ").startswith(ch)), None)
            fam["hf_available"] = {"raw": hf.raw, "mark": mark}
            if mark is None and not hf.empty:
                self.report.raw_only.append(f"{where}: HuggingFace availability {hf.raw!r}")
        notes = sorted({n for c in row.cells for n in c.footnotes}, key=lambda s: (len(s), s))
        if notes:
            fam["footnotes"] = notes
            for n in notes:
                if n not in self.main.doc.footnotes:
                    self.report.warnings.append(f"{where}: footnote [^{n}] has no definition in {self.main.doc.file}")
        parents = infer_variant_parents(list(variants))
        vlist = []
        for repo, v in variants.items():
            if repo in parents:
                parent, how = parents[repo]
                v["derived_from"] = [{"variant": parent, "kind": how, "inferred": True}]
            vlist.append(v)
        fam["variants"] = vlist
        self.report.variants += len(vlist)
        fam["cells"] = {k: c.raw for k, c in cells.items()}
        extra = {k: c.raw for k, c in cells.items() if k not in _KNOWN_KEYS}
        if extra:
            fam["extra_columns"] = extra
        return fam

    @staticmethod
    def _name(cell: Cell) -> str:
        if cell.links:
            return normalise_space(cell.links[0].text)
        return normalise_space(cell.lines[0] if cell.lines else cell.text)

    def _spread(self, values: list[dict], variants: dict[str, dict], key: str, pick) -> None:
        """Give each variant the value of the applies-to group its label fits."""
        if not values or not variants:
            return
        groups = [item.get("applies_to") for item in values]
        for v in variants.values():
            pos = assign(groups, v.get("label_raw", v["label"]) + " " + v["repo"].split("/")[-1]) if len(values) > 1 else 0
            if pos is None and len(values) == 1:
                pos = 0
            if pos is not None:
                v[key] = pick(values[pos])

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

    def _base_cell(self, cell: Cell, where: str, kind: str) -> list[dict]:
        """The base-model column: one or more names, each with an optional size (``Llama 2 (**7b**)``).

        Several bases (merges) are written on separate lines or separated by commas; a line that is
        only a size belongs to the name before it (``Code Llama<br>(**7b**)``).
        """
        lines: list[str] = []
        raw_lines = re.split(r"<br\s*/?>", cell.raw, flags=re.I)
        for raw_line in raw_lines:
            text = strip_markup(re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", raw_line))
            if not text:
                continue
            if lines and re.fullmatch(r"[(（]\s*[\d.]+\s*[bBmM](?:\s*\([\d.]+\s*[bB]\))?\s*[)）]", text):
                lines[-1] += " " + text
            else:
                lines.append(text)
        names: list[str] = []
        for line in lines:
            names.extend(part for part in _split_outside_parens(line) if part.strip())
        out = []
        for text in names:
            text = text.strip()
            m = re.match(r"^(.*?)\s*\(\s*([\d.]+\s*[bBmM](?:\s*\([\d.]+\s*[bB]\))?)\s*\)\s*$", text)
            name, size = (m.group(1), m.group(2)) if m else (text, None)
            if not re.search(r"\w", name):
                self.report.raw_only.append(f"{where}: base model {cell.raw!r}")
                continue
            ref = self._base_ref(name, where)
            ref["raw"] = cell.raw if len(names) == 1 else text
            ref["kind"] = kind
            if size:
                parsed = parse_size(size)
                if parsed:
                    ref["size"] = parsed
            out.append(ref)
        return out

    def _is_model_name(self, text: str) -> bool:
        """Whether ``text`` (before "に対して") names a model: a known one, or a Latin-script name, not a phrase."""
        bare = re.sub(r"\s*[(（][^)）]*[)）]\s*$", "", strip_markup(text)).strip()
        return bool(bare) and (
            normalise(bare) in self.family_names or self.reg["foundation_model"].lookup(bare) is not None
            or (bool(re.search(r"[A-Za-z]", bare)) and not re.search(r"[\u3040-\u30ff\u4e00-\u9fff:：。]", bare))
        )

    def _base_ref(self, name: str, where: str, explicit_from: str = "base_model") -> dict:
        """A reference to a base model by name; catalog families are resolved after the walk."""
        name = strip_markup(name)
        m = re.match(r"^(.*?)\s*[(（]\s*([^)）]*)\s*[)）]\s*$", name)
        qualifier = None
        if m and m.group(1):
            name, qualifier = m.group(1).strip(), m.group(2).strip()
        only = re.match(r"^\*?\s*(?P<who>.+?)のみ\s*(?P<name>.+?)\s*がベース$", name)
        if only:  # "*Instructが名前に付いていないモデルのみ Mixtral-8x7B-v0.1 がベース"
            name, qualifier = only.group("name"), only.group("who").strip()
        if name in ("-", "－") and qualifier:  # "- (Llama-3-EvoVLM-JP-v2 に対して追加学習)": no merge source, a base
            on = re.match(r"^(.+?)\s*に対して", qualifier)
            if on:
                name, qualifier = on.group(1).strip(), None
        ref: dict = {"raw": name if not qualifier else f"{name} ({qualifier})", "name": name}
        if qualifier:
            ref["qualifier"] = qualifier
        ref["from"] = explicit_from
        ref["_where"] = where
        return ref

    def _resolve_catalog_bases(self) -> None:
        """Point base references at catalog families first, then foundation models, else mint."""
        all_fams = {f["id"]: f for fams in self.families.values() for f in fams}
        fm = self.reg["foundation_model"]
        repo_owner: dict[str, str] = {}
        for fam in all_fams.values():
            for v in fam["variants"]:
                repo_owner.setdefault(normalise(v["repo"]), fam["id"])
                repo_owner.setdefault(normalise(v["repo"].split("/")[-1]), fam["id"])
        for fams in self.families.values():
            for fam in fams:
                for ref in fam.get("base_models", []):
                    where = ref.pop("_where")
                    name = ref.pop("name")
                    target = self.family_names.get(normalise(name))
                    if target is None:
                        # "東北大BERT" / "Llama-3-ELYZA-JP-8B" written without the spaces of the row name
                        squeezed = re.sub(r"[\s\-_]", "", normalise(name))
                        for fname, fid in self.family_names.items():
                            if squeezed == re.sub(r"[\s\-_]", "", fname):
                                target = fid
                                break
                    if target is None:
                        # a Hugging Face repo ("SakanaAI/TinySwallow-1.5B-Instruct") or its name: the family linking it
                        target = repo_owner.get(normalise(name)) or repo_owner.get(normalise(name.split("/")[-1]))
                    if target and target != fam["id"]:
                        ref["id"] = target
                        ref["in_catalog"] = True
                        base = all_fams[target]
                        roots = [v["repo"] for v in base["variants"] if "derived_from" not in v]
                        if roots:
                            q = (ref.get("qualifier") or "").casefold()
                            pick = next((r for r in roots if q and q.split(",")[0].strip() in r.casefold()), roots[0])
                            ref["variant"] = pick
                    else:
                        ref["id"] = fm.lookup(name) or fm.resolve(name, where)
                        ref["in_catalog"] = False
                    ordered = {k: ref[k] for k in ("raw", "id", "in_catalog", "variant", "qualifier", "size", "kind", "from") if k in ref}
                    ref.clear()
                    ref.update(ordered)
                # the base-model column names the root of the lineage; a catalog base named in the
                # training cell is the direct parent
                if any(r.get("in_catalog") and r["from"] == "training" for r in fam.get("base_models", [])):
                    for r in fam["base_models"]:
                        if r["from"] == "base_model":
                            r["direct"] = False

    def _developers(self, cell: Cell, where: str) -> dict:
        """Developer ids: a registered name as a whole, else its comma/& parts; ``個人 (A, B)`` is two people."""
        reg = self.reg["organisation"]
        text = normalise_space(" ".join(cell.lines)) if cell.lines else strip_markup(cell.raw)
        text = text.replace("\u200b", "").strip()
        ids: list[str] = []
        found = reg.lookup(text)
        if found:
            ids = [found]
        else:
            for part in _developer_parts(text, reg):
                ids.append(reg.resolve(part, where))
        out: dict = {"raw": cell.raw, "ids": ids}
        persons = [link.href for link in cell.links]
        if persons:
            out["links"] = persons
        return out

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

    # -- papers
    def _paper(self, sec: Section, table: Table, row, cells: dict[str, Cell], keys) -> dict:
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

    # -- benchmarks
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
        includes, questions, links = _prose_facts([p.cell for p in sec.paragraphs])
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

    def _benchmark_row(self, sec: Section, path: list[Section], tpos: int, rpos: int, row, cells: dict[str, Cell],
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
        includes, questions, links = _prose_facts([desc] if desc else [])
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


def _prose_facts(cells: list[Cell]) -> tuple[list[dict], int | None, list[str]]:
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


_PERSON = re.compile(r"^(?:個人|individual|individuel|particulier|personne)\s*[(（]\s*(.+?)\s*[)）]$", re.I)
_COMMA = re.compile(r"\s*(?:、|,|，)\s*")
_AND = re.compile(r"\s*(?:&|＆|\s+and\s+|\s+et\s+)\s*")


def _developer_parts(text: str, reg) -> list[str]:
    """The names in a developer cell: commas first, ``&`` only inside a part no registry knows.

    >>> from graph.registry import Registry
    >>> reg = Registry("organisation"); reg.add({"id": "wandb", "labels": {"en": "Weights & Biases"}})
    >>> _developer_parts("個人 (山田育矢, 李凌寒)", reg)
    ['山田育矢', '李凌寒']
    >>> _developer_parts("Weights & Biases, Stability AI & rinna", reg)
    ['Weights & Biases', 'Stability AI', 'rinna']
    """
    parts: list[str] = []
    for chunk in (c.strip() for c in _split_outside_parens(text, ",、，")):
        if not chunk:
            continue
        person = _PERSON.match(chunk)
        if person:
            parts.extend(p.strip() for p in re.split(r"\s*(?:、|,|，|&|＆)\s*", person.group(1)) if p.strip())
        elif reg.lookup(chunk):
            parts.append(chunk)
        else:
            parts.extend(p.strip() for p in _AND.split(chunk) if p.strip())
    return parts


def _split_outside_parens(text: str, separators: str = ",、＋+×") -> list[str]:
    """Split at commas (and 、, ×, +) that are not inside parentheses.

    >>> _split_outside_parens("A (x, y), B")
    ['A (x, y)', ' B']
    """
    parts, depth, buf = [], 0, ""
    for ch in text:
        if ch in "(（":
            depth += 1
        elif ch in ")）":
            depth = max(0, depth - 1)
        if depth == 0 and ch in separators:
            parts.append(buf)
            buf = ""
            continue
        buf += ch
    parts.append(buf)
    return parts


class ImportProblems(UserError):
    """Rows that could not be turned into entries (kept for callers that want to refuse on them)."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        more = f" (and {len(problems) - 1} more problems: {'; '.join(problems[1:4])})" if len(problems) > 1 else ""
        super().__init__(problems[0] + more + " — nothing written")


_KNOWN_KEYS = {"name", *(key for key, _ in COLUMNS)}


def _write(path: Path, data: object) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    text = dump_yaml(data)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)


def _snapshot(reg_dir: Path) -> dict:
    """The curated description of the upstream snapshot (``registries/source.yaml``), if any."""
    path = reg_dir / "source.yaml"
    if not path.exists():
        return {}
    data = read_yaml(path, f"{reg_dir.name}/source.yaml") or {}
    if not isinstance(data, dict):
        raise UserError(f"{path}: expected a mapping (upstream, commit, date, licence)")
    paths = data.pop("paths", None) or {}
    if not isinstance(paths, dict):
        raise UserError(f"{path}: 'paths' must map a language (ja, en, fr) to the README's path upstream")
    out = {k: str(v) for k, v in data.items() if v is not None}
    out.update({f"path_{lang}": str(p) for lang, p in paths.items()})
    return out


def run_import(
    readme: Path,
    *,
    en: Path | None = None,
    fr: Path | None = None,
    out: Path,
    registries: Path | None = None,
    commit: str | None = None,
) -> Report:
    """Import the README file(s) into ``out`` and return the coverage report (the per-file form)."""
    main_doc = parse_document(readme, readme.name)
    primary = detect_language(main_doc)
    docs = {primary: main_doc}
    for lang, path in (("en", en), ("fr", fr)):
        if path is None:
            continue
        if lang == primary:
            raise UserError(f"{readme} reads as the {lang} README and --{lang} {path} was given too: "
                            "pass the Japanese README first (or drop --{lang})".replace("{lang}", lang))
        docs[lang] = parse_document(path, path.name)
    reg_dir = registries or (catalog_pkg.PATH / "registries")
    snapshot = _snapshot(reg_dir) if reg_dir.is_dir() else {}
    source = {
        "upstream": snapshot.get("upstream", UPSTREAM_REPO),
        "commit": commit or snapshot.get("commit"),
        "date": snapshot.get("date") if not commit else None,
        "licence": snapshot.get("licence", "Apache-2.0"),
        "files": {lang: {"file": d.file, "upstream_path": snapshot.get(f"path_{lang}", _UPSTREAM_NAMES[lang])}
                  for lang, d in docs.items()},
    }
    if source["date"] is None:
        source.pop("date")
    return import_documents(docs, primary, out=out, registries=reg_dir, source=source, label=str(readme))


def run_upstream_import(upstream: Path, *, rev: str | None = None, out: Path, registries: Path | None = None,
                        commit: str | None = None) -> Report:
    """Import an upstream revision (checkout, directory in its layout, or git repository at ``rev``)."""
    from graph.upstream import read_revision

    revision = read_revision(upstream, rev)
    docs: dict[str, Document] = {}
    for lang, readme in revision.readmes.items():
        docs[lang] = parse_markdown(readme.text, readme.path, readme.origins)
    if detect_language(docs["ja"]) != "ja":
        raise UserError(f"{upstream}/README.md does not read as the Japanese README")
    source: dict = {"upstream": UPSTREAM_REPO, "commit": commit or revision.commit}
    if revision.date and not commit:
        source["date"] = revision.date
    source["licence"] = "Apache-2.0"
    source["files"] = {lang: {"file": r.path, "upstream_path": r.path} for lang, r in revision.readmes.items()}
    reg_dir = registries or (catalog_pkg.PATH / "registries")
    return import_documents(docs, "ja", out=out, registries=reg_dir, source=source, label=str(upstream))


def import_documents(docs: dict[str, Document], primary: str, *, out: Path, registries: Path, source: dict,
                     label: str) -> Report:
    """Turn parsed READMEs into entry files in ``out``; problems are reported, never fatal for the rest."""
    if not registries.is_dir():
        raise UserError(f"registries directory {registries} does not exist (use --registries DIR)")
    regs = load_registries(registries)
    imp = Importer(docs, regs, primary=primary)
    imp.run()
    if primary != "ja":
        imp.report.warnings.insert(0, f"{docs[primary].file}: reads as the {primary} README, not the Japanese one: "
                                      f"names are recorded as @{primary}; table cells are parsed from it")
    if not imp.report.rows:
        raise UserError(f"{label}: no catalog tables or benchmark sections found — is this the awesome-japanese-llm README?")

    out.mkdir(parents=True, exist_ok=True)
    rep = imp.report
    _write(out / "sections.yaml", {"source": source, "sections": imp.sections})
    rep.files.append("sections.yaml")
    written = {"sections.yaml", "benchmarks.yaml", "papers.yaml", "minted.yaml"}
    for sid, fams in imp.families.items():
        _write(out / "models" / f"{sid}.yaml", {"section": sid, "families": fams})
        rep.files.append(f"models/{sid}.yaml")
    _write(out / "benchmarks.yaml", {"benchmarks": imp.benchmarks})
    _write(out / "papers.yaml", {"papers": imp.papers})
    rep.files += ["benchmarks.yaml", "papers.yaml"]
    for sid, rows in imp.other.items():
        _write(out / "other" / f"{sid}.yaml", {"section": sid, "rows": rows})
        rep.files.append(f"other/{sid}.yaml")
    rep.minted = regs.minted_report()
    _write(out / "minted.yaml", rep.minted)
    rep.files.append("minted.yaml")
    _remove_stale(out, set(rep.files) | written)
    return rep


def _remove_stale(out: Path, keep: set[str]) -> None:
    """Entry files an earlier import wrote that this one did not (a section renamed or gone upstream)."""
    for sub in ("models", "other"):
        for path in sorted((out / sub).glob("*.yaml")):
            if f"{sub}/{path.name}" not in keep:
                path.unlink()
