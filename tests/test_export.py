"""``jllm-kg export``: deterministic, parseable by independent parsers, round-trips byte for byte."""
from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import rdflib
from rdflib.compare import isomorphic
from pyoxigraph import NamedNode, RdfFormat, Store

from graph.build import build_store
from tests.conftest import seed_catalog_dir
from graph.errors import UserError
from graph.store.export import FORMATS, export_store, serialize_store
from graph.settings import DEFAULT_BASE
from graph.store.generations import open_store
from graph.rdf.void import void_description

FIXTURE = Path(__file__).parent / "fixtures" / "catalog"


@pytest.fixture(scope="module")
def seed_store(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("export") / "store"
    build_store(catalog_dir=seed_catalog_dir(), store_path=path, echo=lambda *a, **k: None)
    return path


@pytest.fixture(scope="module")
def turtle(seed_store, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("ttl") / "jllm-kg.ttl"
    export_store(seed_store, "ttl", out)
    return out


def test_turtle_has_prefixes_and_description_first(turtle):
    text = turtle.read_text(encoding="utf-8")
    lines = text.splitlines()
    n_prefixes = sum(1 for line in lines if line.startswith("@prefix "))
    assert all(line.startswith("@prefix ") for line in lines[:n_prefixes])
    assert "@prefix jllm: <https://w3id.org/jllm-kg/ontology#> ." in lines[:n_prefixes]
    assert "@prefix schema: <http://schema.org/> ." in lines[:n_prefixes]
    body = lines[n_prefixes:]
    assert body[0] == f"<{DEFAULT_BASE}void> a void:Dataset , dcat:Dataset , prov:Entity ;"
    head = "\n".join(body[:80])
    assert "dcterms:license spdx:Apache-2.0" in head
    assert "jllm:sourceCommit " in head and "void:triples " in head and "dcterms:issued " in head


def test_same_store_same_bytes(seed_store, turtle):
    assert serialize_store(open_store(seed_store), "ttl") == turtle.read_bytes()


@pytest.mark.skipif(shutil.which("rapper") is None, reason="rapper (Debian raptor2-utils) is not installed")
def test_turtle_parses_with_rapper(turtle, seed_store):
    run = subprocess.run(["rapper", "-i", "turtle", "-c", str(turtle)], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    distinct = len({q.triple for q in open_store(seed_store)})
    assert f"returned {distinct} triples" in run.stderr


def test_turtle_parses_with_rdflib_and_round_trips(turtle, seed_store, tmp_path):
    graph = rdflib.Graph().parse(turtle, format="turtle")
    assert len(graph) == len({q.triple for q in open_store(seed_store)})
    fresh = Store(str(tmp_path / "fresh"))
    fresh.bulk_load(path=str(turtle), format=RdfFormat.TURTLE)
    fresh.flush()
    again = serialize_store(fresh, "ttl")
    assert again == turtle.read_bytes()
    assert isomorphic(graph, rdflib.Graph().parse(data=again.decode("utf-8"), format="turtle"))
    # the description is found in the re-loaded store too (everything in its default graph there)
    assert void_description(fresh) == void_description(open_store(seed_store))


@pytest.mark.parametrize("fmt", sorted(FORMATS))
def test_every_format_parses_back(fmt, seed_store, tmp_path):
    store = open_store(seed_store)
    data = serialize_store(store, fmt)
    assert serialize_store(store, fmt) == data
    back = Store()
    back.load(data, format=FORMATS[fmt])
    if FORMATS[fmt].supports_datasets:
        assert len(back) == len(store)
        assert {g.value for g in back.named_graphs()} == {g.value for g in store.named_graphs()}
    else:
        assert len(back) == len({q.triple for q in store})


def test_void_description_counts(seed_store):
    store = open_store(seed_store)
    triples = {(t.predicate.value.replace("#", "/").rsplit("/", 1)[-1], t.object.value) for t in void_description(store)
               if t.subject.value == f"{DEFAULT_BASE}void"}
    void_quads = sum(1 for _ in store.quads_for_pattern(None, None, None, NamedNode(f"{DEFAULT_BASE}graph/void")))
    assert ("triples", str(len(store) - void_quads)) in triples
    assert ("license", "http://spdx.org/licenses/Apache-2.0") in triples


def test_unknown_format_is_one_line_error(seed_store):
    with pytest.raises(UserError, match=r"^unknown export format 'xml': use one of ttl, nt, nq, trig, jsonld$"):
        export_store(seed_store, "xml", None)
    run = subprocess.run([sys.executable, "-m", "jllm_kg.cli", "export", "--format", "rdfxml", "--store", str(seed_store)],
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 1
    assert run.stderr == "error: unknown export format 'rdfxml': use one of ttl, nt, nq, trig, jsonld\n"


def test_export_of_missing_store_is_one_line_error(tmp_path):
    run = subprocess.run([sys.executable, "-m", "jllm_kg.cli", "export", "--store", str(tmp_path / "none")],
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 1
    assert run.stderr.startswith("error: no store at ") and run.stderr.count("\n") == 1


@pytest.mark.parametrize("fmt", ["ttl", "nt"])
def test_export_to_stdout_same_bytes_across_processes(tmp_path, fmt):
    store_path = tmp_path / "store"
    build_store(catalog_dir=FIXTURE, store_path=store_path, echo=lambda *a, **k: None)
    run = subprocess.run([sys.executable, "-m", "jllm_kg.cli", "export", "--format", fmt, "--store", str(store_path)],
                         capture_output=True, timeout=60)
    assert run.returncode == 0
    assert run.stdout == serialize_store(open_store(store_path), fmt)
    if fmt == "nt":
        assert run.stdout.count(b"\n") == len({q.triple for q in open_store(store_path)})


def test_turtle_export_is_the_build_s_dump_and_the_same_without_it(tmp_path):
    """``export --format ttl`` of a built store copies the dump the build wrote; without that file
    (a store the build did not make), the same bytes are sorted from the store."""
    from graph.store.generations import dump_path

    store_path = tmp_path / "store"
    build_store(catalog_dir=FIXTURE, store_path=store_path, echo=lambda *a, **k: None)
    dump = dump_path(store_path.resolve())
    copied = tmp_path / "copied.ttl"
    export_store(store_path, "ttl", copied)
    assert copied.read_bytes() == dump.read_bytes()
    marker = b"# not the store's dump\n"
    dump.write_bytes(marker + dump.read_bytes())  # the file is what is copied ...
    export_store(store_path, "ttl", copied)
    assert copied.read_bytes().startswith(marker)
    dump.unlink()  # ... and without it, the store is sorted
    sorted_out = tmp_path / "sorted.ttl"
    export_store(store_path, "ttl", sorted_out)
    assert sorted_out.read_bytes() == copied.read_bytes()[len(marker):] == serialize_store(open_store(store_path), "ttl")


@pytest.mark.parametrize("fmt", ["nt", "nq"])
def test_line_formats_are_what_pyoxigraph_would_write(seed_store, fmt):
    """N-Triples and N-Quads exports are the sorted lines without a serializer stage: pyoxigraph's own
    parser and serializer give them back byte for byte."""
    import io

    import pyoxigraph as ox

    data = serialize_store(open_store(seed_store), fmt)
    rdf_format = FORMATS[fmt]
    again = io.BytesIO()
    ox.serialize(ox.parse(data, format=rdf_format), again, rdf_format)
    assert data and again.getvalue() == data


def test_graph_order_puts_the_description_first_and_gives_up_on_blank_graph_names(tmp_path):
    """Dataset exports go graph by graph in this order; a blank node graph name sends them the one-sort way."""
    from pyoxigraph import BlankNode, Literal, Quad

    from graph.store.graph_export import graph_order

    store = Store(str(tmp_path / "store"))
    ex = "http://example.org/"
    names = [f"{ex}b", f"{DEFAULT_BASE}graph/void", f"{ex}a", f"{ex}a/", f"{ex}\u00e9"]
    store.extend(Quad(NamedNode(f"{ex}s"), NamedNode(f"{ex}p"), Literal(name), NamedNode(name)) for name in names)
    assert graph_order(store) == [f"{DEFAULT_BASE}graph/void", f"{ex}a", f"{ex}a/", f"{ex}b", f"{ex}\u00e9"]
    store.add(Quad(NamedNode(f"{ex}s"), NamedNode(f"{ex}p"), Literal("x"), BlankNode()))
    assert graph_order(store) is None


@pytest.mark.parametrize("fmt", ["nq", "trig", "nt"])
def test_export_into_a_closed_pipe_ends_quietly(seed_store, fmt):
    """``jllm-kg export | head``: the reader goes away; the command ends with status 1 and no traceback."""
    proc = subprocess.Popen([sys.executable, "-m", "jllm_kg.cli", "export", "--format", fmt, "--store", str(seed_store)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout.read(100)
    proc.stdout.close()
    assert proc.wait(timeout=60) == 1
    assert proc.stderr.read() == b""
