"""The access log: one line per request, written by a thread so that a slow or stuck log never stalls the front.

>>> import io, time
>>> out = io.StringIO()
>>> log = AccessLog(out)
>>> log.line("127.0.0.1", "GET", "/sparql?query=ASK%7B%7D", 200, 26, 1.25)
>>> log.flush(); out.getvalue()
'127.0.0.1 "GET /sparql?query=ASK%7B%7D" 200 26 1.2ms\\n'
"""
from __future__ import annotations

import queue
import sys
import threading
from typing import TextIO

#: Lines waiting to be written at most; past that, lines are dropped (and counted) rather than
#: making the front wait for a log that does not drain.
BACKLOG = 100_000
#: Longest path (with query string) written in full.
MAX_PATH = 200


class AccessLog:
    """Writes ``client "METHOD path" status bytes ms`` lines to ``out`` from a background thread."""

    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.dropped = 0
        self._lines: queue.Queue[str | None] = queue.Queue(BACKLOG)
        self._thread = threading.Thread(target=self._write, name="jllm-access-log", daemon=True)
        self._thread.start()

    @classmethod
    def open(cls, target: str) -> AccessLog | None:
        """The log for a setting: ``-`` (stderr), a file path, or ``off``/empty (None)."""
        if target in ("off", "0", ""):
            return None
        return cls(sys.stderr if target == "-" else open(target, "a", buffering=1, encoding="utf-8"))

    def line(self, client: str, method: str, path: str, status: int, size: int, ms: float) -> None:
        """Queue one line (never blocks)."""
        if len(path) > MAX_PATH:
            path = path[:MAX_PATH] + "…"
        try:
            self._lines.put_nowait(f'{client} "{method} {path}" {status} {size} {ms:.1f}ms\n')
        except queue.Full:
            self.dropped += 1

    def flush(self) -> None:
        """Wait until every queued line is written."""
        self._lines.join()

    def _write(self) -> None:
        while True:
            text = self._lines.get()
            try:
                if text is not None:
                    self.out.write(text)
                    self.out.flush()
            except (OSError, ValueError):
                pass  # a closed or broken log loses lines, never the service
            finally:
                self._lines.task_done()
