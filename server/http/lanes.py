"""The front's query lanes: threads of the granian worker that run requests, one at a time each.

A lane is a thread of the worker process with a stack large enough for the deepest query the
endpoint accepts, and — unless the operator allowed the network — its own seccomp filter
(:func:`server.http.sandbox.deny_network`, installed by the thread on itself before it runs anything:
a filter holds for its thread and every thread that thread starts, the engine's included). The front
(:mod:`server.http.front`) reads each request whole, then :meth:`Lanes.call` hands it to an idle lane,
client by client (:class:`FairQueue`), and awaits the reply on the event loop; no bytes cross a process
boundary, which is what makes an uncached query cheap (``bench/designs.md``).

pyoxigraph cannot cancel a query and a thread cannot be killed, so the *worker process* is what ends a
runaway query. A request past its deadline, or running when the worker's resident memory passes its
share of the memory cap, is answered ``503`` at once; its lane is abandoned (left at the lowest CPU
priority; after a timeout a new lane takes its place) and the worker **retires**
(:meth:`server.http.front.Front._retire`). A hard exit bounds the retirement (:data:`RETIRE_GRACE`
after the last deadline of the requests still running).
"""
from __future__ import annotations

import asyncio
import collections
import functools
import itertools
import os
import queue
import sys
import threading
import time
from typing import Any, Callable

#: How often the monitor looks at deadlines and memory (seconds).
TICK = 0.05
#: A request running longer than this (seconds) runs at a lower CPU priority (nice :data:`NICE_LONG`),
#: so that short requests of other clients keep their latency while long ones share the cores.
DEMOTE_AFTER = 0.1
NICE_LONG = 10
#: The priority of an abandoned query until its worker exits.
NICE_ABANDONED = 19
#: Stack of a lane. 256 MB of address space (touched only as deep as a query goes) parses queries
#: nested 50,000 levels deep; the endpoint accepts 128 (server.sparql.lexer.MAX_DEPTH).
STACK_BYTES = 256 * 1024 * 1024
#: A retiring worker exits at the latest this long after the last deadline of its running requests
#: (memory: this long after the cap was passed).
RETIRE_GRACE = 1.0
_PAGE = os.sysconf("SC_PAGE_SIZE")

#: (method, path, query string, headers, body, scheme, server "host:port", client "addr:port")
Request = tuple[str, str, str, list[tuple[str, str]], bytes, str, str, str]
#: (status, headers, body, store generation used)
Reply = tuple[int, list[tuple[str, str]], bytes, str]


class Refusal(Exception):
    """No answer from a lane: HTTP status and a message for the client."""

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


class Closed(Exception):
    """The queue hands out nothing any more (every lane of the worker was abandoned)."""


class FairQueue:
    """Hands idle lanes to waiting requests, client by client.

    A client holds at most ``cap`` lanes at once (a worker keeps one more lane than any single
    client may use, so another client always finds one free, whatever one client sends). Among the
    clients that may take one, the one with the fewest running requests goes first, then the one
    served least recently: one client's backlog never queues another client.
    """

    #: Clients remembered for the "least recently served" rule, at most.
    MEMORY = 10_000

    def __init__(self, cap: int | None = None) -> None:
        self.cap = cap
        self.idle: list[Any] = []
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
        """Give idle lanes to the waiters that may take one, by the rule above."""
        while self.idle:
            eligible = [c for c in self.waiting if self._allowed(c)]
            if not eligible:
                return
            client = min(eligible, key=lambda c: (self.running[c], self.served.get(c, -1)))
            waiters = self.waiting[client]
            future = waiters.popleft()
            if not waiters:
                del self.waiting[client]
            if not future.done():  # a waiter that timed out meanwhile is skipped
                self._hand(client)
                future.set_result(self.idle.pop())

    def put(self, lane: Any) -> None:
        """A lane is free: give it to the next waiter that may take it, else keep it idle."""
        self.idle.append(lane)
        self.dispatch()

    async def get(self, client: str, timeout: float) -> Any:
        """A lane for ``client`` within ``timeout`` seconds (:class:`asyncio.TimeoutError` otherwise)."""
        if self.idle and not self.waiting and self._allowed(client):  # the common case: no timer
            self._hand(client)
            return self.idle.pop()
        future = asyncio.get_running_loop().create_future()
        self.waiting.setdefault(client, collections.deque()).append(future)
        self.dispatch()
        return await asyncio.wait_for(future, timeout)

    def done(self, client: str) -> None:
        """``client``'s request no longer holds a lane; a waiter it held back may now go."""
        self.running[client] -= 1
        if self.running[client] <= 0:
            del self.running[client]
        self.dispatch()

    def close(self) -> None:
        """Nothing more will be handed out: every waiter gets :class:`Closed`."""
        for waiters in self.waiting.values():
            for future in waiters:
                if not future.done():
                    future.set_exception(Closed())
        self.waiting.clear()


