"""The front's query-process pool: fair hand-out across clients, and the same on a real server."""
from __future__ import annotations

import asyncio
import collections
import http.client
import threading
import time
from dataclasses import dataclass, field
from urllib.parse import urlencode

import pytest

from server.http.pool import NICE_LONG, FairQueue, Job
from tests.live import LiveServer, busy_query_processes, query_processes, wait_until


@dataclass(eq=False)
class Slot:
    """What the queue reads of a process: the requests it holds, and its state."""

    name: str
    jobs: collections.deque = field(default_factory=collections.deque)
    owner: str = ""
    demoted: bool = False
    retiring: bool = False
    stopped: str = ""


def _job(client: str, name: str = "") -> Job:
    loop = asyncio.get_running_loop()
    return Job(client, ("GET", "/", name, [], b"", "http", "h:80", f"{client}:1"), 1.0, loop.create_future(),
               loop.create_future())


async def _assigned(job: Job, timeout: float = 1.0):
    return await asyncio.wait_for(job.assigned, timeout)


def _finish(queue: FairQueue, process: Slot) -> None:
    """``process`` answered its first request (as the pool does when a reply arrives)."""
    process.jobs.popleft()
    process.demoted = False
    if process.jobs:
        queue.dispatch()
    else:
        queue.put(process)


def test_a_client_with_fewer_running_requests_goes_first():
    async def scenario() -> list[str]:
        queue, served = FairQueue(depth=1), []

        async def request(client: str, name: str) -> None:
            job = _job(client, name)
            queue.submit(job)
            process = await _assigned(job, 5)
            served.append(name)
            await asyncio.sleep(0)
            assert process.jobs[0] is job

        tasks = [asyncio.create_task(request("10.0.0.1", f"a{i}")) for i in range(3)]
        await asyncio.sleep(0)
        tasks.append(asyncio.create_task(request("10.0.0.2", "b0")))
        await asyncio.sleep(0)
        for i in range(4):  # free processes come back one by one; nobody finishes meanwhile
            queue.put(Slot(f"p{i}"))
            await asyncio.sleep(0)
        await asyncio.gather(*tasks)
        return served

    assert asyncio.run(scenario()) == ["a0", "b0", "a1", "a2"]


def test_a_timed_out_waiter_does_not_swallow_a_process():
    async def scenario() -> bool:
        queue = FairQueue()
        late = _job("10.0.0.1")
        queue.submit(late)
        try:
            await _assigned(late, 0.01)
        except asyncio.TimeoutError:
            pass
        process = Slot("p")
        queue.put(process)
        other = _job("10.0.0.2")
        queue.submit(other)
        return await _assigned(other) is process and list(process.jobs) == [other]

    assert asyncio.run(scenario())


def test_a_client_queues_behind_its_own_young_request_only_when_no_one_else_waits():
    """With as many processes as cores held (``spread``), a client's next request waits in the process
    it holds, behind its running one (the process reads it as soon as it has replied): but not behind
    a request that already runs long (demoted), and not while another client waits."""
    async def scenario() -> None:
        queue = FairQueue(cap=3, depth=2, spread=1)
        p1, p2, p3 = Slot("p1"), Slot("p2"), Slot("p3")
        for process in (p3, p2, p1):
            queue.put(process)
        a1, a2 = _job("10.0.0.1", "a1"), _job("10.0.0.1", "a2")
        queue.submit(a1)
        queue.submit(a2)
        assert await _assigned(a1) is p1 and await _assigned(a2) is p1  # queued behind a1
        assert list(p1.jobs) == [a1, a2] and p2.jobs == collections.deque()
        a3 = _job("10.0.0.1", "a3")
        queue.submit(a3)  # p1 is full (depth 2): an idle process, within the cap
        assert await _assigned(a3) is p2
        p2.demoted = True  # a3 runs long: nothing queues behind it
        a4 = _job("10.0.0.1", "a4")
        queue.submit(a4)
        assert await _assigned(a4) is p3
        p3.demoted = True  # so does a4
        a5, b1 = _job("10.0.0.1", "a5"), _job("10.0.0.2", "b1")
        queue.submit(a5)  # cap reached, p1 full, p2 and p3 run long: a5 waits
        queue.submit(b1)  # so does b1: no process is idle
        await asyncio.sleep(0)
        assert not a5.assigned.done() and not b1.assigned.done()
        _finish(queue, p3)  # a4 done: p3 holds nothing, goes to the client holding fewer (b)
        assert await _assigned(b1) is p3
        assert not a5.assigned.done()
        _finish(queue, p1)  # a1 done, a2 runs: room behind it, and no one else waits
        assert await _assigned(a5) is p1
        assert list(p1.jobs) == [a2, a5]

    asyncio.run(scenario())


