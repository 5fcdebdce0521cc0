"""The embedded backend: the on-disk pyoxigraph store that ``store_path`` (a symlink) points at now."""
from __future__ import annotations

import os
from pathlib import Path

from pyoxigraph import Store


class EmbeddedBackend:
    """This process's handle on the store generation that ``store_path`` points at now.

    The path is a symlink swapped by ``jllm-kg build``; :meth:`store` reopens when it has moved
    (one ``readlink`` per call), so a rebuild is served without a restart.
    """

    def __init__(self, store_path: Path | str, writable: bool = False) -> None:
        self.store_path = Path(store_path)
        self.writable = writable
        self._store: Store | None = None
        self._opened: str | None = None
        self._parent: str | None = None

    def target(self) -> str:
        """The generation directory the store path points at now."""
        try:
            link = os.readlink(self.store_path)
        except OSError:  # a plain directory, or missing
            return os.path.realpath(self.store_path)
        if os.path.isabs(link) or os.sep in link:
            return os.path.realpath(self.store_path)
        if self._parent is None:
            self._parent = os.path.realpath(self.store_path.parent)
        return os.path.join(self._parent, link)

    def generation(self) -> str:
        """The name of the current generation (what cache keys and ETags are made of)."""
        return os.path.basename(self.target())

    def built(self) -> str:
        """Not recorded apart from the generation directory (see :meth:`target`)."""
        return ""

    def store(self) -> Store:
        """The open store of the current generation."""
        target = self.target()
        if self._store is None or self._opened != target:
            self._store = Store(target) if self.writable else Store.read_only(target)
            self._opened = target
        return self._store
