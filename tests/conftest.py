"""Shared fixtures: where the seed README lives, the shipped catalog, the app and its test client, a CLI runner."""
from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from flask import Flask

from tests.shared_data import require

ROOT = Path(__file__).resolve().parents[1]
FIXTURES_DIR = ROOT / "tests" / "fixtures"
TOOL_STATE = Path(tempfile.gettempdir()) / "jllm-kg-test-state"
"""Where Hypothesis keeps its example database: outside the work tree (never ``.hypothesis/`` in it)."""
os.environ.setdefault("HYPOTHESIS_STORAGE_DIRECTORY", str(TOOL_STATE / "hypothesis"))


@pytest.fixture(scope="session")
def seed_dir() -> Path:
    """The upstream seed READMEs ($JLLM_KG_SEED_DIR, ../shared/seed, or the verified cache); skip when none."""
    return require("seed")


def run_cli(*args: str, cwd: Path | None = None, env: dict | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    """Run ``jllm-kg`` in a subprocess, as a user would."""
    full_env = {**os.environ, **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "jllm_kg.cli", *args], cwd=cwd or ROOT, env=full_env,
        capture_output=True, text=True, timeout=timeout,
    )


@pytest.fixture(scope="session")
def seed_store_path(tmp_path_factory) -> Path:
    """An on-disk store built once per session from the shipped catalog (read it, never write it)."""
    from graph.build import build_store

    path = tmp_path_factory.mktemp("seed-store") / "store"
    build_store(store_path=path, echo=lambda *a, **k: None)
    return path


def make_app(store_path: Path) -> Flask:
    """The project's app factory on ``store_path`` (in testing mode)."""
    from server.app import create_app

    return create_app({"STORE_PATH": str(store_path), "TESTING": True})


@pytest.fixture(scope="session")
def app(seed_store_path):
    """The app serving the store built from the shipped catalog."""
    return make_app(seed_store_path)


@pytest.fixture(scope="session")
def client(app):
    """A test client of :func:`app`."""
    return app.test_client()
