"""What a build is made of: a fingerprint of its inputs, so an unchanged store need not be rebuilt.

The fingerprint covers the catalog directory, the ontology and shapes, the code that maps them
(``graph/``), the IRI base and pyoxigraph's version. ``jllm-kg build --if-changed`` skips the
build when the store exists and its recorded fingerprint (``<store>.inputs`` beside it) matches.
"""
from __future__ import annotations

import hashlib
from pathlib import Path

import pyoxigraph

GRAPH_CODE = Path(__file__).resolve().parent.parent


def _files(folder: Path, patterns: tuple[str, ...]) -> list[Path]:
    return sorted(p for pattern in patterns for p in folder.rglob(pattern) if p.is_file())


def fingerprint(catalog_dir: Path, ontology_dir: Path, base: str) -> str:
    """SHA-256 over the build's inputs (file paths and contents, the base, the engine version)."""
    digest = hashlib.sha256(f"{base}\0{pyoxigraph.__version__}\0".encode())
    for root, patterns in ((catalog_dir, ("*.yaml",)), (ontology_dir, ("*.ttl", "*.jsonld")), (GRAPH_CODE, ("*.py",))):
        for path in _files(Path(root), patterns):
            digest.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def record_path(store_path: Path) -> Path:
    """Where the fingerprint of the store's current build is kept."""
    return Path(str(store_path) + ".inputs")


def _stamp(store_path: Path, inputs: str) -> str:
    """The fingerprint tied to the generation the store points at (a later build by other means
    swaps in another generation, and the record no longer matches)."""
    return f"{inputs} {Path(store_path).resolve().name}"


def record(store_path: Path, inputs: str) -> None:
    """Remember that the store's current generation was built from ``inputs``."""
    record_path(store_path).write_text(_stamp(store_path, inputs) + "\n", encoding="utf-8")


def up_to_date(store_path: Path, inputs: str) -> bool:
    """True if ``store_path`` is a built store whose current generation was built from ``inputs``."""
    recorded = record_path(store_path)
    return Path(store_path).exists() and (Path(store_path).resolve() / "CURRENT").is_file() \
        and recorded.is_file() and recorded.read_text(encoding="utf-8").strip() == _stamp(store_path, inputs)
