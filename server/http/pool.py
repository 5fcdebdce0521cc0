"""The front's query processes: start them, hand each one request at a time, end them at a limit.

pyoxigraph cannot cancel a query, so the process is the unit that is stopped. :class:`Pool`
keeps ``size`` query processes (:mod:`server.http.process`); :meth:`Pool.call` waits for an idle one,
sends it a request the front has read whole, and awaits the reply. A monitor task looks at the
busy processes every :data:`TICK` seconds: one past its request's deadline, or whose resident
memory passed its share of the service's memory cap, is killed (``SIGKILL``); the caller gets a
:class:`Refusal` (``503``) naming the limit, and a replacement is started. A process serves
exactly one request at a time, so ending it never touches another client: connections,
keep-alive and slow clients live in the front.
"""
from __future__ import annotations

import asyncio
import collections
import itertools
import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field

from server.http import wire
from server.http.process import BOOT, Reply, Request

#: How often the monitor looks at deadlines and memory (seconds).
TICK = 0.05
#: How long a new query process may take to open the store and say it is ready (seconds).
STARTUP = 120.0
#: A request running longer than this (seconds) runs at a lower CPU priority (nice :data:`NICE_LONG`),
#: so that short requests of other clients keep their latency while long ones share the cores.
DEMOTE_AFTER = 0.1
NICE_LONG = 19
_PAGE = os.sysconf("SC_PAGE_SIZE")


class Refusal(Exception):
    """The pool could not answer: HTTP status and a message for the client."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status, self.message = status, message


def _renice(thread: int, nice: int) -> bool:
    """Set the nice value of one thread (Linux: per thread); False if not allowed or gone."""
    try:
        os.setpriority(os.PRIO_PROCESS, thread, nice)
    except OSError:
        return False
    return True


def resident_bytes(pid: int) -> int:
    """Resident memory of process ``pid``, from ``/proc/<pid>/statm`` (0 if it is gone)."""
    try:
        with open(f"/proc/{pid}/statm", "rb") as statm:
            return int(statm.read().split()[1]) * _PAGE
    except (OSError, ValueError, IndexError):
        return 0


@dataclass(eq=False)
class _Process:
    popen: subprocess.Popen
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    deadline: float = 0.0
    timeout: float = 0.0
    started: float = 0.0
    thread: int = 0  # native id of the thread that runs the requests
    demoted: bool = False
    busy: bool = False
    stopped: str = ""  # why the monitor ended it
    served: int = field(default=0)

    def kill(self, reason: str) -> None:
        """End the process now (the pending reply then fails with ``reason``)."""
        self.stopped = self.stopped or reason
        try:
            self.popen.kill()
        except OSError:
            pass


class FairQueue:
    """Hands idle processes to waiting requests, client by client.

    A client holds at most ``cap`` processes at once (the pool keeps one more process than any
    single client may use, so another client always finds one free, whatever one client sends).
    Among the clients that may take one, the one with the fewest running requests goes first,
    then the one served least recently: one client's backlog never queues another client.
    """

    #: Clients remembered for the "least recently served" rule, at most.
    MEMORY = 10_000

    def __init__(self, cap: int | None = None) -> None:
        self.cap = cap
        self.idle: list[_Process] = []
        self.waiting: dict[str, collections.deque[asyncio.Future]] = {}
        self.running: collections.Counter[str] = collections.Counter()
        self.served: dict[str, int] = {}
        self._clock = itertools.count()

    def _allowed(self, client: str) -> bool:
        return self.cap is None or self.running[client] < self.cap

    def _hand(self, client: str) -> None:
        self.running[client] += 1
        self.served[client] = next(self._clock)
        if len(self.served) > self.MEMORY:
            self.served = {c: t for c, t in self.served.items() if c in self.running or c in self.waiting}

    def dispatch(self) -> None:
        """Give idle processes to the waiters that may take one, by the rule above."""
        while self.idle:
            eligible = [c for c in self.waiting if self._allowed(c)]
            if not eligible:
                return
            client = min(eligible, key=lambda c: (self.running[c], self.served.get(c, -1)))
            queue = self.waiting[client]
            future = queue.popleft()
            if not queue:
                del self.waiting[client]
            if not future.done():  # a waiter that timed out meanwhile is skipped
                self._hand(client)
                future.set_result(self.idle.pop())

    def put(self, process: _Process) -> None:
        """A process is free: give it to the next waiter that may take it, else keep it idle."""
        self.idle.append(process)
        self.dispatch()

    async def get(self, client: str, timeout: float) -> _Process:
        """A process for ``client`` within ``timeout`` seconds (:class:`asyncio.TimeoutError` otherwise)."""
        if self.idle and not self.waiting and self._allowed(client):  # the common case: no timer
            self._hand(client)
            return self.idle.pop()
        future = asyncio.get_running_loop().create_future()
        self.waiting.setdefault(client, collections.deque()).append(future)
        self.dispatch()
        return await asyncio.wait_for(future, timeout)

    def done(self, client: str) -> None:
        """``client``'s request no longer holds a process; a waiter it held back may now go."""
        self.running[client] -= 1
        if self.running[client] <= 0:
            del self.running[client]
        self.dispatch()


