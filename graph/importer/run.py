"""The entry points of ``jllm-kg import``: an upstream revision, or README files (the per-file form)."""
from __future__ import annotations

from pathlib import Path

import catalog as catalog_pkg
from graph.errors import UserError
from graph.importer.report import Report
from graph.importer.walk import Importer
from graph.importer.writing import remove_stale, snapshot_defaults, write_yaml
from graph.importer.document import Document
from graph.importer.markdown_doc import detect_language, parse_document, parse_markdown
from graph.importer.registry import load_registries
from graph.settings import UPSTREAM_REPO

_UPSTREAM_NAMES = {"ja": "README.md", "en": "README_en.md", "fr": "README_fr.md"}



def run_import(
    readme: Path,
    *,
    en: Path | None = None,
    fr: Path | None = None,
    out: Path,
    registries: Path | None = None,
    commit: str | None = None,
) -> Report:
    """Import the README file(s) into ``out`` and return the coverage report (the per-file form)."""
    main_doc = parse_document(readme, readme.name)
    primary = detect_language(main_doc)
    docs = {primary: main_doc}
    for lang, path in (("en", en), ("fr", fr)):
        if path is None:
            continue
        if lang == primary:
            raise UserError(f"{readme} reads as the {lang} README and --{lang} {path} was given too: "
                            "pass the Japanese README first (or drop --{lang})".replace("{lang}", lang))
        docs[lang] = parse_document(path, path.name)
    reg_dir = registries or (catalog_pkg.PATH / "registries")
    snapshot = snapshot_defaults(reg_dir) if reg_dir.is_dir() else {}
    source = {
        "upstream": snapshot.get("upstream", UPSTREAM_REPO),
        "commit": commit or snapshot.get("commit"),
        "date": snapshot.get("date") if not commit else None,
        "licence": snapshot.get("licence", "Apache-2.0"),
        "files": {lang: {"file": d.file, "upstream_path": snapshot.get(f"path_{lang}", _UPSTREAM_NAMES[lang])}
                  for lang, d in docs.items()},
    }
    if source["date"] is None:
        source.pop("date")
    return import_documents(docs, primary, out=out, registries=reg_dir, source=source, label=str(readme))


def run_upstream_import(upstream: Path, *, rev: str | None = None, out: Path, registries: Path | None = None,
                        commit: str | None = None) -> Report:
    """Import an upstream revision (checkout, directory in its layout, or git repository at ``rev``)."""
    from graph.importer.upstream import read_revision

    revision = read_revision(upstream, rev)
    docs: dict[str, Document] = {}
    for lang, readme in revision.readmes.items():
        docs[lang] = parse_markdown(readme.text, readme.path, readme.origins)
    if detect_language(docs["ja"]) != "ja":
        raise UserError(f"{upstream}/README.md does not read as the Japanese README")
    source: dict = {"upstream": UPSTREAM_REPO, "commit": commit or revision.commit}
    if revision.date and not commit:
        source["date"] = revision.date
    source["licence"] = "Apache-2.0"
    source["files"] = {lang: {"file": r.path, "upstream_path": r.path} for lang, r in revision.readmes.items()}
    reg_dir = registries or (catalog_pkg.PATH / "registries")
    return import_documents(docs, "ja", out=out, registries=reg_dir, source=source, label=str(upstream))


def import_documents(docs: dict[str, Document], primary: str, *, out: Path, registries: Path, source: dict,
                     label: str) -> Report:
    """Turn parsed READMEs into entry files in ``out``; problems are reported, never fatal for the rest."""
    if not registries.is_dir():
        raise UserError(f"registries directory {registries} does not exist (use --registries DIR)")
    regs = load_registries(registries)
    imp = Importer(docs, regs, primary=primary)
    imp.run()
    if primary != "ja":
        imp.report.warnings.insert(0, f"{docs[primary].file}: reads as the {primary} README, not the Japanese one: "
                                      f"names are recorded as @{primary}; table cells are parsed from it")
    catalog_sections = [s for s in imp.sections if s.get("kind") not in (None, "other")]
    if not imp.report.rows or not catalog_sections:
        raise UserError(f"{label}: no model, benchmark or paper tables of the catalog found — "
                        "is this the awesome-japanese-llm README?")

    out.mkdir(parents=True, exist_ok=True)
    rep = imp.report
    write_yaml(out / "sections.yaml", {"source": source, "sections": imp.sections})
    rep.files.append("sections.yaml")
    written = {"sections.yaml", "benchmarks.yaml", "papers.yaml", "minted.yaml"}
    for sid, fams in imp.families.items():
        write_yaml(out / "models" / f"{sid}.yaml", {"section": sid, "families": fams})
        rep.files.append(f"models/{sid}.yaml")
    write_yaml(out / "benchmarks.yaml", {"benchmarks": imp.benchmarks})
    write_yaml(out / "papers.yaml", {"papers": imp.papers})
    rep.files += ["benchmarks.yaml", "papers.yaml"]
    for sid, rows in imp.other.items():
        write_yaml(out / "other" / f"{sid}.yaml", {"section": sid, "rows": rows})
        rep.files.append(f"other/{sid}.yaml")
    rep.minted = regs.minted_report()
    write_yaml(out / "minted.yaml", rep.minted)
    rep.files.append("minted.yaml")
    remove_stale(out, set(rep.files) | written)
    return rep

