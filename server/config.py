"""Server configuration: defaults, overridden by environment variables, overridden by ``create_app(config)``.

| key | env | default |
|---|---|---|
| ``store_path`` (a path, or the ``http(s)://`` URL of a SPARQL 1.1 store: see ``docs/deploy.md``) | ``JLLM_KG_STORE`` | ``~/.local/share/jllm-kg/store`` |
| ``pointer_ttl`` (a remote store's generation pointer is re-read after this many seconds) | ``JLLM_KG_POINTER_TTL`` | 1 |
| ``timeout`` (seconds a request may run) | ``JLLM_KG_QUERY_TIMEOUT`` | 10 |
| ``max_result_bytes`` | ``JLLM_KG_MAX_RESULT_BYTES`` | 50 000 000 |
| ``max_request_bytes`` (largest request body) | ``JLLM_KG_MAX_REQUEST_BYTES`` | 16 MiB |
| ``workers`` (query processes of ``jllm-kg serve``; one client may use all but one of them) | ``JLLM_KG_WORKERS`` | 2 × cores + 2 |
| ``pipeline`` (requests one query process may hold: the running one and those queued behind it; 1 = no pipelining) | ``JLLM_KG_PIPELINE`` | 2 |
| ``memory_mb`` (memory cap of the whole service, shared by its query processes) | ``JLLM_KG_MEMORY_MB`` | half the machine's RAM |
| ``cache_mb`` (response cache of the front) | ``JLLM_KG_CACHE_MB`` | 256 |
| ``max_age`` (``Cache-Control: max-age`` of cacheable answers, seconds) | ``JLLM_KG_MAX_AGE`` | 300 |
| ``queue_timeout`` (how long a request may wait for a free query process before ``503``) | ``JLLM_KG_QUEUE_TIMEOUT`` | 30 |
| ``header_timeout`` / ``body_timeout`` (reading a request, seconds) | ``JLLM_KG_HEADER_TIMEOUT`` / ``JLLM_KG_BODY_TIMEOUT`` | 5 / 10 |
| ``access_log`` (``-`` = stderr, a file path, or ``off``) | ``JLLM_KG_ACCESS_LOG`` | ``-`` |
| ``public_url`` (absolute URLs in pages and descriptions; else from the request) | ``JLLM_KG_PUBLIC_URL`` | none |
| ``update_token`` (enables SPARQL Update) | ``JLLM_KG_UPDATE_TOKEN`` | none: read-only |
| ``allow_network`` (SERVICE and LOAD) | ``JLLM_KG_ALLOW_NETWORK`` (``1``) | off |
| ``text_guard`` (refuse SERVICE/LOAD by their text, before the kernel would) | ``JLLM_KG_TEXT_GUARD`` (``0`` turns it off, for tests of the kernel layer) | on |
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from graph.errors import UserError
from graph.settings import default_store_path
from graph.store.client import is_remote


def _number(env: str, default: float, kind: type = float) -> float:
    raw = os.environ.get(env)
    if raw in (None, ""):
        return default
    try:
        value = kind(raw)
    except ValueError:
        raise UserError(f"{env} must be a number, not {raw!r}") from None
    if value <= 0:
        raise UserError(f"{env} must be positive, not {raw!r}")
    return value


def default_workers() -> int:
    """Query processes by default: 2 × cores + 2, so that one client (who may hold all but one) keeps
    2 × cores + 1 of them.

    One client's short queries keep about as many processes as cores busy: a process reads the
    client's next request while the front is still reading its reply (pipelining,
    :mod:`server.http.pool`), and more running processes than cores would preempt each other
    mid-query (CPU per query up 6-23 % with 6 processes looping on 2 cores against 2). The other
    processes are for other clients and for long queries, which run at a lower priority beside
    the short ones. Each idle process costs about 53 MB.
    """
    return 2 * (os.cpu_count() or 1) + 2


def machine_memory_mb() -> int:
    """The machine's RAM in MB (``/proc/meminfo``), or 4096 if it cannot be read."""
    try:
        with open("/proc/meminfo") as meminfo:
            for line in meminfo:
                if line.startswith("MemTotal:"):
                    return int(line.split()[1]) // 1024
    except (OSError, ValueError, IndexError):
        pass
    return 4096


def _flag(env: str, default: bool) -> bool:
    raw = os.environ.get(env, "").strip().lower()
    if not raw:
        return default
    return raw in ("1", "true", "yes", "on")


def load_config(overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """The effective configuration (see the module table)."""
    config: dict[str, Any] = {
        "store_path": default_store_path(),
        "timeout": _number("JLLM_KG_QUERY_TIMEOUT", 10.0),
        "max_result_bytes": int(_number("JLLM_KG_MAX_RESULT_BYTES", 50_000_000, int)),
        "max_request_bytes": int(_number("JLLM_KG_MAX_REQUEST_BYTES", 16 * 1024 * 1024, int)),
        "workers": int(_number("JLLM_KG_WORKERS", default_workers(), int)),
        "pipeline": int(_number("JLLM_KG_PIPELINE", 2, int)),
        "memory_mb": int(_number("JLLM_KG_MEMORY_MB", machine_memory_mb() // 2, int)),
        "cache_mb": int(_number("JLLM_KG_CACHE_MB", 256, int)),
        "max_age": int(_number("JLLM_KG_MAX_AGE", 300, int)),
        "queue_timeout": _number("JLLM_KG_QUEUE_TIMEOUT", 30.0),
        "header_timeout": _number("JLLM_KG_HEADER_TIMEOUT", 5.0),
        "body_timeout": _number("JLLM_KG_BODY_TIMEOUT", 10.0),
        "access_log": os.environ.get("JLLM_KG_ACCESS_LOG", "-"),
        "public_url": (os.environ.get("JLLM_KG_PUBLIC_URL") or "").rstrip("/") or None,
        "update_token": os.environ.get("JLLM_KG_UPDATE_TOKEN") or None,
        "allow_network": _flag("JLLM_KG_ALLOW_NETWORK", False),
        "text_guard": _flag("JLLM_KG_TEXT_GUARD", True),
        "pointer_ttl": _number("JLLM_KG_POINTER_TTL", 1.0),
        "store_relay": None,  # set by the front for its query processes (server/http/relay.py)
    }
    config.update({k: v for k, v in (overrides or {}).items() if v is not None})
    if not is_remote(config["store_path"]):
        config["store_path"] = Path(config["store_path"])
    if float(config["timeout"]) <= 0:
        raise UserError("the query timeout must be positive")
    if int(config["pipeline"]) < 1:
        raise UserError("JLLM_KG_PIPELINE must be at least 1 (1: a query process holds one request at a time)")
    return config


def query_processes(config: dict[str, Any]) -> int:
    """How many query processes serve: one when updates are enabled (RocksDB has a single writer)."""
    return 1 if config["update_token"] else max(1, int(config["workers"]))


def memory_per_process(config: dict[str, Any]) -> int:
    """Each query process's share of the service's memory cap, in bytes."""
    return int(config["memory_mb"]) * 1024 * 1024 // query_processes(config)
