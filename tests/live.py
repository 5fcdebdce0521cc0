"""A live ``jllm-kg serve`` process on 127.0.0.1 and a free port (for tests and the benchmark)."""
from __future__ import annotations

import collections
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def stop_group(process: subprocess.Popen, grace: float) -> None:
    """End ``process`` and its process group: SIGTERM, then SIGKILL after ``grace`` seconds."""
    if process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


class LiveServer:
    """``with LiveServer(store) as server: server.url`` — the real endpoint (granian + the front + query processes)."""

    def __init__(self, store_path: Path | str, *, timeout: float | None = None, workers: int | None = None,
                 env: dict[str, str] | None = None, startup: float = 60, pipe_output: bool = False) -> None:
        self.store_path = store_path if str(store_path).startswith("http") else Path(store_path)  # a path, or a remote store's URL
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.url = self.base + "/sparql"
        self.timeout, self.workers, self.startup = timeout, workers, startup
        self.env = {**os.environ, **(env or {})}
        self.process: subprocess.Popen | None = None
        self.pipe_output = pipe_output  # output into a pipe the caller reads (or, in a test, never reads)

    def start(self) -> "LiveServer":
        """Start the server and wait until ``/sparql`` answers a query."""
        args = [sys.executable, "-m", "jllm_kg.cli", "serve", "--store", str(self.store_path),
                "--host", "127.0.0.1", "--port", str(self.port)]
        if self.workers:
            args += ["--workers", str(self.workers)]
        if self.timeout:
            args += ["--timeout", str(self.timeout)]
        # The server's output (access log included) goes to a file: a pipe nobody drains would fill
        # up and block the server's writes.
        self.output = tempfile.TemporaryFile()
        sink = subprocess.PIPE if self.pipe_output else self.output
        self.process = subprocess.Popen(args, env=self.env, stdout=sink, stderr=subprocess.STDOUT,
                                        start_new_session=True)
        deadline = time.monotonic() + self.startup
        probe = self.url + "?query=ASK%7B%7D"
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                output = self.log()
                raise RuntimeError(f"server exited with {self.process.returncode}:\n{output}")
            try:
                with urllib.request.urlopen(probe, timeout=5) as response:
                    if response.status == 200:
                        return self
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"server on port {self.port} not ready after {self.startup} s")

    def log(self) -> str:
        """What the server has printed so far."""
        self.output.seek(0)
        return self.output.read().decode(errors="replace")

    def stop(self) -> None:
        """Stop the server, its front and its query processes (the whole process group this server started)."""
        if self.process:
            stop_group(self.process, 15)
        if getattr(self, "output", None) is not None:
            self.output.close()
            self.output = None

    def __enter__(self) -> "LiveServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def process_tree(root: int) -> list[int]:
    """``root`` and all its descendants (from /proc)."""
    children: dict[int, list[int]] = collections.defaultdict(list)
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                ppid = int(Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children[ppid].append(int(entry))
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo.extend(children.get(pid, []))
    return out


def query_processes(server: LiveServer) -> set[int]:
    """PIDs of the server's query processes (started with ``server.http.process``)."""
    pids = set()
    for pid in process_tree(server.process.pid) if server.process else []:
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        if b"server.http.process import main" in cmdline:
            pids.add(pid)
    return pids


def wait_until(condition, timeout: float = 15, interval: float = 0.02) -> bool:
    """Poll ``condition()`` until it is true (True) or ``timeout`` seconds have passed (False)."""
    deadline = time.monotonic() + timeout
    while True:
        if condition():
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(interval)


def busy_query_processes(server: LiveServer) -> set[int]:
    """Query processes with a thread running or runnable now (an idle one waits for the front in ``recv``)."""
    busy = set()
    for pid in query_processes(server):
        try:
            tasks = os.listdir(f"/proc/{pid}/task")
        except OSError:
            continue
        for tid in tasks:
            try:
                state = Path(f"/proc/{pid}/task/{tid}/stat").read_text().rsplit(")", 1)[1].split()[0]
            except (OSError, IndexError):
                continue
            if state == "R":
                busy.add(pid)
                break
    return busy


def established_connections(port: int) -> int:
    """Established TCP connections to 127.0.0.1:``port`` (the server's side, from /proc/net/tcp)."""
    count = 0
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local, state = fields[1], fields[3]
        if state == "01" and local == f"0100007F:{port:04X}":
            count += 1
    return count


class Listener(threading.Thread):
    """A TCP listener on 127.0.0.1 that counts the connections made to it (a SERVICE/LOAD target)."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port, self.connections = self.sock.getsockname()[1], 0
        self.peers: list[tuple[str, int]] = []  # in the order accepted
        self.sentinels: set[tuple[str, int]] = set()  # this object's own connections

    def connections_before_now(self) -> int:
        """The connections made before this call, once the listener has counted them all: it makes
        one connection of its own and waits until that one is counted (accepts are in order)."""
        with socket.create_connection(("127.0.0.1", self.port), timeout=5) as sentinel:
            mine = sentinel.getsockname()
        self.sentinels.add(mine)
        assert wait_until(lambda: mine in self.peers), "the listener stopped accepting"
        return sum(peer not in self.sentinels for peer in self.peers[:self.peers.index(mine)])

    def run(self) -> None:
        while True:
            try:
                conn, peer = self.sock.accept()
            except OSError:
                return
            self.peers.append(peer)
            self.connections += 1
            conn.close()
