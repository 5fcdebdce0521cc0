"""`jllm-kg import`: the seed README becomes the shipped catalog, losing nothing."""
from __future__ import annotations

import functools
import re
from pathlib import Path

import pytest
import yaml

from graph.importer import run_import
from graph.errors import SourceError, UserError
from graph.importer.registry import load_registries, normalise
from tests.conftest import ROOT, run_cli, seed_catalog_dir

FIXTURES = ROOT / "tests" / "fixtures"
REGISTRIES = ROOT / "catalog" / "registries"


def _families(cat: Path | None = None) -> dict[str, dict]:
    """Families of an imported catalog by id (the seed catalog by default)."""
    return _families_of(cat or seed_catalog_dir())


@functools.lru_cache(maxsize=4)
def _families_of(cat: Path) -> dict[str, dict]:
    out = {}
    for path in sorted((cat / "models").glob("*.yaml")):
        for fam in yaml.safe_load(path.read_text(encoding="utf-8"))["families"]:
            assert fam["id"] not in out, f"duplicate family id {fam['id']}"
            out[fam["id"]] = fam
    return out


@pytest.fixture(scope="module")
def reimported(seed_dir: Path, tmp_path_factory) -> tuple[Path, object]:
    out = tmp_path_factory.mktemp("catalog")
    report = run_import(
        seed_dir / "README.ja.md", en=seed_dir / "README.en.md", fr=seed_dir / "README.fr.md",
        out=out, commit="2f152f0",
    )
    return out, report


def test_reimport_is_byte_for_byte_identical(reimported):
    """Importing the same READMEs twice gives the same bytes (the seed catalog vs a fresh import)."""
    out, report = reimported
    written = sorted(p.relative_to(out) for p in out.rglob("*.yaml"))
    assert written, "import wrote nothing"
    first = seed_catalog_dir()
    for rel in written:
        assert (first / rel).exists(), f"{rel} missing from the first import"
        assert (out / rel).read_bytes() == (first / rel).read_bytes(), f"{rel} differs between two imports"
    # import writes only entry files, never registries
    assert not any(str(p).startswith("registries") for p in written)


def test_yaml_is_human_readable_utf8():
    text = (seed_catalog_dir() / "models" / "generative-scratch-general.yaml").read_text(encoding="utf-8")
    assert "\\u" not in text
    assert "東大 和泉研" in text


def test_seed_counts():
    fams = _families()
    assert len(fams) == 128
    benchmarks = yaml.safe_load((seed_catalog_dir() / "benchmarks.yaml").read_text(encoding="utf-8"))["benchmarks"]
    assert len(benchmarks) == 12
    papers = yaml.safe_load((seed_catalog_dir() / "papers.yaml").read_text(encoding="utf-8"))["papers"]
    assert sum(p["table"] == "architectures" for p in papers) == 48
    assert sum(p["table"] == "training-methods" for p in papers) == 4


def test_every_hugging_face_model_repo_is_a_variant(seed_dir: Path):
    text = (seed_dir / "README.ja.md").read_text(encoding="utf-8")
    repos = {
        f"{m.group(1)}/{m.group(2)}"
        for m in re.finditer(r"https://huggingface\.co/([^/()\s]+)/([^/()\s#?]+)", text)
        if m.group(1) not in ("datasets", "spaces")
    }
    variants = {v["repo"] for fam in _families().values() for v in fam["variants"]}
    assert len(repos) >= 240
    assert repos - variants == set()


def test_report_counts_rows_and_lists_unresolved_names(reimported):
    _, report = reimported
    text = report.render()
    assert "generative-continual-general" in text and "23 rows →   23 entries" in text
    assert "embeddings" in text and "10 rows →    9 entries" in text  # one empty row, reported
    assert "empty row in section 'embeddings'" in text
    for items in report.minted.values():
        for item in items:
            assert item["id"] in text
    assert report.problems == []


def test_swallow_7b_has_five_variants():
    fam = _families()["swallow-7b"]
    assert [v["repo"] for v in fam["variants"]] == [
        "tokyotech-llm/Swallow-7b-hf", "tokyotech-llm/Swallow-7b-instruct-hf", "tokyotech-llm/Swallow-7b-NVE-hf",
        "tokyotech-llm/Swallow-7b-NVE-instruct-hf", "tokyotech-llm/Swallow-7b-plus-hf",
    ]
    assert all(v["size"]["params_b"] == 7 for v in fam["variants"])
    assert fam["base_models"][0]["id"] == "llama-2"


