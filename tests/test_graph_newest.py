"""Known answers of the graph built from the shipped catalog (upstream 6fe70a0, 2026-03-22).

Every expected value is read in the snapshot text; the README line is cited beside it.
"""
from __future__ import annotations

import os
from pathlib import Path

import pytest
from pyoxigraph import Store

from graph.build import build_store

B = "https://w3id.org/jllm-kg/"
PREFIXES = f"""PREFIX jllm: <https://w3id.org/jllm-kg/ontology#> PREFIX prov: <http://www.w3.org/ns/prov#>
PREFIX dcterms: <http://purl.org/dc/terms/> PREFIX schema: <http://schema.org/>
PREFIX skos: <http://www.w3.org/2004/02/skos/core#> BASE <{B}>
"""


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> Store:
    path = tmp_path_factory.mktemp("newest") / "store"
    build_store(store_path=path, echo=lambda *a, **k: None)
    return Store.read_only(os.path.realpath(path))


def ids(store: Store, query: str) -> set[str]:
    """The local part (after the last ``/``) of the first column's IRIs."""
    return {str(next(iter(row)).value).rsplit("/", 1)[-1] for row in store.query(PREFIXES + query, use_default_graph_as_union=True)}


def values(store: Store, query: str) -> list[tuple]:
    return [tuple(v.value for v in row) for row in store.query(PREFIXES + query, use_default_graph_as_union=True)]


def test_descendants_of_the_llama_3_series(store: Store):
    found = ids(store, """SELECT DISTINCT ?m WHERE {
        ?m a jllm:ModelFamily ; prov:wasDerivedFrom+ ?v . ?v jllm:series <model/llama-3-series> }""")
    expected = {
        "llama-3-swallow-8b",        # README.md:149 Llama 3 Swallow 8B — Llama 3 (**8b**)
        "llama-3-1-swallow-8b",      # README.md:148 — Llama 3.1
        "llama-3-3-swallow-70b",     # README.md:114 — Llama 3.3 (**70b**)
        "llama-3-elyza-jp-8b",       # README.md:152 — Llama 3 (**8b**)
        "eques-medllama3-jp-v2",     # README.md:278 merges **Llama 3 Swallow 8B (Instruct)**, **Llama 3 ELYZA JP 8B**
        "llama-3-evovlm-jp-v2",      # README.md:446 merges **Llama-3-ELYZA-JP-8B**
        "axcxept-llama-3-ezo-vlm-1", # README.md:447 - (Llama-3-EvoVLM-JP-v2 に対して追加学習)
    }
    assert expected <= found, expected - found
    # versions stay distinct models, linked to the series (also as skos:broader)
    assert values(store, "SELECT ?s WHERE { <model/llama-3-1> skos:broader ?s }") == [(f"{B}model/llama-3-series",)]
    assert "shisa-gamma-7b" not in found  # Mistral-based


def test_merge_sources_of_evollm_jp(store: Store):
    # README.md:280 EvoLLM-JP | **Shisa Gamma 7B (v1)**, WizardMath-7B-V1.1, Abel 7B 002
    rows = values(store, """SELECT ?src WHERE { <model/evollm-jp> prov:qualifiedDerivation ?d .
        ?d prov:entity ?src ; prov:hadActivity ?a . ?a a jllm:MergeActivity }""")
    assert sorted(r[0] for r in rows) == [f"{B}model/abel-7b-002", f"{B}model/shisa-gamma-7b", f"{B}model/wizardmath-7b-v1-1"]


def test_release_year_of_sarashina2_8x70b(store: Store):
    # README.md:40 | [Sarashina2-8x70B](…) | 2024 | …
    rows = values(store, "SELECT ?y ?i WHERE { <model/sarashina2-8x70b> jllm:releaseYear ?y ; dcterms:issued ?i }")
    assert rows == [("2024", "2024")]
    lit = next(iter(store.query(PREFIXES + "SELECT ?y WHERE { <model/sarashina2-8x70b> schema:datePublished ?y }",
                                use_default_graph_as_union=True)))["y"]
    assert lit.datatype.value == "http://www.w3.org/2001/XMLSchema#gYear"


