"""Base models: the base-model column, the merge tables' source columns, bases named in training cells,
and their resolution to catalog families or foundation models."""
from __future__ import annotations

import re

from graph.importer.cells import parse_size
from graph.importer.document import Cell
from graph.importer.markdown_doc import strip_markup
from graph.importer.registry import normalise


class BaseModels:
    """Mixin of :class:`graph.importer.walk.Importer`: base and merge-source references."""

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
            names.extend(part for part in split_outside_parens(line) if part.strip())
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


def split_outside_parens(text: str, separators: str = ",、＋+×") -> list[str]:
    """Split at commas (and 、, ×, +) that are not inside parentheses.

    >>> split_outside_parens("A (x, y), B")
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