def test_houou_base_is_the_catalog_family_youri():
    fam = _families()["houou-7b"]
    direct = [b for b in fam["base_models"] if b.get("in_catalog")]
    assert direct and direct[0]["id"] == "youri-7b"
    assert direct[0]["variant"] == "rinna/youri-7b"
    assert direct[0]["kind"] == "instruction-tuning-full"
    stage = fam["training"]["stages"][0]
    assert [d["id"] for d in stage["datasets"]] == ["ichikara-instruction"]


def test_distillation_parent_points_at_catalog_family():
    fam = _families()["bandai-namco-distilbert"] if "bandai-namco-distilbert" in _families() else next(
        f for f in _families().values() if f["names"]["ja"] == "Bandai Namco DistilBERT")
    base = fam["base_models"][0]
    assert base["in_catalog"] and base["kind"] == "distillation"
    assert _families()[base["id"]]["names"]["ja"] == "東北大BERT"


def test_karakuri_trained_on_cc100_alias():
    fam = _families()["karakuri-lm"]
    pre = fam["training"]["stages"][0]
    cc = [d for d in pre["datasets"] if d["raw"] == "CC100"]
    assert cc and cc[0]["id"] == "cc-100"
    assert pre["tokens"] == 16_000_000_000
    stockmark = _families()["stockmark-13b"]
    assert "cc-100" in [d["id"] for d in stockmark["training"]["stages"][0]["datasets"]]  # "Japanese CC-100"


def test_calm2_chat_context_and_licences():
    fam = _families()["calm2"]
    by_repo = {v["repo"]: v for v in fam["variants"]}
    assert by_repo["cyberagent/calm2-7b"]["context_length"] == 4096
    assert by_repo["cyberagent/calm2-7b-chat"]["context_length"] == 32768
    assert by_repo["cyberagent/calm2-7b-chat-dpo-experimental"]["context_length"] == 32768
    assert by_repo["cyberagent/calm2-7b-chat-dpo-experimental"]["licence"] == "CC-BY-4.0"
    assert by_repo["cyberagent/calm2-7b-chat"]["licence"] == "Apache-2.0"


def test_stockmark_licence_per_variant():
    by_repo = {v["repo"]: v for v in _families()["stockmark-13b"]["variants"]}
    assert by_repo["stockmark/stockmark-13b"]["licence"] == "MIT"
    assert by_repo["stockmark/stockmark-13b-instruct"]["licence"] == "CC-BY-NC-SA-4.0"


def test_tohoku_bert_licences_by_version():
    fam = next(f for f in _families().values() if f["names"]["ja"] == "東北大BERT")
    by_label = {v["label"]: v["licence"] for v in fam["variants"]}
    assert by_label["base (v1)"] == "CC-BY-SA-3.0"
    assert by_label["large"] == "CC-BY-SA-3.0"
    assert by_label["base (v3)"] == "Apache-2.0"
    assert by_label["large (v2, 文字レベル)"] == "Apache-2.0"


def test_sizes_nominal_and_actual():
    fam = next(f for f in _families().values() if f["names"]["ja"].startswith("rinna GPT (英語"))
    size = fam["variants"][0]["size"]
    assert size["params_b"] == 4 and size["actual_params_b"] == 3.8


def test_inferred_variant_lineage_is_marked():
    youri = {v["repo"]: v for v in _families()["youri-7b"]["variants"]}
    edge = youri["rinna/youri-7b-chat-gptq"]["derived_from"][0]
    assert edge == {"variant": "rinna/youri-7b-chat", "kind": "quantisation", "inferred": True}


def test_footnotes_hf_marks_and_raw_cells_kept():
    fams = _families()
    assert fams["karakuri-lm"]["footnotes"] == ["13"]
    nict = next(f for f in fams.values() if f["names"]["ja"] == "NICT BERT")
    assert nict["hf_available"]["mark"] == "convertible"
    for fam in fams.values():
        assert fam["cells"], fam["id"]
        assert fam["source"]["line"] > 0


def test_izumi_lab_english_label():
    regs = load_registries(REGISTRIES)
    oid = regs["organisation"].lookup("東大 和泉研")
    assert regs["organisation"].entries[oid]["labels"]["en"] == "University of Tokyo Izumi Lab"


def test_multilingual_names():
    fam = next(f for f in _families().values() if f["names"]["ja"] == "早大GPT")
    assert fam["names"]["en"] == "WasedaGPT"
    assert set(fam["names"]) == {"ja", "en", "fr"}