def test_benchmarks_of_one_category(store: Store):
    # README.md:605-611 "論理推論能力を測定するベンチマーク/データセット": JFLD, JHumanEval, JMultiPL-E
    found = ids(store, "SELECT ?b WHERE { ?b a jllm:Benchmark ; jllm:section <section/logical-reasoning-benchmark-suites> }")
    assert found == {"jfld-japanese-formal-logic-deduction", "jhumaneval", "jmultipl-e"}
    # README.md:557 the open Japanese LLM leaderboard uses [llm-jp-eval](#llm-jp-eval), a benchmark row of its own
    assert ids(store, "SELECT ?i WHERE { <benchmark/open-japanese-llm-leaderboard> jllm:includes ?i }") == {"llm-jp-eval"}


def test_papers_behind_an_architecture_and_a_method(store: Store):
    # parts/references_model.md:3 | Transformer | 2017.06.12 | NIPS(NeurIPS) 2017 | [Attention Is All You Need](…/1706.03762)
    rows = values(store, "SELECT ?p ?d WHERE { ?p jllm:introduces <architecture/transformer> ; schema:datePublished ?d }")
    assert rows == [(f"{B}paper/arxiv/1706.03762", "2017-06-12")]
    # parts/references_training.md:5 | Sparse Upcycling | 2022.12.09 | ICLR 2023 | […](…/2212.05055)
    assert ids(store, "SELECT ?p WHERE { ?p jllm:introduces <method/sparse-upcycling> }") == {"2212.05055"}


def test_api_platforms_and_two_people(store: Store):
    # README.md:290 | [LHTM-OPT](…) | | オルツ | AWS Marketplace (SageMaker) |
    assert values(store, "SELECT ?p WHERE { <model/lhtm-opt> jllm:platform ?p }") == [("AWS Marketplace (SageMaker)",)]
    # README.md:142 … | 個人 (山田育矢, 李凌寒) | — two people, each a schema:Person
    people = ids(store, """SELECT ?d WHERE { ?m jllm:developer ?d . ?d a schema:Person .
        FILTER(?d IN (<org/ikuya-yamada>, <org/ryokan-ri>)) }""")
    assert people == {"ikuya-yamada", "ryokan-ri"}


def test_newer_stage_kinds(store: Store):
    # README.md:113 GPT-OSS Swallow 120B: "RL: allenai/Dolci-Think-RL-7B (Math subset)"
    rows = values(store, """SELECT ?s WHERE { <model/gpt-oss-swallow-120b> jllm:trainingStage ?s .
        ?s a jllm:ReinforcementLearningActivity }""")
    assert len(rows) == 1
    # README.md:40 Sarashina2-8x70B: "Sarashina2 (70B) に対して Sparse Upcycling で学習" — an upcycling stage of
    # the catalog family Sarashina2, and no phrase minted as a dataset
    rows = values(store, """SELECT ?m ?base WHERE { <model/sarashina2-8x70b> jllm:trainingStage ?s ; jllm:baseModel ?base .
        ?s a jllm:UpcyclingActivity ; jllm:method ?m }""")
    assert rows == [(f"{B}method/sparse-upcycling", f"{B}model/sarashina2")]
    assert values(store, "SELECT ?d WHERE { ?d a jllm:Dataset ; jllm:minted true }") == []


def test_provenance_links_the_real_commit_and_files(store: Store):
    blob = "https://github.com/llm-jp/awesome-japanese-llm/blob/6fe70a0429fe12ff3ba4feb270ffab6425d8b03c/"
    rows = values(store, """SELECT ?src WHERE { GRAPH <graph/provenance> { ?g <http://xmlns.com/foaf/0.1/primaryTopic> ?e ;
        prov:wasDerivedFrom ?src } FILTER(?e IN (<model/sarashina2-8x70b>, <paper/arxiv/1706.03762>)) }""")
    assert {r[0] for r in rows} == {blob + "README.md#L40", blob + "en/README.md#L40", blob + "fr/README.md#L40",
                                    blob + "parts/references_model.md#L3"}
