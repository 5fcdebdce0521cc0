"""Developer cells: registered organisations and people, joint developers, ``個人 (A, B)``."""
from __future__ import annotations

import re

from graph.importer.document import Cell
from graph.importer.markdown_doc import normalise_space, strip_markup
from graph.importer.base_models import split_outside_parens


class Developers:
    """Mixin of :class:`graph.importer.walk.Importer`: developer cells."""

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
            for part in developer_parts(text, reg):
                ids.append(reg.resolve(part, where))
        out: dict = {"raw": cell.raw, "ids": ids}
        persons = [link.href for link in cell.links]
        if persons:
            out["links"] = persons
        return out


_PERSON = re.compile(r"^(?:個人|individual|individuel|particulier|personne)\s*[(（]\s*(.+?)\s*[)）]$", re.I)


_COMMA = re.compile(r"\s*(?:、|,|，)\s*")


_AND = re.compile(r"\s*(?:&|＆|\s+and\s+|\s+et\s+)\s*")


def developer_parts(text: str, reg) -> list[str]:
    """The names in a developer cell: commas first, ``&`` only inside a part no registry knows.

    >>> from graph.importer.registry import Registry
    >>> reg = Registry("organisation"); reg.add({"id": "wandb", "labels": {"en": "Weights & Biases"}})
    >>> developer_parts("個人 (山田育矢, 李凌寒)", reg)
    ['山田育矢', '李凌寒']
    >>> developer_parts("Weights & Biases, Stability AI & rinna", reg)
    ['Weights & Biases', 'Stability AI', 'rinna']
    """
    parts: list[str] = []
    for chunk in (c.strip() for c in split_outside_parens(text, ",、，")):
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

