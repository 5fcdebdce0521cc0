"""Import → build end to end on input the catalog has not seen (drift), as a user runs it."""
from __future__ import annotations

import os
import re
from pathlib import Path

from pyoxigraph import Store

from tests.conftest import FIXTURES_DIR, run_cli


def _drifted_seed(seed_dir: Path, into: Path) -> Path:
    text = (seed_dir / "README.ja.md").read_text(encoding="utf-8")
    text = re.sub(r'^<a id="[^"]+"></a>\n', "", text, flags=re.M)  # sections lose their anchors
    text = text.replace("| ライセンス |", "| ライセンス / 利用規約 |")  # a renamed column
    text += "\n" + (FIXTURES_DIR / "drift" / "README.md").read_text(encoding="utf-8").split("\n", 1)[1]  # new sections
    path = into / "README.md"
    path.write_text(text, encoding="utf-8")
    return path


def test_drifted_readme_imports_and_builds_with_shipped_registries(seed_dir: Path, tmp_path: Path):
    readme = _drifted_seed(seed_dir, tmp_path)
    out = tmp_path / "catalog"
    res = run_cli("import", str(readme), "--out", str(out))
    assert res.returncode == 0, res.stderr
    assert "unknown column 'パラメータ数'" in res.stdout
    assert not (out / "registries").exists()
    store = tmp_path / "store"
    res = run_cli("build", "--catalog", str(out), "--store", str(store))
    assert res.returncode == 0, res.stderr[-2000:]
    db = Store.read_only(os.path.realpath(store))
    rows = db.query(
        "PREFIX prov: <http://www.w3.org/ns/prov#> SELECT ?m WHERE { ?m prov:wasDerivedFrom+ <https://w3id.org/jllm-kg/model/llama-2> }",
        use_default_graph_as_union=True)
    found = {row["m"].value.rsplit("/", 1)[-1] for row in rows}
    assert {"swallow-7b", "houou-7b", "merge-lm-7b"} <= found
