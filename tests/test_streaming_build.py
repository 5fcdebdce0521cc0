"""Issue 12: the streaming build gives the same store as the whole-graph mapping, and SHACL in
batches of pySHACL runs (graph.rdf.validate.validate_store_pyshacl) and as SPARQL queries
(graph.rdf.validate.validate_store) finds the same violations as whole-graph validation."""
from __future__ import annotations

import shutil
from pathlib import Path

import pyoxigraph as ox
import pytest
import yaml
from pyoxigraph import RdfFormat, Store

import catalog as catalog_package
from graph.build import build_date, build_store
from graph.catalog import load_catalog
from graph.store.export import FORMATS, description_subjects, serialize_store, sorted_quads, sorted_triples, write_sorted
from graph.store.graph_export import SPILL_LINES
from graph.store.generations import dump_path, generations
from graph.rdf.vocab import PREFIXES
from graph.rdf.iris import Iris
from graph.rdf.family_summary import summary_quads
from graph.rdf.lineage_levels import level_quads
from graph.rdf.mapping import catalog_quads
from graph.rdf.validate import locate, validate_quads, validate_store, validate_store_pyshacl
from graph.rdf.void import counts_of, describe, store_counts
from tests.conftest import seed_catalog_dir

FIXTURE = Path(__file__).parent / "fixtures" / "catalog"
QUIET = lambda *a, **k: None  # noqa: E731


def _catalogs() -> list:
    return [pytest.param(lambda: FIXTURE, id="fixture"), pytest.param(lambda: catalog_package.PATH, id="shipped"),
            pytest.param(seed_catalog_dir, id="seed")]


def inject_violations(src: Path, dst: Path) -> None:
    """A copy of the catalog ``src`` with broken facts of several kinds, some spanning two entity graphs."""
    shutil.copytree(src, dst)
    if not (dst / "registries").is_dir():
        shutil.copytree(catalog_package.PATH / "registries", dst / "registries")
    files = sorted((dst / "models").glob("*.yaml"))
    candidates = []
    for path in files:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        with_variants = [f for f in data.get("families") or [] if f.get("variants")]
        if len(with_variants) >= 2:
            candidates.append((path, data, with_variants))
    path, data, (first, second, *_) = candidates[0]
    first["base_models"] = [{"raw": "Nothing", "id": "no-such-model"}]      # unknown base
    first["developers"] = {"raw": "Nobody", "ids": ["no-such-org"]}         # unknown developer
    first["section"] = "no-such-section"                                  # unknown section
    first["training"] = {"raw": "x", "stages": [{"kind": "instruction-tuning", "method": "no-such-method",
                                                 "datasets": [{"raw": "d", "id": "no-such-dataset"}]}]}
    second["variants"][0]["url"] = "http://example.org/not-hf"            # pattern
    second["variants"][0]["licence"] = "LicenseRef-No-Such"               # unknown licence
    # the same repo as a variant of two families: jllm:variantOf maxCount 1 across two entity graphs
    second["variants"].append(dict(first["variants"][0]))
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    reg = dst / "registries" / "organisations.yaml"
    orgs = yaml.safe_load(reg.read_text(encoding="utf-8"))
    next(o for o in orgs if o.get("type") != "person")["parent"] = "nowhere"  # unknown parent organisation
    reg.write_text(yaml.safe_dump(orgs, allow_unicode=True, sort_keys=False), encoding="utf-8")


def _whole_and_batched(catalog_dir: Path, tmp_path: Path, batch_size: int) -> tuple[list, list]:
    iris = Iris.default()
    quads = catalog_quads(load_catalog(catalog_dir), iris)
    whole = validate_quads(quads, iris.base)
    store = Store(str(tmp_path / "store"))
    store.bulk_extend(quads)
    batched = validate_store_pyshacl(store, iris.base, batch_size=batch_size)
    assert validate_store(store, iris.base) == locate(store, whole, iris.base)  # the build's SPARQL checks
    return whole, batched


@pytest.mark.parametrize("catalog_dir", _catalogs())
def test_batched_validation_finds_the_same_violations(catalog_dir, tmp_path):
    whole, batched = _whole_and_batched(catalog_dir(), tmp_path, batch_size=37)
    assert batched == whole


