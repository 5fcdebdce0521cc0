"""`jllm-kg import --upstream`: revisions in the upstream layout, includes, git, provenance, snapshots in order."""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from graph.importer import run_upstream_import
from graph.errors import UserError
from graph.importer.markdown_doc import parse_markdown
from graph.importer.upstream import read_revision
from tests.conftest import ROOT, run_cli, upstream_snapshots

CATALOG = ROOT / "catalog"
NEWEST = "2026-03-22-6fe70a0"

_README_JA = """# 日本語LLMまとめ

<a id="generative-scratch-general"></a>
#### 汎用

|    | 公開年 |  開発元  | ライセンス |
|:---|:---:|:---:|:---:|
| [Foo LM](https://example.org/foo)<br>([7b](https://huggingface.co/foo/foo-7b)) | 2025 | rinna | MIT |
 [Bar LM](https://example.org/bar) | 2024 | rinna \\| LINE | MIT |

<a id="reference"></a>
## 各モデル・アーキテクチャの原論文

<!--@include: @/parts/references_model.md-->

## 評価

<!--@include: ./parts/regions.md#keep-->

<!--@include: @/parts/lines.md{2,3}-->
"""
_PARTS = {
    "parts/references_model.md": "|||||\n|:---|:---|:---|:--|\n"
                                 "| Transformer | 2017.06.12 | NIPS(NeurIPS) 2017 | [Attention Is All You Need](https://arxiv.org/abs/1706.03762) |\n",
    "parts/regions.md": "dropped\n<!-- #region keep -->\nkept line\n<!-- #endregion keep -->\ndropped too\n",
    "parts/lines.md": "line one\nline two\nline three\nline four\n",
}


def _layout(root: Path, ja: str = _README_JA, old: bool = False) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "README.md").write_text(ja, encoding="utf-8")
    for rel, text in _PARTS.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text, encoding="utf-8")
    en = ja.replace("#### 汎用", "#### General").replace("公開年", "Release Year").replace("開発元", "Developer")
    en = en.replace("./parts/", "./parts/" if old else "../parts/")  # relative includes are relative to the file
    en_path = root / ("README_en.md" if old else "en/README.md")
    en_path.parent.mkdir(parents=True, exist_ok=True)
    en_path.write_text(en, encoding="utf-8")
    return root


def _families(cat: Path) -> dict[str, dict]:
    out = {}
    for path in sorted((cat / "models").glob("*.yaml")):
        for fam in yaml.safe_load(path.read_text(encoding="utf-8"))["families"]:
            out[fam["id"]] = fam
    return out


# ---------------------------------------------------------------- the upstream layout

def test_plain_directory_with_commit_file_and_includes(tmp_path: Path):
    root = _layout(tmp_path / "2025-01-02-abcdef1")
    (root / "COMMIT").write_text("abcdef1234567890abcdef1234567890abcdef12\n", encoding="utf-8")
    rev = read_revision(root)
    assert rev.commit == "abcdef1234567890abcdef1234567890abcdef12" and rev.date == "2025-01-02"
    ja = rev.readmes["ja"]
    lines = ja.text.splitlines()
    # the #region form keeps only the region, the {2,3} form only those lines
    assert "| Transformer | 2017.06.12 | NIPS(NeurIPS) 2017 | [Attention Is All You Need](https://arxiv.org/abs/1706.03762) |" in lines
    assert "kept line" in lines and "dropped" not in lines and "dropped too" not in lines
    assert "line two" in lines and "line three" in lines and "line one" not in lines and "line four" not in lines
    where = ja.origins[lines.index("kept line")]
    assert where == ("parts/regions.md", 3)
    assert rev.readmes["en"].path == "en/README.md"


def test_import_records_commit_date_and_paths_and_reads_gfm(tmp_path: Path):
    root = _layout(tmp_path / "up")
    (root / "COMMIT").write_text("0123456789abcdef0123456789abcdef01234567\n", encoding="utf-8")
    out = tmp_path / "cat"
    report = run_upstream_import(root, out=out)
    source = yaml.safe_load((out / "sections.yaml").read_text(encoding="utf-8"))["source"]
    assert source["commit"] == "0123456789abcdef0123456789abcdef01234567"
    assert source["files"]["en"] == {"file": "en/README.md", "upstream_path": "en/README.md"}
    fams = _families(out)
    assert fams["foo-lm"]["release_year"] == 2025
    # a GFM row without its leading pipe, with an escaped pipe in a cell: the cells stay in their columns
    assert fams["bar-lm"]["cells"]["developer"] == "rinna | LINE"
    assert fams["bar-lm"]["licences"]["values"][0]["id"] == "MIT" and fams["bar-lm"]["release_year"] == 2024
    paper = yaml.safe_load((out / "papers.yaml").read_text(encoding="utf-8"))["papers"][0]
    assert paper["introduces"]["id"] == "transformer" and paper["source"] == {"file": "parts/references_model.md", "line": 3}
    assert report.rows["reference"] == 1
    assert not report.problems


