"""Upstream test data: ../shared first, else a verified cache filled over HTTP, else one clear skip reason."""
from __future__ import annotations

import contextlib
import functools
import http.server
import shutil
import socket
import threading
from pathlib import Path

import pytest

from tests.shared_data import (RAW, TABLE, DataSet, Pinned, Unavailable, _url, jsdelivr, read_table, resolve, sha256,
                               sources, write_table)


#: A data set shaped like the seed (same name, paths and pinned URLs) with contents of our own, so
#: the cache and fetch mechanism is tested in every clone, with or without the real seed files.
SAMPLE_BYTES = {"README.ja.md": "# 日本語LLMまとめ (sample)\n".encode(), "README.en.md": b"# Japanese LLMs (sample)\n",
                "README.fr.md": b"# LLM japonais (sample)\n"}
SAMPLE = DataSet("seed", "JLLM_KG_SEED_DIR",
                 tuple(Pinned(path, _url("seed", path), sha256(data)) for path, data in SAMPLE_BYTES.items()))


@pytest.fixture
def sample_copy(tmp_path) -> Path:
    """A folder holding the sample data set's files."""
    folder = tmp_path / "sample"
    folder.mkdir()
    for path, data in SAMPLE_BYTES.items():
        (folder / path).write_bytes(data)
    return folder


@contextlib.contextmanager
def _serve(root: Path):
    """A real HTTP server on 127.0.0.1 serving ``root``; yields its URL."""
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    handler.log_message = lambda *a, **k: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def mirror(tmp_path):
    """A real HTTP server serving ``tmp_path/www`` in the upstream layout of raw GitHub URLs."""
    root = tmp_path / "www"
    root.mkdir()
    with _serve(root) as url:
        yield root, url


def _publish(root: Path, url: str, data: bytes) -> None:
    target = root / url.removeprefix(RAW)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(data)


def _closed_port() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{s.getsockname()[1]}/"


SEED = read_table()["seed"]


def _data_root() -> Path:
    """Where the three data sets lie side by side: ../shared, else the verified cache (filled over the
    network if need be); skips with the one reason when neither is there."""
    from tests.shared_data import SHARED_DIR, located

    if (SHARED_DIR / "seed").is_dir():
        return SHARED_DIR
    folders = []
    for name in read_table():
        folder, reason = located(name)
        if folder is None:
            pytest.skip(reason)
        folders.append(folder.parent)
    assert len(set(folders)) == 1, folders
    return folders[0]


def test_the_table_pins_the_bytes_of_the_data():
    """The committed hashes are those of the ../shared copies (CI has them; ``python -m tests.shared_data``
    rewrites them), or of the files fetched from the pinned sources in a user's clone."""
    root = _data_root()
    for name, ds in read_table().items():
        for pin in ds.files:
            assert sha256((root / name / pin.path).read_bytes()) == pin.sha256, f"{name}/{pin.path}"


def test_the_table_is_what_write_table_writes(tmp_path):
    root = _data_root()
    table = tmp_path / "table.tsv"
    write_table(root, table)
    written = set(table.read_text(encoding="utf-8").splitlines())
    assert set(TABLE.read_text(encoding="utf-8").splitlines()) <= written


def test_a_cache_with_the_right_bytes_is_used_without_network(tmp_path, sample_copy):
    cache = tmp_path / "cache"
    shutil.copytree(sample_copy, cache / "seed")
    found = resolve(SAMPLE, shared=tmp_path / "no-shared", cache=cache, mirror=_closed_port())
    assert found == cache / "seed"
    assert sha256((found / "README.ja.md").read_bytes()) == next(p.sha256 for p in SAMPLE.files if p.path == "README.ja.md")


def test_a_cache_with_wrong_bytes_is_refused(tmp_path):
    cache = tmp_path / "cache"
    bad = cache / "seed" / SAMPLE.files[0].path
    bad.parent.mkdir(parents=True)
    bad.write_bytes(b"# not the pinned README\n")
    with pytest.raises(Unavailable, match=r"refused .*README\.\w\w\.md: SHA-256 [0-9a-f]{64} is not the pinned [0-9a-f]{64}"):
        resolve(SAMPLE, shared=tmp_path / "no-shared", cache=cache, mirror=_closed_port())
    assert not bad.exists()  # never kept


def test_the_cache_is_filled_over_http_and_checked(tmp_path, sample_copy, mirror):
    root, url = mirror
    for pin in SAMPLE.files:
        _publish(root, pin.url, (sample_copy / pin.path).read_bytes())
    found = resolve(SAMPLE, shared=tmp_path / "no-shared", cache=tmp_path / "cache", mirror=url)
    assert sorted(p.name for p in found.iterdir()) == sorted(p.path for p in SAMPLE.files)
    for pin in SAMPLE.files:
        assert (found / pin.path).read_bytes() == (sample_copy / pin.path).read_bytes()


def test_wrong_bytes_over_http_are_refused_and_not_cached(tmp_path, mirror):
    root, url = mirror
    for pin in SAMPLE.files:
        _publish(root, pin.url, b"not the pinned file\n")
    cache = tmp_path / "cache"
    with pytest.raises(Unavailable, match=r"nothing was cached: refused http://127\.0\.0\.1:\d+/llm-jp/awesome-japanese-llm/2f152f0/README.*is not the pinned [0-9a-f]{64}$"):
        resolve(SAMPLE, shared=tmp_path / "no-shared", cache=cache, mirror=url)
    assert not any(p.is_file() for p in cache.rglob("*")) if cache.exists() else True


def test_a_source_that_fails_or_lies_is_passed_over_for_the_next(tmp_path, sample_copy, mirror):
    """GitHub then jsDelivr in real use: a source that is down or serves other bytes does not stop the fetch."""
    root, good = mirror
    for pin in SAMPLE.files:
        _publish(root, pin.url, (sample_copy / pin.path).read_bytes())
    liar_root = tmp_path / "liar"
    for pin in SAMPLE.files:
        _publish(liar_root, pin.url, b"other bytes\n")
    with _serve(liar_root) as liar:
        found = resolve(SAMPLE, shared=tmp_path / "no-shared", cache=tmp_path / "cache",
                        mirror=[_closed_port(), liar, good])
    for pin in SAMPLE.files:
        assert (found / pin.path).read_bytes() == (sample_copy / pin.path).read_bytes()


def test_real_sources_are_github_then_jsdelivr():
    pin = SEED.files[0]
    assert sources(pin.url) == [pin.url, jsdelivr(pin.url)]
    assert all(u.startswith("https://") and "2f152f0" in u for u in sources(pin.url))


def test_without_shared_and_network_there_is_one_clear_reason(tmp_path):
    with pytest.raises(Unavailable) as err:
        resolve(SAMPLE, shared=tmp_path / "no-shared", cache=tmp_path / "cache", mirror=_closed_port())
    message = str(err.value)
    assert message.startswith("no ../shared/seed and no verified cache at ") and "\n" not in message
    assert "fetching http://127.0.0.1:" in message and "failed" in message


def test_environment_override_wins(tmp_path, sample_copy, monkeypatch):
    monkeypatch.setenv("JLLM_KG_SEED_DIR", str(sample_copy))
    assert resolve(SAMPLE, shared=tmp_path / "no-shared", cache=tmp_path / "cache") == sample_copy
    monkeypatch.setenv("JLLM_KG_SEED_DIR", str(tmp_path))
    with pytest.raises(Unavailable, match="JLLM_KG_SEED_DIR is set to"):
        resolve(SAMPLE, shared=tmp_path / "no-shared", cache=tmp_path / "cache")
