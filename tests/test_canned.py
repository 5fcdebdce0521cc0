"""Canned queries (queries/*.rq) over the store built from the shipped catalog: known answers."""
from __future__ import annotations

import json

import pytest
from pyoxigraph import Store

from graph.canned import (QUERIES_DIR, ParamError, UnknownQuery, get_query, load_queries, parse_query_file,
                          run_query, store_iris)
from graph.errors import SourceError
from graph.store.backend import open_reader
from graph.store.generations import open_store
from tests.conftest import run_cli

BASE = "https://w3id.org/jllm-kg/"
QUERY_NAMES = sorted(p.stem for p in QUERIES_DIR.glob("*.rq"))
HOSTILE = ['"', "x\" } UNION { ?s ?p ?o", "llama-2>", "<http://x>", "a\nb", "' OR 1=1 --", "llama-2\" .\n}", "\\", "}}}"]


@pytest.fixture(scope="module")
def store(seed_location, seed_answers) -> Store:
    """The seed store on each backend (embedded, then a remote ``oxigraph serve`` with the same quads)."""
    return open_reader(seed_location)




def table(store: Store, name: str, **params: str) -> list[dict[str, str]]:
    solutions = run_query(store, get_query(name), params)
    names = [v.value for v in solutions.variables]
    result = []
    for sol in solutions:
        row = {}
        for n in names:
            term = sol[n]
            if term is not None:
                row[n] = term.value[len(BASE):] if term.value.startswith(BASE) else term.value
        result.append(row)
    return result


# ------------------------------------------------------------------ every query file

def test_there_are_the_questions_users_ask():
    assert {"descendants", "ancestors", "models-by-developer", "models-trained-on", "models-by-licence",
            "commercial-use", "models-by-architecture", "models-by-size", "longest-context", "datasets-by-stage",
            "developers-ranked", "papers-for-model", "benchmarks", "statistics"} <= set(QUERY_NAMES)


@pytest.mark.parametrize("name", QUERY_NAMES)
def test_header_is_complete(name):
    q = parse_query_file(QUERIES_DIR / f"{name}.rq")
    assert q.title.get("en") and q.title.get("ja")
    assert q.description.get("en") and q.description.get("ja")
    assert q.tags
    assert "#+" not in q.sparql and q.sparql.lstrip().startswith("PREFIX")
    for p in q.params:
        assert p.description.get("en") and p.description.get("ja")
        if p.type == "enum":
            assert p.default in p.enum


@pytest.mark.parametrize("name", QUERY_NAMES)
def test_bare_call_works_and_returns_rows(store, name):
    result = table(store, name)
    assert result, f"{name} with its defaults returned nothing"


# ------------------------------------------------------------------ known answers

def test_descendants_of_mistral(store):
    found = {r["descendant"]: r for r in table(store, "descendants", model="mistral-7b-v0-1")}
    for model in ("japanese-stable-lm-gamma-7b", "chatntq-ja-7b", "shisa-gamma-7b", "shisa-7b", "karasu"):
        assert f"model/{model}" in found
    assert found["model/karasu"]["depth"] == "2"
    assert found["model/karasu"]["parent"] == "model/shisa-7b"
    assert found["model/shisa-7b"]["depth"] == "1"
    assert found["model/shisa-gamma-7b"]["parent"] == "model/japanese-stable-lm-gamma-7b"


def test_descendants_of_llama2_default(store):
    result = table(store, "descendants")
    assert all(r["model"] == "model/llama-2" for r in result)
    depth = {r["descendant"]: r["depth"] for r in result}
    for model in ("swallow-7b", "swallow-13b", "swallow-70b", "elyza-japanese-llama-2-7b",
                  "elyza-japanese-llama-2-13b", "youri-7b", "karakuri-lm"):
        assert depth[f"model/{model}"] == "1"
    assert depth["model/houou-7b"] == "2"
    houou = next(r for r in result if r["descendant"] == "model/houou-7b")
    assert houou["parent"] == "model/youri-7b" and houou["parentLabel"] == "Youri 7B"
    assert houou["kind"] == "Instruction tuning (full-parameter)"
    karakuri = next(r for r in result if r["descendant"] == "model/karakuri-lm")
    assert karakuri["kind"] == "Continual pre-training + SteerLM"
    assert len(depth) == len(result), "one row per descendant (shortcut bases are not listed twice)"


def test_ancestors_chain(store):
    result = table(store, "ancestors", model="houou-7b")
    assert [(r["ancestor"], r["depth"], r["child"]) for r in result] == [
        ("model/youri-7b", "1", "model/houou-7b"), ("model/llama-2", "2", "model/youri-7b")]
    karasu = table(store, "ancestors", model="karasu")
    assert [(r["ancestor"], r["depth"]) for r in karasu] == [("model/shisa-7b", "1"), ("model/mistral-7b-v0-1", "2")]