def test_old_layout_readme_en(tmp_path: Path):
    root = _layout(tmp_path / "old", old=True)
    rev = read_revision(root)
    assert rev.readmes["en"].path == "README_en.md" and rev.commit is None


def _git(cwd: Path, *args: str) -> str:
    env = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.org", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@example.org", "GIT_AUTHOR_DATE": "2025-05-06T10:00:00Z",
           "GIT_COMMITTER_DATE": "2025-05-06T10:00:00Z", "PATH": "/usr/bin:/bin"}
    return subprocess.run(["git", *args], cwd=cwd, env=env, check=True, capture_output=True, text=True).stdout.strip()


@pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")
def test_git_repository_read_at_rev(tmp_path: Path):
    repo = _layout(tmp_path / "repo")
    _git(repo, "init", "-q")
    _git(repo, "add", "-A")
    _git(repo, "commit", "-qm", "one")
    first = _git(repo, "rev-parse", "HEAD")
    (repo / "README.md").write_text(_README_JA.replace("Foo LM", "Baz LM"), encoding="utf-8")
    _git(repo, "commit", "-qam", "two")
    out = tmp_path / "cat"
    res = run_cli("import", "--upstream", str(repo), "--rev", first, "--out", str(out))
    assert res.returncode == 0, res.stderr
    assert "foo-lm" in _families(out)  # read through git at the first commit, not the working tree
    source = yaml.safe_load((out / "sections.yaml").read_text(encoding="utf-8"))["source"]
    assert source["commit"] == first and source["date"] == "2025-05-06"


def test_cli_errors_are_one_line(tmp_path: Path):
    root = _layout(tmp_path / "plain")
    for args, message in [
        (("import", "--upstream", str(root), "--rev", "HEAD", "--out", str(tmp_path / "o")), "needs a git repository"),
        (("import", "--upstream", str(tmp_path), "--out", str(tmp_path / "o")), "no README.md"),
        (("import", "--out", str(tmp_path / "o")), "either README"),
    ]:
        res = run_cli(*args)
        assert res.returncode == 1 and "Traceback" not in res.stderr, res.stderr
        assert res.stderr.startswith("error: ") and message in res.stderr and len(res.stderr.strip().splitlines()) == 1


def test_missing_include_names_file_and_line(tmp_path: Path):
    root = _layout(tmp_path / "x", ja=_README_JA + "\n<!--@include: @/parts/nope.md-->\n")
    with pytest.raises(UserError, match=r"README.md:\d+: included file parts/nope.md not found"):
        read_revision(root)


def test_unanchored_headings_get_ids_from_the_en_heading():
    ja = parse_markdown("## テキスト生成\n\n### 汎用\n\n| | 開発元 |\n|---|---|\n| a | b |\n", "README.md")
    en = parse_markdown("## Text generation\n\n### General\n\n| | Developer |\n|---|---|\n| a | b |\n", "en/README.md")
    from graph.importer.markdown_doc import align_section_ids

    align_section_ids({"ja": ja, "en": en}, "ja")
    ids = [s.id for s in ja.root.walk()][1:]
    assert ids == ["text-generation", "text-generation-general"] == [s.id for s in en.root.walk()][1:]


# ---------------------------------------------------------------- the five snapshots

def _snapshots() -> list[Path]:
    found = upstream_snapshots()
    if not found:
        from tests.shared_data import located

        pytest.skip(located("upstream")[1] or "no upstream snapshot with a README.md and a COMMIT file")
    return found


