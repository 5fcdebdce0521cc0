"""Issue 12 at a small size: the synthetic catalog (bench/synth.py) builds, and the lineage query,
paging, the dump and the home page agree with what the generator wrote."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest
import yaml

from graph.build import build_store
from graph.canned import get_query, run_query
from graph.store.generations import dump_path, open_store
from tests.conftest import make_app

ROOT = Path(__file__).resolve().parents[1]
FAMILIES = 600


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory) -> tuple[Path, Path]:
    sys.path.insert(0, str(ROOT / "bench"))
    try:
        from synth import Generator
    finally:
        sys.path.remove(str(ROOT / "bench"))
    out = tmp_path_factory.mktemp("synth")
    Generator(FAMILIES, seed=12).write(out / "catalog", per_file=250)
    build_store(catalog_dir=out / "catalog", store_path=out / "store", echo=lambda *a, **k: None)
    return out / "catalog", out / "store"


def test_generator_is_deterministic(synthetic, tmp_path):
    sys.path.insert(0, str(ROOT / "bench"))
    try:
        from synth import Generator
    finally:
        sys.path.remove(str(ROOT / "bench"))
    Generator(FAMILIES, seed=12).write(tmp_path / "again", per_file=250)
    catalog, _ = synthetic
    for path in sorted(catalog.rglob("*.yaml")):
        assert (tmp_path / "again" / path.relative_to(catalog)).read_bytes() == path.read_bytes(), path


def llama2_family_descendants(catalog: Path) -> tuple[set[str], int]:
    """From the YAML alone: models whose lineage reaches llama-2 (foundation models derived from it
    included), and the deepest chain."""
    base: dict[str, str] = {str(f["id"]): str(f["parent"]) for f in yaml.safe_load(
        (catalog / "registries" / "foundation-models.yaml").read_text(encoding="utf-8")) if f.get("parent")}
    for path in (catalog / "models").glob("*.yaml"):
        for fam in yaml.safe_load(path.read_text(encoding="utf-8"))["families"]:
            base[fam["id"]] = fam["base_models"][0]["id"]
    found, deepest = set(), 0
    for fid in base:
        node, depth = fid, 0
        while node in base:
            node, depth = base[node], depth + 1
        if node == "llama-2":
            found.add(fid)
            deepest = max(deepest, depth)
    return found, deepest


def test_descendants_of_llama_2_match_the_catalog(synthetic):
    catalog, store_path = synthetic
    expected, deepest = llama2_family_descendants(catalog)
    assert len(expected) > FAMILIES // 3 and deepest >= 10  # a huge root and deep chains
    store = open_store(store_path)
    rows = list(run_query(store, get_query("descendants"), {"model": "llama-2"}))
    got = {r["descendant"].value.rsplit("/", 1)[-1] for r in rows}
    assert got == expected
    depths = [int(r["depth"].value) for r in rows]
    assert max(depths) == 6 and depths == sorted(depths)  # 6 = six or more
    first = [tuple(map(str, r)) for r in run_query(store, get_query("descendants"), {"model": "llama-2", "limit": "50"})]
    assert first == [tuple(map(str, r)) for r in rows[:50]]


def test_served_pages_stay_small(synthetic):
    _, store_path = synthetic
    client = make_app(store_path).test_client()
    home = client.get("/?lang=en")
    html = home.get_data(as_text=True)
    assert home.status_code == 200 and "more</a>" in html
    assert html.count('href="/model/syn-') <= 200 * 5
    assert client.get("/?lang=en").get_data(as_text=True) == html  # cached for the generation
    dump = client.get("/dump.ttl", headers={"Range": "bytes=0-9"})
    assert dump.status_code == 206 and dump.data == dump_path(store_path.resolve()).read_bytes()[:10]
    page = client.get("/queries/descendants.json?model=llama-2&limit=20")
    assert len(page.get_json()["results"]["bindings"]) == 20