def test_models_trained_on_ichikara(store):
    result = table(store, "models-trained-on", dataset="ichikara-instruction")
    assert {r["modelLabel"] for r in result} == {"houou-7b", "LLM-jp-13B v1.1", "Stockmark-13b"}
    assert len(result) == 3
    assert {r["modelLabel"]: r["stages"] for r in result}["Stockmark-13b"] == "Instruction tuning (LoRA)"


def test_models_by_developer(store):
    result = table(store, "models-by-developer", developer="rinna")
    models = {r["model"] for r in result}
    assert {"model/youri-7b", "model/nekomata-7b", "model/nekomata-14b", "model/rinna-roberta"} <= models
    assert len(models) == 12


def test_models_by_licence_and_commercial_use(store):
    apache = {r["model"]: r for r in table(store, "models-by-licence", licence="Apache-2.0")}
    assert "model/calm2" in apache and apache["model/calm2"]["commercialUse"] == "true"
    assert apache == {r["model"]: r for r in table(store, "models-by-licence", licence="http://spdx.org/licenses/Apache-2.0")}
    assert "model/swallow-7b" in {r["model"] for r in table(store, "models-by-licence", licence="LicenseRef-Llama-2-Community")}
    yes = {r["model"] for r in table(store, "commercial-use")}
    no = {r["model"] for r in table(store, "commercial-use", allowed="no")}
    assert "model/calm2" in yes and "model/calm2" not in no
    nc = {r["model"] for r in table(store, "models-by-licence", licence="CC-BY-NC-SA-4.0")}
    assert nc and nc <= no


def test_models_by_architecture_inherits_from_base(store):
    result = {r["model"]: r for r in table(store, "models-by-architecture", architecture="llama")}
    assert "inheritedFrom" not in result["model/stockmark-13b"]
    assert result["model/swallow-7b"]["inheritedFrom"] == "model/llama-2"
    assert result["model/houou-7b"]["inheritedFrom"] == "model/llama-2"


def test_models_by_size_largest_first(store):
    result = table(store, "models-by-size", min="60", max="80")
    assert result and all(60 <= float(r["parametersBillions"]) <= 80 for r in result)
    assert "tokyotech-llm/Swallow-70b-hf" in {r["repository"] for r in result}
    sizes = [float(r["parametersBillions"]) for r in table(store, "models-by-size", min="0.5", max="100")]
    assert sizes == sorted(sizes, reverse=True) and len(set(sizes)) > 3
    assert table(store, "models-by-size", min="100", max="1") == []


def test_longest_context(store):
    result = table(store, "longest-context", min="8192")
    assert result[0]["contextLength"] == "32768" and result[0]["family"] == "model/calm2"
    assert all(int(r["contextLength"]) >= 8192 for r in result)


def test_datasets_by_stage(store):
    pre = table(store, "datasets-by-stage")
    assert pre[0]["dataset"] == "dataset/japanese-wikipedia"
    assert [int(r["preTraining"]) for r in pre] == sorted((int(r["preTraining"]) for r in pre), reverse=True)
    inst = table(store, "datasets-by-stage", stage="instruction-tuning")
    counts = {r["dataset"]: int(r["instructionTuning"]) for r in inst}
    assert counts["dataset/ichikara-instruction"] == 3
    assert all(c > 0 for c in counts.values())


def test_developers_ranked(store):
    result = table(store, "developers-ranked")
    assert result[0]["developer"] == "org/rinna" and result[0]["models"] == "12"
    counts = [int(r["models"]) for r in result]
    assert counts == sorted(counts, reverse=True)


def test_papers_for_model(store):
    result = table(store, "papers-for-model", model="swallow-7b")
    found = {(r["arxiv"], r["reason"]) for r in result}
    assert ("2307.09288", "model") in found          # Llama 2, its base
    assert ("2302.13971", "architecture") in found   # LLaMA, the architecture it inherits
    steer = table(store, "papers-for-model", model="karakuri-lm")
    assert "training method" in {r["reason"] for r in steer}


def test_benchmarks(store):
    result = {r["benchmark"]: r for r in table(store, "benchmarks")}
    assert set(result["benchmark/jglue"]["includes"].split(", ")) == {"JSQuAD", "MARC-ja", "JCoLA", "JSTS", "JNLI", "JCommonsenseQA"}
    assert result["benchmark/elyza-tasks-100"]["questions"] == "100"
    assert len(result) == 12


def test_statistics(store):
    result = {r["section"]: r for r in table(store, "statistics")}
    top = max(result.values(), key=lambda r: int(r["families"]))
    assert top["families"] == "128"
    assert int(result["section/generative"]["families"]) >= int(result["section/generative-scratch-general"]["families"])


def test_search_models(store):
    assert "model/swallow-7b" in {r["model"] for r in table(store, "search-models", text="SWALLOW")}


# ------------------------------------------------------------------ parameters

def test_short_id_and_full_iri_are_the_same(store):
    assert table(store, "descendants", model="youri-7b") == table(store, "descendants", model=BASE + "model/youri-7b")


