"""IRIs are readable, stable, and follow the configured base."""
from __future__ import annotations

from graph.rdf.iris import Iris, slug, upstream_url


def test_iri_scheme():
    i = Iris.default("https://example.org/kg")
    assert i.model("swallow-7b").value == "https://example.org/kg/model/swallow-7b"
    assert i.variant("tokyotech-llm/Swallow-7b-hf").value == "https://example.org/kg/model/hf/tokyotech-llm/Swallow-7b-hf"
    assert i.organisation("rinna").value == "https://example.org/kg/org/rinna"
    assert i.dataset("cc-100").value == "https://example.org/kg/dataset/cc-100"
    assert i.licence("Apache-2.0", spdx=True).value == "http://spdx.org/licenses/Apache-2.0"
    assert i.licence("LicenseRef-Llama-2-Community", spdx=False).value == "https://example.org/kg/licence/LicenseRef-Llama-2-Community"
    assert i.paper("arxiv-2307.09288").value == "https://example.org/kg/paper/arxiv/2307.09288"
    assert i.benchmark("jglue").value == "https://example.org/kg/benchmark/jglue"
    assert i.architecture("llama").value == "https://example.org/kg/architecture/llama"
    assert i.method("dpo").value == "https://example.org/kg/method/dpo"
    assert i.section("generative-scratch-general").value == "https://example.org/kg/section/generative-scratch-general"
    assert i.graph("model", "swallow-7b").value == "https://example.org/kg/graph/model/swallow-7b"
    assert i.task(i.benchmark("jglue"), "JSQuAD").value == "https://example.org/kg/benchmark/jglue/task/jsquad"


def test_unsafe_characters_are_encoded_and_unicode_kept():
    i = Iris.default("https://example.org/kg/")
    assert i.section("日本語llmまとめ").value == "https://example.org/kg/section/日本語llmまとめ"
    assert i.dataset("a b<c>").value == "https://example.org/kg/dataset/a%20b%3Cc%3E"
    assert slug("Nejumi LLMリーダーボード Neo") == "nejumi-llmリーダーボード-neo"


def test_upstream_url():
    assert upstream_url("README.ja.md", "2f152f0", 116).value == \
        "https://github.com/llm-jp/awesome-japanese-llm/blob/2f152f0/README.md#L116"
    assert upstream_url("README.en.md", None).value == "https://github.com/llm-jp/awesome-japanese-llm/blob/main/README_en.md"