def test_every_snapshot_in_date_order_into_one_directory_then_idempotent(tmp_path: Path):
    out = tmp_path / "catalog"
    for snap in _snapshots():
        report = run_upstream_import(snap, out=out)
        assert not report.problems, (snap.name, report.problems[:3])
        fresh = tmp_path / f"fresh-{snap.name}"
        run_upstream_import(snap, out=fresh)
        same = sorted(p.relative_to(fresh) for p in fresh.rglob("*.yaml"))
        assert sorted(p.relative_to(out) for p in out.rglob("*.yaml")) == same, f"stale files after {snap.name}"
        assert all((out / rel).read_bytes() == (fresh / rel).read_bytes() for rel in same), snap.name
    before = {p: p.read_bytes() for p in out.rglob("*.yaml")}
    run_upstream_import(_snapshots()[-1], out=out)
    assert {p: p.read_bytes() for p in out.rglob("*.yaml")} == before


def test_shipped_catalog_is_the_newest_snapshot(tmp_path: Path):
    snap = next((s for s in _snapshots() if s.name == NEWEST), None)
    if snap is None:
        pytest.skip(f"{NEWEST} not among the snapshots")
    run_upstream_import(snap, out=tmp_path)
    for path in tmp_path.rglob("*.yaml"):
        rel = path.relative_to(tmp_path)
        assert (CATALOG / rel).read_bytes() == path.read_bytes(), f"catalog/{rel} differs: re-import {NEWEST}"
    shipped = {p.relative_to(CATALOG) for p in CATALOG.rglob("*.yaml") if "registries" not in p.parts}
    assert shipped == {p.relative_to(tmp_path) for p in tmp_path.rglob("*.yaml")}


# ---------------------------------------------------------------- facts of the newest snapshot (the shipped catalog)

def test_shipped_provenance_is_the_real_commit():
    source = yaml.safe_load((CATALOG / "sections.yaml").read_text(encoding="utf-8"))["source"]
    assert source["commit"] == "6fe70a0429fe12ff3ba4feb270ffab6425d8b03c" and source["date"] == "2026-03-22"
    assert {lang: f["upstream_path"] for lang, f in source["files"].items()} == {
        "ja": "README.md", "en": "en/README.md", "fr": "fr/README.md"}


def test_newest_rows_all_become_entries():
    """README.md of 6fe70a0: every model row of the model sections is a family (counted from the text)."""
    fams = _families(CATALOG)
    assert len(fams) == 333
    assert not (CATALOG / "other").exists()
    benchmarks = yaml.safe_load((CATALOG / "benchmarks.yaml").read_text(encoding="utf-8"))["benchmarks"]
    assert len(benchmarks) == 49
    papers = yaml.safe_load((CATALOG / "papers.yaml").read_text(encoding="utf-8"))["papers"]
    assert sum(p["table"] == "architectures" for p in papers) == 93  # grep -c '^| ' parts/references_model.md
    assert sum(p["table"] == "training-methods" for p in papers) == 10  # parts/references_training.md
    assert yaml.safe_load((CATALOG / "minted.yaml").read_text(encoding="utf-8")) == {}


def test_newest_family_facts():
    fams = _families(CATALOG)
    # README.md:40 "| [Sarashina2-8x70B](…) | 2024 | MoE … | Sarashina2 (70B) に対して Sparse Upcycling で学習 |"
    assert fams["sarashina2-8x70b"]["release_year"] == 2024
    # README.md:280 EvoLLM-JP: **Shisa Gamma 7B (v1)**, WizardMath-7B-V1.1, Abel 7B 002 — three merge sources
    evo = fams["evollm-jp"]
    assert [(b["id"], b["kind"], b["in_catalog"]) for b in evo["base_models"]] == [
        ("shisa-gamma-7b", "merge", True), ("wizardmath-7b-v1-1", "merge", False), ("abel-7b-002", "merge", False)]
    # README.md:290 LHTM-OPT … | オルツ | AWS Marketplace (SageMaker) |
    assert fams["lhtm-opt"]["platforms"] == ["AWS Marketplace (SageMaker)"]
    assert fams["lhtm-opt"]["developers"]["ids"] == ["alt-inc"]
    # README.md:142 … | 個人 (山田育矢, 李凌寒) | — two people
    leia = next(f for f in fams.values() if f["source"]["line"] == 142)
    assert leia["developers"]["ids"] == ["ikuya-yamada", "ryokan-ri"]
    # "Qwen 2.5" and "Qwen2.5" in base-model cells are one model
    bases = {b["raw"].split(" (")[0]: b["id"] for f in fams.values() for b in f.get("base_models", [])}
    assert bases["Qwen 2.5"] == bases["Qwen2.5"] == "qwen2-5"
    # README.md:199 JPharmatron links a Hugging Face collection: not a variant
    assert all("collections/" not in v["repo"] for f in fams.values() for v in f["variants"])
    # README.md:162 links stabilityai/japanese-stablelm-base-beta-70b, which README.md:122 links already: attached once
    owners = [f["id"] for f in fams.values() for v in f["variants"] if v["repo"] == "stabilityai/japanese-stablelm-base-beta-70b"]
    assert owners == ["japanese-stable-lm-beta-70b"]


