"""Shared fixtures: the upstream test data, the seed catalog and store, the app and its test client, a CLI runner.

The shipped ``catalog/`` follows the newest upstream snapshot; the known-answer tests of the
2024-03-09 seed build from a catalog imported from the seed READMEs once per session. The
upstream files come from ``../shared``, else from a verified cache (:mod:`tests.shared_data`);
without either, the tests that need them skip with one reason.
"""
from __future__ import annotations

import functools
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from flask import Flask

from tests.shared_data import located, require

ROOT = Path(__file__).resolve().parents[1]
FIXTURES_DIR = ROOT / "tests" / "fixtures"
TOOL_STATE = Path(tempfile.gettempdir()) / "jllm-kg-test-state"
"""Where Hypothesis keeps its example database: outside the work tree (never ``.hypothesis/`` in it)."""
os.environ.setdefault("HYPOTHESIS_STORAGE_DIRECTORY", str(TOOL_STATE / "hypothesis"))


def upstream_snapshots() -> list[Path]:
    """The upstream snapshot folders (``<date>-<commit>``) in date order; empty when the data is unavailable."""
    folder, _ = located("upstream")
    if folder is None:
        return []
    return sorted(p for p in folder.iterdir() if (p / "README.md").is_file() and (p / "COMMIT").is_file())


@functools.lru_cache(maxsize=1)
def _seed_catalog(seed: Path) -> Path:
    from graph.importer import run_import

    out = Path(tempfile.mkdtemp(prefix="jllm-kg-seed-catalog-"))
    run_import(seed / "README.ja.md", en=seed / "README.en.md", fr=seed / "README.fr.md", out=out, commit="2f152f0")
    return out


def seed_catalog_dir() -> Path:
    """The seed (2024-03-09, commit 2f152f0) imported with the shipped registries, once per session;
    skips when the seed READMEs are unavailable."""
    return _seed_catalog(require("seed"))


@pytest.fixture(scope="session")
def seed_dir() -> Path:
    """The upstream seed READMEs ($JLLM_KG_SEED_DIR, ../shared/seed, or the verified cache); skip when none."""
    return require("seed")


@pytest.fixture(scope="session")
def seed_catalog() -> Path:
    """The seed imported into a catalog directory (see :func:`seed_catalog_dir`)."""
    return seed_catalog_dir()


def run_cli(*args: str, cwd: Path | None = None, env: dict | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    """Run ``jllm-kg`` in a subprocess, as a user would."""
    full_env = {**os.environ, **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "jllm_kg.cli", *args], cwd=cwd or ROOT, env=full_env,
        capture_output=True, text=True, timeout=timeout,
    )


@pytest.fixture(scope="session")
def seed_answers() -> Path:
    """Request it in a test whose expected values are the seed's (2024-03-09): it skips with the one
    reason when the seed READMEs are unavailable, where :func:`seed_store_path` falls back."""
    return require("seed")


@pytest.fixture(scope="session")
def seed_store_path(tmp_path_factory) -> Path:
    """An on-disk store built once per session (read it, never write it): from the seed catalog, or —
    in a clone without the seed READMEs — from the shipped catalog, so that tests of behaviour
    still run; tests of the seed's known answers also request :func:`seed_answers`."""
    from graph.build import build_store

    folder, _ = located("seed")
    catalog = seed_catalog_dir() if folder is not None else None
    path = tmp_path_factory.mktemp("seed-store") / "store"
    build_store(catalog_dir=catalog, store_path=path, echo=lambda *a, **k: None)
    return path


@pytest.fixture(scope="session")
def remote_seed_store(seed_store_path):
    """A real ``oxigraph serve`` holding the seed store's generation (published as ``jllm-kg build
    --store http://…`` does): its URL. Skips with one reason when the ``oxigraph`` binary is absent."""
    from tests.remote_store import OxigraphServer, publish_store

    with OxigraphServer() as server:
        publish_store(seed_store_path, server.url)
        yield server.url


#: The two backends the parametrized tests run on.
BACKENDS = ("embedded", "remote")


@pytest.fixture(scope="session", params=BACKENDS)
def seed_location(request, seed_store_path) -> Path | str:
    """The seed store, on each backend: its path, then the URL of a remote store holding the same quads."""
    if request.param == "embedded":
        return seed_store_path
    return request.getfixturevalue("remote_seed_store")


def make_app(store_path: Path) -> Flask:
    """The project's app factory on ``store_path`` (in testing mode)."""
    from server.app import create_app

    return create_app({"STORE_PATH": str(store_path), "TESTING": True})


@pytest.fixture(scope="session")
def app(seed_store_path):
    """The app serving the store built from the seed catalog."""
    return make_app(seed_store_path)


@pytest.fixture(scope="session")
def client(app):
    """A test client of :func:`app`."""
    return app.test_client()