def test_a_client_does_not_queue_behind_its_own_request_while_another_waits():
    async def scenario() -> None:
        queue = FairQueue(cap=1, depth=2, spread=1)
        p1, p2 = Slot("p1"), Slot("p2")
        queue.put(p1)
        queue.put(p2)
        a1, b1, b2 = _job("10.0.0.1", "a1"), _job("10.0.0.2", "b1"), _job("10.0.0.2", "b2")
        queue.submit(a1)
        queue.submit(b1)
        queue.submit(b2)  # b holds a process: b2 queues behind b1 (nobody else waits)
        assert {await _assigned(a1), await _assigned(b1)} == {p1, p2}
        assert await _assigned(b2) is b1.assigned.result()
        a2, b3 = _job("10.0.0.1", "a2"), _job("10.0.0.2", "b3")
        queue.submit(b3)  # b's process is full: b3 waits
        queue.submit(a2)  # a may queue behind a1 … but b waits, so a2 waits too
        await asyncio.sleep(0)
        assert not a2.assigned.done() and not b3.assigned.done()

    asyncio.run(scenario())


def test_one_client_s_backlog_does_not_queue_another_client(seed_store_path):
    """With one query process, a client that queued four slow queries does not make another client
    (another source address) wait for all of them."""
    developer = "<https://w3id.org/jllm-kg/ontology#developer>"

    def slow(k: int, tag: str) -> str:
        values = " ".join(str(i) for i in range(k))
        return f"SELECT (COUNT(*) AS ?n) WHERE {{ ?a ?b ?c . ?d {developer} ?f . VALUES ?x {{ {values} }} }} # {tag}"

    def post(port: int, query: str, source: str) -> tuple[int, float]:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60, source_address=(source, 0))
        started = time.monotonic()
        conn.request("POST", "/sparql", urlencode({"query": query}), {"Content-Type": "application/x-www-form-urlencoded"})
        status = conn.getresponse().status
        conn.close()
        return status, time.monotonic() - started

    with LiveServer(seed_store_path, timeout=10, workers=1) as server:
        status, one = post(server.port, slow(1, "calibrate"), "127.0.0.1")
        assert status == 200
        k = max(1, round(0.8 / max(one, 0.01)))  # each flood query runs ≈ 0.8 s
        flood: list[tuple[int, float]] = []
        threads = [threading.Thread(target=lambda i=i: flood.append(post(server.port, slow(k, f"f{i}"), "127.0.0.1")))
                   for i in range(4)]
        for thread in threads:
            thread.start()
        assert wait_until(lambda: busy_query_processes(server)), "the flood did not start"  # it holds the process
        status, waited = post(server.port, f"ASK {{}} # other client {time.time()}", "127.0.0.2")
        for thread in threads:
            thread.join()
    assert status == 200 and all(s == 200 for s, _ in flood)
    slowest = max(t for _, t in flood)
    assert waited < slowest - 0.5, (waited, sorted(t for _, t in flood))  # served before the flood's backlog


def test_one_client_never_holds_the_last_process():
    async def scenario() -> tuple[bool, bool]:
        queue = FairQueue(cap=2, depth=1)
        for i in range(3):
            queue.put(Slot(f"p{i}"))
        for _ in range(2):
            job = _job("10.0.0.1")
            queue.submit(job)
            await _assigned(job)
        third = _job("10.0.0.1")
        queue.submit(third)
        try:  # a third request of the same client waits, although a process is idle …
            await _assigned(third, 0.05)
            held_back = False
        except asyncio.TimeoutError:
            held_back = True
        other = _job("10.0.0.2")
        queue.submit(other)
        return held_back, await _assigned(other, 0.05) is not None  # … which another client gets at once

    assert asyncio.run(scenario()) == (True, True)


def test_another_client_is_answered_at_once_while_one_saturates_the_pool(seed_store_path):
    """A client keeps every process it may have busy with queries running to the timeout; a query from
    another address is answered at once, from the process kept for the others."""
    query = "SELECT (COUNT(*) AS ?n) WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i } # {tag}"
    with LiveServer(seed_store_path, timeout=3, workers=3) as server:
        def post(source: str, text: str) -> tuple[int, float]:
            conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30, source_address=(source, 0))
            started = time.monotonic()
            conn.request("POST", "/sparql", urlencode({"query": text}), {"Content-Type": "application/x-www-form-urlencoded"})
            status = conn.getresponse().status
            conn.close()
            return status, time.monotonic() - started

        attack = [threading.Thread(target=post, args=("127.0.0.2", query.replace("{tag}", str(i)))) for i in range(4)]
        for thread in attack:
            thread.start()
        assert wait_until(lambda: len(busy_query_processes(server)) >= 2), "the attack did not start"
        answers = [post("127.0.0.1", f"ASK {{}} # normal {i} {time.time()}") for i in range(5)]
        for thread in attack:
            thread.join()
    assert all(status == 200 for status, _ in answers)
    assert max(took for _, took in answers) < 1.0, answers


