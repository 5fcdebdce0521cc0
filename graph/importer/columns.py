"""Table headers in ja/en/fr → column keys. Unknown headers keep a slug key and are reported."""
from __future__ import annotations

import re

from graph.importer.markdown_doc import slug
from graph.importer.registry import normalise

#: (column key, patterns matched against the normalised header), first match wins.
COLUMNS: list[tuple[str, tuple[str, ...]]] = [
    ("hf_available", ("huggingface", "hugging face")),
    ("year", ("公開年", "release year", "année de publication", "année de sortie")),
    ("platform", ("プラットフォーム", "platform", "plateforme")),
    ("description", ("説明", "description")),
    ("context_length", ("トークン数", "context", "contexte", "コンテキスト")),
    ("base_model", ("ベース", "base model", "base du mod", "modèle de base", "元のモデル", "original model",
                    "source model", "merged model", "マージ元", "merge source", "models used for merging", "fusionn", "modèles d'origine", "modèle d'origine", "modèles originaux")),
    ("training", ("学習", "training", "données", "corpus", "entraînement", "dataset")),
    ("developer", ("開発", "developer", "développeur", "organisation", "author")),
    ("licence", ("ライセンス", "licen")),
    ("domain", ("ドメイン", "domain", "domaine")),
    ("venue", ("会議", "ジャーナル", "meeting", "journal", "venue", "conférence", "conference")),
    ("date", ("初出", "date", "時期", "year")),
    ("paper", ("論文", "paper", "papier", "article")),
    ("method", ("手法", "method", "méthode")),
    ("architecture", ("アーキテクチャ", "architecture", "model/", "modèle/")),
]


#: Headers that name the name column itself (compared whole, after normalisation): the catalog leaves it blank.
NAME_HEADERS = {"モデル", "モデル名", "名前", "名称", "model", "model name", "models", "name", "modèle", "nom",
                "nom du modèle"}


def column_key(header: str, position: int) -> tuple[str, bool]:
    """The key of a header and whether it is a known column.

    >>> column_key("入出力で扱える<br>トークン数", 2)
    ('context_length', True)
    >>> column_key("", 0)
    ('name', True)
    >>> column_key("Release date", 5)
    ('date', True)
    >>> column_key("Parameters", 3)
    ('parameters', False)
    >>> column_key("Model", 1)
    ('name', True)
    """
    norm = normalise(header)
    if (position == 0 and not norm) or norm in NAME_HEADERS:
        return "name", True
    for key, patterns in COLUMNS:
        if any(p in norm for p in patterns):
            return key, True
    if not norm:
        return f"column_{position}", False
    return re.sub(r"-", "_", slug(header)), False


def with_name_column(keys: list[str]) -> list[str]:
    """``keys`` with the name column found where the catalog moved it: when no column is the name column
    and exactly one header is blank, that one (the catalog's name column has no header; it is usually first).

    >>> with_name_column(["domain", "column_1", "architecture"])
    ['domain', 'name', 'architecture']
    >>> with_name_column(["domain", "column_1", "column_2"])
    ['domain', 'column_1', 'column_2']

    A second column that looks like the name column (a blank first header and a "Model" header) keeps its
    cells under its own key, raw:

    >>> with_name_column(["name", "name", "developer"])
    ['name', 'name_1', 'developer']
    """
    if keys.count("name") > 1:
        first = keys.index("name")
        return [f"name_{n}" if key == "name" and n != first else key for n, key in enumerate(keys)]
    blank = [n for n, key in enumerate(keys) if key == f"column_{n}"]
    if "name" in keys or len(blank) != 1:
        return keys
    return [("name" if n == blank[0] else key) for n, key in enumerate(keys)]
