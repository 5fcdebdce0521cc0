"""Upstream test data (the catalog READMEs, the W3C protocol suites): found, fetched once, checked.

A data set is read from, in order:

1. ``$JLLM_KG_SEED_DIR`` / ``$JLLM_KG_UPSTREAM_DIR`` / ``$JLLM_KG_W3C_DIR`` when set;
2. ``../shared/<name>`` beside the project (CI always has it);
3. the cache ``~/.cache/jllm-kg/test-data/<name>`` (``$JLLM_KG_TEST_DATA_CACHE``), filled on first use
   from pinned upstream commits; every file is checked against the SHA-256 in ``shared_data.tsv``
   and a file with other bytes is refused (never used, never kept).

When none works the tests that need the data skip with one reason; they never fail for it.
``python -m tests.shared_data`` rewrites ``shared_data.tsv`` from a ``../shared`` copy.
"""
from __future__ import annotations

import functools
import hashlib
import os
import sys
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TABLE = Path(__file__).with_name("shared_data.tsv")
SHARED_DIR = Path(os.environ.get("JLLM_KG_SHARED_DIR", ROOT.parent / "shared"))
CACHE_DIR = Path(os.environ.get("JLLM_KG_TEST_DATA_CACHE", Path.home() / ".cache" / "jllm-kg" / "test-data"))
FETCH_TIMEOUT = 20.0

RAW = "https://raw.githubusercontent.com/"
CATALOG_REPO = RAW + "llm-jp/awesome-japanese-llm/"
SEED_COMMIT = "2f152f0"
"""The upstream commit the shipped catalog was imported from (catalog/registries/source.yaml)."""
RDF_TESTS = RAW + "w3c/rdf-tests/"
W3C_SUITES = {
    "sparql11-protocol": RDF_TESTS + "ad541a5/sparql/sparql11/protocol/",
    # rdf-tests pull request 324 (not merged): its head, pinned by the SHA-256 of each file
    "sparql11-protocol-extended": RDF_TESTS + "refs/pull/324/head/sparql/sparql11/protocol/",
}
SEED_NAMES = {"README.ja.md": "README.md", "README.en.md": "README_en.md", "README.fr.md": "README_fr.md"}
"""Seed file → its name upstream at the seed commit."""


@dataclass(frozen=True)
class Pinned:
    """One file of a data set: where it lies in the set, where it comes from, its SHA-256."""

    path: str
    url: str
    sha256: str
    commit: str = ""
    """The upstream commit of a snapshot (written to its ``COMMIT`` file, as in ../shared/upstream)."""


@dataclass(frozen=True)
class DataSet:
    """A folder of upstream files the tests read (``seed``, ``upstream``, ``w3c``)."""

    name: str
    env: str
    files: tuple[Pinned, ...]


class Unavailable(Exception):
    """The data set is neither in ../shared nor in a verified cache, and cannot be fetched."""


def _url(dataset: str, path: str, commit: str = "") -> str:
    """The pinned upstream URL of a file of a data set (the table stores only the hashes).

    >>> _url("seed", "README.en.md")
    'https://raw.githubusercontent.com/llm-jp/awesome-japanese-llm/2f152f0/README_en.md'
    """
    if dataset == "seed":
        return CATALOG_REPO + f"{SEED_COMMIT}/{SEED_NAMES[path]}"
    if dataset == "w3c":
        suite, _, rest = path.partition("/")
        return W3C_SUITES[suite] + rest
    _, _, rest = path.partition("/")  # upstream: <date>-<commit>/<path upstream>, the full commit from the table
    return CATALOG_REPO + f"{commit}/{rest}"


def read_table(table: Path = TABLE) -> dict[str, DataSet]:
    """The data sets of the committed table (``dataset  path  sha256  [commit]`` per line)."""
    files: dict[str, list[Pinned]] = {}
    for line in table.read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        dataset, path, sha256, *commit = line.split("\t")
        files.setdefault(dataset, []).append(Pinned(path, _url(dataset, path, *commit), sha256, *commit))
    envs = {"seed": "JLLM_KG_SEED_DIR", "upstream": "JLLM_KG_UPSTREAM_DIR", "w3c": "JLLM_KG_W3C_DIR"}
    return {name: DataSet(name, envs[name], tuple(pins)) for name, pins in files.items()}


def sha256(data: bytes) -> str:
    """Hex SHA-256 of ``data``."""
    return hashlib.sha256(data).hexdigest()


def fetch(url: str) -> bytes:
    """The bytes at ``url`` (HTTP GET, with a timeout)."""
    with urllib.request.urlopen(url, timeout=FETCH_TIMEOUT) as response:  # noqa: S310 (pinned https URLs)
        return response.read()


def jsdelivr(url: str) -> str | None:
    """The jsDelivr copy of a pinned raw GitHub URL (a second source; the SHA-256 check is the same),
    or None for a ref jsDelivr does not serve (a pull request's head).

    >>> jsdelivr("https://raw.githubusercontent.com/llm-jp/awesome-japanese-llm/2f152f0/README_en.md")
    'https://cdn.jsdelivr.net/gh/llm-jp/awesome-japanese-llm@2f152f0/README_en.md'
    >>> jsdelivr(RDF_TESTS + "refs/pull/324/head/sparql/x.ttl") is None
    True
    """
    owner, repo, ref, path = url.removeprefix(RAW).split("/", 3)
    return None if ref == "refs" else f"https://cdn.jsdelivr.net/gh/{owner}/{repo}@{ref}/{path}"


