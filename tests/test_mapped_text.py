"""The mapped N-Quads' way into the store (graph/store/mapped_text.py): copied from several pipes at line
boundaries into segment files (compressed by zstd where it is installed), then bulk-loaded from them, in one
call or in parts made of whole segments."""
from __future__ import annotations

import os
import subprocess
import threading
from pathlib import Path

import pytest
from pyoxigraph import RdfFormat, Store, parse

from graph.store.mapped_text import (AUTO_ABOVE, AUTO_PART_BYTES, MAX_ROUNDS, MappedText, Segment, load_rounds,
                                     load_segments, part_groups, part_size, read_command, round_count, round_size,
                                     segment_size)
from graph.store.zstd import zstd_command

FIXTURE = Path(__file__).parent / "fixtures" / "catalog"
CODECS = [pytest.param(None, id="plain"),
          pytest.param("zstd", id="zstd", marks=pytest.mark.skipif(zstd_command() is None, reason="no zstd command on this machine"))]


def lines_of(writer: int, n: int) -> list[bytes]:
    return [f'<http://ex.org/{writer}/s{i}> <http://ex.org/p> "value {i} of writer {writer}" <http://ex.org/g{i % 7}> .\n'.encode()
            for i in range(n)]


def feed(fd: int, data: bytes, cuts: int) -> None:
    """Write ``data`` to the pipe ``fd`` in pieces of ``cuts`` bytes (splitting lines), then close it; a reader that
    gave up (a failed copy) ends it."""
    try:
        with os.fdopen(fd, "wb", buffering=0) as out:
            for at in range(0, len(data), cuts):
                out.write(data[at:at + cuts])
    except BrokenPipeError:
        pass


def start_writers(chunks: list[tuple[bytes, int]]) -> tuple[list, list[threading.Thread]]:
    pipes, threads = [], []
    for data, cuts in chunks:
        read, write = os.pipe()
        pipes.append(os.fdopen(read, "rb", buffering=0))
        threads.append(threading.Thread(target=feed, args=(write, data, cuts)))
    for t in threads:
        t.start()
    return pipes, threads


def text_of(text: MappedText) -> bytes:
    return subprocess.run(read_command(text.segments), stdout=subprocess.PIPE, check=True).stdout


def mapped(tmp_path: Path, chunks: list[tuple[bytes, int]], segment_bytes: int = 64 << 20, zstd: str | None = None) -> MappedText:
    pipes, threads = start_writers(chunks)
    text = MappedText(pipes, tmp_path / "mapped.nq", segment_bytes, zstd and zstd_command())
    text.wait_done()
    for t in threads:
        t.join()
    return text


@pytest.mark.parametrize("zstd", CODECS)
def test_parts_load_what_one_call_loads(tmp_path: Path, zstd):
    a, b = lines_of(1, 3000), lines_of(2, 2000)
    text = mapped(tmp_path, [(b"".join(a), 977), (b"".join(b), 4093)], 20_000, zstd)
    written = text_of(text)
    assert text.written == len(written) == sum(s.size for s in text.segments)
    assert all(s.path.name.endswith(".zst") == bool(zstd) for s in text.segments)
    if zstd:  # compressed on disk
        assert sum(s.path.stat().st_size for s in text.segments) < len(written) / 3
    assert sorted(written.splitlines(keepends=True)) == sorted(a + b)  # whole lines, none lost or merged
    assert all(s.size >= 20_000 for s in text.segments[:-1]) and len(text.segments) >= 3  # closed once full
    store, whole = Store(), Store()
    parts = load_segments(store, text.segments, part_bytes=40_000)
    assert parts == len(part_groups(text.segments, 40_000)) >= 3
    assert load_segments(whole, text.segments) == 1
    together = Store()
    assert load_segments(together, text.segments, part_bytes=40_000, loaders=2) == parts
    expected = set(parse(b"".join(a + b), RdfFormat.N_QUADS))
    assert set(store) == set(whole) == set(together) == expected and len(store) == 5000


