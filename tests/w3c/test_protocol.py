"""The W3C SPARQL 1.1 Protocol suites (main: 34 tests, extended: 42) against a live server.

Query-side tests run against a read-only server whose store holds every test's
``ut:graphData`` (each file in the named graph of its label); update-side tests run against
a server started with update enabled (the runner sends its bearer token). The suites live
in ``$JLLM_KG_W3C_DIR``, the repository's sibling ``shared/w3c`` or the verified cache of
:mod:`tests.shared_data`; without them the tests are skipped.
"""
from __future__ import annotations

from pathlib import Path

import pytest
from pyoxigraph import NamedNode, RdfFormat, Store

from tests.live import LiveServer
from tests.shared_data import SHARED_DIR, located
from tests.w3c.manifest import ProtocolTest, read_manifest, replay

ROOT = Path(__file__).resolve().parents[2]
W3C_FOUND, W3C_MISSING = located("w3c")
W3C_DIR = (W3C_FOUND or SHARED_DIR / "w3c").resolve()
SUITES = ("sparql11-protocol", "sparql11-protocol-extended")
TOKEN = "w3c-protocol-tests"


def _tests() -> list:
    params = []
    for suite in SUITES:
        manifest = W3C_DIR / suite / "manifest.ttl"
        if not manifest.exists():
            params.append(pytest.param(suite, None, "embedded", marks=pytest.mark.skip(
                reason=W3C_MISSING or f"W3C protocol suite not found at {manifest}")))
            continue
        for test in read_manifest(manifest):
            params.append(pytest.param(suite, test, "embedded", id=f"{suite}/{test.name}"))
            if not test.is_update:  # the service is read-only on a remote store
                params.append(pytest.param(suite, test, "remote", id=f"{suite}/{test.name}/remote"))
    return params


def _load_store(path: Path) -> Path:
    store = Store(str(path))
    for suite in SUITES:
        manifest = W3C_DIR / suite / "manifest.ttl"
        if manifest.exists():
            for test in read_manifest(manifest):
                for file, graph in test.data:
                    store.load(path=str(file), format=RdfFormat.N_TRIPLES, to_graph=NamedNode(graph))
    store.flush()
    del store
    return path


def _query_store(tmp_path_factory) -> Path:
    store = _load_store(tmp_path_factory.mktemp("w3c-query") / "store.gen-w3c")
    link = store.parent / "store"
    link.symlink_to(store.name)
    return link


@pytest.fixture(scope="module")
def query_server(tmp_path_factory):
    with LiveServer(_query_store(tmp_path_factory)) as live:
        yield live


@pytest.fixture(scope="module")
def remote_query_server(tmp_path_factory):
    """The read-only server on a remote ``oxigraph serve`` holding the same quads (``--store http://…``)."""
    from tests.remote_store import OxigraphServer, publish_store

    with OxigraphServer() as remote:
        publish_store(_query_store(tmp_path_factory), remote.url)
        with LiveServer(remote.url) as live:
            yield live


@pytest.fixture(scope="module")
def update_server(tmp_path_factory):
    store = _load_store(tmp_path_factory.mktemp("w3c-update") / "store")
    with LiveServer(store, env={"JLLM_KG_UPDATE_TOKEN": TOKEN}) as live:
        yield live


@pytest.mark.parametrize("suite,test,backend", _tests())
def test_protocol(suite: str, test: ProtocolTest, backend: str, request) -> None:
    if test.is_update:
        server = request.getfixturevalue("update_server")
        failures = replay(test, "127.0.0.1", server.port, {"Authorization": f"Bearer {TOKEN}"})
    else:
        server = request.getfixturevalue("query_server" if backend == "embedded" else "remote_query_server")
        failures = replay(test, "127.0.0.1", server.port)
    assert not failures, f"{test.name} ({test.title}):\n" + "\n".join(failures)
