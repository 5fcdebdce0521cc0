"""Loading catalog YAML: records know their file and line; malformed YAML is a one-line error."""
from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from graph.catalog import load_catalog
from graph.errors import SourceError

FIXTURE = Path(__file__).parent / "fixtures" / "catalog"


def test_fixture_catalog_loads_with_lines():
    cat = load_catalog(FIXTURE)
    ids = [f["id"] for f in cat.families]
    assert ids == ["swallow-7b", "youri-7b", "houou-7b", "llm-jp-13b"]
    houou = cat.families[2]
    assert houou.file == "catalog/models/generative-continual-general.yaml"
    assert houou.line == 110
    assert houou["section"] == "generative-continual-general"
    assert cat.commit == "0123456789abcdef0123456789abcdef01234567"
    assert [r["id"] for r in cat.registry("licence")][:2] == ["Apache-2.0", "LicenseRef-Llama-2-Community"]
    assert cat.minted["dataset"][0]["id"] == "swallow-corpus"


def test_malformed_yaml_names_file_and_line(tmp_path):
    cat = tmp_path / "catalog"
    shutil.copytree(FIXTURE, cat)
    (cat / "registries" / "datasets.yaml").write_text("- id: a\n  labels: {en: A\n- id: b\n", encoding="utf-8")
    with pytest.raises(SourceError) as err:
        load_catalog(cat)
    message = str(err.value)
    assert message.startswith(f"{cat}/registries/datasets.yaml:3: invalid YAML")
    assert "\n" not in message


def test_malformed_yaml_cli_one_line_no_traceback(tmp_path):
    cat = tmp_path / "catalog"
    shutil.copytree(FIXTURE, cat)
    (cat / "models" / "generative-scratch-general.yaml").write_text("section: x\nfamilies:\n- id: [\n", encoding="utf-8")
    run = subprocess.run([sys.executable, "-m", "jllm_kg.cli", "build", "--catalog", str(cat), "--store", str(tmp_path / "s")],
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 1
    last = run.stderr.strip().splitlines()[-1]
    assert last.startswith(f"error: {cat}/models/generative-scratch-general.yaml:4: invalid YAML: ")
    assert "Traceback" not in run.stderr
    assert not (tmp_path / "s").exists()


def test_entry_without_id_is_located(tmp_path):
    cat = tmp_path / "catalog"
    shutil.copytree(FIXTURE, cat)
    (cat / "registries" / "architectures.yaml").write_text("- id: gpt\n  labels: {en: GPT}\n- labels: {en: X}\n", encoding="utf-8")
    with pytest.raises(SourceError, match=r"/registries/architectures.yaml:3: entry has no 'id'$"):
        load_catalog(cat)


@pytest.mark.parametrize("text", [
    "a: &x [1, 2]\nb: *x\nc: [*x, {d: *x}]\n",
    "base: &b {k: 1, s: text}\nd:\n  <<: *b\n  j: 2\n",
    "t: 2024-03-09\nn: null\ni: 07\nf: 1.5\nbo: yes\ns: '1'\nq: \"x\"\nmulti: |\n  one\n  two\n",
    "- {a: 1}\n- [x, {b: [1, {c: d}]}]\n- !!str 12\n",
    "1: a\n2: b\ntrue: c\n",
])
def test_read_yaml_builds_what_safe_load_builds(tmp_path, text):
    """graph.catalog builds plain strings, lists and mappings itself (the catalog's bulk) and leaves the
    rest to the safe constructor: the values are yaml.safe_load's, every mapping a Record with its line."""
    from graph.catalog import Record, read_yaml

    path = tmp_path / "doc.yaml"
    path.write_text(text, encoding="utf-8")
    loaded = read_yaml(path, "catalog/doc.yaml")
    assert loaded == yaml.safe_load(text)

    def records(value):
        if isinstance(value, dict):
            yield value
            for v in value.values():
                yield from records(v)
        elif isinstance(value, list):
            for v in value:
                yield from records(v)
    found = list(records(loaded))
    assert found and all(isinstance(r, Record) and r.file == "catalog/doc.yaml" and r.line >= 1 for r in found)


def test_read_yaml_unhashable_key_is_a_one_line_error(tmp_path):
    from graph.catalog import read_yaml

    path = tmp_path / "bad.yaml"
    path.write_text("? [1, 2]\n: v\n", encoding="utf-8")
    with pytest.raises(SourceError, match="bad.yaml:1: invalid YAML: found unhashable key"):
        read_yaml(path, "catalog/bad.yaml")
