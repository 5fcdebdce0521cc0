"""The front's response cache: answers keyed by store generation and normalised request, bounded in bytes.

The graph does not change between builds, so an answer computed once is right until the store
path points at another generation. A key names the generation first: after a rebuild, old
answers are never looked up again and age out of the LRU order.

>>> cache = ResponseCache(max_bytes=130, max_entry_bytes=100)
>>> cache.put(("gen-1", "k"), Entry(200, [], b"12345", '"e"'))  # 5 bytes + 64 for headers
>>> cache.get(("gen-1", "k")).body
b'12345'
>>> cache.put(("gen-2", "k"), Entry(200, [], b"123456", '"f"'))  # 69 + 70 > 130: the oldest goes
>>> cache.get(("gen-1", "k")) is None
True
"""
from __future__ import annotations

import hashlib
from collections import OrderedDict
from dataclasses import dataclass
from typing import Hashable


@dataclass(frozen=True)
class Entry:
    """A cached answer: status, headers (ETag and caching headers included), body, ETag."""

    status: int
    headers: list[tuple[str, str]]
    body: bytes
    etag: str

    @property
    def size(self) -> int:
        """Bytes this entry holds (body plus a rough allowance for headers)."""
        return len(self.body) + 64 * (len(self.headers) + 1)


class ResponseCache:
    """A least-recently-used map of :class:`Entry`, at most ``max_bytes`` in all."""

    def __init__(self, max_bytes: int, max_entry_bytes: int | None = None) -> None:
        self.max_bytes = max_bytes
        self.max_entry_bytes = max_entry_bytes if max_entry_bytes is not None else max_bytes // 8
        self._entries: OrderedDict[Hashable, Entry] = OrderedDict()
        self.bytes = 0
        self.hits = self.misses = 0

    def get(self, key: Hashable) -> Entry | None:
        """The entry for ``key`` (now the most recently used), or None."""
        entry = self._entries.get(key)
        if entry is None:
            self.misses += 1
            return None
        self._entries.move_to_end(key)
        self.hits += 1
        return entry

    def put(self, key: Hashable, entry: Entry) -> None:
        """Keep ``entry`` unless it is larger than one entry may be; evict the oldest to fit."""
        if entry.size > self.max_entry_bytes:
            return
        old = self._entries.pop(key, None)
        if old is not None:
            self.bytes -= old.size
        self._entries[key] = entry
        self.bytes += entry.size
        while self.bytes > self.max_bytes and self._entries:
            _, evicted = self._entries.popitem(last=False)
            self.bytes -= evicted.size

    def __len__(self) -> int:
        return len(self._entries)


def etag(generation: str, key: Hashable) -> str:
    """A strong ETag for the answer to ``key`` from ``generation`` (the same on every replica of it).

    >>> etag("store.gen-1", ("get", "/", ""))
    '"5b724ed6bb48f48ad5f2e2e420365626"'
    """
    return '"' + hashlib.sha256(repr((generation, key)).encode()).hexdigest()[:32] + '"'