class Lane:
    """One query thread: runs the calls handed to it, one at a time, and reports each on the loop."""

    def __init__(self, number: int, allow_network: bool) -> None:
        self.number = number
        self.jobs: queue.SimpleQueue = queue.SimpleQueue()
        self.ready = threading.Event()
        self.error = ""  # why the thread could not start (no seccomp)
        self.thread_id = 0  # native id, for priorities
        self.busy = self.demoted = False
        self.started = self.deadline = self.timeout = 0.0
        self.client = ""
        self.future: asyncio.Future | None = None
        self.abandoned = ""  # why the monitor gave up on it
        self.served = 0
        self._allow_network = allow_network

    def start(self) -> None:
        """Start the thread and wait until it has its filter (a few milliseconds)."""
        threading.stack_size(STACK_BYTES)
        try:
            threading.Thread(target=self._run, name=f"jllm-lane-{self.number}", daemon=True).start()
        finally:
            threading.stack_size(0)
        self.ready.wait()

    def _run(self) -> None:
        if not self._allow_network:
            from server.http.sandbox import SandboxError, deny_network

            try:
                deny_network()  # this thread and the threads it starts, before it runs anything
            except SandboxError as err:
                self.error = str(err)
                self.ready.set()
                return
        self.thread_id = threading.get_native_id()
        try:  # the name ps, top and the tests see (Python 3.11 does not name OS threads)
            with open(f"/proc/self/task/{self.thread_id}/comm", "w") as comm:
                comm.write(f"jllm-lane-{self.number}")
        except OSError:
            pass
        self.ready.set()
        while True:
            job = self.jobs.get()
            if job is None:
                return
            call, argument, report, loop = job
            try:
                result, error = call(argument), None
            except BaseException as err:  # noqa: BLE001 - reported to the request, never kills the lane
                result, error = None, err
            try:
                loop.call_soon_threadsafe(report, result, error)
            except RuntimeError:  # the loop is closed: the worker is exiting
                return


