"""The drift table: how much of each upstream snapshot reaches the graph.

Run: ``.venv/bin/python bench/drift.py ../shared/upstream/* [--seed ../shared/seed] [--no-write]``.
For each snapshot (a directory in the upstream layout, or the seed with ``README.{ja,en,fr}.md``)
it imports into a fresh directory, builds a store from it (SHACL-validated), and counts: model
rows in the README vs model families in the graph, benchmark rows vs benchmarks, paper rows vs
papers, Hugging Face repos linked from model rows vs variants, names minted vs name mentions,
warnings, import and build time. The table replaces the one between the drift markers in
``docs/catalog.md`` (unless ``--no-write``).
"""
from __future__ import annotations

import argparse
import os
import re
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import yaml  # noqa: E402
from pyoxigraph import Store  # noqa: E402

from graph.build import build_store  # noqa: E402
from graph.importer import Report, run_import, run_upstream_import  # noqa: E402
from graph.errors import UserError  # noqa: E402

DOC = ROOT / "docs" / "catalog.md"
BEGIN, END = "<!-- drift:begin -->", "<!-- drift:end -->"
_MODEL_KINDS = ("generative", "autoencoding", "embeddings", "multimodal", "speech", "other")
_COUNTS = {
    "families": "SELECT (COUNT(DISTINCT ?x) AS ?n) WHERE { ?x a jllm:ModelFamily }",
    "benchmarks": "SELECT (COUNT(DISTINCT ?x) AS ?n) WHERE { ?x a jllm:Benchmark }",
    "papers": "SELECT (COUNT(DISTINCT ?x) AS ?n) WHERE { ?x a fabio:ResearchPaper }",
    "variants": "SELECT (COUNT(DISTINCT ?v) AS ?n) WHERE { ?v jllm:variantOf ?f . ?f a jllm:ModelFamily }",
}
_PREFIXES = "PREFIX jllm: <https://w3id.org/jllm-kg/ontology#> PREFIX fabio: <http://purl.org/spar/fabio/> "


@dataclass
class Row:
    """One line of the drift table."""

    name: str
    model_rows: int = 0
    families: int = 0
    benchmark_rows: int = 0
    benchmarks: int = 0
    paper_rows: int = 0
    papers: int = 0
    hf_repos: int = 0
    variants: int = 0
    minted: int = 0
    mentions: int = 0
    warnings: int = 0
    import_s: float = 0.0
    build_s: float = 0.0
    result: str = ""

    def cells(self) -> list[str]:
        pct = f"{100 * self.minted / self.mentions:.1f} %" if self.mentions else "–"
        return [self.name, f"{self.model_rows} / {self.families}", f"{self.benchmark_rows} / {self.benchmarks}",
                f"{self.paper_rows} / {self.papers}", f"{self.hf_repos} / {self.variants}",
                f"{self.minted} / {self.mentions} ({pct})", str(self.warnings), f"{self.import_s:.2f} s",
                f"{self.build_s:.2f} s", self.result]


HEADER = ["snapshot", "model rows / families", "benchmark rows / benchmarks", "paper rows / papers",
          "HF repos linked / variants", "names minted / name mentions", "warnings", "import", "build", "build + SHACL"]


def _rows_seen(report: Report, out: Path) -> tuple[int, int, int, int]:
    """Rows of model, benchmark and paper tables the README holds (rows of empty cells not counted),
    and the Hugging Face model repos linked from model rows (licence cells aside)."""
    sections = {s["id"]: s for s in yaml.safe_load((out / "sections.yaml").read_text(encoding="utf-8"))["sections"]}
    models = benchmarks = papers = 0
    empty = [m.group(1) for w in report.warnings for m in [re.search(r"empty row in section '([^']+)'", w)] if m]
    models -= sum(1 for sid in empty if sections.get(sid, {}).get("kind") in _MODEL_KINDS)  # a row of empty cells is no row
    for label, n in report.rows.items():
        if label.startswith("benchmarks/"):
            benchmarks += n
            continue
        kind = sections.get(label.split("#")[0], {}).get("kind")
        if kind == "papers":
            papers += n
        elif kind == "benchmarks":
            benchmarks += n
        elif kind in _MODEL_KINDS:
            models += n
    repos: set[str] = set()
    for path in (out / "models").glob("*.yaml"):
        for fam in yaml.safe_load(path.read_text(encoding="utf-8"))["families"]:
            for key, raw in fam.get("cells", {}).items():
                if key != "licence":
                    repos |= set(_hf_links(raw))
    return models, benchmarks, papers, len(repos)


