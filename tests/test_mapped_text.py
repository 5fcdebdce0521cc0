"""The mapped N-Quads' way into the store (graph/store/mapped_text.py): copied from several pipes at line
boundaries into a file, then bulk-loaded from it, in one call or in parts that end at line ends."""
from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest
from pyoxigraph import RdfFormat, Store, parse

from graph.store.mapped_text import AUTO_ABOVE, AUTO_PART_BYTES, MappedText, load_file, part_bounds, part_size

FIXTURE = Path(__file__).parent / "fixtures" / "catalog"


def lines_of(writer: int, n: int) -> list[bytes]:
    return [f'<http://ex.org/{writer}/s{i}> <http://ex.org/p> "value {i} of writer {writer}" <http://ex.org/g{i % 7}> .\n'.encode()
            for i in range(n)]


def feed(fd: int, data: bytes, cuts: int) -> None:
    """Write ``data`` to the pipe ``fd`` in pieces of ``cuts`` bytes (splitting lines), then close it."""
    with os.fdopen(fd, "wb", buffering=0) as out:
        for at in range(0, len(data), cuts):
            out.write(data[at:at + cuts])


def start_writers(chunks: list[tuple[bytes, int]]) -> tuple[list, list[threading.Thread]]:
    pipes, threads = [], []
    for data, cuts in chunks:
        read, write = os.pipe()
        pipes.append(os.fdopen(read, "rb", buffering=0))
        threads.append(threading.Thread(target=feed, args=(write, data, cuts)))
    for t in threads:
        t.start()
    return pipes, threads


def test_parts_load_what_one_call_loads(tmp_path: Path):
    a, b = lines_of(1, 3000), lines_of(2, 2000)
    pipes, threads = start_writers([(b"".join(a), 977), (b"".join(b), 4093)])
    text = MappedText(pipes, tmp_path / "mapped.nq")
    text.wait_done()
    for t in threads:
        t.join()
    written = (tmp_path / "mapped.nq").read_bytes()
    assert text.written == len(written)
    assert sorted(written.splitlines(keepends=True)) == sorted(a + b)  # whole lines, none lost or merged
    store, whole = Store(), Store()
    parts = load_file(store, tmp_path / "mapped.nq", part_bytes=20_000)
    assert abs(parts - len(written) / 20_000) <= 2 and parts > 10
    assert load_file(whole, tmp_path / "mapped.nq") == 1
    together = Store()
    assert load_file(together, tmp_path / "mapped.nq", part_bytes=20_000, loaders=2) == parts
    expected = set(parse(b"".join(a + b), RdfFormat.N_QUADS))
    assert set(store) == set(whole) == set(together) == expected and len(store) == 5000


@pytest.mark.parametrize("data", [b"", b"a\n", b"aaa\nbb\nc\n", b"aaa\nbb\nc", b"\n\n\n", b"x" * 70_000 + b"\n" + b"y" * 5])
def test_parts_cover_the_file_once_and_end_at_line_ends(tmp_path: Path, data: bytes):
    (tmp_path / "t").write_bytes(data)
    reader = os.open(tmp_path / "t", os.O_RDONLY)
    try:
        for part_bytes in (1, 2, 3, 50, 1 << 20):
            bounds = part_bounds(reader, part_bytes)
            pieces = [data[start:end] for start, end in bounds]
            assert b"".join(pieces) == data and all(start < end for start, end in bounds[:-1] or bounds[:0])
            assert all(piece.endswith(b"\n") for piece in pieces[:-1]), (part_bytes, bounds)
    finally:
        os.close(reader)


def test_with_two_loaders_a_bad_part_fails_the_load_and_no_part_starts_after_it(tmp_path: Path):
    good = [line for n in range(40) for line in lines_of(n, 100)]
    bad_at = len(good) // 4
    text = b"".join(good[:bad_at]) + b"<http://ex.org/bad> <http://ex.org/p> oops .\n" + b"".join(good[bad_at:])
    (tmp_path / "mapped.nq").write_bytes(text)
    store = Store()
    with pytest.raises(SyntaxError):
        load_file(store, tmp_path / "mapped.nq", part_bytes=4_000, loaders=2)
    assert 0 < len(store) < len(good) // 2  # the parts after the bad one (about three quarters of the text) never loaded


