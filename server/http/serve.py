"""``jllm-kg serve``: build the store if missing, then serve it with granian and the front.

granian (a Rust HTTP server) runs ``workers`` worker processes on one listening socket, each holding
a :class:`server.http.front.Front` with its query lanes (:mod:`server.http.lanes`). granian reads
headers with a deadline and keeps connections alive; the front reads bodies with a deadline and
answers from its cache or through a lane. A worker that had to abandon a query retires and granian
starts a fresh one at once (:class:`_RespawnTimes`).
"""
from __future__ import annotations

import json
import os
import shutil
import socket
import tempfile
from collections.abc import Callable
from pathlib import Path

from graph.errors import UserError
from graph.store.client import Endpoints, HttpTransport, StoreUnavailable, is_remote
from server.config import load_config, worker_processes


def ensure_store(store_path: Path | str, echo: Callable[[str], None]) -> None:
    """Build the store from the shipped catalog when ``store_path`` does not exist yet (a remote
    store: when it holds no jllm-kg generation; unreachable, it is a one-line error)."""
    if is_remote(store_path):
        from graph.store.publish import build_remote, current_pointer

        transport = HttpTransport(Endpoints.of(str(store_path)), timeout=10.0)
        try:
            pointer = current_pointer(transport, str(store_path))
        except StoreUnavailable as err:
            raise UserError(str(err)) from None
        if pointer is None:
            echo(f"no jllm-kg graph in {store_path}: building it from the shipped catalog…")
            build_remote(str(store_path), echo=echo)
        return
    if Path(store_path).exists():
        if not (Path(store_path).resolve() / "CURRENT").is_file():
            raise UserError(f"{store_path} exists but is not an Oxigraph store; "
                            "point --store elsewhere or rebuild it with `jllm-kg build --store ...`")
        return
    from graph.build import build_store

    echo(f"no store at {store_path}: building it from the shipped catalog…")
    build_store(store_path=Path(store_path), echo=echo)


def check_address(host: str, port: int) -> None:
    """Fail early, in one line, when ``host:port`` cannot be bound (in use, or not a local address)."""
    if not 0 < port < 65536:
        raise UserError(f"--port must be between 1 and 65535, not {port}")
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as err:
        raise UserError(f"cannot resolve host {host!r}: {err.strerror}") from None
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address)
        except OSError as err:
            raise UserError(f"cannot listen on {host}:{port}: {err.strerror} (choose another --port)") from None


class _RespawnTimes(dict):
    """granian's record of when it last respawned each worker, with its crash-loop rule turned off.

    granian 2.8 stops the whole server when a worker exits again within 5.5 s of being respawned
    (``AbstractServer._serve_loop`` reads ``respawned_wrks.get(idx, 0)``). Our workers exit on purpose
    when they abandon a query (a timeout, the memory cap), and a client can make that happen twice in
    5.5 s: the server must then respawn the worker, not stop. Reading every time as 0 keeps the
    respawn and drops the rule (``tests/test_lanes.py`` checks it on a live server).
    """

    def get(self, key, default=None):  # noqa: ARG002 - the signature granian calls
        return 0.0


def check_sandbox() -> None:
    """Fail early, in one line, when the query lanes' seccomp filter cannot be installed here."""
    import threading

    from server.http.sandbox import SandboxError, deny_network

    failed: list[str] = []

    def probe() -> None:  # a filter holds for its own thread only: this one ends right after
        try:
            deny_network()
        except SandboxError as err:
            failed.append(str(err))

    thread = threading.Thread(target=probe, name="sandbox-probe")
    thread.start()
    thread.join()
    if failed:
        raise UserError(f"{failed[0]} (or set JLLM_KG_ALLOW_NETWORK=1 to serve without the kernel's network guard)")


def serve(store_path: Path, host: str = "127.0.0.1", port: int = 8000, workers: int | None = None,
          echo: Callable[[str], None] = print, timeout: float | None = None) -> None:
    """Serve ``/sparql`` and the pages on ``host:port`` until interrupted.

    ``workers`` worker processes (default: the number of cores; one with an update token), each with
    ``lanes`` query threads, run the requests the front could not answer from its cache.
    """
    from granian import Granian
    from granian.constants import Interfaces
    from granian.http import HTTP1Settings

    config = load_config({"store_path": store_path, "timeout": timeout, "workers": workers})
    check_address(host, port)
    if config["update_token"] and is_remote(config["store_path"]):
        raise UserError("SPARQL Update through jllm-kg is not available on a remote store (unset JLLM_KG_UPDATE_TOKEN): "
                        "update the store directly, or rebuild with `jllm-kg build --store URL`")
    if not config["allow_network"]:
        check_sandbox()
    ensure_store(config["store_path"], echo)
    # Absolute URLs (service description, sitemap, OpenAPI) never come from a client's Host header.
    public_url = config["public_url"] or f"http://{host if ':' not in host else f'[{host}]'}:{port}"
    turns = tempfile.mkdtemp(prefix="jllm-kg-serve-")  # the workers' retirement lock (server/http/front.py)
    os.environ["JLLM_KG_SERVE_CONFIG"] = json.dumps(
        {"store_path": str(config["store_path"]), "timeout": config["timeout"],
         "workers": worker_processes(config), "public_url": public_url,
         "retire_lock": os.path.join(turns, "retire.lock")})
    mode = "read-write (SPARQL Update enabled with a token)" if config["update_token"] else "read-only"
    echo(f"jllm-kg: SPARQL endpoint at http://{host}:{port}/sparql — store {config['store_path']} ({mode}), "
         f"{worker_processes(config)} workers × {config['lanes']} query lanes, {config['timeout']:g} s timeout, "
         f"{config['memory_mb']} MB memory cap")
    # Imported once here: granian forks its workers from this process, so a worker — and each fresh one
    # that replaces a retired worker — starts without importing them (0.2 s of CPU each, measured).
    import importlib

    for module in ("server.app", "server.http.front", "server.http.process"):
        importlib.import_module(module)

    front = Granian("server.http.front:create_front", factory=True, address=host, port=port,
                    interface=Interfaces.RSGI, workers=worker_processes(config), runtime_threads=1, backlog=2048,
                    respawn_failed_workers=True,
                    http1_settings=HTTP1Settings(header_read_timeout=int(float(config["header_timeout"]) * 1000)),
                    log_enabled=True, log_level="warning")
    front.respawned_wrks = _RespawnTimes()
    try:
        front.serve()
    finally:
        shutil.rmtree(turns, ignore_errors=True)