@pytest.mark.parametrize("catalog_dir", _catalogs())
def test_batched_validation_finds_the_same_injected_violations(catalog_dir, tmp_path):
    broken = tmp_path / "catalog"
    inject_violations(catalog_dir(), broken)
    whole, batched = _whole_and_batched(broken, tmp_path, batch_size=37)
    assert len(whole) >= 8, [v.render() for v in whole]
    paths = {v.path for v in whole}
    assert {"jllm:baseModel", "jllm:developer", "jllm:section", "prov:used", "jllm:method", "schema:url",
            "jllm:licence", "jllm:variantOf", "org:subOrganizationOf"} <= paths, paths
    assert batched == whole


def test_streaming_build_equals_whole_graph_mapping(tmp_path, monkeypatch):
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    iris = Iris.default()
    cat = load_catalog(FIXTURE)
    quads = catalog_quads(cat, iris)
    whole = Store()  # the engine normalises literals (xsd:decimal "7.0" reads back as "7"): compare through it
    whole.bulk_extend(quads)
    whole.bulk_extend(list(level_quads(whole, iris)))  # the lineage levels the build adds
    whole.bulk_extend(describe(store_counts(whole, iris), iris, cat.commit, build_date()))
    whole.bulk_extend(list(summary_quads(whole, iris)))  # and, after the VoID counts, the home page's family counts
    build_store(catalog_dir=FIXTURE, store_path=tmp_path / "store", echo=QUIET)
    store = Store.read_only(str((tmp_path / "store").resolve()))
    assert set(store) == set(whole)


def test_store_counts_equal_python_counts(tmp_path):
    iris = Iris.default()
    quads = catalog_quads(load_catalog(FIXTURE), iris)
    store = Store(str(tmp_path / "store"))
    store.bulk_extend(quads)
    assert store_counts(store, iris) == counts_of(quads, iris)


def test_build_prints_progress_with_counts(tmp_path, capsys):
    build_store(catalog_dir=FIXTURE, store_path=tmp_path / "store", echo=QUIET)
    err = capsys.readouterr().err
    assert "] loaded " in err and " entities, " in err and "quads/s;" in err
    assert err.index("] the engine has every part; flushing it") < err.index("] loaded ")  # a long flush is not silent
    assert "] checked 1/" in err and "constraints as SPARQL" in err and "0 violation(s)" in err


def test_while_the_engine_loads_a_line_gives_the_store_s_size(tmp_path):
    """The engine reports nothing while it bulk-loads: a ticker says how far the generation's files have grown."""
    import time

    from graph.build import _Ticker

    (tmp_path / "000001.sst").write_bytes(b"x" * 2_500_000)
    lines: list[str] = []
    with _Ticker(lines.append, tmp_path, 7_000_000, every=0.05):
        time.sleep(0.3)
    assert lines and all(line.endswith("s, store files 2 MB (from 7 MB of N-Quads)") for line in lines), lines
    count = len(lines)
    time.sleep(0.2)
    assert len(lines) == count  # stopped with the load


@pytest.mark.parametrize("zstd", ["", "0"], ids=["runs-compressed", "runs-plain"])
@pytest.mark.parametrize("fmt", sorted(FORMATS))
def test_streaming_export_equals_in_memory_sort(tmp_path, fmt, zstd, monkeypatch):
    """Sorted runs spilled to disk (compressed by zstd where it is installed, or plain) merge into the in-memory sort's output."""
    from graph.store.zstd import sort_options, zstd_command

    monkeypatch.setenv("JLLM_KG_ZSTD", zstd)
    if zstd != "0" and zstd_command() is None:
        pytest.skip("no zstd command on this machine")
    assert bool(sort_options()) == (zstd != "0")
    build_store(catalog_dir=FIXTURE, store_path=tmp_path / "store", echo=QUIET)
    store = Store.read_only(str((tmp_path / "store").resolve()))
    quads = list(store)
    top = description_subjects(store)
    rdf_format = FORMATS[fmt]
    items = sorted_quads(quads, top) if rdf_format.supports_datasets else sorted_triples(quads, top)
    prefixes = PREFIXES if rdf_format in (RdfFormat.TURTLE, RdfFormat.TRIG) else None
    expected = ox.serialize(items, None, rdf_format, prefixes=prefixes)
    out = tmp_path / f"out.{fmt}"
    # many sorted runs spilled to disk, merged; dataset formats: every graph over 50 lines sorted on disk
    write_sorted(store, fmt, out, buffer="64K", spill_lines=50)
    assert out.read_bytes() == expected