@pytest.mark.parametrize(("name", "params", "param", "fragment"), [
    ("descendants", {"model": "no-such-model"}, "model", "no model"),
    ("descendants", {"model": BASE + "org/rinna"}, "model", "no model"),
    ("descendants", {"modle": "llama-2"}, "modle", "unknown parameter"),
    ("models-by-size", {"min": "ten"}, "min", "decimal"),
    ("longest-context", {"min": "1.5"}, "min", "integer"),
    ("commercial-use", {"allowed": "maybe"}, "allowed", "yes, no, unknown"),
    ("search-models", {"text": " "}, "text", "empty"),
    ("models-by-licence", {"licence": "NOT-A-LICENCE"}, "licence", "no licence"),
])
def test_bad_params_name_the_parameter(store, name, params, param, fragment):
    with pytest.raises(ParamError) as err:
        run_query(store, get_query(name), params)
    assert err.value.param == param
    assert f"parameter '{param}'" in str(err.value) and fragment in str(err.value)


def test_unknown_query():
    with pytest.raises(UnknownQuery, match="no canned query 'nope'.*descendants"):
        get_query("nope")


@pytest.mark.parametrize("value", HOSTILE)
def test_hostile_values_are_data_not_sparql(store, value):
    """Quotes, '>' and newlines never change the query: a ParamError, or a (usually empty) result."""
    for q in load_queries().values():
        for p in q.params:
            try:
                result = table(store, q.name, **{p.name: value})
            except ParamError as err:
                assert err.param == p.name
                continue
            assert p.type == "string", f"{q.name}.{p.name} accepted {value!r}"
            assert result == [] or all(value.lower() in r["modelLabel"].lower() for r in result)


def test_bad_header_is_a_source_error(tmp_path):
    (tmp_path / "bad.rq").write_text("#+ title: [unclosed\nSELECT * WHERE {}\n", encoding="utf-8")
    with pytest.raises(SourceError, match="bad.rq"):
        load_queries(tmp_path)
    (tmp_path / "bad.rq").write_text("#+ title: x\n#+ params:\n#+   - {name: a, type: iri}\nSELECT * WHERE {}\n")
    with pytest.raises(SourceError, match="type"):
        load_queries(tmp_path)


def test_store_iris_reads_the_base(store):
    assert store_iris(store).base == BASE


# ------------------------------------------------------------------ the CLI

def test_cli_lists_queries():
    result = run_cli("query")
    assert result.returncode == 0, result.stderr
    for name in QUERY_NAMES:
        assert name in result.stdout
    assert "model=llama-2" in result.stdout


def test_cli_runs_a_query_as_table_json_csv(seed_location, seed_answers):
    table_out = run_cli("query", "descendants", "--param", "model=mistral-7b-v0-1", "--store", str(seed_location))
    assert table_out.returncode == 0, table_out.stderr
    lines = table_out.stdout.splitlines()
    assert lines[0].split()[:3] == ["descendant", "descendantLabel", "depth"]
    assert any("model/karasu" in line and "model/shisa-7b" in line for line in lines)
    assert lines[-1] == "(7 rows)"
    js = run_cli("query", "models-trained-on", "--format", "json", "--store", str(seed_location))
    data = json.loads(js.stdout)
    assert len(data["results"]["bindings"]) == 3 and "model" in data["head"]["vars"]
    csv_out = run_cli("query", "ancestors", "--format", "csv", "--store", str(seed_location))
    assert csv_out.stdout.splitlines()[0] == "model,ancestor,ancestorLabel,depth,child,childLabel,kind"


@pytest.mark.parametrize(("args", "message"), [
    (["query", "nope"], "no canned query 'nope'"),
    (["query", "descendants", "--param", "model=nope"], "parameter 'model'"),
    (["query", "descendants", "--param", "model"], "--param expects NAME=VALUE"),
    (["query", "descendants", "--format", "xml"], "--format must be one of"),
])
def test_cli_errors_are_one_line(seed_store_path, args, message):
    result = run_cli(*args, "--store", str(seed_store_path))
    assert result.returncode == 1
    assert message in result.stderr and "Traceback" not in result.stderr


def test_queries_are_parsed_once_and_again_when_a_file_changes(tmp_path):
    import os
    import shutil

    from graph.canned import _parsed

    for path in QUERIES_DIR.glob("*.rq"):
        shutil.copy(path, tmp_path / path.name)
    first = load_queries(tmp_path)
    misses = _parsed.cache_info().misses
    assert load_queries(tmp_path)["descendants"] is first["descendants"]  # no re-parse
    assert _parsed.cache_info().misses == misses
    changed = tmp_path / "descendants.rq"
    changed.write_text(changed.read_text(encoding="utf-8").replace("Descendants of a model", "Offspring"), encoding="utf-8")
    stat = changed.stat()
    os.utime(changed, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))
    assert load_queries(tmp_path)["descendants"].title["en"] == "Offspring"
    (tmp_path / "statistics.rq").unlink()
    assert "statistics" not in load_queries(tmp_path)
