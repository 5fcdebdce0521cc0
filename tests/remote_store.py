"""A real ``oxigraph serve`` on 127.0.0.1 (PyPI ``oxigraph``) for the tests of the remote backend."""
from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.live import free_port, stop_group

MISSING = "the `oxigraph` binary (PyPI package oxigraph, in the test extra) is not installed"


def oxigraph_binary() -> str | None:
    """The ``oxigraph`` command next to this interpreter, or on the PATH."""
    beside = Path(sys.executable).parent / "oxigraph"
    return str(beside) if beside.is_file() else shutil.which("oxigraph")


class OxigraphServer:
    """``with OxigraphServer() as ox: ox.url`` — a store in a temporary directory; :meth:`stop` and
    :meth:`start` again keep its data (the same location and port)."""

    def __init__(self, location: Path | None = None, read_only: bool = False) -> None:
        binary = oxigraph_binary()
        if binary is None:
            pytest.skip(MISSING)
        self.binary, self.read_only = binary, read_only
        self._tmp = None if location else tempfile.TemporaryDirectory(prefix="jllm-kg-oxigraph-")
        self.location = Path(location or self._tmp.name)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/"
        self.process: subprocess.Popen | None = None

    def start(self, wait: float = 30) -> "OxigraphServer":
        """Start ``oxigraph serve`` and wait until it answers a query."""
        command = "serve-read-only" if self.read_only else "serve"
        self.process = subprocess.Popen([self.binary, command, "--location", str(self.location),
                                         "--bind", f"127.0.0.1:{self.port}", "--timeout-s", "20"], stdout=subprocess.DEVNULL,
                                        stderr=subprocess.DEVNULL, start_new_session=True)
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"oxigraph serve exited with {self.process.returncode}")
            try:
                with urllib.request.urlopen(self.url + "query?query=ASK%7B%7D", timeout=2) as response:
                    if response.status == 200:
                        return self
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"oxigraph serve on port {self.port} not ready after {wait} s")

    def stop(self) -> None:
        """Stop the server (its data stays in :attr:`location`)."""
        if self.process is not None:
            stop_group(self.process, 10)
        self.process = None

    def __enter__(self) -> "OxigraphServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
        if self._tmp is not None:
            self._tmp.cleanup()


def publish_store(store_path: Path, url: str) -> str:
    """Load the built embedded store at ``store_path`` into the remote store at ``url`` (the same
    quads: answers compare byte for byte); returns the generation id."""
    from graph.store.client import Endpoints, HttpTransport
    from graph.store.generations import open_store
    from graph.store.publish import publish

    generation = Path(store_path).resolve().name
    transport = HttpTransport(Endpoints.of(url, env={}))
    try:
        publish(open_store(Path(store_path)), transport, url, generation, progress=lambda line: None)
    finally:
        transport.close()
    return generation