def test_a_cut_off_last_line_is_a_syntax_error_not_merged(tmp_path: Path):
    good = b"".join(lines_of(1, 50))
    pipes, threads = start_writers([(good + b'<http://ex.org/cut> <http://ex.org/p> "no end', 13), (b"".join(lines_of(2, 50)), 11)])
    text = MappedText(pipes, tmp_path / "mapped.nq")
    text.wait_done()
    for part_bytes, loaders in ((0, 1), (1 << 20, 1), (100, 1), (100, 2)):
        with pytest.raises(SyntaxError):
            load_file(Store(), tmp_path / "mapped.nq", part_bytes=part_bytes, loaders=loaders)
    for t in threads:
        t.join()
    cut = [line for line in (tmp_path / "mapped.nq").read_bytes().splitlines() if b"cut" in line]
    assert cut == [b'<http://ex.org/cut> <http://ex.org/p> "no end']  # on its own line


def test_a_failed_copy_is_reported(tmp_path: Path):
    if not Path("/dev/full").exists():
        pytest.skip("no /dev/full on this machine to make a write fail")
    pipes, threads = start_writers([(b"".join(lines_of(1, 100)), 100)])
    text = MappedText(pipes, Path("/dev/full"))
    with pytest.raises(OSError, match="/dev/full"):
        text.wait_done()
    assert text.done and text.error is not None
    for t in threads:
        t.join(timeout=5)


def test_a_failed_copy_fails_the_build_with_one_line_and_no_store(tmp_path: Path, monkeypatch):
    if not Path("/dev/full").exists():
        pytest.skip("no /dev/full on this machine to make a write fail")
    from graph.build import _Dump, build_store
    from graph.errors import UserError
    
    real_init = _Dump.__init__

    def on_a_full_disk(self, path: Path, scratch: Path) -> None:
        real_init(self, path, scratch)
        self.mapped = Path("/dev/full")  # every write fails with ENOSPC

    monkeypatch.setattr(_Dump, "__init__", on_a_full_disk)
    with pytest.raises(UserError, match=r"^loading the mapped quads failed: copying the mapped N-Quads to /dev/full "
                                        r"failed: \[Errno 28\] No space left on device$"):
        build_store(catalog_dir=FIXTURE, store_path=tmp_path / "store", echo=lambda *a, **k: None)
    assert not (tmp_path / "store").exists()
    assert not [p.name for p in tmp_path.iterdir() if p.name.startswith("store.gen-")]  # the generation was discarded


def test_build_in_parts_from_the_command_line_equals_the_build_in_one_call(tmp_path: Path):
    from tests.conftest import run_cli

    env = {"SOURCE_DATE_EPOCH": "1764547200"}
    one = run_cli("build", "--store", str(tmp_path / "one"), env=env)
    parts = run_cli("build", "--store", str(tmp_path / "parts"), "--load-part-mb", "1", env=env)
    assert one.returncode == 0 and parts.returncode == 0, parts.stderr[-2000:]
    assert "parts;" not in one.stderr
    loaded = [line for line in parts.stderr.splitlines() if "] loaded " in line]
    assert loaded and int(loaded[0].split(", in ")[1].split(" parts")[0]) >= 3, loaded
    dumps = [next(tmp_path.glob(f"{name}.gen-*.dump.ttl")).read_bytes() for name in ("one", "parts")]
    assert dumps[0] == dumps[1] and len(dumps[0]) > 1_000_000


def test_the_default_part_size_depends_on_the_text_and_a_given_size_wins():
    assert AUTO_ABOVE == 256 << 20 and AUTO_PART_BYTES == 64 << 20
    assert part_size(80 << 20, None) == 0  # a 2,000-family catalog's text: one call
    assert part_size(AUTO_ABOVE, None) == 0
    assert part_size(400 << 20, None) == AUTO_PART_BYTES  # 10 k families' 0.4 GB, 128 k families' 5.1 GB: parts of 64 MB
    assert part_size(5 << 30, 0) == 0 and part_size(10, 1 << 20) == 1 << 20


def test_a_default_build_above_the_threshold_loads_in_parts(tmp_path: Path, monkeypatch):
    """With the threshold and part size scaled down to the fixture, the default build goes in parts, says so,
    and gives the same store as one call."""
    import graph.store.mapped_text as mapped_text
    from graph.build import build_store

    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1764547200")
    lines: list[str] = []
    build_store(catalog_dir=FIXTURE, store_path=tmp_path / "one", echo=lambda *a, **k: None)
    monkeypatch.setattr(mapped_text, "AUTO_ABOVE", 1000)
    monkeypatch.setattr(mapped_text, "AUTO_PART_BYTES", 20_000)
    monkeypatch.setattr("graph.build._Progress.__call__", lambda self, message: lines.append(message))
    build_store(catalog_dir=FIXTURE, store_path=tmp_path / "parts", echo=lambda *a, **k: None)
    mapped = [m for m in lines if m.startswith("mapped ")]
    loaded = [m for m in lines if m.startswith("loaded ")]
    assert mapped and "loading them in parts of " in mapped[0], mapped
    assert loaded and int(loaded[0].split(", in ")[1].split(" parts")[0]) >= 3, loaded
    stores = [set(Store.read_only(str((tmp_path / name).resolve()))) for name in ("one", "parts")]
    assert stores[0] == stores[1] and len(stores[0]) > 1000


