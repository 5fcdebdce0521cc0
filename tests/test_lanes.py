"""A worker's query lanes: fair hand-out across clients, deadlines, the per-lane kernel filter, and
the same on a real server (a worker that abandons queries is replaced, however often)."""
from __future__ import annotations

import asyncio
import http.client
import threading
import time
from urllib.parse import urlencode

import pytest

from server.http.lanes import FairQueue, Lanes, Refusal
from tests.live import LiveServer, busy_query_lanes, wait_until, worker_processes


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
        for _ in range(4):  # free lanes come back one by one; nobody finishes meanwhile
            queue.put(object())
            await asyncio.sleep(0)
        await asyncio.gather(*tasks)
        return served

    assert asyncio.run(scenario()) == ["a0", "b0", "a1", "a2"]


def test_a_timed_out_waiter_does_not_swallow_a_lane():
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
    """With one worker, a client that queued four slow queries does not make another client (another
    source address) wait for all of them."""
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
        assert wait_until(lambda: busy_query_lanes(server)), "the flood did not start"  # it holds a lane
        status, waited = post(server.port, f"ASK {{}} # other client {time.time()}", "127.0.0.2")
        for thread in threads:
            thread.join()
    assert status == 200 and all(s == 200 for s, _ in flood)
    slowest = max(t for _, t in flood)
    assert waited < slowest - 0.5, (waited, sorted(t for _, t in flood))  # served before the flood's backlog


def test_one_client_never_holds_the_last_lane():
    async def scenario() -> tuple[bool, bool]:
        queue = FairQueue(cap=2)
        for _ in range(3):
            queue.put(object())
        for _ in range(2):
            await queue.get("10.0.0.1", timeout=1)
        try:  # a third request of the same client waits, although a lane is idle …
            await queue.get("10.0.0.1", timeout=0.05)
            held_back = False
        except asyncio.TimeoutError:
            held_back = True
        other = await queue.get("10.0.0.2", timeout=0.05)  # … which another client gets at once
        return held_back, other is not None

    assert asyncio.run(scenario()) == (True, True)


def test_another_client_is_answered_at_once_while_one_saturates_the_lanes(seed_store_path):
    """A client keeps every lane it may have busy with queries running to the timeout; a query from
    another address is answered at once, from the lane each worker keeps for the others."""
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
        assert wait_until(lambda: len(busy_query_lanes(server)) >= 2), "the attack did not start"
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
        pids = worker_processes(server)
        assert set(_thread_nices(pids).values()) == {0}
        values = " ".join(str(i) for i in range(4))
        long_query = f"SELECT (COUNT(*) AS ?n) WHERE {{ ?a ?b ?c . ?d {developer} ?f . VALUES ?x {{ {values} }} }}"
        done: list[int] = []
        worker = threading.Thread(target=lambda: done.append(http_post(server.port, long_query)))
        worker.start()
        deadline = time.monotonic() + 10
        demoted = False
        while time.monotonic() < deadline and not done:
            if 10 in _thread_nices(worker_processes(server)).values():
                demoted = True
                break
            time.sleep(0.05)
        worker.join()  # the priority is restored before the reply goes out
        after = _thread_nices(worker_processes(server))
    assert done == [200]
    assert demoted, "the thread running a long request was not given a lower priority"
    assert set(after.values()) == {0}  # restored (or the lane replaced) once the request ended


def http_post(port: int, query: str) -> int:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    conn.request("POST", "/sparql", urlencode({"query": query}), {"Content-Type": "application/x-www-form-urlencoded"})
    status = conn.getresponse().status
    conn.close()
    return status


# lanes in process -------------------------------------------------------------------------------------
def _request(client: str, text: str) -> tuple:
    return ("POST", "/sparql", "", [], text.encode(), "http", "127.0.0.1:8000", f"{client}:5000")


def _reply(request: tuple) -> tuple:
    """A stand-in answer: sleeps as many seconds as the body says, or tries to open an inet socket."""
    import socket

    if request[4] == b"connect":
        try:
            socket.socket(socket.AF_INET, socket.SOCK_STREAM).close()
        except PermissionError:
            return 403, [], b"denied", "g"
        return 200, [], b"connected", "g"
    time.sleep(float(request[4]))
    return 200, [], request[4], "g"


def test_a_lane_runs_under_its_own_network_filter_and_the_front_does_not():
    import socket

    async def scenario() -> tuple:
        lanes = Lanes(_reply, 2, 0, allow_network=False, retire=lambda reason: None)
        await lanes.start()
        answer = await lanes.call(_request("10.0.0.1", "connect"), timeout=5)
        await lanes.close()
        return answer

    assert asyncio.run(scenario())[:3] == (403, [], b"denied")
    socket.socket(socket.AF_INET, socket.SOCK_STREAM).close()  # this thread has no filter


