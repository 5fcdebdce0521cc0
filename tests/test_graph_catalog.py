"""Loading catalog YAML: records know their file and line; malformed YAML is a one-line error."""
from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

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