def test_benchmark_facts():
    benchmarks = {b["id"]: b for b in yaml.safe_load((seed_catalog_dir() / "benchmarks.yaml").read_text(encoding="utf-8"))["benchmarks"]}
    jglue = benchmarks["jglue"]
    assert [i["name"] for i in jglue["includes"]] == ["MARC-ja", "JCoLA", "JSTS", "JNLI", "JSQuAD", "JCommonsenseQA"]
    assert len(jglue["developers"]["ids"]) == 2
    assert benchmarks["japanese-mt-bench"]["questions"] == 80
    assert benchmarks["rakuda-benchmark"]["questions"] == 40
    nejumi = benchmarks["nejumi-llm-leaderboard-neo"]
    assert {i.get("benchmark") for i in nejumi["includes"]} == {"llm-jp-eval", "jp-mt-bench"}
    assert "prose" not in nejumi and nejumi["section"]  # prose is linked, not copied


def test_papers_link_to_what_they_introduce():
    papers = {p["id"]: p for p in yaml.safe_load((seed_catalog_dir() / "papers.yaml").read_text(encoding="utf-8"))["papers"]}
    llama2 = papers["arxiv-2307.09288"]
    assert llama2["date"] == "2023-07-18" and llama2["venue"] is None
    assert llama2["introduces"]["id"]
    dpo = papers["arxiv-2305.18290"]
    assert dpo["table"] == "training-methods" and dpo["venue"] == "NeurIPS 2023"


# ---------------------------------------------------------------- drift and bad input

def test_drift_unknown_column_and_section_kept(tmp_path: Path):
    report = run_import(FIXTURES / "drift" / "README.md", out=tmp_path)
    text = report.render()
    assert "unknown column 'パラメータ数'" in text
    fams = _families(tmp_path)
    foo = next(f for f in fams.values() if f["names"]["ja"] == "Foo LM")
    assert foo["extra_columns"] == {"パラメータ数": "47B"} or list(foo["extra_columns"].values()) == ["47B"]
    assert {v["repo"] for v in foo["variants"]} == {"foo/foo-8x7b-instruct", "foo/foo-1.2b"}
    assert foo["context_length"]["values"][0]["value"] == 128 * 1024
    pre = foo["training"]["stages"][0]
    assert "somenewcorpus" in [d["id"] for d in pre["datasets"]]
    assert normalise("SomeNewCorpus") in {m["name"].casefold() for m in report.minted["dataset"]}
    bar = next(f for f in fams.values() if f["names"]["ja"] == "Bar Speech")
    assert bar["variants"][0]["repo"] == "bar/bar-asr"


def test_malformed_table_is_reported_with_file_and_line(tmp_path: Path):
    """A table the importer cannot read loses only itself; everything else is imported."""
    report = run_import(FIXTURES / "drift" / "broken.md", out=tmp_path)
    problems = report.problems
    assert any(p.startswith("broken.md:13:") and "malformed table" in p for p in problems) and len(problems) == 1
    fams = {f["names"]["ja"]: f for f in _families(tmp_path).values()}
    assert set(fams) == {"Good LM", "Wide LM"}
    # a cell past the header's (markdown drops it) is kept raw by position, and reported
    assert fams["Wide LM"]["extra_columns"] == {"column_4": "an extra cell"}
    assert any(w.startswith("broken.md:9:") and "kept raw as column_4" in w for w in report.warnings)
    # the malformed table's lines are kept raw under its section
    kept = yaml.safe_load(next((tmp_path / "other").glob("*.yaml")).read_text(encoding="utf-8"))["rows"]
    assert kept == [{"source": {"file": "broken.md", "line": 13},
                     "cells": {"line_1": "| name | developer |", "line_2": "| [No Delimiter LM](https://example.org/x) | rinna |"}}]


def test_cli_malformed_input_reports_file_and_line(tmp_path: Path):
    res = run_cli("import", str(FIXTURES / "drift" / "broken.md"), "--out", str(tmp_path / "o"))
    assert res.returncode == 0, res.stderr
    assert "Traceback" not in res.stderr
    assert "problems (rows not turned into entries): 1" in res.stdout
    assert "  broken.md:13: malformed table" in res.stdout
    assert (tmp_path / "o" / "models" / "generative-scratch-general.yaml").exists()


def test_cli_bad_input_is_one_line_error(tmp_path: Path):
    bad = tmp_path / "notes.md"
    bad.write_text("# notes\n\nno tables here\n", encoding="utf-8")
    res = run_cli("import", str(bad), "--out", str(tmp_path / "o"))
    assert res.returncode == 1 and "Traceback" not in res.stderr
    assert res.stderr.startswith("error: ") and len(res.stderr.strip().splitlines()) == 1


