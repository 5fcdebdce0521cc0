"""A pool of long-lived query-worker processes, with a hard deadline per job.

The web thread hands a :class:`~server.worker.Job` to an idle worker and waits until the
deadline. Past it, the worker is killed (SIGKILL — the only way to stop a running ORDER BY
or COUNT in pyoxigraph), a replacement is started, and the caller gets a 503 outcome while
the other workers keep serving. Workers open the store's *resolved* path; when the store
symlink moves to a new generation, workers of the old one are retired as they come back.

Pools are created lazily in the process that uses them (after gunicorn forks its workers).
"""
from __future__ import annotations

import os
import queue
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path

from server.worker import Job, Outcome

#: The worker is a fresh interpreter running :func:`server.worker.main` on an inherited socket
#: (no fork of a threaded web process, no re-import of the caller's ``__main__``).
_BOOT = "import sys; from server.worker import main_fd; main_fd(*sys.argv[1:])"


@dataclass
class _Worker:
    process: subprocess.Popen
    conn: Connection
    target: str

    def alive(self) -> bool:
        return self.process.poll() is None

    def kill(self) -> None:
        """Stop the process now and reap it."""
        try:
            self.process.kill()
        except OSError:
            pass
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass
        self.conn.close()


class QueryPool:
    """``size`` worker processes over the store at ``store_path`` (a path or a symlink to a generation)."""

    def __init__(self, store_path: Path | str, size: int = 2, writable: bool = False, memory_mb: int = 0) -> None:
        self.store_path = Path(store_path)
        self.memory_mb = int(memory_mb)
        self.size = max(1, int(size))
        self.writable = writable
        self._idle: queue.LifoQueue[_Worker] = queue.LifoQueue()
        self._lock = threading.Lock()
        self._pid: int | None = None

    def target(self) -> str:
        """The generation directory the store path points at now."""
        return os.path.realpath(self.store_path)

    def _spawn(self) -> _Worker:
        parent, child = socket.socketpair()
        target = self.target()
        with child:
            process = subprocess.Popen(
                [sys.executable, "-c", _BOOT, str(child.fileno()), target, "1" if self.writable else "0", str(self.memory_mb)],
                pass_fds=[child.fileno()], stdin=subprocess.DEVNULL)
        return _Worker(process, Connection(parent.detach()), target)

    def start(self) -> None:
        """Start the workers if this process has none yet (idempotent, fork-aware)."""
        if self._pid == os.getpid():
            return
        with self._lock:
            if self._pid == os.getpid():
                return
            self._idle = queue.LifoQueue()
            for _ in range(self.size):
                self._idle.put(self._spawn())
            self._pid = os.getpid()

    def run(self, job: Job, timeout: float) -> Outcome:
        """Run ``job`` on an idle worker; kill it and answer 503 if it is not done within ``timeout`` s."""
        self.start()
        deadline = time.monotonic() + timeout
        try:
            worker = self._idle.get(timeout=timeout)
        except queue.Empty:
            return Outcome(503, error=f"all {self.size} query workers stayed busy for {timeout:g} s; try again later")
        if worker.target != self.target() or not worker.alive():
            worker.kill()
            worker = self._spawn()
        try:
            worker.conn.send(job)
            if worker.conn.poll(max(0.0, deadline - time.monotonic())):
                outcome = worker.conn.recv()
                self._idle.put(worker)
                return outcome
        except (EOFError, OSError):
            worker.kill()
            self._idle.put(self._spawn())
            return Outcome(503, error="the query worker stopped unexpectedly (out of memory?); try a smaller query")
        worker.kill()
        self._idle.put(self._spawn())
        return Outcome(503, error=f"query timed out after {timeout:g} s and was stopped; "
                                  "narrow it down (LIMIT, more specific patterns) or ask the operator for a longer timeout")

    def close(self) -> None:
        """Stop every idle worker (busy ones are stopped by their caller's deadline)."""
        while True:
            try:
                self._idle.get_nowait().kill()
            except queue.Empty:
                break
        self._pid = None