@pytest.mark.parametrize("zstd", CODECS)
def test_rounds_load_what_one_call_loads_with_a_compaction_between_two(tmp_path: Path, zstd):
    a = lines_of(3, 4000)
    text = mapped(tmp_path, [(b"".join(a), 1499)], 10_000, zstd)
    rounds = part_groups(text.segments, 60_000)
    assert len(rounds) >= 3
    between: list[tuple[int, int, int]] = []
    store = Store(str(tmp_path / "rounds"))
    calls = load_rounds(store, text.segments, part_bytes=20_000, loaders=2, round_bytes=60_000,
                        between=lambda done, count: between.append((done, count, len(store))))
    assert calls == sum(len(part_groups(r, 20_000)) for r in rounds)
    # called before each compaction, after that round's quads are in
    assert [(d, c) for d, c, _ in between] == [(n, len(rounds)) for n in range(1, len(rounds))]
    assert [n for _, _, n in between] == [_lines([s for r in rounds[:d] for s in r]) for d, _, _ in between]
    assert set(store) == set(parse(b"".join(a), RdfFormat.N_QUADS)) and len(store) == 4000
    one = Store()
    assert load_rounds(one, text.segments, round_bytes=0) == 1 and set(one) == set(store)


def _lines(segments: list[Segment]) -> int:
    return subprocess.run(read_command(segments), stdout=subprocess.PIPE, check=True).stdout.count(b"\n")


def test_the_round_count_follows_the_free_disk_space():
    gb = 10 ** 9
    assert round_count(20 * gb, 78 * gb) == 1  # 512 k families: 20.3 GB of N-Quads, one load fits
    assert round_count(int(40.6 * gb), 71 * gb) == 2  # 1 M families on this machine's disk: two rounds
    assert round_count(10 * gb, 10 * gb) == MAX_ROUNDS  # not even the compacted store fits
    for text, free in ((1 * gb, 2 * gb), (40 * gb, 50 * gb), (30 * gb, 60 * gb), (5 * gb, 5.5 * gb)):
        n = round_count(text, free)
        peak = 0.9 * text + 0.7 * text / n  # the peak of the model (see round_count)
        assert n == MAX_ROUNDS or peak <= 0.85 * free + 1
        assert n == 1 or 0.9 * text + 0.7 * text / (n - 1) > 0.85 * free  # no more rounds than needed
    assert round_size(40 * gb, None, 71 * gb) == 20 * gb and round_size(40 * gb, None, 100 * gb) == 0
    assert round_size(40 * gb, 0, 1) == 0 and round_size(40 * gb, 5, 1) == 5  # a given size wins


@pytest.mark.parametrize("sizes", [[], [5], [1, 1, 1], [10, 0, 3, 7, 2, 9], [100, 100]])
def test_parts_cover_the_segments_once_in_order(sizes: list[int]):
    segments = [Segment(Path(f"s{n}"), size) for n, size in enumerate(sizes)]
    for part_bytes in (0, 1, 3, 10, 1000):
        groups = part_groups(segments, part_bytes)
        assert [s for g in groups for s in g] == segments and groups
        if part_bytes:
            assert all(sum(s.size for s in g) >= part_bytes for g in groups[:-1])
            assert all(sum(s.size for s in g[:-1]) < part_bytes for g in groups)  # none larger than it needs
        else:
            assert len(groups) == 1


@pytest.mark.parametrize("zstd", CODECS)
def test_with_two_loaders_a_bad_part_fails_the_load_and_no_part_starts_after_it(tmp_path: Path, zstd):
    good = [line for n in range(40) for line in lines_of(n, 100)]
    bad_at = len(good) // 4
    lines = good[:bad_at] + [b"<http://ex.org/bad> <http://ex.org/p> oops .\n"] + good[bad_at:]
    segments = []  # written here, about 4,000 bytes each (a copy's segments depend on how much each read finds)
    for n, start in enumerate(range(0, len(lines), 50)):
        data = b"".join(lines[start:start + 50])
        path = tmp_path / f"mapped.nq.{n:05d}{'.zst' if zstd else ''}"
        if zstd:
            subprocess.run([zstd_command(), "-q", "-c"], input=data, stdout=path.open("wb"), check=True)
        else:
            path.write_bytes(data)
        segments.append(Segment(path, len(data)))
    store = Store()
    with pytest.raises(SyntaxError):
        load_segments(store, segments, part_bytes=4_000, loaders=2)
    assert 0 < len(store) < len(good) // 2  # the parts after the bad one (about three quarters of the text) never loaded


@pytest.mark.parametrize("zstd", CODECS)
def test_a_cut_off_last_line_is_a_syntax_error_not_merged(tmp_path: Path, zstd):
    good = b"".join(lines_of(1, 50))
    text = mapped(tmp_path, [(good + b'<http://ex.org/cut> <http://ex.org/p> "no end', 13), (b"".join(lines_of(2, 50)), 11)], 100, zstd)
    for part_bytes, loaders in ((0, 1), (1 << 20, 1), (100, 1), (100, 2)):
        with pytest.raises(SyntaxError):
            load_segments(Store(), text.segments, part_bytes=part_bytes, loaders=loaders)
    cut = [line for line in text_of(text).splitlines() if b"cut" in line]
    assert cut == [b'<http://ex.org/cut> <http://ex.org/p> "no end']  # on its own line


