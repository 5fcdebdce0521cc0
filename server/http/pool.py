"""The front's query processes: start them, hand them requests, end them at a limit.

pyoxigraph cannot cancel a query, so the process is the unit that is stopped. :class:`Pool`
keeps ``size`` query processes (:mod:`server.http.process`); :meth:`Pool.call` hands a request the
front has read whole to a process and awaits the reply. A process runs its requests one after
another, in the order it got them. A monitor task looks at the processes every :data:`TICK`
seconds: one whose running request is past its deadline, or whose resident memory passed its share
of the service's memory cap, is killed (``SIGKILL``); that request's caller gets a
:class:`Refusal` (``503``) naming the limit, and a replacement is started. Connections, keep-alive
and slow clients live in the front, so ending a process never touches another client's connection.

**Pipelining.** A process that has finished a request and sent its reply reads the next one from
its socket at once, if one is there: it does not wait for the front to read the reply and hand it
work. So a client with a backlog may get a second request queued on a process it already holds
(:data:`DEPTH` in all), when no other client is waiting and the running request is younger than
:data:`DEMOTE_AFTER`. That keeps the cores busy with as many processes as cores (more processes
than cores cost CPU per query: they preempt each other mid-query). A queued request never started
when its process is killed (the process reads it only after it has sent the previous reply), so
it goes back to the queue, not to a 503; its deadline counts from when it starts running.
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
from typing import Any, Callable

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
#: Requests a process may hold at once by default: the one it runs, and the ones queued behind it
#: (``JLLM_KG_PIPELINE``).
DEPTH = 2
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
class Job:
    """One request on its way through the pool."""

    client: str
    request: Request
    timeout: float
    assigned: asyncio.Future  # set (to the process) when a process takes it
    reply: asyncio.Future  # set to the Reply, or to a Refusal
    started: float = 0.0  # when it began to run (it is first in its process's queue)


@dataclass(eq=False)
class _Process:
    popen: subprocess.Popen
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    thread: int = 0  # native id of the thread that runs the requests
    jobs: collections.deque = field(default_factory=collections.deque)  # running first, then queued
    owner: str = ""  # the client whose requests it holds ("" when it holds none)
    demoted: bool = False
    retiring: bool = False  # takes no more requests; retired once its queue is empty
    stopped: str = ""  # why the monitor ended it
    killed_after: float = 0.0  # the timeout of the request it was running when the monitor ended it
    served: int = 0

    @property
    def deadline(self) -> float:
        head = self.jobs[0]
        return head.started + head.timeout

    def kill(self, reason: str) -> None:
        """End the process now (its running request then fails with ``reason``)."""
        self.stopped = self.stopped or reason
        try:
            self.popen.kill()
        except OSError:
            pass


class FairQueue:
    """Hands processes to waiting requests, client by client.

    A client holds at most ``cap`` processes at once (the pool keeps one more process than any
    single client may use, so another client always finds one free, whatever one client sends).
    Among the clients that may take one, the one holding the fewest processes goes first, then the
    one served least recently: one client's backlog never queues another client. A client that
    holds ``spread`` processes (the cores) queues its next request behind one of its own running
    requests (up to ``depth`` per process) before it takes another idle process: only while no other
    client waits, and only behind a request still younger than :data:`DEMOTE_AFTER` (see the
    module's docstring). ``send`` puts a request on the process chosen for it, in the same step.
    """

    #: Clients remembered for the "least recently served" rule, at most.
    MEMORY = 10_000

    def __init__(self, cap: int | None = None, depth: int = DEPTH, spread: int | None = None,
                 send: Callable[[Any, Job], None] = lambda process, job: process.jobs.append(job)) -> None:
        self.cap, self.depth, self.spread, self.send = cap, max(1, depth), spread, send
        self.idle: list = []
        self.held: dict[str, list] = {}  # client -> the processes it holds
        self.waiting: dict[str, collections.deque[Job]] = {}
        self.served: dict[str, int] = {}
        self._clock = itertools.count()

    def _allowed(self, client: str) -> bool:
        return self.cap is None or len(self.held.get(client, ())) < self.cap

    def _behind(self, client: str):
        """A process of ``client``'s with room behind a young running request, if no one else waits."""
        if self.depth < 2 or any(c != client for c in self.waiting):
            return None
        for process in self.held.get(client, ()):
            if len(process.jobs) < self.depth and not process.demoted and not process.retiring and not process.stopped:
                return process
        return None

    def _take(self, client: str):
        """A process ``client`` may be given now (marked as held by it), or None."""
        if self.spread is not None and len(self.held.get(client, ())) >= self.spread:
            process = self._behind(client)
            if process is not None:
                return process
        if self.idle and self._allowed(client):
            process = self.idle.pop()
            process.owner = client
            self.held.setdefault(client, []).append(process)
            self.served[client] = next(self._clock)
            if len(self.served) > self.MEMORY:
                self.served = {c: t for c, t in self.served.items() if c in self.held or c in self.waiting}
            return process
        return self._behind(client)

    def submit(self, job: Job) -> None:
        """Queue ``job``; its ``assigned`` future is set when a process takes it."""
        if not self.waiting:  # the common case
            process = self._take(job.client)
            if process is not None:
                self._assign(process, job)
                return
        self.waiting.setdefault(job.client, collections.deque()).append(job)
        self.dispatch()

    def _assign(self, process, job: Job) -> None:
        """``process`` takes ``job`` now (in the same step as the choice: nothing runs in between)."""
        self.send(process, job)
        job.assigned.set_result(process)

    def dispatch(self) -> None:
        """Give processes to the waiters that may take one, by the rule above."""
        while self.waiting:
            eligible = [c for c in self.waiting if (self.idle and self._allowed(c)) or self._behind(c)]
            if not eligible:
                return
            client = min(eligible, key=lambda c: (len(self.held.get(c, ())), self.served.get(c, -1)))
            queue = self.waiting[client]
            job = queue.popleft()
            if not queue:
                del self.waiting[client]
            if not job.assigned.done():  # a waiter that timed out meanwhile is skipped
                process = self._take(client)
                assert process is not None
                self._assign(process, job)

    def put(self, process) -> None:
        """A process holds no request any more: give it to the next waiter that may take it, else keep it idle."""
        if process.owner:
            held = self.held.get(process.owner, [])
            if process in held:
                held.remove(process)
            if not held:
                self.held.pop(process.owner, None)
            process.owner = ""
        if not process.retiring and not process.stopped:
            self.idle.append(process)
        self.dispatch()

    def forget(self, process) -> None:
        """A process that died or was retired is no longer handed out."""
        if process in self.idle:
            self.idle.remove(process)
        process.retiring = True
        self.put(process)


class Pool:
    """``size`` query processes running the app with ``config``; ``memory_bytes`` is each one's cap;
    ``spread``: how many processes one client holds before it queues behind its own requests
    (default: the cores); ``depth``: how many requests a process holds at most (1: no pipelining)."""

    def __init__(self, config: dict, size: int, memory_bytes: int, spread: int | None = None,
                 depth: int = DEPTH) -> None:
        self.config, self.size, self.memory_bytes = config, max(1, size), memory_bytes
        # one client may use every process but one: the last one is always there for the others;
        # beyond as many as the cores, it queues behind its own young requests first (FairQueue)
        self._idle = FairQueue(send=self._send, spread=spread or os.cpu_count() or 1, depth=depth)
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
            self._all.discard(process)
            self._close(process)
            print(f"jllm-kg: a query process did not start ({type(err).__name__}); retrying", file=sys.stderr)
            await asyncio.sleep(1.0)
            self._spawn_task(self._add())
            return
        self._ready.add(process)
        self._spawn_task(self._replies(process))
        self._update_cap()
        self._idle.put(process)

    def _update_cap(self) -> None:
        """One client may hold all the ready processes but one (while a replacement starts, one fewer)."""
        self._idle.cap = max(1, len(self._ready) - 1) if self.size > 1 else None
        self._idle.dispatch()

    def _close(self, process: _Process) -> None:
        """Close the socket, kill and reap ``process`` in the background."""
        process.writer.close()
        process.kill("retired")
        asyncio.get_running_loop().run_in_executor(None, process.popen.wait)

    def _retire(self, process: _Process, replace: bool) -> None:
        """Forget a dead or killed process (its queued requests go back to the queue) and start another."""
        if process not in self._all:
            return
        self._all.discard(process)
        self._ready.discard(process)
        self._close(process)
        self._idle.forget(process)
        self._update_cap()
        if replace:
            self._spawn_task(self._add())

    async def call(self, request: Request, timeout: float, queue_timeout: float | None = None) -> Reply:
        """The reply of a query process to ``request``: it may wait ``queue_timeout`` seconds (default:
        ``timeout``) for a process, then run ``timeout`` seconds (else :class:`Refusal`)."""
        queue_timeout = timeout if queue_timeout is None else queue_timeout
        client = request[7].rpartition(":")[0] or request[7]
        loop = asyncio.get_running_loop()
        job = Job(client, request, timeout, loop.create_future(), loop.create_future())
        give_up = loop.time() + queue_timeout
        while True:
            self._idle.submit(job)
            if not job.assigned.done():
                try:
                    await asyncio.wait_for(job.assigned, max(0.0, give_up - loop.time()))
                except asyncio.TimeoutError:
                    raise Refusal(503, f"all {self.size} query processes stayed busy for {queue_timeout:g} s; "
                                       "try again later") from None
            # shielded: a caller that goes away (client disconnected) leaves the process to finish
            outcome = await asyncio.shield(job.reply)
            if outcome is not None:
                if isinstance(outcome, Refusal):
                    raise outcome
                return outcome
            # None: the process died before it started this request; queue it again
            job.assigned, job.reply = loop.create_future(), loop.create_future()

    def _send(self, process: _Process, job: Job) -> None:
        """Queue ``job`` on ``process`` and write it to the process's socket."""
        process.jobs.append(job)
        if len(process.jobs) == 1:  # the deadline counts from when the request runs
            job.started = time.monotonic()
        process.writer.write(wire.pack(job.request))

    async def _replies(self, process: _Process) -> None:
        """Read ``process``'s replies, in the order of its requests, until it ends."""
        try:
            while True:
                reply = await wire.receive_async(process.reader)
                job = process.jobs.popleft()
                job.reply.set_result(reply)
                process.served += 1
                if process.demoted:
                    if _renice(process.thread, 0):
                        process.demoted = False
                    else:  # without the privilege to raise a priority back, the process is replaced
                        process.retiring = True
                if process.jobs:
                    process.jobs[0].started = time.monotonic()
                    self._idle.dispatch()  # room behind its new running request
                elif process.retiring:
                    self._retire(process, replace=True)
                    return
                else:
                    self._idle.put(process)
        except (asyncio.IncompleteReadError, ConnectionError, EOFError, OSError) as err:
            jobs = list(process.jobs)
            process.jobs.clear()
            dead = process in self._all
            self._retire(process, replace=dead)
            if dead:
                self.restarts += 1
            if jobs:  # the first one was running; the others never started and go back to the queue
                jobs[0].reply.set_result(Refusal(503, self._why(process, err)))
                for job in jobs[1:]:
                    job.reply.set_result(None)

    def _why(self, process: _Process, err: BaseException) -> str:
        if process.stopped == "timeout":
            return (f"the request timed out after {process.killed_after:g} s and was stopped; narrow it down "
                    "(LIMIT, more specific patterns) or ask the operator for a longer timeout")
        if process.stopped == "memory":
            return (f"the request needed more than {self.memory_bytes // (1 << 20)} MB of memory (out of memory) "
                    "and was stopped; try a smaller query")
        return f"the query process stopped unexpectedly ({type(err).__name__}); try again"

    async def _monitor(self) -> None:
        """Kill processes whose running request is past its deadline or its memory cap."""
        while True:
            await asyncio.sleep(TICK)
            now = time.monotonic()
            for process in list(self._all):
                if not process.jobs or process.stopped:
                    continue
                if now > process.deadline:
                    process.killed_after = process.jobs[0].timeout
                    process.kill("timeout")
                elif self.memory_bytes and resident_bytes(process.popen.pid) > self.memory_bytes:
                    process.kill("memory")
                elif not process.demoted and now - process.jobs[0].started > DEMOTE_AFTER and process.thread:
                    process.demoted = _renice(process.thread, NICE_LONG)

    async def close(self) -> None:
        """End every process and the monitor."""
        for task in list(self._tasks):
            task.cancel()
        for process in list(self._all):
            self._retire(process, replace=False)
