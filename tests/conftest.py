"""Shared fixtures: where the seed README and upstream snapshots live, the seed catalog, a CLI runner.

The shipped ``catalog/`` follows the newest upstream snapshot; the known-answer tests of the
2024-03-09 seed build from a catalog imported from ``../shared/seed`` once per session.
"""
from __future__ import annotations

import functools
import os
import subprocess
import tempfile
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FIXTURES_DIR = ROOT / "tests" / "fixtures"
SEED_DIR = Path(os.environ.get("JLLM_KG_SEED_DIR", ROOT.parent / "shared" / "seed"))
UPSTREAM_DIR = Path(os.environ.get("JLLM_KG_UPSTREAM_DIR", ROOT.parent / "shared" / "upstream"))
SEED_MISSING = f"seed README not found at {SEED_DIR} (a user's clone has no ../shared; set JLLM_KG_SEED_DIR)"


def upstream_snapshots() -> list[Path]:
    """The upstream snapshot folders (``<date>-<commit>``) in date order; empty when ../shared is absent."""
    if not UPSTREAM_DIR.is_dir():
        return []
    return sorted(p for p in UPSTREAM_DIR.iterdir() if (p / "README.md").is_file() and (p / "COMMIT").is_file())


@functools.lru_cache(maxsize=1)
def _seed_catalog() -> Path:
    from graph.importer import run_import

    out = Path(tempfile.mkdtemp(prefix="jllm-kg-seed-catalog-"))
    run_import(SEED_DIR / "README.ja.md", en=SEED_DIR / "README.en.md", fr=SEED_DIR / "README.fr.md",
               out=out, commit="2f152f0")
    return out


def seed_catalog_dir() -> Path:
    """The seed (2024-03-09, commit 2f152f0) imported with the shipped registries, once per session; skips without ../shared."""
    if not (SEED_DIR / "README.ja.md").exists():
        pytest.skip(SEED_MISSING)
    return _seed_catalog()


@pytest.fixture(scope="session")
def seed_dir() -> Path:
    """The upstream seed READMEs (../shared/seed or $JLLM_KG_SEED_DIR); skip when absent."""
    if not (SEED_DIR / "README.ja.md").exists():
        pytest.skip(SEED_MISSING)
    return SEED_DIR


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
def seed_store_path(tmp_path_factory) -> Path:
    """An on-disk store built once per session from the seed catalog (read it, never write it)."""
    from graph.build import build_store

    catalog = seed_catalog_dir()
    path = tmp_path_factory.mktemp("seed-store") / "store"
    build_store(catalog_dir=catalog, store_path=path, echo=lambda *a, **k: None)
    return path