def test_a_request_past_its_deadline_is_refused_at_once_and_retires_the_worker_once():
    async def scenario() -> tuple:
        retired: list[str] = []
        lanes = Lanes(_reply, 2, 0, allow_network=True, retire=retired.append)
        await lanes.start()
        started = time.monotonic()
        running = asyncio.create_task(lanes.call(_request("10.0.0.2", "0.6"), timeout=5))
        with pytest.raises(Refusal) as refused:
            await lanes.call(_request("10.0.0.1", "3"), timeout=0.2)
        took = time.monotonic() - started
        # a new lane took the abandoned one's place: the worker serves on while it retires
        after = await lanes.call(_request("10.0.0.1", "0"), timeout=1, queue_timeout=0.5)
        other = await running  # the request on the other lane finishes normally
        await lanes.close()
        return refused.value, took, after, other, retired, lanes.lanes()

    refused, took, after, other, retired, live = asyncio.run(scenario())
    assert refused.status == 503 and "timed out after 0.2 s" in refused.message
    assert took < 1.0  # answered at the deadline, not when the sleep ends
    assert after[:3] == (200, [], b"0") and other[:3] == (200, [], b"0.6")
    assert retired == ["timeout"] and live == 2


def test_without_replacement_the_waiters_are_told_the_worker_restarts():
    async def scenario() -> list:
        lanes = Lanes(_reply, 1, 0, allow_network=True, retire=lambda reason: None, replace=False)
        await lanes.start()
        calls = [asyncio.create_task(lanes.call(_request("10.0.0.1", "2"), timeout=0.2, queue_timeout=5)),
                 asyncio.create_task(lanes.call(_request("10.0.0.2", "0"), timeout=1, queue_timeout=5))]
        outcomes = await asyncio.gather(*calls, return_exceptions=True)
        after = await asyncio.gather(lanes.call(_request("10.0.0.3", "0"), timeout=1), return_exceptions=True)
        return outcomes + after

    timed_out, waiter, later = asyncio.run(scenario())
    assert isinstance(timed_out, Refusal) and "timed out" in timed_out.message
    assert isinstance(waiter, Refusal) and "restarting" in waiter.message
    assert isinstance(later, Refusal) and "restarting" in later.message


def test_past_the_memory_cap_every_running_request_is_refused_and_no_lane_replaces_them():
    async def scenario() -> tuple:
        retired: list[str] = []
        lanes = Lanes(_reply, 2, 1, allow_network=True, retire=retired.append)  # 1 byte: always past the cap
        await lanes.start()
        outcome = await asyncio.gather(lanes.call(_request("10.0.0.1", "2"), timeout=5),
                                       lanes.call(_request("10.0.0.2", "2"), timeout=5), return_exceptions=True)
        return outcome, retired, lanes.lanes()

    outcome, retired, live = asyncio.run(scenario())
    assert all(isinstance(o, Refusal) and "out of memory" in o.message for o in outcome)
    assert retired == ["memory", "memory"] and live == 0  # one call per abandoned lane


def test_a_worker_that_abandons_queries_twice_within_seconds_is_respawned_both_times(seed_store_path):
    """granian stops the whole server when a worker exits again within 5.5 s of its respawn; ours
    respawns it (server/http/serve.py: _RespawnTimes)."""
    import requests

    explosive = "SELECT (COUNT(*) AS ?n) WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i } # "

    def post(text: str):
        deadline = time.monotonic() + 10
        while True:  # one worker: no listening socket for ~10 ms while it is replaced (connection refused)
            try:
                return requests.post(server.url, data={"query": text}, timeout=30)
            except requests.ConnectionError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def replaced(previous: set[int]) -> set[int]:
        """The worker that replaced ``previous`` (once the old one is gone and the new one has its lanes)."""
        found: list[set[int]] = []

        def check() -> bool:
            current = worker_processes(server)
            if current and not current & previous:
                found.append(current)
                return True
            return False

        assert wait_until(check, 20), "the worker was not replaced"
        return found[0]

    with LiveServer(seed_store_path, timeout=1, workers=1) as server:
        pids = [worker_processes(server)]
        for i in range(2):
            response = post(explosive + str(i))
            assert response.status_code == 503 and "timed out after 1 s" in response.json()["error"]
            pids.append(replaced(pids[-1]))
            if i == 0:
                respawned = time.monotonic()
        # the second worker retired (1 s query + 2 s of answers with Connection: close) within
        # granian's 5.5 s crash-loop window after its start, and was replaced all the same
        assert time.monotonic() - respawned < 5.5 + 3
        assert post(f"ASK {{}} # after {time.time()}").status_code == 200
        assert server.process.poll() is None
        assert len({frozenset(p) for p in pids}) == 3 and all(len(p) == 1 for p in pids)



def test_a_stopping_worker_sends_its_waiting_requests_elsewhere_and_finishes_the_running_one():
    async def scenario() -> tuple:
        lanes = Lanes(_reply, 1, 0, allow_network=True, retire=lambda reason: None)
        await lanes.start()
        running = asyncio.create_task(lanes.call(_request("10.0.0.1", "0.3"), timeout=5))
        waiting = asyncio.create_task(lanes.call(_request("10.0.0.2", "0"), timeout=5))
        await asyncio.sleep(0.05)
        lanes.stop_taking()
        later = await asyncio.gather(lanes.call(_request("10.0.0.3", "0"), timeout=1), return_exceptions=True)
        return await running, await asyncio.gather(waiting, return_exceptions=True), later

    running, (waiting,), (later,) = asyncio.run(scenario())
    assert running[:3] == (200, [], b"0.3")
    assert isinstance(waiting, Refusal) and waiting.status == 503 and "try again" in waiting.message
    assert isinstance(later, Refusal) and "restarting" in later.message