def test_dataset_versions_are_distinct_datasets_of_one_family():
    fams = _families(CATALOG)

    def datasets(fid: str) -> list[dict]:
        return [d for st in fams[fid]["training"]["stages"] for d in st["datasets"]]

    # README.md:57 LLM-jp-3 13B: "llm-jp-corpus-v3"; README.md:303 llm-jp-modernbert: "llm-jp-corpus-v4 の日本語サブセット"
    assert datasets("llm-jp-3-13b")[0]["id"] == "llm-jp-corpus-v3"  # pre-training, then instruction data
    v4 = datasets("llm-jp-modernbert")[0]
    assert (v4["id"], v4["note"]) == ("llm-jp-corpus-v4", "の日本語サブセット")
    # README.md:62 LLM-jp-13B: "llm-jp-corpus (Wikipedia, …)" — the unversioned corpus
    assert datasets("llm-jp-13b")[0]["id"] == "llm-jp-corpus"
    registry = {e["id"]: e for e in yaml.safe_load((CATALOG / "registries" / "datasets.yaml").read_text(encoding="utf-8"))}
    assert registry["llm-jp-corpus-v3"]["part_of"] == registry["llm-jp-corpus-v4"]["part_of"] == "llm-jp-corpus"


def test_newest_benchmarks_and_papers():
    benchmarks = yaml.safe_load((CATALOG / "benchmarks.yaml").read_text(encoding="utf-8"))["benchmarks"]
    # README.md:605-611 "### 論理推論能力を測定するベンチマーク/データセット": JFLD, JHumanEval, JMultiPL-E
    logic = [b["names"]["ja"] for b in benchmarks if b["category"] == "logical-reasoning-benchmark-suites"]
    assert logic == ["JFLD (Japanese Formal Logic Deduction)", "JHumanEval", "JMultiPL-E"]
    jglue = next(b for b in benchmarks if b["id"] == "jglue")
    assert [i["name"] for i in jglue["includes"]] == ["MARC-ja", "JCoLA", "JSTS", "JNLI", "JSQuAD", "JCommonsenseQA"]
    assert jglue["developers"]["ids"] == ["waseda-kawahara-lab", "yahoo-japan"]
    papers = {p["id"]: p for p in yaml.safe_load((CATALOG / "papers.yaml").read_text(encoding="utf-8"))["papers"]}
    # parts/references_model.md:3 | Transformer | 2017.06.12 | NIPS(NeurIPS) 2017 | [Attention Is All You Need](…1706.03762) |
    attention = papers["arxiv-1706.03762"]
    assert (attention["introduces"]["id"], attention["date"], attention["venue"]) == ("transformer", "2017-06-12", "NIPS(NeurIPS) 2017")
    assert attention["source"] == {"file": "parts/references_model.md", "line": 3}
    # parts/references_training.md: | Sparse Upcycling | 2022.12.09 | ICLR 2023 | [Sparse Upcycling: …](…2212.05055) |
    upcycling = papers["arxiv-2212.05055"]
    assert (upcycling["table"], upcycling["introduces"]["id"], upcycling["venue"]) == ("training-methods", "sparse-upcycling", "ICLR 2023")