def test_load_part_mb_must_be_a_size(tmp_path: Path):
    from tests.conftest import run_cli

    bad = run_cli("build", "--store", str(tmp_path / "s"), "--load-part-mb", "-1")
    assert bad.returncode == 2 and "Invalid value for '--load-part-mb'" in bad.stderr and "Traceback" not in bad.stderr
    assert not (tmp_path / "s").exists()


def test_the_copy_runs_ahead_of_any_reader_to_the_end(tmp_path: Path):
    """The children are never held back: the whole text is copied before anything loads it."""
    data = b"".join(lines_of(1, 6000))  # ~480 kB: far more than a pipe holds
    pipes, threads = start_writers([(data, 4096)])
    text = MappedText(pipes, tmp_path / "mapped.nq")
    text.wait_done()
    for t in threads:
        t.join()
    assert text.done and text.written == len(data) == (tmp_path / "mapped.nq").stat().st_size
    store = Store()
    assert load_file(store, tmp_path / "mapped.nq", part_bytes=50_000) >= 9
    assert len(store) == 6000


def test_an_empty_text_loads_nothing(tmp_path: Path):
    pipes, threads = start_writers([(b"", 10)])
    text = MappedText(pipes, tmp_path / "mapped.nq")
    text.wait_done()
    for t in threads:
        t.join()
    for part_bytes in (0, 1000):
        store = Store()
        assert load_file(store, tmp_path / "mapped.nq", part_bytes) == 1 and len(store) == 0


def test_a_scratch_file_that_cannot_be_made_fails_the_build_with_one_line(tmp_path: Path, monkeypatch):
    from graph.build import _Dump, build_store
    from graph.errors import UserError

    real_init = _Dump.__init__

    def in_a_missing_directory(self, path: Path, scratch: Path) -> None:
        real_init(self, path, scratch)
        self.mapped = tmp_path / "no-such-directory" / "mapped.nq"

    monkeypatch.setattr(_Dump, "__init__", in_a_missing_directory)
    with pytest.raises(UserError, match=r"^writing the mapped quads to .*/no-such-directory/mapped.nq failed: "
                                        r"No such file or directory$"):
        build_store(catalog_dir=FIXTURE, store_path=tmp_path / "store", echo=lambda *a, **k: None)
    assert not (tmp_path / "store").exists()
    assert not [p.name for p in tmp_path.iterdir() if p.name.startswith("store.gen-")]


def test_an_interrupt_stops_the_loaders_before_the_file_closes(tmp_path: Path, monkeypatch):
    """Ctrl-C during a load in parts: no part starts after it, and every running part has ended when it is
    raised (the text's descriptor is closed only then, so no loader reads a reused one)."""
    import signal
    import time

    import graph.store.mapped_text as mapped_text

    lines = [line for n in range(400) for line in lines_of(n, 100)]  # about 3 MB: 16 parts of 200 kB
    (tmp_path / "mapped.nq").write_bytes(b"".join(lines))
    started: list[int] = []
    read_errors: list[OSError] = []

    class InterruptingPart(mapped_text.Part):
        def __init__(self, reader: int, start: int, end: int) -> None:
            super().__init__(reader, start, end)
            started.append(start)
            if len(started) == 3:  # Ctrl-C when the third part starts, once both loaders run and the caller waits
                while len([t for t in threading.enumerate() if t.name.startswith("load-")]) < 2:
                    time.sleep(0.001)
                time.sleep(0.05)
                signal.pthread_kill(threading.main_thread().ident, signal.SIGINT)

        def readinto(self, buffer) -> int:
            try:
                return super().readinto(buffer)
            except OSError as err:  # the text's descriptor closed under a running part
                read_errors.append(err)
                raise

    monkeypatch.setattr(mapped_text, "Part", InterruptingPart)
    store = Store()
    handler = signal.signal(signal.SIGINT, signal.default_int_handler)  # Python's Ctrl-C, whatever ran before
    try:
        with pytest.raises(KeyboardInterrupt):
            load_file(store, tmp_path / "mapped.nq", part_bytes=200_000, loaders=2)
    finally:
        signal.signal(signal.SIGINT, handler)
    loaded = len(store)
    time.sleep(0.3)
    assert len(store) == loaded and not read_errors  # no loader goes on writing, or reads a closed descriptor
    assert 3 <= len(started) < 16 and 0 < loaded < len(lines)