def _thread_nices(pids: set[int]) -> dict[int, int]:
    """Nice value of every thread of the given processes (field 19 of /proc/<pid>/task/<tid>/stat)."""
    from pathlib import Path

    nices = {}
    for pid in pids:
        for task in Path(f"/proc/{pid}/task").iterdir():
            try:
                fields = (task / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            nices[int(task.name)] = int(fields[16])
    return nices


def test_a_long_request_runs_at_a_lower_priority_until_it_ends(seed_store_path):
    developer = "<https://w3id.org/jllm-kg/ontology#developer>"
    with LiveServer(seed_store_path, timeout=20, workers=2) as server:
        pids = query_processes(server)
        assert set(_thread_nices(pids).values()) == {0}
        values = " ".join(str(i) for i in range(4))
        long_query = f"SELECT (COUNT(*) AS ?n) WHERE {{ ?a ?b ?c . ?d {developer} ?f . VALUES ?x {{ {values} }} }}"
        done: list[int] = []
        worker = threading.Thread(target=lambda: done.append(http_post(server.port, long_query)))
        worker.start()
        deadline = time.monotonic() + 10
        demoted = False
        while time.monotonic() < deadline and not done:
            if NICE_LONG in _thread_nices(query_processes(server)).values():
                demoted = True
                break
            time.sleep(0.05)
        worker.join()  # the priority is restored before the reply goes out
        after = _thread_nices(query_processes(server))
    assert done == [200]
    assert demoted, "the thread running a long request was not given a lower priority"
    assert set(after.values()) == {0}  # restored (or the process replaced) once the request ended


def http_post(port: int, query: str) -> int:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    conn.request("POST", "/sparql", urlencode({"query": query}), {"Content-Type": "application/x-www-form-urlencoded"})
    status = conn.getresponse().status
    conn.close()
    return status


def _pool_request(query: str, client: str = "127.0.0.1:40000") -> tuple:
    return ("GET", "/sparql", urlencode({"query": query}), [("Accept", "application/sparql-results+json")], b"",
            "http", "127.0.0.1:80", client)


def test_a_request_queued_behind_one_killed_at_its_deadline_runs_again_elsewhere(seed_store_path):
    """Real query processes, no HTTP: a client's second request waits in the process running its first
    (pipelined); the first runs past its deadline and the process is killed. The first gets its
    503; the second, which never started, is run by another process and answers 200."""
    from server.config import load_config, memory_per_process
    from server.http.pool import Pool, Refusal

    config = load_config({"store_path": str(seed_store_path), "workers": 2})
    config = {k: (str(v) if k == "store_path" else v) for k, v in config.items()}
    slow = "SELECT (COUNT(*) AS ?n) WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i }"
    fast = "ASK { ?s ?p ?o }"

    async def scenario() -> tuple:
        pool = Pool(config, 2, memory_per_process(config))
        await pool.start()
        try:
            first = asyncio.create_task(pool.call(_pool_request(slow), timeout=1.5))
            await asyncio.sleep(0)
            second = asyncio.create_task(pool.call(_pool_request(fast), timeout=1.5))
            await asyncio.sleep(0)
            held = [process for process in pool._all if process.jobs]
            queued = [len(process.jobs) for process in held]
            try:
                await first
                refusal = None
            except Refusal as err:
                refusal = err
            reply = await second
            return queued, refusal, reply, pool.restarts
        finally:
            await pool.close()

    queued, refusal, reply, restarts = asyncio.run(scenario())
    assert queued == [2], queued  # both on one process (one client may hold one of the two)
    assert refusal is not None and refusal.status == 503 and "timed out after 1.5 s" in refusal.message
    status, headers, body, generation = reply
    assert status == 200 and b'"boolean":true' in body.replace(b" ", b""), body[:200]
    assert restarts == 1


def test_a_pipeline_depth_below_one_is_a_clear_error(monkeypatch):
    from graph.errors import UserError
    from server.config import load_config

    monkeypatch.setenv("JLLM_KG_PIPELINE", "0")
    with pytest.raises(UserError, match=r"^JLLM_KG_PIPELINE must be positive, not '0'$"):
        load_config()
    monkeypatch.delenv("JLLM_KG_PIPELINE")
    with pytest.raises(UserError, match=r"^JLLM_KG_PIPELINE must be at least 1"):
        load_config({"pipeline": 0})
    monkeypatch.setenv("JLLM_KG_PIPELINE", "1")
    assert load_config()["pipeline"] == 1