class Pool:
    """``size`` query processes running the app with ``config``; ``memory_bytes`` is each one's cap."""

    def __init__(self, config: dict, size: int, memory_bytes: int) -> None:
        self.config, self.size, self.memory_bytes = config, max(1, size), memory_bytes
        # one client may use every process but one: the last one is always there for the others
        self._idle = FairQueue()
        self._all: set[_Process] = set()
        self._ready: set[_Process] = set()  # started and said so (not the ones still starting)
        self._update_cap()
        self._tasks: set[asyncio.Task] = set()
        self.restarts = 0

    async def start(self) -> None:
        """Start the processes and the monitor (waits until every process is ready)."""
        await asyncio.gather(*(self._add(replacement=False) for _ in range(self.size)))
        self._spawn_task(self._monitor())

    def _spawn_task(self, coro) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _add(self, replacement: bool = True) -> None:
        """Start one process and put it in the idle queue once it is ready.

        A replacement (for a process killed at a limit) starts at nice :data:`NICE_LONG` — starting an
        interpreter costs about a second of CPU, which must not slow the requests being served — and
        gets the normal priority back once it is ready (where the service may raise a priority).
        """
        parent, child = socket.socketpair()
        with child:
            popen = subprocess.Popen([sys.executable, "-c", BOOT, str(child.fileno())], pass_fds=[child.fileno()],
                                     stdin=subprocess.DEVNULL, start_new_session=False)
        if replacement:  # before the interpreter has started any thread: they all inherit it
            _renice(popen.pid, NICE_LONG)
        reader, writer = await asyncio.open_unix_connection(sock=parent, limit=1 << 20)
        process = _Process(popen, reader, writer)
        self._all.add(process)
        try:
            writer.write(wire.pack(self.config))
            await writer.drain()
            ready = await asyncio.wait_for(wire.receive_async(reader), STARTUP)
            assert isinstance(ready, tuple) and ready[0] == "ready"
            process.thread = int(ready[2])
            if replacement:
                _renice(process.thread, 0)  # the thread that runs requests; stays at NICE_LONG where not allowed
        except (asyncio.TimeoutError, asyncio.IncompleteReadError, ConnectionError, AssertionError) as err:
            self._retire(process)
            print(f"jllm-kg: a query process did not start ({type(err).__name__}); retrying", file=sys.stderr)
            await asyncio.sleep(1.0)
            self._spawn_task(self._add())
            return
        self._ready.add(process)
        self._update_cap()
        self._idle.put(process)

    def _update_cap(self) -> None:
        """One client may hold all the ready processes but one (while a replacement starts, one fewer)."""
        self._idle.cap = max(1, len(self._ready) - 1) if self.size > 1 else None
        self._idle.dispatch()

    def _retire(self, process: _Process) -> None:
        """Forget a dead or killed process and reap it in the background."""
        self._all.discard(process)
        if process in self._ready:
            self._ready.discard(process)
            self._update_cap()
        process.writer.close()
        process.kill("retired")
        asyncio.get_running_loop().run_in_executor(None, process.popen.wait)

    async def call(self, request: Request, timeout: float, queue_timeout: float | None = None) -> Reply:
        """The reply of a query process to ``request``: it may wait ``queue_timeout`` seconds (default:
        ``timeout``) for a free process, then run ``timeout`` seconds (else :class:`Refusal`)."""
        queue_timeout = timeout if queue_timeout is None else queue_timeout
        client = request[7].rpartition(":")[0] or request[7]
        try:
            process = await self._idle.get(client, queue_timeout)
        except asyncio.TimeoutError:
            raise Refusal(503, f"all {self.size} query processes stayed busy for {queue_timeout:g} s; "
                               "try again later") from None
        # the deadline counts from when the request runs, not from when it was queued
        process.started = time.monotonic()
        process.deadline, process.timeout = process.started + timeout, timeout
        process.busy = True
        # shielded: a caller that goes away (client disconnected) leaves the exchange to finish and
        # return the process, instead of leaving it busy forever
        return await asyncio.shield(self._exchange(process, client, request))

    async def _exchange(self, process: _Process, client: str, request: Request) -> Reply:
        try:
            process.writer.write(wire.pack(request))
            await process.writer.drain()
            reply = await wire.receive_async(process.reader)
        except (asyncio.IncompleteReadError, ConnectionError, EOFError) as err:
            self._idle.done(client)
            self._retire(process)
            self.restarts += 1
            self._spawn_task(self._add())
            raise Refusal(503, self._why(process, err)) from None
        process.busy = False
        process.served += 1
        self._idle.done(client)
        if process.demoted and not _renice(process.thread, 0):
            # without the privilege to raise a priority back, the process is replaced instead
            self._retire(process)
            self._spawn_task(self._add())
        else:
            process.demoted = False
            self._idle.put(process)
        return reply  # type: ignore[return-value]

    def _why(self, process: _Process, err: BaseException) -> str:
        if process.stopped == "timeout":
            return (f"the request timed out after {process.timeout:g} s and was stopped; narrow it down "
                    "(LIMIT, more specific patterns) or ask the operator for a longer timeout")
        if process.stopped == "memory":
            return (f"the request needed more than {self.memory_bytes // (1 << 20)} MB of memory (out of memory) "
                    "and was stopped; try a smaller query")
        return f"the query process stopped unexpectedly ({type(err).__name__}); try again"

    async def _monitor(self) -> None:
        """Kill busy processes past their deadline or their memory cap."""
        while True:
            await asyncio.sleep(TICK)
            now = time.monotonic()
            for process in list(self._all):
                if not process.busy or process.stopped:
                    continue
                if now > process.deadline:
                    process.kill("timeout")
                elif self.memory_bytes and resident_bytes(process.popen.pid) > self.memory_bytes:
                    process.kill("memory")
                elif not process.demoted and now - process.started > DEMOTE_AFTER and process.thread:
                    process.demoted = _renice(process.thread, NICE_LONG)

    async def close(self) -> None:
        """End every process and the monitor."""
        for task in list(self._tasks):
            task.cancel()
        for process in list(self._all):
            self._retire(process)
