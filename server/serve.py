"""``jllm-kg serve``: build the store if missing, then serve the app with gunicorn."""
from __future__ import annotations

import os
import socket
from collections.abc import Callable
from pathlib import Path

from gunicorn.app.base import BaseApplication

from graph.errors import UserError
from server.app import create_app
from server.config import load_config


class _Gunicorn(BaseApplication):
    """gunicorn running our factory: app created per worker process, after the fork."""

    def __init__(self, config: dict, options: dict) -> None:
        self.app_config = config
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self):
        return create_app(self.app_config)  # in each worker, after the fork (no preload)


def ensure_store(store_path: Path, echo: Callable[[str], None]) -> None:
    """Build the store from the shipped catalog when ``store_path`` does not exist yet."""
    if Path(store_path).exists():
        if not (Path(store_path).resolve() / "CURRENT").is_file():
            raise UserError(f"{store_path} exists but is not an Oxigraph store; "
                            "point --store elsewhere or rebuild it with `jllm-kg build --store ...`")
        return
    try:
        from graph.build import build_store
    except ImportError as err:
        raise UserError(f"no store at {store_path} and the graph builder is unavailable ({err}); "
                        "build one with `jllm-kg build --store ...`") from None
    echo(f"no store at {store_path}: building it from the shipped catalog…")
    build_store(store_path=Path(store_path), echo=echo)


def check_address(host: str, port: int) -> None:
    """Fail early, in one line, when ``host:port`` cannot be bound (in use, or not a local address)."""
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


def default_workers() -> int:
    """Worker processes when ``--workers`` is not given: ``$JLLM_KG_WORKERS``, else cores + 1."""
    raw = os.environ.get("JLLM_KG_WORKERS")
    if raw:
        try:
            return max(1, int(raw))
        except ValueError:
            raise UserError(f"JLLM_KG_WORKERS must be a whole number, not {raw!r}") from None
    return (os.cpu_count() or 1) + 1


def serve(store_path: Path, host: str = "127.0.0.1", port: int = 8000, workers: int | None = None,
          echo: Callable[[str], None] = print, timeout: float | None = None) -> None:
    """Serve ``/sparql`` and the other blueprints on ``host:port`` until interrupted.

    gunicorn runs ``workers`` sync worker processes (default: cores + 1); each serves one request
    at a time and runs its query in-process under a watchdog (:mod:`server.watchdog`) that answers
    503 and ends the process when the query passes the timeout or the memory cap; gunicorn
    starts a replacement. With an update token (``$JLLM_KG_UPDATE_TOKEN``) there is a single
    worker, holding the store read-write. As with any gunicorn sync set-up, put a buffering
    reverse proxy in front when slow clients on the open internet are a concern.
    """
    config = load_config({"store_path": store_path, "timeout": timeout, "execution": "inprocess"})
    check_address(host, port)
    ensure_store(config["store_path"], echo)
    processes = 1 if config["update_token"] else int(workers or default_workers())
    options = {
        "bind": f"{host}:{port}",
        "workers": processes,
        "worker_class": "sync",
        "timeout": max(30, int(float(config["timeout"]) * 3)),  # the watchdog acts first
        "graceful_timeout": 10,
        "limit_request_line": 8190,  # long GET queries
        "accesslog": None,
        "errorlog": "-",
        "loglevel": "error",  # the watchdog's exits are expected; gunicorn would log each as a warning
        "proc_name": "jllm-kg",
    }
    if os.path.isdir("/dev/shm"):
        # gunicorn touches a heartbeat file on every loop; its docs recommend a tmpfs for it.
        options["worker_tmp_dir"] = "/dev/shm"
    mode = "read-write (SPARQL Update enabled with a token)" if config["update_token"] else "read-only"
    echo(f"jllm-kg: SPARQL endpoint at http://{host}:{port}/sparql — store {config['store_path']} ({mode}), "
         f"{processes} worker processes, {config['timeout']:g} s timeout")
    _Gunicorn({k: config[k] for k in config}, options).run()