AWKWARD = ["tab\there", "new\nline", 'quote " and \\ backslash', "spaces <http://x/y> .", "ユニコード", "", "a", "a b"]


@pytest.mark.parametrize("graphs", ["named", "named-spilled", "default"])
@pytest.mark.parametrize("fmt", sorted(FORMATS))
def test_export_of_awkward_literals_equals_in_memory_sort(tmp_path, fmt, graphs):
    """Literals with tabs, newlines, quotes, spaces and an IRI-like text, in named graphs (the engine's
    dump → awk path, or graph by graph for a dataset format: sorted in memory, or by GNU sort for
    "spilled") and in the default graph (records written by Python), sort as the in-memory sort does."""
    ex = "http://example.org/"
    store = Store(str(tmp_path / "store"))
    quads = []
    for n, text in enumerate(AWKWARD):
        graph = ox.NamedNode(f"{ex}g{n % 3}") if graphs != "default" else ox.DefaultGraph()
        for obj in (ox.Literal(text), ox.Literal(text, language="ja"), ox.Literal(text, datatype=ox.NamedNode(f"{ex}dt"))):
            quads.append(ox.Quad(ox.NamedNode(f"{ex}s{n % 4}"), ox.NamedNode(f"{ex}p"), obj, graph))
        quads.append(ox.Quad(ox.NamedNode(f"{ex}s{n % 4}"), ox.NamedNode("http://www.w3.org/2000/01/rdf-schema#label"),
                             ox.Literal(text), ox.NamedNode(f"{ex}other") if graphs != "default" else graph))
    store.extend(quads)
    rdf_format = FORMATS[fmt]
    items = sorted_quads(quads, {}) if rdf_format.supports_datasets else sorted_triples(quads, {})
    prefixes = PREFIXES if rdf_format in (RdfFormat.TURTLE, RdfFormat.TRIG) else None
    out = tmp_path / f"out.{fmt}"
    write_sorted(store, fmt, out, spill_lines=2 if graphs == "named-spilled" else SPILL_LINES)
    assert out.read_bytes() == ox.serialize(items, None, rdf_format, prefixes=prefixes)


def test_build_writes_the_dump_next_to_the_generation_and_removes_it_with_it(tmp_path):
    store_path = tmp_path / "store"
    build_store(catalog_dir=FIXTURE, store_path=store_path, echo=QUIET)
    first = store_path.resolve()
    assert dump_path(first) == first.parent / f"{first.name}.dump.ttl"
    assert dump_path(first).read_bytes() == serialize_store(Store.read_only(str(first)), "ttl")
    build_store(catalog_dir=FIXTURE, store_path=store_path, echo=QUIET)
    build_store(catalog_dir=FIXTURE, store_path=store_path, echo=QUIET)
    assert not first.exists() and not dump_path(first).exists()
    assert sorted(p.name for p in tmp_path.glob("store.gen-*.dump.ttl")) == sorted(
        dump_path(g).name for g in generations(store_path))


def test_dump_route_sends_the_build_file_with_etag_and_ranges(client, seed_store_path):
    path = dump_path(seed_store_path.resolve())
    r = client.get("/dump.ttl")
    assert r.status_code == 200 and r.data == path.read_bytes()
    assert r.data == serialize_store(Store.read_only(str(seed_store_path.resolve())), "ttl")  # sorted from the mapped text
    assert r.headers["Content-Type"] == "text/turtle; charset=utf-8"
    assert client.get("/dump.ttl", headers={"If-None-Match": r.headers["ETag"]}).status_code == 304
    part = client.get("/dump.ttl", headers={"Range": "bytes=0-99"})
    assert part.status_code == 206 and part.data == path.read_bytes()[:100]


def test_a_build_failing_while_the_engine_compacts_waits_for_it_then_removes_the_generation(tmp_path, monkeypatch):
    """`optimize` runs beside the SHACL checks: a failure there must not pull the generation's directory
    from under a running compaction."""
    import threading
    import time

    import graph.build as build

    real_optimize = build._optimize
    ended: list[float] = []

    def slow_optimize(store, result):
        time.sleep(1.5)
        real_optimize(store, result)
        ended.append(time.monotonic())

    def failing_checks(store, base, progress=None):
        raise RuntimeError("checking failed")

    monkeypatch.setattr(build, "_optimize", slow_optimize)
    monkeypatch.setattr(build, "validate_store", failing_checks)
    with pytest.raises(RuntimeError, match="checking failed"):
        build_store(catalog_dir=FIXTURE, store_path=tmp_path / "store", echo=QUIET)
    failed_at = time.monotonic()
    assert ended and ended[0] <= failed_at  # the compaction ended before the build gave up
    assert not [t for t in threading.enumerate() if t.name == "optimize"]
    assert not (tmp_path / "store").exists() and not list(tmp_path.glob("store.gen-*"))


