"""The front's cache across rebuilds: a rebuild under load serves the new generation, never a stale answer."""
from __future__ import annotations

import threading
import time

import requests

from graph.build import build_store
from tests.conftest import FIXTURES_DIR
from tests.live import LiveServer, wait_until

COUNT = "SELECT (COUNT(DISTINCT ?m) AS ?n) WHERE { ?m a <https://w3id.org/jllm-kg/ontology#ModelFamily> }"


def families(response: requests.Response) -> int:
    return int(response.json()["results"]["bindings"][0]["n"]["value"])


def test_rebuild_under_load_serves_the_new_generation(tmp_path):
    store = tmp_path / "store"
    build_store(store_path=store, echo=lambda *a, **k: None)  # the shipped catalog
    with LiveServer(store, workers=2) as live:
        old = families(requests.post(live.url, data={"query": COUNT}, timeout=10))
        assert families(requests.get(live.url, params={"query": COUNT}, timeout=10)) == old  # now cached
        results: list[tuple[float, int, int]] = []  # (started, status, count)
        stop = threading.Event()

        def client() -> None:
            with requests.Session() as session:
                while not stop.is_set():
                    started = time.monotonic()
                    response = session.post(live.url, data={"query": COUNT}, timeout=30)
                    results.append((started, response.status_code,
                                    families(response) if response.status_code == 200 else -1))

        threads = [threading.Thread(target=client) for _ in range(4)]
        for thread in threads:
            thread.start()
        assert wait_until(lambda: len(results) >= 8), "the clients got no answers"
        build_store(catalog_dir=FIXTURES_DIR / "catalog", store_path=store, echo=lambda *a, **k: None)
        swapped = time.monotonic()
        assert wait_until(lambda: sum(started > swapped for started, _, _ in list(results)) >= 8), "no answers after the swap"
        stop.set()
        for thread in threads:
            thread.join()
        new = families(requests.get(live.url, params={"query": COUNT}, timeout=10))
    assert new != old and new > 0
    assert results and all(status == 200 for _, status, _ in results)
    after = [count for started, _, count in results if started > swapped]
    assert after and set(after) == {new}  # nothing stale once the swap is done
    assert {count for _, _, count in results} <= {old, new}