def sources(url: str, mirrors: list[str] | None = None) -> list[str]:
    """Where a pinned file is fetched from, in order: each of ``mirrors`` in place of
    ``https://raw.githubusercontent.com/`` when given (local copies, tests), else GitHub then jsDelivr."""
    if mirrors:
        return [url.replace(RAW, mirror, 1) for mirror in mirrors]
    return [u for u in (url, jsdelivr(url)) if u]


def _complete(folder: Path, ds: DataSet) -> bool:
    return all((folder / pin.path).is_file() for pin in ds.files)


def resolve(ds: DataSet, shared: Path | None = None, cache: Path | None = None,
            mirror: str | list[str] | None = None) -> Path:
    """The folder holding every file of ``ds``; :class:`Unavailable` says why there is none.

    ``mirror`` (one or several) replaces ``https://raw.githubusercontent.com/`` in the pinned URLs (local copies).
    """
    if os.environ.get(ds.env):
        folder = Path(os.environ[ds.env])
        if _complete(folder, ds):
            return folder
        raise Unavailable(f"${ds.env} is set to {folder}, which lacks some of the {len(ds.files)} files of '{ds.name}'")
    folder = (shared or SHARED_DIR) / ds.name
    if _complete(folder, ds):
        return folder
    return fill_cache(ds, (cache or CACHE_DIR) / ds.name, mirror)


def fill_cache(ds: DataSet, folder: Path, mirror: str | list[str] | None = None) -> Path:
    """``folder`` with every file of ``ds`` in it, each verified; missing ones are fetched from the
    first of its :func:`sources` that gives the pinned bytes.

    A file whose SHA-256 differs from the table is refused: a cached one is removed, a fetched one is not written.
    """
    mirrors = [mirror] if isinstance(mirror, str) else mirror
    for pin in ds.files:
        target = folder / pin.path
        if target.is_file():
            got = sha256(target.read_bytes())
            if got == pin.sha256:
                continue
            target.unlink()
            raise Unavailable(f"refused {target}: SHA-256 {got} is not the pinned {pin.sha256} "
                              f"(from {pin.url}); the file was removed from the cache")
        data, failures = None, []
        for url in sources(pin.url, mirrors):
            try:
                fetched = fetch(url)
            except (urllib.error.URLError, OSError, ValueError) as err:
                failures.append(f"fetching {url} failed: {getattr(err, 'reason', err)}")
                continue
            got = sha256(fetched)
            if got == pin.sha256:
                data = fetched
                break
            failures.append(f"refused {url}: SHA-256 {got} is not the pinned {pin.sha256}")
        if data is None:
            raise Unavailable(f"no ../shared/{ds.name} and no verified cache at {folder}; nothing was cached: "
                              + "; ".join(failures))
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(target.name + ".part")
        partial.write_bytes(data)
        partial.replace(target)
    for pin in ds.files:
        if pin.commit:
            (folder / pin.path.split("/", 1)[0] / "COMMIT").write_text(pin.commit + "\n", encoding="utf-8")
    return folder


@functools.cache
def located(name: str) -> tuple[Path | None, str]:
    """``(folder, "")`` for the data set ``name``, or ``(None, reason)`` — looked up once per test run."""
    try:
        return resolve(read_table()[name]), ""
    except Unavailable as err:
        return None, f"upstream test data '{name}' unavailable: {err}"


def require(name: str) -> Path:
    """The folder of the data set ``name``, or skip the calling test with the one reason."""
    import pytest

    folder, reason = located(name)
    if folder is None:
        pytest.skip(reason)
    return folder


def write_table(shared: Path = SHARED_DIR, table: Path = TABLE) -> int:
    """Write the table from a ``../shared`` copy; returns the number of files."""
    lines = ["# dataset\tpath\tsha256\t[upstream commit]: written by `python -m tests.shared_data` from ../shared"]
    for name in ("seed", "w3c"):
        for path in sorted(p for p in (shared / name).rglob("*") if p.is_file()):
            lines.append(f"{name}\t{path.relative_to(shared / name).as_posix()}\t{sha256(path.read_bytes())}")
    for snapshot in sorted(p for p in (shared / "upstream").iterdir() if p.is_dir()):
        commit = (snapshot / "COMMIT").read_text(encoding="utf-8").strip()
        for path in sorted(p for p in snapshot.rglob("*") if p.is_file() and p.name != "COMMIT"):
            rel = path.relative_to(shared / "upstream").as_posix()
            lines.append(f"upstream\t{rel}\t{sha256(path.read_bytes())}\t{commit}")
    table.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return len(lines) - 1


if __name__ == "__main__":
    print(f"{write_table(Path(sys.argv[1]) if len(sys.argv) > 1 else SHARED_DIR)} files in {TABLE}")
