"""Structure and coverage of the curated registries in catalog/registries/."""
from __future__ import annotations

import html
import re
import unicodedata
from pathlib import Path

import pytest
import yaml

from tests.shared_data import SHARED_DIR, located, require

ROOT = Path(__file__).resolve().parents[1]
REGISTRIES = ROOT / "catalog" / "registries"
SEED = located("seed")[0] or SHARED_DIR / "seed"  # tests/shared_data.py: ../shared, else the verified cache

STAGE_KINDS = {
    "pre-training", "continual-pre-training", "instruction-tuning", "instruction-tuning-full",
    "instruction-tuning-lora", "dpo", "ppo", "steerlm", "distillation", "quantisation", "merge",
    "fine-tuning", "reinforcement-learning", "post-training", "mid-training", "upcycling",
}
#: registry -> keys allowed besides id/labels/aliases/url
EXTRA_KEYS = {
    "datasets": {"part_of", "language"},
    "organisations": {"type", "parent", "scholar"},
    "licences": {"spdx", "iri", "commercial_use", "note"},
    "foundation-models": {"developer", "architecture", "paper", "hf", "parent", "series"},
    "architectures": {"parent"},
    "training-methods": {"kind", "parent"},
}
#: (registry, key) -> registry the key's value must name
REFERENCES = {
    ("datasets", "part_of"): "datasets",
    ("organisations", "parent"): "organisations",
    ("foundation-models", "developer"): "organisations",
    ("foundation-models", "architecture"): "architectures",
    ("foundation-models", "parent"): "foundation-models",
    ("foundation-models", "series"): "foundation-models",
    ("architectures", "parent"): "architectures",
    ("training-methods", "parent"): "training-methods",
}


def normalise(name: str) -> str:
    """The name-matching key of docs/catalog.md: NFKC, no ``**``/tags, one dash, collapsed, casefolded."""
    name = unicodedata.normalize("NFKC", html.unescape(name)).replace("**", "")
    name = re.sub(r"<[^>]+>", " ", name)
    name = re.sub("[\u2010\u2011\u2012\u2013\u2014\u2212]", "-", name)
    return re.sub(r"\s+", " ", name).strip().casefold()


def load(registry: str) -> list[dict]:
    return yaml.safe_load((REGISTRIES / f"{registry}.yaml").read_text(encoding="utf-8"))


def by_id(registry: str) -> dict[str, dict]:
    return {entry["id"]: entry for entry in load(registry)}


def names(registry: str) -> dict[str, str]:
    """Normalised label/alias -> entry id."""
    return {normalise(n): e["id"] for e in load(registry) for n in [*e["labels"].values(), *e.get("aliases", [])]}


@pytest.mark.parametrize("registry", sorted(EXTRA_KEYS))
def test_registry_structure(registry: str) -> None:
    entries = load(registry)
    assert isinstance(entries, list) and entries
    ids = [e["id"] for e in entries]
    assert len(ids) == len(set(ids)), "duplicate ids"
    allowed = {"id", "labels", "aliases", "url"} | EXTRA_KEYS[registry]
    for e in entries:
        assert set(e) <= allowed, (e["id"], set(e) - allowed)
        if registry == "licences":
            assert re.fullmatch(r"[A-Za-z0-9.+-]+", e["id"]), e["id"]
        else:
            assert re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", e["id"]), e["id"]
        assert set(e["labels"]) == {"ja", "en", "fr"} and all(e["labels"].values()), e["id"]
        assert all(isinstance(a, str) and a for a in e.get("aliases", [])), e["id"]
        if "url" in e:
            assert e["url"].startswith(("http://", "https://")), e["id"]


@pytest.mark.parametrize("registry", sorted(EXTRA_KEYS))
def test_no_name_shared_by_two_entries(registry: str) -> None:
    seen: dict[str, str] = {}
    for e in load(registry):  # the importer also looks ids up as names
        for n in {normalise(n) for n in [e["id"], *e["labels"].values(), *e.get("aliases", [])]}:
            assert seen.setdefault(n, e["id"]) == e["id"], f"{n!r}: {seen[n]} and {e['id']}"


@pytest.mark.parametrize(("registry", "key"), sorted(REFERENCES))
def test_references_resolve_without_cycles(registry: str, key: str) -> None:
    target = by_id(REFERENCES[(registry, key)])
    for e in load(registry):
        if key in e:
            assert e[key] in target, f"{registry} {e['id']}: {key} {e[key]!r} unknown"
    if REFERENCES[(registry, key)] == registry:
        entries = by_id(registry)
        for start in entries:
            seen, node = set(), start
            while node is not None:
                assert node not in seen, f"cycle through {start}"
                seen.add(node)
                node = entries[node].get(key)


def test_licences_spdx_iri_and_commercial_use() -> None:
    for e in load("licences"):
        assert isinstance(e["spdx"], bool) and "commercial_use" in e, e["id"]
        assert e["commercial_use"] in (True, False, None), e["id"]
        if e["spdx"]:
            assert e["iri"] == f"http://spdx.org/licenses/{e['id']}"
            assert not e["id"].startswith("LicenseRef-")
        else:
            assert "iri" not in e and (e["id"].startswith("LicenseRef-") or e["id"] == "unknown"), e["id"]
    licences = by_id("licences")
    assert licences["CC-BY-NC-SA-4.0"]["commercial_use"] is False
    assert licences["Apache-2.0"]["commercial_use"] is True
    assert licences["unknown"]["commercial_use"] is None
    assert "note" in licences["LicenseRef-Llama-2-Community"]