class Lanes:
    """``size`` lanes running ``answer(request)``; ``memory_bytes`` caps the worker's resident memory,
    not counting the ``exempt()`` bytes (the front's response cache, which has its own bound).

    ``retire(reason)`` is called each time a lane had to be abandoned (:attr:`abandoned` counts them):
    the worker must then end (see the module docstring).
    """

    def __init__(self, answer: Callable[[Request], Reply], size: int, memory_bytes: int, allow_network: bool,
                 retire: Callable[[str], None], exempt: Callable[[], int] = lambda: 0, replace: bool = True) -> None:
        self.answer, self.size, self.memory_bytes = answer, max(1, size), memory_bytes
        self.replace = replace  # start a new lane in place of one abandoned at its deadline
        self.allow_network, self._retire, self._exempt = allow_network, retire, exempt
        self._idle = FairQueue()
        self._live: set[Lane] = set()
        self._numbers = itertools.count(1)
        self._monitor_task: asyncio.Task | None = None
        self.broken = ""  # a lane could not be started: every request is refused with this
        self.retiring = ""
        self.abandoned = 0
        self.timeout = 0.0  # the latest request's timeout
        self._live_taking = True  # False once the worker stops (stop_taking)

    async def start(self) -> None:
        """Start the lanes and the monitor."""
        for _ in range(self.size):
            self._add()
        self._monitor_task = asyncio.get_running_loop().create_task(self._monitor())

    def _add(self) -> None:
        lane = Lane(next(self._numbers), self.allow_network)
        lane.start()
        if lane.error:
            self.broken = f"the query sandbox could not be set up: {lane.error}"
            print(f"jllm-kg: {self.broken}", file=sys.stderr)
            return
        self._live.add(lane)
        self._update_cap()
        self._idle.put(lane)

    def _update_cap(self) -> None:
        """One client may hold all the live lanes but one."""
        self._idle.cap = max(1, len(self._live) - 1) if self.size > 1 else None
        self._idle.dispatch()

    def lanes(self) -> int:
        """Lanes that can still run requests."""
        return len(self._live)

    async def call(self, request: Request, timeout: float, queue_timeout: float | None = None) -> Reply:
        """The reply to ``request``: it may wait ``queue_timeout`` seconds (default: ``timeout``) for a
        free lane, then run ``timeout`` seconds (else :class:`Refusal`)."""
        if self.broken:
            raise Refusal(503, self.broken)
        if not self._live or not self._live_taking:
            raise Refusal(503, self._restarting())
        queue_timeout = timeout if queue_timeout is None else queue_timeout
        self.timeout = timeout
        client = request[7].rpartition(":")[0] or request[7]
        try:
            lane = await self._idle.get(client, queue_timeout)
        except asyncio.TimeoutError:
            raise Refusal(503, f"all {len(self._live)} query lanes of this worker stayed busy for "
                               f"{queue_timeout:g} s; try again later") from None
        except Closed:
            raise Refusal(503, self._restarting()) from None
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        # the deadline counts from when the request runs, not from when it was queued
        lane.started = time.monotonic()
        lane.deadline, lane.timeout, lane.client = lane.started + timeout, timeout, client
        lane.busy, lane.future = True, future
        lane.jobs.put((self.answer, request, functools.partial(self._finished, lane, future), loop))
        return await future  # a client that goes away cancels only this wait; the lane reports anyway

    def _finished(self, lane: Lane, future: asyncio.Future, result: Any, error: BaseException | None) -> None:
        """On the loop: the lane is done with a request (abandoned ones stay out of the queue)."""
        if lane.abandoned:
            return
        lane.busy, lane.future = False, None
        lane.served += 1
        if not future.done():
            if error is not None:
                future.set_exception(error)
            else:
                future.set_result(result)
        self._idle.done(lane.client)
        if lane.demoted and not _renice(lane.thread_id, 0):
            # without the privilege to raise a priority back, the idle lane is replaced by a new thread
            self._live.discard(lane)
            lane.jobs.put(None)
            self._add()
        else:
            lane.demoted = False
            self._idle.put(lane)

    def stop_taking(self) -> None:
        """The worker is stopping: requests waiting for a lane, and any later one, get ``503`` (they are
        better served by another worker than by one that waits for them before it exits)."""
        self.retiring = self.retiring or "the worker is stopping"
        self._live_taking = False
        self._idle.close()

    def _restarting(self) -> str:
        return f"this worker is restarting ({self.retiring}); try again in a moment"

    def _why(self, lane: Lane, reason: str) -> str:
        if reason == "timeout":
            return (f"the request timed out after {lane.timeout:g} s and was stopped; narrow it down "
                    "(LIMIT, more specific patterns) or ask the operator for a longer timeout")
        return (f"the request needed more than {self.memory_bytes // (1 << 20)} MB of memory (out of memory) "
                "and was stopped; try a smaller query")

    def _abandon(self, lane: Lane, reason: str) -> None:
        """Answer ``lane``'s request 503 now, leave its thread to the worker's exit (a new lane takes its
        place after a timeout, so the worker keeps serving while it retires), retire the worker."""
        lane.abandoned = reason
        self.abandoned += 1
        self._live.discard(lane)
        _renice(lane.thread_id, NICE_ABANDONED)
        if lane.future is not None and not lane.future.done():
            lane.future.set_exception(Refusal(503, self._why(lane, reason)))
        self._idle.done(lane.client)
        if reason == "timeout" and self.replace and not self.broken:
            self._add()
        self._update_cap()
        if not self._live:
            self._idle.close()
        if not self.retiring:
            self.retiring = ("a request passed its deadline" if reason == "timeout"
                             else "its memory cap was passed")
        self._retire(reason)

    def exit_by(self) -> float:
        """When a retiring worker may be gone at the latest (``time.monotonic()``): after the deadlines of
        the requests running or about to run (a waiter handed a lane has not marked it busy yet)."""
        now = time.monotonic()
        try:  # read from a timer thread while the loop may change these: retried on a change
            deadlines = [lane.deadline for lane in list(self._live) if lane.busy]
            holding = sum(list(self._idle.running.values()))
        except RuntimeError:
            return now + TICK
        pending = now + self.timeout if holding > len(deadlines) else now
        return max([*deadlines, pending]) + RETIRE_GRACE

    async def _monitor(self) -> None:
        """Abandon busy lanes past their deadline or the memory cap; demote long requests."""
        while True:
            await asyncio.sleep(TICK)
            busy = [lane for lane in self._live if lane.busy]
            if not busy:
                continue
            now = time.monotonic()
            for lane in busy:
                if now > lane.deadline:
                    self._abandon(lane, "timeout")
                elif not lane.demoted and now - lane.started > DEMOTE_AFTER:
                    lane.demoted = _renice(lane.thread_id, NICE_LONG)
            if self.memory_bytes and resident_bytes(os.getpid()) - self._exempt() > self.memory_bytes:
                for lane in [lane for lane in self._live if lane.busy]:  # they share the memory
                    self._abandon(lane, "memory")

    async def close(self) -> None:
        """Stop the monitor and the idle lanes (busy ones end with the process)."""
        if self._monitor_task is not None:
            self._monitor_task.cancel()
        for lane in self._live:
            if not lane.busy:
                lane.jobs.put(None)