def test_a_failed_copy_is_reported(tmp_path: Path):
    if not Path("/dev/full").exists():
        pytest.skip("no /dev/full on this machine to make a write fail")
    (tmp_path / "mapped.nq.00000").symlink_to("/dev/full")  # the first segment: every write fails with ENOSPC
    pipes, threads = start_writers([(b"".join(lines_of(1, 100)), 100)])
    text = MappedText(pipes, tmp_path / "mapped.nq")
    with pytest.raises(OSError, match=r"mapped\.nq\.\* failed: \[Errno 28\] No space left on device"):
        text.wait_done()
    assert text.done and text.error is not None
    for pipe in pipes:
        pipe.close()
    for t in threads:
        t.join()


def test_a_failed_compressor_is_reported(tmp_path: Path):
    pipes, threads = start_writers([(b"".join(lines_of(1, 3000)), 100)])
    text = MappedText(pipes, tmp_path / "mapped.nq", zstd="false")  # a compressor that ends at once, status 1
    with pytest.raises(OSError, match=r"mapped\.nq\.\* failed: zstd exit status 1$"):
        text.wait_done()
    assert text.done
    for pipe in pipes:
        pipe.close()
    for t in threads:
        t.join()


def test_a_failed_copy_fails_the_build_with_one_line_and_no_store(tmp_path: Path, monkeypatch):
    if not Path("/dev/full").exists():
        pytest.skip("no /dev/full on this machine to make a write fail")
    from graph.build import _Dump, build_store
    from graph.errors import UserError

    real_init = _Dump.__init__

    def on_a_full_disk(self, path: Path, scratch: Path) -> None:
        real_init(self, path, scratch)
        self.mapped = tmp_path / "mapped.nq"

    monkeypatch.setenv("JLLM_KG_ZSTD", "0")
    (tmp_path / "mapped.nq.00000").symlink_to("/dev/full")  # every write fails with ENOSPC
    monkeypatch.setattr(_Dump, "__init__", on_a_full_disk)
    with pytest.raises(UserError, match=r"^loading the mapped quads failed: copying the mapped N-Quads to .*/mapped.nq.\* "
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


def test_build_in_rounds_from_the_command_line_equals_the_build_in_one_round(tmp_path: Path):
    from tests.conftest import run_cli

    env = {"SOURCE_DATE_EPOCH": "1764547200"}
    one = run_cli("build", "--store", str(tmp_path / "one"), "--load-round-mb", "0", env=env)
    rounds = run_cli("build", "--store", str(tmp_path / "rounds"), "--load-part-mb", "1", "--load-round-mb", "2", env=env)
    assert one.returncode == 0 and rounds.returncode == 0, rounds.stderr[-2000:]
    assert "round" not in one.stderr
    compacted = [line for line in rounds.stderr.splitlines() if "] loaded round " in line]
    count = int(compacted[0].split(" of ")[1].split(";")[0])
    assert count >= 2 and len(compacted) == count - 1, compacted  # a compaction between two rounds
    assert f"in {count} rounds of about 2 MB, the store compacted between two" in rounds.stderr
    dumps = [next(tmp_path.glob(f"{name}.gen-*.dump.ttl")).read_bytes() for name in ("one", "rounds")]
    assert dumps[0] == dumps[1] and len(dumps[0]) > 1_000_000
    stores = [set(Store.read_only(str((tmp_path / name).resolve()))) for name in ("one", "rounds")]
    assert stores[0] == stores[1]


def test_a_default_build_on_a_full_disk_loads_in_rounds(tmp_path: Path, monkeypatch):
    """When the free space (here reported as 1 byte) cannot hold even the compacted store, the default build
    loads in the most rounds and says so (the segments scaled down to the fixture); the store is the same."""
    import graph.store.mapped_text as mapped_text
    import shutil
    from collections import namedtuple

    from graph.build import build_store

    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1764547200")
    build_store(catalog_dir=FIXTURE, store_path=tmp_path / "one", echo=lambda *a, **k: None)
    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(shutil, "disk_usage", lambda path: usage(2 << 20, 2 << 20, 1))
    monkeypatch.setattr(mapped_text, "AUTO_PART_BYTES", 20_000)
    lines: list[str] = []
    monkeypatch.setattr("graph.build._Progress.__call__", lambda self, message: lines.append(message))
    build_store(catalog_dir=FIXTURE, store_path=tmp_path / "rounds", echo=lambda *a, **k: None)
    mapped = [m for m in lines if m.startswith("mapped ")]
    assert mapped and "the store compacted between two (0 MB free)" in mapped[0], mapped
    # the most rounds: an eighth of the text each, made of whole segments
    count = int(mapped[0].split("loading them in ")[1].split(" rounds")[0])
    assert 3 <= count <= MAX_ROUNDS
    assert [m.split(";")[0] for m in lines if m.startswith("loaded round ")] == [f"loaded round {n} of {count}"
                                                                                 for n in range(1, count)]
    stores = [set(Store.read_only(str((tmp_path / name).resolve()))) for name in ("one", "rounds")]
    assert stores[0] == stores[1] and len(stores[0]) > 1000


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


@pytest.mark.parametrize("option, value", [("--load-part-mb", "-1"), ("--load-round-mb", "x"), ("--load-round-mb", "-5")])
def test_load_sizes_must_be_sizes(tmp_path: Path, option: str, value: str):
    from tests.conftest import run_cli

    bad = run_cli("build", "--store", str(tmp_path / "s"), option, value)
    assert bad.returncode == 2 and f"Invalid value for '{option}'" in bad.stderr and "Traceback" not in bad.stderr
    assert not (tmp_path / "s").exists()


def test_the_copy_runs_ahead_of_any_reader_to_the_end(tmp_path: Path):
    """The children are never held back: the whole text is copied before anything loads it."""
    data = b"".join(lines_of(1, 6000))  # ~480 kB: far more than a pipe holds
    text = mapped(tmp_path, [(data, 4096)], 50_000, "zstd")
    assert text.done and text.written == len(data) == len(text_of(text))
    store = Store()
    assert load_segments(store, text.segments, part_bytes=50_000) == len(part_groups(text.segments, 50_000)) >= 2
    assert len(store) == 6000


@pytest.mark.parametrize("zstd", CODECS)
def test_an_empty_text_loads_nothing(tmp_path: Path, zstd):
    text = mapped(tmp_path, [(b"", 10)], zstd=zstd)
    assert text.written == 0 and len(text.segments) == 1
    for part_bytes in (0, 1000):
        store = Store()
        assert load_segments(store, text.segments, part_bytes) == 1 and len(store) == 0
    text.remove()
    assert not list(tmp_path.iterdir())


def test_segments_are_no_larger_than_a_part():
    assert segment_size(None) == segment_size(0) == AUTO_PART_BYTES == segment_size(1 << 30)
    assert segment_size(1 << 20) == 1 << 20


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


def test_an_interrupt_stops_the_loaders_and_waits_for_the_running_parts(tmp_path: Path, monkeypatch):
    """Ctrl-C during a load in parts: no part starts after it, and every running part has ended when it is
    raised (no loader goes on writing into the store)."""
    import signal
    import time

    import graph.store.mapped_text as mapped_text

    lines = [line for n in range(400) for line in lines_of(n, 100)]  # about 3 MB: 16 parts of 200 kB
    text = mapped(tmp_path, [(b"".join(lines), 1 << 16)], 200_000)
    started: list[int] = []
    real_open = mapped_text.open_part

    def interrupting(segments):
        started.append(len(started))
        if len(started) == 3:  # Ctrl-C when the third part starts, once both loaders run and the caller waits
            while len([t for t in threading.enumerate() if t.name.startswith("load-")]) < 2:
                time.sleep(0.001)
            time.sleep(0.05)
            signal.pthread_kill(threading.main_thread().ident, signal.SIGINT)
        return real_open(segments)

    monkeypatch.setattr(mapped_text, "open_part", interrupting)
    store = Store()
    handler = signal.signal(signal.SIGINT, signal.default_int_handler)  # Python's Ctrl-C, whatever ran before
    try:
        with pytest.raises(KeyboardInterrupt):
            load_segments(store, text.segments, part_bytes=200_000, loaders=2)
    finally:
        signal.signal(signal.SIGINT, handler)
    loaded = len(store)
    time.sleep(0.3)
    assert len(store) == loaded  # no loader goes on writing
    assert 3 <= len(started) < 16 and 0 < loaded < len(lines)
