"""Catalog sections: what kind of part of the catalog a heading opens, and what kind of table it holds."""
from __future__ import annotations

import re

from graph.importer.document import Section

KIND_WORDS = [
    ("generative", ("generative", "テキスト生成", "text generation", "génération de texte")),
    ("autoencoding", ("autoencoding", "入力テキストの処理", "encoder", "encodeur")),
    ("embeddings", ("embedding", "埋め込み", "plongement")),
    ("multimodal", ("multimodal", "vision", "視覚", "画像")),
    ("speech", ("speech", "音声", "parole")),
    ("benchmarks", ("benchmark", "ベンチマーク", "評価")),
    ("papers", ("reference", "原論文", "paper")),
]



def section_kind(path: list[Section]) -> str:
    """The kind of catalog part a section belongs to, from its anchors and titles (outermost first)."""
    for sec in path:
        hay = f"{sec.id} {sec.title.text}".casefold()
        for kind, words in KIND_WORDS:
            if any(w in hay for w in words):
                return kind
    return "other"


def is_domain_specific(path: list[Section]) -> bool:
    return any(re.search(r"domain|ドメイン特化|spécifique", f"{s.id} {s.title.text}", re.I) for s in path)


def default_stage(path: list[Section]) -> str:
    hay = " ".join(f"{s.id} {s.title.text}" for s in path).casefold()
    if "merge" in hay or "マージ" in hay or "fusion" in hay:
        return "merge"
    if "instruction-only" in hay or "指示チューニング" in hay:
        return "instruction-tuning"
    if "continual" in hay or "継続事前学習" in hay or "english-based" in hay:
        return "continual-pre-training"
    return "pre-training"


def table_type(keys: list[str], kind: str) -> str:
    """``papers``, ``benchmarks``, ``models`` or ``other``, from the column keys and the section kind."""
    if "paper" in keys and ("date" in keys or "venue" in keys):
        return "papers"
    if kind == "benchmarks" and ("description" in keys or "developer" in keys):
        return "benchmarks"
    if "name" in keys or keys[:1] == ["column_0"]:
        return "models"
    return "other"


PAPER_KEYS = ["name", "date", "venue", "paper"]

