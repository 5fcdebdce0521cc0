"""Issue 12: the lineage facts the build writes for the lineage queries — the stage summary of each
derivation and the lineage level of each model — say what the per-row aggregates used to compute."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest
from pyoxigraph import Store

from graph.catalog import load_catalog
from graph.rdf.iris import Iris
from graph.rdf.lineage_levels import level_quads, levels
from graph.rdf.mapping import catalog_quads
from tests.test_streaming_build import _catalogs

ROOT = Path(__file__).resolve().parents[1]
PREFIXES = """PREFIX jllm: <https://w3id.org/jllm-kg/ontology#>
PREFIX prov: <http://www.w3.org/ns/prov#>
PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>
"""
#: The kind of a derivation as the descendants/ancestors queries aggregated it before the build wrote it.
AGGREGATED_KIND = PREFIXES + """
SELECT ?descendant ?parent (GROUP_CONCAT(?kindLabel; separator=" + ") AS ?kind) WHERE {
  {
    SELECT DISTINCT ?descendant ?parent ?order ?kindLabel WHERE {
      ?descendant prov:qualifiedDerivation ?derivation .
      ?derivation prov:entity ?parent ; prov:hadActivity ?activity .
      ?activity a ?class .
      OPTIONAL { ?activity jllm:stageOrder ?order }
      ?class rdfs:subClassOf+ jllm:TrainingStage ; rdfs:label ?kindLabel .
      FILTER(lang(?kindLabel) = "en")
      FILTER NOT EXISTS { ?activity a ?narrower . ?narrower rdfs:subClassOf ?class . FILTER(?narrower != ?class) }
    } ORDER BY ?order
  }
} GROUP BY ?descendant ?parent
"""
WRITTEN_KIND = PREFIXES + """
SELECT ?descendant ?parent ?kind WHERE { ?descendant prov:qualifiedDerivation ?d . ?d prov:entity ?parent ; jllm:stageSummary ?kind }
"""


def _synthetic(tmp_path: Path) -> Path:
    sys.path.insert(0, str(ROOT / "bench"))
    try:
        from synth import Generator
    finally:
        sys.path.remove(str(ROOT / "bench"))
    Generator(300, seed=12).write(tmp_path / "synth", per_file=100)
    return tmp_path / "synth"


def _store(catalog_dir: Path) -> Store:
    store = Store()
    store.bulk_extend(catalog_quads(load_catalog(catalog_dir), Iris.default()))
    return store


@pytest.mark.parametrize("catalog_dir", [*_catalogs(), pytest.param(None, id="synthetic")])
def test_stage_summary_is_the_aggregated_kind(catalog_dir, tmp_path):
    store = _store(catalog_dir() if catalog_dir is not None else _synthetic(tmp_path))
    aggregated = {(r[0], r[1]): r[2].value for r in store.query(AGGREGATED_KIND, use_default_graph_as_union=True)
                  if r[2] is not None and r[2].value}
    written = {(r[0], r[1]): r[2].value for r in store.query(WRITTEN_KIND, use_default_graph_as_union=True)}
    assert written == aggregated
    assert len(written) > 5


def test_levels_are_longest_chains_to_a_root():
    bases = {"youri": ["llama-2"], "houou": ["youri"], "llama-2": ["llama"], "merge": ["houou", "swallow"],
             "swallow": ["llama-2"]}
    assert levels(bases) == {"llama": 0, "llama-2": 1, "youri": 2, "houou": 3, "swallow": 2, "merge": 4}
    assert levels({"a": ["b"], "b": ["a"]}) in ({"a": 1, "b": 0}, {"a": 0, "b": 1})  # a cycle does not hang


def test_level_quads_on_the_shipped_catalog(tmp_path):
    import catalog as catalog_package

    store = _store(catalog_package.PATH)
    found = {q.subject.value.rsplit("/", 1)[-1]: int(q.object.value) for q in level_quads(store, Iris.default())}
    assert found["llama-2"] + 1 == found["swallow-7b"]
    assert found["youri-7b"] + 1 == found["houou-7b"]  # houou-7b: Llama 2 via Youri 7B
    assert all(level >= 0 for level in found.values())
