"""Building the store: mapping facts, SHACL refusal, atomic swap, SIGKILL safety, lineage queries."""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from pyoxigraph import NamedNode, Quad, Store

from graph.build import build_store
from tests.conftest import seed_catalog_dir
from graph.errors import UserError
from graph.settings import DEFAULT_BASE
from graph.store.generations import generations, open_store
from graph.rdf.validate import validate_command

FIXTURE = Path(__file__).parent / "fixtures" / "catalog"
B = DEFAULT_BASE
PREFIXES = f"""
PREFIX jllm: <https://w3id.org/jllm-kg/ontology#>
PREFIX prov: <http://www.w3.org/ns/prov#>
PREFIX schema: <http://schema.org/>
PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>
PREFIX xsd: <http://www.w3.org/2001/XMLSchema#>
BASE <{B}>
"""


def select(store: Store, query: str) -> list[tuple]:
    """Rows of a SELECT over the union of all graphs, as tuples of plain values."""
    return [tuple(term.value if term is not None else None for term in row)
            for row in store.query(PREFIXES + query, use_default_graph_as_union=True)]


@pytest.fixture(scope="module")
def fixture_store(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("fixture") / "store"
    build_store(catalog_dir=FIXTURE, store_path=path, echo=lambda *a, **k: None)
    return path


@pytest.fixture(scope="module")
def seed_store(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("seed") / "store"
    build_store(catalog_dir=seed_catalog_dir(), store_path=path, echo=lambda *a, **k: None)
    return path


def test_build_prints_summary_and_links_generation(tmp_path):
    lines: list[str] = []
    count = build_store(catalog_dir=FIXTURE, store_path=tmp_path / "store", echo=lines.append)
    assert (tmp_path / "store").is_symlink()
    assert (tmp_path / "store").resolve().name.startswith("store.gen-")
    assert lines[0] == "quads per graph:"
    assert any(l.strip().startswith(f"{B}graph/model/…:") and "in 5 graph(s)" for l in lines)
    assert "  jllm:ModelFamily: 4" in lines
    assert lines[-1].startswith(f"built {tmp_path / 'store'} -> store.gen-")
    assert len(open_store(tmp_path / "store")) == count


def test_family_variant_and_lineage_facts(fixture_store):
    store = open_store(fixture_store)
    assert select(store, "SELECT ?b WHERE { <model/houou-7b> jllm:baseModel ?b }") == [(f"{B}model/youri-7b",)]
    # superproperties are written out: no inference needed
    for p in ("prov:wasDerivedFrom", "schema:isBasedOn", "<https://w3id.org/fair4ml#fineTunedFrom>"):
        assert select(store, f"SELECT ?b WHERE {{ <model/houou-7b> {p} ?b }}") == [(f"{B}model/youri-7b",)]
    rows = select(store, """SELECT ?kind ?data WHERE {
        <model/houou-7b> prov:qualifiedDerivation ?d . ?d prov:entity <model/youri-7b> ; prov:hadActivity ?a .
        ?a a jllm:FullInstructionTuningActivity ; a ?kind ; prov:used ?data . FILTER(?kind = jllm:InstructionTuningActivity) }""")
    assert rows == [("https://w3id.org/jllm-kg/ontology#InstructionTuningActivity", f"{B}dataset/ichikara-instruction")]
    # variant-level lineage: houou's root variant comes from Youri's base variant
    assert select(store, "SELECT ?b WHERE { <model/hf/moneyforward/houou-instruction-7b-v1> prov:wasDerivedFrom ?b }") == [
        (f"{B}model/hf/rinna/youri-7b",)]
    # a family on Llama 2 (not in the catalog): continual pre-training with a token count
    rows = select(store, """SELECT ?tokens WHERE { <model/youri-7b> jllm:trainingStage ?s .
        ?s a jllm:ContinualPreTrainingActivity ; jllm:tokens ?tokens }""")
    assert rows == [("40000000000",)]
    assert bool(store.query(PREFIXES + "ASK { <model/youri-7b> jllm:baseModel <model/llama-2> . <model/llama-2> a jllm:FoundationModel }",
                            use_default_graph_as_union=True))
    rows = select(store, """SELECT ?v ?url ?p ?fam WHERE { ?v jllm:variantOf ?fam ; schema:url ?url ; jllm:parametersBillions ?p
        FILTER(?fam = <model/youri-7b>) } ORDER BY ?v""")
    assert rows == [(f"{B}model/hf/rinna/youri-7b", "https://huggingface.co/rinna/youri-7b", "7", f"{B}model/youri-7b"),
                    (f"{B}model/hf/rinna/youri-7b-gptq", "https://huggingface.co/rinna/youri-7b-gptq", "7", f"{B}model/youri-7b")]
    rows = select(store, "SELECT (DATATYPE(?p) AS ?t) (DATATYPE(?c) AS ?u) WHERE { <model/hf/rinna/youri-7b> jllm:parametersBillions ?p ; jllm:contextLength ?c }")
    assert rows == [("http://www.w3.org/2001/XMLSchema#decimal", "http://www.w3.org/2001/XMLSchema#integer")]
    # SPDX licences are SPDX IRIs; labels in several languages; raw cells kept
    assert select(store, "SELECT ?c WHERE { <model/llm-jp-13b> schema:license ?l . ?l jllm:commercialUse ?c }") == [("true",)]
    assert select(store, "SELECT ?l WHERE { <model/llm-jp-13b> jllm:licence ?l }") == [("http://spdx.org/licenses/Apache-2.0",)]
    assert select(store, "SELECT ?l WHERE { <dataset/japanese-wikipedia> rdfs:label ?l FILTER(LANG(?l) = 'fr') }") == [("Wikipédia japonais",)]
    assert select(store, "SELECT ?raw WHERE { <model/houou-7b> jllm:sourceCell ?c . ?c jllm:columnKey '備考' ; jllm:rawText ?raw }") == [
        ("fixture-only extra column",)]


def test_named_graphs_and_provenance(fixture_store):
    store = open_store(fixture_store)
    graphs = {g.value for g in store.named_graphs()}
    assert {f"{B}graph/model/houou-7b", f"{B}graph/ontology", f"{B}graph/provenance", f"{B}graph/void",
            f"{B}graph/paper/arxiv/2307.09288", "https://w3id.org/jllm-kg/graph/licence/Apache-2.0"} <= graphs
    rows = [tuple(t.value for t in r) for r in store.query(PREFIXES + f"""SELECT ?src ?line ?file WHERE {{
        GRAPH <{B}graph/provenance> {{ <{B}graph/model/houou-7b> jllm:sourceLine ?line ; jllm:catalogFile ?file ;
        prov:wasDerivedFrom ?src FILTER(CONTAINS(STR(?src), "README.md")) }} }}""")]
    assert rows == [("https://github.com/llm-jp/awesome-japanese-llm/blob/0123456789abcdef0123456789abcdef01234567/README.md#L121",
                     "121", "catalog/models/generative-continual-general.yaml")]
    # the family's own facts are in its graph, the ontology in its own
    assert bool(store.query(f"ASK {{ GRAPH <{B}graph/model/houou-7b> {{ <{B}model/houou-7b> ?p ?o }} }}"))
    assert bool(store.query(f"ASK {{ GRAPH <{B}graph/ontology> {{ <https://w3id.org/jllm-kg/ontology#ModelFamily> ?p ?o }} }}"))
    # nothing in the default graph: queries see the union only when asked to
    assert not bool(store.query("ASK { ?s ?p ?o }"))


def test_broken_fact_refused_and_old_store_untouched(tmp_path, capsys):
    store_path = tmp_path / "store"
    count = build_store(catalog_dir=FIXTURE, store_path=store_path, echo=lambda *a, **k: None)
    target = store_path.resolve()
    broken = tmp_path / "catalog"
    shutil.copytree(FIXTURE, broken)
    models = broken / "models" / "generative-continual-general.yaml"
    models.write_text(models.read_text(encoding="utf-8").replace("id: youri-7b, in_catalog: true", "id: no-such-model, in_catalog: true"),
                      encoding="utf-8")
    printed: list[str] = []
    with pytest.raises(UserError, match=r"^\d+ SHACL violation\(s\): the store at .* was left unchanged$"):
        build_store(catalog_dir=broken, store_path=store_path, echo=printed.append)
    assert any(line.startswith('Violation: model/houou-7b "houou-7b": jllm:baseModel = model/no-such-model: base model must be')
               for line in printed), printed
    assert store_path.resolve() == target
    assert len(open_store(store_path)) == count
    assert generations(store_path) == [target]


def test_validate_command(fixture_store, tmp_path):
    out: list[str] = []
    assert validate_command(None, fixture_store, out.append)
    assert out[-1].startswith(f"the store at {fixture_store} conforms")
    broken = tmp_path / "catalog"
    shutil.copytree(FIXTURE, broken)
    reg = broken / "registries" / "organisations.yaml"
    reg.write_text(reg.read_text(encoding="utf-8").replace("  parent: nii\n", "  parent: nowhere\n"), encoding="utf-8")
    out.clear()
    assert not validate_command(broken, fixture_store, out.append)
    assert out == ['Violation: org/llm-jp "LLM-jp": org:subOrganizationOf = org/nowhere: the parent of an organisation must be a registered organisation'
                   ' (catalog/registries/organisations.yaml:16)', f"1 SHACL violation(s) in the graph of {broken}"]


def test_rebuild_keeps_previous_generation_only(tmp_path):
    store_path = tmp_path / "store"
    quiet = lambda *a, **k: None  # noqa: E731
    build_store(catalog_dir=FIXTURE, store_path=store_path, echo=quiet)
    first = store_path.resolve()
    reader = open_store(store_path)  # a reader keeps the generation it opened
    build_store(catalog_dir=FIXTURE, store_path=store_path, echo=quiet)
    second = store_path.resolve()
    build_store(catalog_dir=FIXTURE, store_path=store_path, echo=quiet)
    assert generations(store_path) == [second, store_path.resolve()]
    assert not first.exists()
    del reader


def test_plain_directory_from_older_layout_is_replaced(tmp_path):
    store_path = tmp_path / "store"
    old = Store(str(store_path))
    old.add(Quad(NamedNode("http://ex.org/a"), NamedNode("http://ex.org/p"), NamedNode("http://ex.org/b")))
    old.flush()
    del old
    build_store(catalog_dir=FIXTURE, store_path=store_path, echo=lambda *a, **k: None)
    assert store_path.is_symlink()
    legacy = [g for g in generations(store_path) if g.name.endswith("-legacy")]
    assert len(legacy) == 1 and len(Store.read_only(str(legacy[0]))) == 1


@pytest.mark.parametrize("step", ["after-load", "before-swap"])
def test_sigkill_mid_build_leaves_old_store(tmp_path, step):
    store_path = tmp_path / "store"
    count = build_store(catalog_dir=FIXTURE, store_path=store_path, echo=lambda *a, **k: None)
    target = store_path.resolve()
    env = {**os.environ, "JLLM_KG_BUILD_PAUSE_AT": step}
    proc = subprocess.Popen([sys.executable, "-m", "jllm_kg.cli", "build", "--catalog", str(FIXTURE), "--store", str(store_path)],
                            env=env, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
    try:
        deadline = time.monotonic() + 60
        for line in proc.stderr:  # progress goes to stderr
            if line.strip() == f"build paused at {step}":
                break
            assert time.monotonic() < deadline
        assert len(generations(store_path)) == 2  # the new generation exists but is not swapped in
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.stderr.close()
    assert proc.returncode == -signal.SIGKILL
    assert store_path.resolve() == target
    assert len(open_store(store_path)) == count
    # the next build cleans up the half-built generation
    build_store(catalog_dir=FIXTURE, store_path=store_path, echo=lambda *a, **k: None)
    assert generations(store_path) == [target, store_path.resolve()]


def test_seed_descendants_of_llama_2(seed_store):
    """All catalog families derived (transitively) from Llama 2, by a plain property path."""
    store = open_store(seed_store)
    rows = select(store, """SELECT DISTINCT ?m WHERE {
        ?m prov:wasDerivedFrom+ <model/llama-2> ; a jllm:ModelFamily } ORDER BY ?m""")
    found = {r[0][len(B) + len("model/"):] for r in rows}
    expected = {"swallow-7b", "swallow-13b", "swallow-70b", "elyza-japanese-llama-2-7b", "elyza-japanese-llama-2-13b",
                "youri-7b", "houou-7b", "karakuri-lm", "japanese-stable-lm-beta-7b", "japanese-stable-lm-beta-70b"}
    assert expected <= found, expected - found
    # houou-7b is a descendant only through Youri 7B
    assert select(store, "SELECT ?b WHERE { <model/houou-7b> jllm:baseModel ?b }") == [(f"{B}model/youri-7b",)]
    # Mistral-based families are not descendants of Llama 2
    assert "japanese-stable-lm-gamma-7b" not in found


def test_seed_counts_and_sections(seed_store):
    store = open_store(seed_store)
    families = select(store, "SELECT (COUNT(DISTINCT ?f) AS ?n) WHERE { ?f a jllm:ModelFamily }")[0][0]
    assert int(families) == 128 == sum(
        1 for path in (seed_catalog_dir() / "models").glob("*.yaml")
        for line in path.read_text(encoding="utf-8").splitlines() if line.startswith("- id: "))
    # every family sits in a section of the SKOS scheme
    assert select(store, """SELECT (COUNT(?f) AS ?n) WHERE { ?f a jllm:ModelFamily
        FILTER NOT EXISTS { ?f jllm:section ?s . ?s <http://www.w3.org/2004/02/skos/core#inScheme> <section> } }""") == [("0",)]


def test_rows_kept_aside_under_other_are_reported_by_the_build(tmp_path):
    """A row import could not read (other/<section>.yaml) is no entity: the build names it rather than drop it silently."""
    cat = tmp_path / "catalog"
    shutil.copytree(FIXTURE, cat)
    (cat / "other").mkdir()
    (cat / "other" / "mystery.yaml").write_text(
        "section: mystery\nrows:\n- source: {file: README.md, line: 321}\n  cells: {name: '[X](https://example.org)'}\n",
        encoding="utf-8")
    lines: list[str] = []
    build_store(catalog_dir=cat, store_path=tmp_path / "store", echo=lines.append)
    assert "rows kept aside by import (under other/, not in the graph): 1" in lines
    assert "  other/mystery.yaml: README.md:321 (section mystery)" in lines


def test_build_if_changed_skips_only_an_unchanged_store(tmp_path):
    """`jllm-kg build --if-changed` rebuilds when the catalog changed or another build swapped the store."""
    import shutil

    from tests.conftest import FIXTURES_DIR, run_cli

    catalog = tmp_path / "catalog"
    shutil.copytree(FIXTURES_DIR / "catalog", catalog)
    store = tmp_path / "store"
    args = ("build", "--if-changed", "--catalog", str(catalog), "--store", str(store))
    assert "built " in run_cli(*args).stdout
    assert "is up to date" in run_cli(*args).stdout
    papers = catalog / "papers.yaml"
    papers.write_text(papers.read_text(encoding="utf-8") + "\n# changed\n", encoding="utf-8")
    assert "built " in run_cli(*args).stdout  # the catalog changed
    run_cli("build", "--catalog", str(catalog), "--store", str(store))  # a build without --if-changed
    assert "is up to date" in run_cli(*args).stdout
    from graph.build import build_store

    build_store(catalog_dir=catalog, store_path=store, echo=lambda *a, **k: None)  # swapped in by other means
    assert "built " in run_cli(*args).stdout


def test_generation_names_come_from_one_clock_read(tmp_path, monkeypatch):
    """Seconds and nanoseconds of a generation's name are one instant: read separately, a build just before a
    second ends could be named after one made just after it, and generations would sort out of build order."""
    from graph.store.generations import new_generation

    monkeypatch.setattr(time, "time_ns", lambda: 1_764_667_294_999_999_999)  # 2025-12-02T09:21:34.999999999Z
    late = new_generation(tmp_path / "store")
    monkeypatch.setattr(time, "time_ns", lambda: 1_764_667_295_000_000_001)
    early_next = new_generation(tmp_path / "store")
    assert late.name == "store.gen-20251202T092134-999999999"
    assert early_next.name == "store.gen-20251202T092135-000000001"
    assert sorted([early_next, late]) == [late, early_next]