def test_training_cells_in_the_newer_style():
    """Stage openers the newer catalog uses: a base "に対して以下を実施", then SFT, GRPO (数学), RL, mid-/post-training, distillation."""
    from graph.importer.registry import load_registries
    from graph.importer.training import parse_training

    regs = load_registries(CATALOG / "registries")
    lines = ["Qwen2.5 (7B) に対して以下を実施", "SFT: Swallow-Magpie-Ultra-v0.1", "GRPO (数学): OpenWebMath, 数学の問題を自作したデータ",
             "RL: allenai/Dolci-Think-RL-7B (Math subset)", "Mid-training: FineMath-4", "Post-training: Daring-Anteater",
             "推論蒸留: Bespoke-Stratos-35k"]
    parsed = parse_training(lines, regs, "continual-pre-training", "x.md:1", lambda text: True)
    assert [(s["kind"], s["method"]) for s in parsed.stages] == [
        ("instruction-tuning", "instruction-tuning"), ("reinforcement-learning", "grpo"),
        ("reinforcement-learning", "reinforcement-learning"), ("mid-training", "mid-training"),
        ("post-training", "post-training"), ("distillation", "distillation")]
    assert parsed.bases == [("Qwen2.5 (7B)", "instruction-tuning")]
    grpo = parsed.stages[1]
    assert [d["id"] for d in grpo["datasets"]] == ["openwebmath"] and grpo["unparsed"] == ["数学の問題を自作したデータ"]
    assert parsed.unparsed == ["数学の問題を自作したデータ"]  # a phrase stays raw (and is reported), never minted


def test_footnote_definition_without_space_after_colon(tmp_path: Path):
    ja = _README_JA.replace("| 2025 | rinna | MIT |", "| 2025 | rinna | MIT[^9] |") + "\n[^9]:定義\n"
    root = _layout(tmp_path / "fn", ja=ja)
    report = run_upstream_import(root, out=tmp_path / "cat")
    assert _families(tmp_path / "cat")["foo-lm"]["footnotes"] == ["9"]
    assert not any("footnote [^9]" in w for w in report.warnings)


def test_drift_name_column_moved_or_named(tmp_path: Path):
    """The name column found where a later revision might put it: second, with a blank header, or under a header
    that says so ("モデル"); its rows stay models (not kept generically under other/), named in every language."""
    ja = _README_JA.replace("""|    | 公開年 |  開発元  | ライセンス |
|:---|:---:|:---:|:---:|
| [Foo LM](https://example.org/foo)<br>([7b](https://huggingface.co/foo/foo-7b)) | 2025 | rinna | MIT |""", """| ドメイン |    |  開発元  | ライセンス |
|:---|:---|:---:|:---:|
| 医療 | [Foo LM](https://example.org/foo)<br>([7b](https://huggingface.co/foo/foo-7b)) | rinna | MIT |""")
    ja = ja.replace("<a id=\"reference\"></a>", """<a id="generative-scratch-domain-specific"></a>
#### ドメイン特化型

| モデル | 開発元 | ライセンス |
|:--|:--|:--|
| [Baz LM](https://example.org/baz) | LINE | Apache 2.0 |

<a id="reference"></a>""")
    assert "| 医療 | [Foo LM]" in ja and "| モデル |" in ja
    root = _layout(tmp_path / "moved", ja=ja)
    (root / "en" / "README.md").write_text((root / "en" / "README.md").read_text(encoding="utf-8").replace("| 医療 |", "| Medical |"),
                                           encoding="utf-8")
    out = tmp_path / "cat"
    report = run_upstream_import(root, out=out)
    fams = _families(out)
    assert fams["foo-lm"]["names"] == {"ja": "Foo LM", "en": "Foo LM"}
    assert fams["foo-lm"]["domain"]["ja"] == "医療" and fams["foo-lm"]["domain"]["en"] == "Medical"
    assert [v["repo"] for v in fams["foo-lm"]["variants"]] == ["foo/foo-7b"]
    assert fams["baz-lm"]["names"]["ja"] == "Baz LM" and fams["baz-lm"]["licences"]["values"][0]["id"] == "Apache-2.0"
    assert not any("unknown column" in w for w in report.warnings), report.warnings
    assert not (out / "other").exists() or not any((out / "other").iterdir())
    assert not report.problems


def test_drift_second_name_like_column_is_kept_raw(tmp_path: Path):
    """A blank first header and a "モデル" header: the first stays the name column, the other is kept raw."""
    ja = _README_JA.replace("|    | 公開年 |  開発元  | ライセンス |", "|    | モデル |  開発元  | ライセンス |")
    report = run_upstream_import(_layout(tmp_path / "two", ja=ja), out=tmp_path / "cat")
    fams = _families(tmp_path / "cat")
    assert fams["foo-lm"]["names"]["ja"] == "Foo LM" and fams["foo-lm"]["extra_columns"] == {"name_1": "2025"}
    assert any("unknown column 'モデル'" in w and "'name_1'" in w for w in report.warnings)