def test_the_store_is_the_same_with_one_or_several_mapping_processes(tmp_path, monkeypatch):
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    stores = {}
    for mappers in ("1", "3"):
        monkeypatch.setenv("JLLM_KG_BUILD_MAPPERS", mappers)
        lines: list[str] = []
        build_store(catalog_dir=catalog_package.PATH, store_path=tmp_path / f"store-{mappers}", echo=lines.append)
        stores[mappers] = (set(Store.read_only(str((tmp_path / f"store-{mappers}").resolve()))), lines)
    assert stores["1"][0] == stores["3"][0]
    assert stores["1"][1][:-1] == stores["3"][1][:-1]  # the same summary and kept-aside rows, in the same order


def test_the_build_dump_is_sorted_from_text_that_equals_the_stores_own_dump(tmp_path):
    """graph.build._Dump sorts the mapped N-Quads, not the store: on the shipped catalog (the newest
    snapshot) the result is byte for byte what `jllm-kg export` writes from the engine's dump."""
    store_path = tmp_path / "store"
    build_store(catalog_dir=catalog_package.PATH, store_path=store_path, echo=QUIET)
    generation = store_path.resolve()
    assert dump_path(generation).read_bytes() == serialize_store(Store.read_only(str(generation)), "ttl")


@pytest.mark.parametrize("datatype, lexicals", [
    ("decimal", ["13.0", "0.5", ".5", "-0.50", "007.10", "-0.0", "+3.25", "3.", "1e3", "1.2.3",
                 "123456789012345678.123456789012345678", "0.0000000000000000001", "99999999999999999999999"]),
    ("date", ["2024-03-09", "2024-03-09+00:00", "2024-03-09Z", "2024-03-09-05:00", "2024-3-9", "2024-02-30", "x"]),
    ("gYear", ["2024", "0999", "2024+00:00", "24"]),
])
def test_typed_literals_are_written_as_the_store_writes_them_back(datatype, lexicals):
    from graph.rdf.mapping.terms import decimal, typed

    store = Store()
    dt = ox.NamedNode(f"http://www.w3.org/2001/XMLSchema#{datatype}")
    for n, lexical in enumerate(lexicals):
        store.add(ox.Quad(ox.NamedNode(f"http://example.org/s{n}"), ox.NamedNode("http://example.org/p"), ox.Literal(lexical, datatype=dt)))
    stored = {q.subject.value: q.object for q in store}
    for n, lexical in enumerate(lexicals):
        assert typed(lexical, dt) == stored[f"http://example.org/s{n}"], lexical
    assert decimal("13.0").value == "13" and decimal(7).value == "7" and decimal("1,234.50").value == "1234.5"


def test_typed_subjects_are_counted_once_across_mapping_children(tmp_path):
    from graph.build import _distinct_lines, _lines

    (tmp_path / "a.txt").write_text("https://x/a\nhttps://x/b\nhttps://x/b\n", encoding="utf-8")
    (tmp_path / "b.txt").write_text("https://x/b\nhttps://x/c\n", encoding="utf-8")
    (tmp_path / "c.txt").write_text("", encoding="utf-8")
    sort = _distinct_lines([tmp_path / "a.txt", tmp_path / "b.txt", tmp_path / "c.txt"], tmp_path)
    assert _lines(sort, tmp_path) == 3


def test_the_build_adds_its_own_quads_in_chunks_and_none_is_lost():
    from pyoxigraph import Literal, NamedNode, Quad, Store

    from graph.build import extend_in_chunks

    g = NamedNode("http://ex.org/g")
    quads = [Quad(NamedNode(f"http://ex.org/m{i}"), NamedNode("http://ex.org/level"), Literal(str(i % 4)), g) for i in range(10)]
    for chunk in (1, 3, 10, 100):
        store = Store()
        assert extend_in_chunks(store, iter(quads), chunk) == 10
        assert set(store) == set(quads)
    assert extend_in_chunks(Store(), iter(())) == 0
