"""The front's query-process pool: fair hand-out across clients, and the same on a real server."""
from __future__ import annotations

import asyncio
import http.client
import threading
import time
from urllib.parse import urlencode

from server.http.pool import NICE_LONG, FairQueue
from tests.live import LiveServer, busy_query_processes, query_processes, wait_until


def test_a_client_with_fewer_running_requests_goes_first():
    async def scenario() -> list[str]:
        queue, served = FairQueue(), []

        async def request(client: str, name: str) -> None:
            await queue.get(client, timeout=5)
            served.append(name)

        tasks = [asyncio.create_task(request("10.0.0.1", f"a{i}")) for i in range(3)]
        await asyncio.sleep(0)
        tasks.append(asyncio.create_task(request("10.0.0.2", "b0")))
        await asyncio.sleep(0)
        for _ in range(4):  # free processes come back one by one; nobody finishes meanwhile
            queue.put(object())
            await asyncio.sleep(0)
        await asyncio.gather(*tasks)
        return served

    assert asyncio.run(scenario()) == ["a0", "b0", "a1", "a2"]


def test_a_timed_out_waiter_does_not_swallow_a_process():
    async def scenario() -> bool:
        queue = FairQueue()
        try:
            await queue.get("10.0.0.1", timeout=0.01)
        except asyncio.TimeoutError:
            pass
        process = object()
        queue.put(process)
        return await queue.get("10.0.0.2", timeout=1) is process

    assert asyncio.run(scenario())


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
        queue = FairQueue(cap=2)
        for _ in range(3):
            queue.put(object())
        for _ in range(2):
            await queue.get("10.0.0.1", timeout=1)
        try:  # a third request of the same client waits, although a process is idle …
            await queue.get("10.0.0.1", timeout=0.05)
            held_back = False
        except asyncio.TimeoutError:
            held_back = True
        other = await queue.get("10.0.0.2", timeout=0.05)  # … which another client gets at once
        return held_back, other is not None

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