def test_cli_bad_registry_yaml(tmp_path: Path):
    regs = tmp_path / "regs"
    regs.mkdir()
    (regs / "datasets.yaml").write_text("- id: a\n  labels: {ja: x\n- id: b\n", encoding="utf-8")
    res = run_cli("import", str(FIXTURES / "drift" / "README.md"), "--out", str(tmp_path / "o"), "--registries", str(regs))
    assert res.returncode == 1
    assert "Traceback" not in res.stderr
    assert res.stderr.startswith("error: ") and len(res.stderr.strip().splitlines()) == 1
    assert re.search(r"regs/datasets\.yaml:\d+: invalid YAML", res.stderr)
    with pytest.raises(SourceError):
        load_registries(regs)


def test_drifted_seed_still_imports_every_row(seed_dir: Path, tmp_path: Path):
    """The seed with its anchors removed, a renamed licence header and an extra column still gives
    every family (section ids then come from the headings)."""
    text = (seed_dir / "README.ja.md").read_text(encoding="utf-8")
    text = re.sub(r'^<a id="[^"]+"></a>\n', "", text, flags=re.M)
    text = text.replace("| ライセンス |", "| ライセンス / 利用規約 |")
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("|    | ベースのLLM"))
    lines[start] += " 公開日 |"
    lines[start + 1] += ":---:|"
    i = start + 2
    while lines[i].startswith("|"):
        lines[i] = lines[i].rstrip() + " 2024 |"
        i += 1
    src = tmp_path / "README.md"
    src.write_text("\n".join(lines) + "\n", encoding="utf-8")
    report = run_import(src, out=tmp_path / "out")
    fams = _families(tmp_path / "out")
    assert len(fams) == 128
    assert {f["names"]["ja"] for f in fams.values()} == {f["names"]["ja"] for f in _families().values()}
    assert any("unknown column '公開日'" in w for w in report.warnings)
    swallow = fams["swallow-7b"]
    assert swallow["extra_columns"] == {"公開日": "2024"}
    assert swallow["licences"]["values"][0]["id"] == "LicenseRef-Llama-2-Community"


def test_drift_merge_table_with_several_bases(tmp_path: Path):
    run_import(FIXTURES / "drift" / "README.md", out=tmp_path)
    fam = next(f for f in _families(tmp_path).values() if f["names"]["ja"] == "Merge LM 7B")
    assert [(b["id"], b["kind"]) for b in fam["base_models"]] == [
        ("mistral-7b-v0-1", "merge"), ("llama-2", "merge"), ("qwen", "merge")]
    assert all(b["size"]["params_b"] == 7 for b in fam["base_models"])
    assert fam["variants"][0]["repo"] == "merge/merge-lm-7b"


def test_an_unforeseen_failure_keeps_the_row_raw(tmp_path: Path, monkeypatch, seed_dir: Path):
    """If a row's parser ever breaks on a new notation, the row is kept raw and reported, not lost."""
    import graph.importer as catalog_import

    def broken(self, *args, **kwargs):
        raise ValueError("a notation nobody has seen")

    monkeypatch.setattr(catalog_import.Importer, "_paper", broken)
    report = run_import(seed_dir / "README.ja.md", out=tmp_path)
    raw = yaml.safe_load((tmp_path / "other" / "reference.yaml").read_text(encoding="utf-8"))["rows"]
    assert len(raw) == 48 and raw[0]["cells"]["paper"].startswith("[Attention Is All You Need]")
    assert sum("could not be parsed" in w for w in report.warnings) == 52


def test_primary_readme_in_another_language(seed_dir: Path, tmp_path: Path):
    """Pages move upstream: an English README given first is read as English, not mislabelled as ja."""
    report = run_import(seed_dir / "README.en.md", fr=seed_dir / "README.fr.md", out=tmp_path)
    assert "reads as the en README" in report.warnings[0]
    fams = _families(tmp_path)
    assert len(fams) == 128
    assert fams["swallow-7b"]["names"] == {"en": "Swallow 7B", "fr": "Swallow 7B"}
    with pytest.raises(UserError, match="pass the Japanese README first"):
        run_import(seed_dir / "README.en.md", en=seed_dir / "README.en.md", out=tmp_path / "x")


def test_an_unrelated_markdown_file_is_refused(tmp_path):
    """A README with tables but none of the catalog's (this project's own) is an error, not an import."""
    result = run_cli("import", str(ROOT / "README.md"), "--out", str(tmp_path / "out"))
    assert result.returncode == 1
    assert "no model, benchmark or paper tables of the catalog found" in result.stderr
    assert "Traceback" not in result.stderr and not (tmp_path / "out").exists()
