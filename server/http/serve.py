"""``jllm-kg serve``: build the store if missing, then serve it with granian and the front.

granian (a Rust HTTP server) runs one worker process holding :class:`server.http.front.Front`,
which starts the query processes (:mod:`server.http.pool`). granian reads headers with a deadline
and keeps connections alive; the front reads bodies with a deadline and answers from its cache
or through a query process.
"""
from __future__ import annotations

import json
import os
import socket
from collections.abc import Callable
from pathlib import Path

from graph.errors import UserError
from graph.store.client import Endpoints, HttpTransport, StoreUnavailable, is_remote
from server.config import load_config, query_processes


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


def serve(store_path: Path, host: str = "127.0.0.1", port: int = 8000, workers: int | None = None,
          echo: Callable[[str], None] = print, timeout: float | None = None) -> None:
    """Serve ``/sparql`` and the pages on ``host:port`` until interrupted.

    ``workers`` query processes (default: 2 × cores + 2, :func:`server.config.default_workers`; one with an update token) run
    the requests the front could not answer from its cache, one at a time each.
    """
    from granian import Granian
    from granian.constants import Interfaces
    from granian.http import HTTP1Settings

    config = load_config({"store_path": store_path, "timeout": timeout, "workers": workers})
    check_address(host, port)
    if config["update_token"] and is_remote(config["store_path"]):
        raise UserError("SPARQL Update through jllm-kg is not available on a remote store (unset JLLM_KG_UPDATE_TOKEN): "
                        "update the store directly, or rebuild with `jllm-kg build --store URL`")
    ensure_store(config["store_path"], echo)
    # Absolute URLs (service description, sitemap, OpenAPI) never come from a client's Host header.
    public_url = config["public_url"] or f"http://{host if ':' not in host else f'[{host}]'}:{port}"
    os.environ["JLLM_KG_SERVE_CONFIG"] = json.dumps(
        {"store_path": str(config["store_path"]), "timeout": config["timeout"], "workers": config["workers"],
         "public_url": public_url})
    mode = "read-write (SPARQL Update enabled with a token)" if config["update_token"] else "read-only"
    echo(f"jllm-kg: SPARQL endpoint at http://{host}:{port}/sparql — store {config['store_path']} ({mode}), "
         f"{query_processes(config)} query processes, {config['timeout']:g} s timeout, "
         f"{config['memory_mb']} MB memory cap")
    Granian("server.http.front:create_front", factory=True, address=host, port=port, interface=Interfaces.RSGI,
            workers=1, runtime_threads=1, backlog=2048, respawn_failed_workers=True,
            http1_settings=HTTP1Settings(header_read_timeout=int(float(config["header_timeout"]) * 1000)),
            log_enabled=True, log_level="warning").serve()
