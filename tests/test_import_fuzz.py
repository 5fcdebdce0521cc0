"""Drift robustness: any well-formed table imports without crashing and without losing a row."""
from __future__ import annotations

import tempfile
from pathlib import Path

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import re

from graph.importer import ImportProblems, run_import
from graph.importer.markdown_doc import parse_markdown

HEADERS = ["アーキテクチャ", "入出力で扱える<br>トークン数", "学習テキスト", "開発元", "ライセンス", "ドメイン",
           "ベースのLLM", "HuggingFace ですぐ使える？", "Parameters", "Release", "評価", "利用規約"]
FRAGMENTS = [
    "[Foo](https://example.org/foo)", "[**7b**-chat](https://huggingface.co/a/b-7b-chat)", "([x](https://huggingface.co/c/d))",
    "GPT", "Llama 2 (**70b**)", "8x7B", "**1.5T**", "計 **2T** トークン", "(0.5B トークン)", "base: 4,096", "≤ 2,048",
    "事前学習: 日本語 Wikipedia, CC100", "Instruction Tuning (LoRA): Dolly Dataset", "DPO:", "Apache 2.0", "？", "◯", "△",
    "baseモデル: MIT", "(NC モデルは CC BY-NC 4.0)", "[^12]", "個人 (someone)", "A & B", "<br>", "(", ")", "、", ":", "*",
    "Youri 7B (base) に対して", "東北大BERT を親モデルとして知識蒸留", "v1: x または y", "🦙", "&#x2011;", "`code|pipe`",
]

cell = st.lists(st.sampled_from(FRAGMENTS) | st.text(alphabet=st.characters(blacklist_characters="|\n\r\\`", blacklist_categories=("Cs",)), max_size=12), max_size=5).map(" ".join)


@st.composite
def documents(draw) -> tuple[str, int]:
    headers = draw(st.lists(st.sampled_from(HEADERS), min_size=1, max_size=6, unique=True))
    rows = draw(st.lists(st.lists(cell, min_size=len(headers) + 1, max_size=len(headers) + 1), min_size=1, max_size=5))
    lines = ["# drift", "", '<a id="generative-scratch-general"></a>', "#### " + draw(st.sampled_from(["汎用", "新しい", "Other"])), "",
             "|    | " + " | ".join(headers) + " |", "|" + ":---|" * (len(headers) + 1)]
    nonempty = 0
    for row in rows:
        row = [c.strip() for c in row]
        if any(row):
            nonempty += 1
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines) + "\n", nonempty


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(documents())
def test_any_well_formed_table_imports_and_keeps_every_row(doc):
    text, nonempty = doc
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "README.md"
        src.write_text(text, encoding="utf-8")
        out = Path(tmp) / "out"
        try:
            run_import(src, out=out)
        except ImportProblems as err:
            # markdown itself may end a table early (e.g. a cell that opens an HTML block): that is
            # reported with file and line, and nothing is written — never a crash, never a silent loss
            assert all(re.match(r"README\.md:\d+: ", p) for p in err.problems)
            assert not out.exists() or not any(out.rglob("*.yaml"))
            return
        kept = 0
        for path in out.rglob("*.yaml"):
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
            if path.parent.name == "models":
                kept += len(data["families"])
            elif path.parent.name == "other":
                kept += len(data["rows"])
        # every row with a non-empty cell (as the markdown parser reads it) is an entry or a raw row
        parsed = parse_markdown(text, "README.md")
        expected = sum(1 for sec in parsed.root.walk() for t in sec.tables for r in t.rows if not all(c.empty for c in r.cells))
        # lines markdown could not read as a table (a cell that ends it early) are kept raw too, one entry per block
        assert kept == expected + len(parsed.malformed)
        assert expected <= nonempty
