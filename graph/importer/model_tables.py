"""Model tables: one model family per row, its variants, and the cells parsed on their own."""
from __future__ import annotations

import re

from graph.importer.cells import assign, hf_repo, infer_variant_parents, parse_context, parse_size
from graph.importer.columns import COLUMNS
from graph.importer.sections import default_stage
from graph.importer.document import Cell, Row, Section, Table
from graph.importer.markdown_doc import normalise_space
from graph.importer.registry import normalise
from graph.importer.training import parse_training

HF_MARKS = {"◯": "available", "○": "available", "〇": "available", "△": "convertible", "✕": "unsupported",
             "×": "unsupported", "※": "unofficial"}


KNOWN_KEYS = {"name", *(key for key, _ in COLUMNS)}

#: Cells parsed on their own: column key → (family field, parser method, parse an empty cell too).
#: The other known columns need the whole row: ``name``, ``domain`` (aligned rows), ``base_model`` and
#: ``training`` (lineage), ``context_length`` and ``licence`` (spread over the variants).
CELL_PARSERS: dict[str, tuple[str, str, bool]] = {
    "architecture": ("architecture", "_architecture", True),
    "developer": ("developers", "_developers", True),
    "year": ("release_year", "_release_year", False),
    "platform": ("platforms", "_platforms", False),
    "hf_available": ("hf_available", "_hf_available", True),
}

class ModelTables:
    """Mixin of :class:`graph.importer.walk.Importer`: rows of model tables."""

    def _family(self, sec: Section, path: list[Section], tpos: int, rpos: int, table: Table, row: Row,
                cells: dict[str, Cell], keys: list[str], kind: str) -> dict:
        """One model family from a row of a model table (``tpos``-th table of ``sec``, ``rpos``-th row)."""
        where = self.where(row.line)
        name_cell = cells.get("name") or row.cells[0]
        key_links = {link.href for c in row.cells for link in c.links}
        aligned = {lang: self._aligned_row(lang, sec.id, tpos, rpos, key_links) for lang in self.others}
        names = {self.primary: self._name(name_cell)}
        lines = {}
        name_pos = keys.index("name") if "name" in keys else 0  # the translations keep the primary's column order
        for lang, other_row in aligned.items():
            if other_row is not None:
                names[lang] = self._name(other_row.cells[name_pos if name_pos < len(other_row.cells) else 0])
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
        for key, (name, parser, when_empty) in CELL_PARSERS.items():
            if key in cells and (when_empty or not cells[key].empty):
                fam[name] = getattr(self, parser)(cells[key], where)
        base_models: list[dict] = []
        if "base_model" in cells and not cells["base_model"].empty:
            base_models.extend(self._base_cell(cells["base_model"], where, default_stage(path)))

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
            parsed = parse_training(cells["training"].lines, self.reg, default_stage(path), where, self._is_model_name)
            fam["training"] = {"raw": cells["training"].raw, "stages": parsed.stages}
            if parsed.unknown:
                fam["training"]["unknown"] = True
            if parsed.unparsed:
                self.report.warnings.append(
                    f"{where}: training text kept raw (not a registered dataset or a name): "
                    + "; ".join(repr(u) for u in parsed.unparsed))
            for base, how in parsed.bases:
                ref = self._base_ref(base, where, explicit_from="training")
                ref["kind"] = how or default_stage(path)
                base_models.append(ref)
            if not parsed.stages and not parsed.unknown:
                self.report.raw_only.append(f"{where}: training {cells['training'].raw!r}")
        if base_models:
            fam["base_models"] = base_models
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
        extra = {k: c.raw for k, c in cells.items() if k not in KNOWN_KEYS}
        if extra:
            fam["extra_columns"] = extra
        return fam

    def _release_year(self, cell: Cell, where: str) -> int | None:
        """``公開年``: a four-digit year (kept raw and reported otherwise)."""
        year = re.fullmatch(r"\s*((?:19|20)\d\d)\s*", cell.text)
        if not year:
            self.report.raw_only.append(f"{where}: release year {cell.raw!r}")
        return int(year.group(1)) if year else None

    def _platforms(self, cell: Cell, where: str) -> list[str]:
        """``プラットフォーム`` of the API models: one platform per line or comma."""
        return [p for line in cell.lines for p in (normalise_space(x) for x in re.split(r"、|,", line)) if p]

    def _hf_available(self, cell: Cell, where: str) -> dict:
        """``HuggingFace ですぐ使える？``: the mark (◯ △ ✕ ※) and the raw cell."""
        mark = next((m for ch, m in HF_MARKS.items() if cell.text.startswith(ch) or cell.raw.lstrip("[ ").startswith(ch)), None)
        if mark is None and not cell.empty:
            self.report.raw_only.append(f"{where}: HuggingFace availability {cell.raw!r}")
        return {"raw": cell.raw, "mark": mark}

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

