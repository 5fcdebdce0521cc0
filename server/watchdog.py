"""In-process query execution for gunicorn's sync workers, under a watchdog that really stops runaway queries.

Each gunicorn sync worker is a process that serves one request at a time and runs that request's
query with pyoxigraph in-process: no hand-off to another process, about twice the throughput of
:class:`server.pool.QueryPool` (see ``bench/endpoint.md``). pyoxigraph cannot cancel a query and
releases the GIL while it works, so a watchdog thread keeps an eye on the running job: past the
deadline, or once the process's resident memory passes the cap, it writes a complete 503 response
(our JSON error shape) straight onto the client's socket and ends the process with ``os._exit``.
gunicorn's master starts a replacement; the other workers keep serving. Nothing has been sent to
the client before the watchdog fires — results are serialized into memory first — so a client
gets either the whole answer or the 503, never a truncated 200.

Used by ``jllm-kg serve``. Where there is no gunicorn socket to answer on (the Flask test client,
a development server), the app uses :class:`server.pool.QueryPool` instead.
"""
from __future__ import annotations

import json
import os
import socket
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from flask import has_request_context, request
from pyoxigraph import Store

from server.worker import Job, Outcome, run_job

#: How often the watchdog looks at the clock and the memory while a job runs (seconds).
POLL = 0.02
#: Exit status of a worker ended by the watchdog (gunicorn logs it and starts a new worker).
EXIT_STOPPED = 70
_PAGE = os.sysconf("SC_PAGE_SIZE")


def resident_bytes() -> int:
    """This process's resident memory, from ``/proc/self/statm``."""
    try:
        with open("/proc/self/statm", "rb") as statm:
            return int(statm.read().split()[1]) * _PAGE
    except (OSError, ValueError, IndexError):
        return 0


def error_response(status: int, message: str) -> bytes:
    """A complete HTTP/1.1 response in the endpoint's JSON error shape."""
    reason = {503: "Service Unavailable"}.get(status, "Error")
    body = json.dumps({"ok": False, "error": message, "status": status}).encode()
    head = (f"HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n"
            "Access-Control-Allow-Origin: *\r\nConnection: close\r\n\r\n")
    return head.encode() + body


class Watchdog:
    """One thread per process that stops the process when a guarded block overruns time or memory.

    Guards nest (the whole request, and within it one query): the earliest deadline rules.
    """

    def __init__(self, memory_mb: int = 0) -> None:
        self.memory_limit = int(memory_mb) * 1024 * 1024
        self._cond = threading.Condition()
        # (deadline, timeout, client socket, what is running, token)
        self._jobs: list[tuple[float, float, socket.socket | None, str, object]] = []
        threading.Thread(target=self._watch, name="jllm-watchdog", daemon=True).start()

    def enter(self, client: socket.socket | None, timeout: float, what: str = "query") -> object:
        """Start watching; returns the token that :meth:`leave` takes."""
        token = object()
        with self._cond:
            idle = not self._jobs
            self._jobs.append((time.monotonic() + timeout, timeout, client, what, token))
            if idle:  # a busy watchdog looks again within POLL seconds: no need to wake it
                self._cond.notify()
        return token

    def leave(self, token: object) -> None:
        """Stop watching the block ``token`` came from."""
        with self._cond:  # held by the watchdog while it answers and exits: then we never get here
            self._jobs = [job for job in self._jobs if job[4] is not token]

    @contextmanager
    def guard(self, client: socket.socket | None, timeout: float, what: str = "query") -> Iterator[None]:
        """Run the block under watch: the process ends if it takes longer than ``timeout`` seconds."""
        token = self.enter(client, timeout, what)
        try:
            yield
        finally:
            self.leave(token)

    def _watch(self) -> None:
        with self._cond:
            while True:
                if not self._jobs:
                    self._cond.wait()
                    continue
                deadline, timeout, client, what, _ = min(self._jobs, key=lambda job: job[0])
                now = time.monotonic()
                if now >= deadline:
                    self._stop(client, f"{what} timed out after {timeout:g} s and was stopped; narrow it down "
                                       "(LIMIT, more specific patterns) or ask the operator for a longer timeout")
                if self.memory_limit and resident_bytes() > self.memory_limit:
                    self._stop(client, f"the {what} needed more than {self.memory_limit // (1024 * 1024)} MB of memory "
                                       "(out of memory) and was stopped; try a smaller query")
                self._cond.wait(min(POLL, deadline - now))

    @staticmethod
    def _stop(client: socket.socket | None, message: str) -> None:
        """Answer 503 on the client's socket, then end this process (the only way to stop pyoxigraph)."""
        if client is not None:
            try:
                client.settimeout(2)
                client.sendall(error_response(503, message))
                client.shutdown(socket.SHUT_WR)
            except OSError:
                pass
        os._exit(EXIT_STOPPED)


class InProcessExecutor:
    """Runs :class:`~server.worker.Job` s in this process under a :class:`Watchdog` (the QueryPool interface)."""

    def __init__(self, store_path: Path | str, writable: bool = False, memory_mb: int = 0) -> None:
        self.store_path = Path(store_path)
        self.writable = writable
        self.memory_mb = memory_mb
        self._store: Store | None = None
        self._opened: str | None = None
        self._watchdog: Watchdog | None = None
        self._pid: int | None = None
        self._parent: str | None = None

    def target(self) -> str:
        """The generation directory the store path points at now (one ``readlink`` per request)."""
        try:
            link = os.readlink(self.store_path)
        except OSError:  # a plain directory, or missing
            return os.path.realpath(self.store_path)
        if os.path.isabs(link) or os.sep in link:
            return os.path.realpath(self.store_path)
        if self._parent is None:
            self._parent = os.path.realpath(self.store_path.parent)
        return os.path.join(self._parent, link)

    def start(self) -> None:
        """Start the watchdog of this process (after gunicorn forked it; idempotent)."""
        if self._pid != os.getpid():
            self._watchdog = Watchdog(self.memory_mb)
            self._store, self._opened, self._pid = None, None, os.getpid()

    def store(self) -> Store:
        """This process's handle on the current store generation (shared with the pages)."""
        self.start()
        target = self.target()
        if self._store is None or self._opened != target:
            self._store = Store(target) if self.writable else Store.read_only(target)
            self._opened = target
        return self._store

    def run(self, job: Job, timeout: float) -> Outcome:
        """Execute ``job`` here; past ``timeout`` the watchdog answers 503 and ends the process."""
        self.start()
        try:
            store = self.store()
        except OSError as err:
            return Outcome(503, error=f"cannot open the store at {self.store_path}: {err}")
        client = request.environ.get("gunicorn.socket") if has_request_context() else None
        assert self._watchdog is not None
        with self._watchdog.guard(client, timeout):
            try:
                return run_job(store, job)
            except Exception as err:  # noqa: BLE001 - the same answer the pool's worker gives
                return Outcome(500, error=f"query error: {type(err).__name__}: {err}")

    def enter_request(self, timeout: float) -> object:
        """Watch a whole request (pages, search, dumps — not only SPARQL); see :meth:`Watchdog.enter`."""
        self.start()
        assert self._watchdog is not None
        client = request.environ.get("gunicorn.socket") if has_request_context() else None
        return self._watchdog.enter(client, timeout, "request")

    def leave_request(self, token: object) -> None:
        """The request is done (its response is complete, not yet sent)."""
        if self._watchdog is not None:
            self._watchdog.leave(token)

    def close(self) -> None:
        """Nothing to stop: the store closes with the process."""