def test_people_have_scholar_pages() -> None:
    people = [e for e in load("organisations") if e["type"] == "person"]
    assert {p["id"] for p in people} >= {"hiroyuki-osone", "benjamin-clavie"}
    # a scholar page where one is known; people known only by a Hugging Face account link that instead
    assert all(p.get("scholar", "https://scholar.google.").startswith("https://scholar.google.") for p in people)
    assert all(e["type"] in ("organization", "person") for e in load("organisations"))


def test_stage_kinds() -> None:
    methods = by_id("training-methods")
    assert STAGE_KINDS <= set(methods), "every stage kind has a method entry of the same id"
    assert all(m["kind"] in STAGE_KINDS for m in methods.values())


def test_known_facts() -> None:
    orgs, datasets, licences = names("organisations"), names("datasets"), names("licences")
    assert by_id("organisations")["utokyo-izumi-lab"]["labels"]["en"] == "University of Tokyo Izumi Lab"
    assert orgs[normalise("Megagon Labs <br> (リクルート)")] == "megagon-labs"
    assert by_id("organisations")["megagon-labs"]["parent"] == "recruit"
    assert "Jpanese mC4" in by_id("datasets")["japanese-mc4"]["aliases"]
    assert "CC100" in by_id("datasets")["cc-100"]["aliases"]
    assert datasets[normalise("Japanese CC&#x2011;100")] == "cc-100"
    assert datasets[normalise("Wikipedia")] == "wikipedia" != datasets[normalise("日本語 Wikipedia")]
    assert datasets[normalise("独自のWebデータ")] == datasets[normalise("独自のデータセット")] == "proprietary-data"
    assert by_id("datasets")["llm-japanese-dataset-wikinews"]["part_of"] == "llm-japanese-dataset"
    assert licences[normalise("CC BY&#x2011;SA 4.0")] == "CC-BY-SA-4.0"
    assert licences[normalise("？")] == "unknown"
    assert names("foundation-models")[normalise("Mistral-7B-SlimOrca")] == "mistral-7b-slimorca"
    assert by_id("foundation-models")["llama-2"]["paper"] == "arxiv-2307.09288"
    assert names("architectures")[normalise("LUKEベースの文埋め込みモデル")] == "glucose"
    assert names("training-methods")[normalise("Instruction Tuning<br>(Supervised Fine-tuning; SFT)")] == "instruction-tuning"


# --- coverage over the seed READMEs -------------------------------------------------------------

COLUMNS = {
    "developer": {"開発元", "Developer", "Développeur"},
    "licence": {"ライセンス", "License", "Licence"},
    "base_model": {"ベースのLLM", "Base Model", "Base du Model"},
}


def seed_cells(column: str, languages: tuple[str, ...] = ("ja", "en", "fr")) -> list[tuple[str, int, str]]:
    """(file, line, cell) of every non-empty cell of ``column`` in the seed READMEs, links and footnote marks removed."""
    if not SEED.is_dir():
        require("seed")  # skips with the reason
    found = []
    for path in (SEED / f"README.{lang}.md" for lang in languages):
        lines = path.read_text(encoding="utf-8").splitlines()
        header: list[str] | None = None
        for number, line in enumerate(lines, 1):
            if not line.startswith("|"):
                header = None
                continue
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            if header is None:
                header = cells
            elif not re.match(r"^:?-", cells[0]):
                for i, head in enumerate(header):
                    if head in COLUMNS[column] and i < len(cells) and cells[i]:
                        cell = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", cells[i])
                        found.append((path.name, number, re.sub(r"\[\^\d+\]", "", cell).strip()))
    assert found
    return found


@pytest.mark.seed
def test_every_developer_cell_resolves() -> None:
    orgs = names("organisations")
    for file, line, cell in seed_cells("developer"):
        name = normalise(cell)
        person = re.fullmatch(r"(?:個人|individual|individuel) \((.+)\)", name)
        parts = [person.group(1)] if person else [name] if name in orgs else re.split(r" ?& ?", name)
        for part in parts:
            assert part in orgs, f"{file}:{line}: developer {part!r}"


@pytest.mark.seed
def test_every_licence_cell_resolves() -> None:
    licences = names("licences")
    for file, line, cell in seed_cells("licence"):
        for segment in re.split(r"<br>", cell):
            segment = re.sub(r"\s*\([?？]\)", "", segment).strip()  # "(?)" marks doubt, not a name
            segment = segment.rsplit(": ", 1)[-1]  # drop "instruct モデル (v1): "
            segment = re.sub(r"^\((?:dpo モデルのみ|NC モデルは)?\s*(.*?)(?: as for \w+ model)?\)$", r"\1", segment)
            assert normalise(segment) in licences, f"{file}:{line}: licence {segment!r}"


@pytest.mark.seed
def test_every_base_model_cell_resolves() -> None:
    models = names("foundation-models")
    # not fr: its Oogiri table heads the domain column "Base du Model" (header drift upstream)
    for file, line, cell in seed_cells("base_model", ("ja", "en")):
        name = re.sub(r"\s*\(\*\*[^)]*\*\*\)", "", cell.replace("<br>", " "))
        assert normalise(name) in models, f"{file}:{line}: base model {name!r}"


@pytest.mark.seed
def test_every_architecture_paper_row_resolves() -> None:
    architectures = names("architectures")
    text = (require("seed") / "README.ja.md").read_text(encoding="utf-8")
    table = text.split("## 各モデル・アーキテクチャの原論文", 1)[1].split("\n## ", 1)[0]
    rows = [line.split("|")[1].strip() for line in table.splitlines() if line.startswith("| ") and "初出" not in line]
    assert len(rows) == 48
    assert [r for r in rows if normalise(r) not in architectures] == []