def _hf_links(raw: str) -> list[str]:
    from graph.importer.cells import hf_repo

    return [r for r in (hf_repo(h) for h in re.findall(r"\]\((https?://[^)\s]+)\)", raw)) if r]


def _mentions(out: Path) -> tuple[int, int]:
    """(names minted, name mentions): every registry id an entry file refers to by name."""
    minted = yaml.safe_load((out / "minted.yaml").read_text(encoding="utf-8")) or {}
    mentions = 0
    for path in (out / "models").glob("*.yaml"):
        for fam in yaml.safe_load(path.read_text(encoding="utf-8"))["families"]:
            mentions += len((fam.get("developers") or {}).get("ids") or [])
            mentions += len((fam.get("architecture") or {}).get("ids") or [])
            mentions += sum(1 for v in (fam.get("licences") or {}).get("values") or [] if v.get("id"))
            mentions += sum(1 for b in fam.get("base_models") or [] if not b.get("in_catalog"))
            for stage in (fam.get("training") or {}).get("stages") or []:
                mentions += 1 + len(stage.get("datasets") or []) + len(stage.get("unparsed") or [])
    for b in yaml.safe_load((out / "benchmarks.yaml").read_text(encoding="utf-8"))["benchmarks"]:
        mentions += len((b.get("developers") or {}).get("ids") or [])
    mentions += len(yaml.safe_load((out / "papers.yaml").read_text(encoding="utf-8"))["papers"])
    return sum(len(v) for v in minted.values()), mentions


def measure(snapshot: Path, work: Path) -> Row:
    """Import and build one snapshot in ``work``."""
    row = Row(snapshot.name if snapshot.name != "seed" else "seed 2024-03-09-2f152f0")
    out, store = work / "catalog", work / "store"
    started = time.perf_counter()
    try:
        if (snapshot / "README.ja.md").is_file():
            report = run_import(snapshot / "README.ja.md", en=snapshot / "README.en.md", fr=snapshot / "README.fr.md",
                                out=out, commit="2f152f0")
        else:
            report = run_upstream_import(snapshot, out=out)
    except UserError as err:
        row.result = f"import failed: {err}"
        return row
    row.import_s = time.perf_counter() - started
    row.model_rows, row.benchmark_rows, row.paper_rows, row.hf_repos = _rows_seen(report, out)
    row.minted, row.mentions = _mentions(out)
    row.warnings = len(report.warnings)
    started = time.perf_counter()
    try:
        build_store(catalog_dir=out, store_path=store, echo=lambda *a, **k: None)
    except UserError as err:
        row.result = f"refused: {err}"
        return row
    row.build_s = time.perf_counter() - started
    row.result = "ok, 0 violations"
    db = Store.read_only(os.path.realpath(store))
    for attr, query in _COUNTS.items():
        setattr(row, attr, int(next(iter(db.query(_PREFIXES + query, use_default_graph_as_union=True)))["n"].value))
    return row


def table(rows: list[Row]) -> str:
    """The drift table in markdown."""
    lines = ["| " + " | ".join(HEADER) + " |", "|" + "---|" * len(HEADER)]
    lines += ["| " + " | ".join(r.cells()) + " |" for r in rows]
    return "\n".join(lines)


def write(text: str, command: str) -> None:
    """Replace the table between the drift markers of docs/catalog.md."""
    doc = DOC.read_text(encoding="utf-8")
    block = f"{BEGIN}\nRegenerated by `{command}`:\n\n{text}\n{END}"
    if BEGIN in doc:
        doc = re.sub(re.escape(BEGIN) + r".*?" + re.escape(END), lambda m: block, doc, flags=re.S)
    else:
        doc = doc.rstrip("\n") + "\n\n## Drift: the upstream snapshots\n\n" + block + "\n"
    DOC.write_text(doc, encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("snapshots", nargs="+", type=Path)
    parser.add_argument("--seed", type=Path, default=ROOT.parent / "shared" / "seed")
    parser.add_argument("--no-write", action="store_true", help="print the table only")
    args = parser.parse_args()
    snaps = [p for p in args.snapshots if p.is_dir()]
    if args.seed and (args.seed / "README.ja.md").is_file():
        snaps.insert(0, args.seed)
    rows = []
    for snap in snaps:
        with tempfile.TemporaryDirectory(prefix="jllm-kg-drift-") as tmp:
            rows.append(measure(snap, Path(tmp)))
        print(" | ".join(rows[-1].cells()), flush=True)
    text = table(rows)
    print(text)
    if not args.no_write:
        write(text, "python bench/drift.py ../shared/upstream/*  (plus the seed, ../shared/seed)")


if __name__ == "__main__":
    main()
