"""Server configuration: defaults, overridden by environment variables, overridden by ``create_app(config)``.

| key | env | default |
|---|---|---|
| ``store_path`` | ``JLLM_KG_STORE`` | ``~/.local/share/jllm-kg/store`` |
| ``timeout`` (seconds per query) | ``JLLM_KG_QUERY_TIMEOUT`` | 10 |
| ``max_result_bytes`` | ``JLLM_KG_MAX_RESULT_BYTES`` | 50 000 000 |
| ``query_workers`` (query processes of the pool used outside ``jllm-kg serve``) | ``JLLM_KG_QUERY_WORKERS`` | 2 |
| ``worker_memory_mb`` (memory cap per process running queries) | ``JLLM_KG_WORKER_MEMORY_MB`` | 4096 |
| ``execution`` (``inprocess`` under ``jllm-kg serve``, else ``pool``) | — | ``pool`` |

``jllm-kg serve`` itself takes ``--workers`` (``$JLLM_KG_WORKERS``, default cores + 1).
| ``update_token`` (enables SPARQL Update) | ``JLLM_KG_UPDATE_TOKEN`` | none: read-only |
| ``allow_network`` (SERVICE and LOAD) | ``JLLM_KG_ALLOW_NETWORK`` (``1``) | off |
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from graph.errors import UserError
from graph.settings import default_store_path


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


def load_config(overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """The effective configuration (see the module table)."""
    config: dict[str, Any] = {
        "store_path": default_store_path(),
        "timeout": _number("JLLM_KG_QUERY_TIMEOUT", 10.0),
        "max_result_bytes": int(_number("JLLM_KG_MAX_RESULT_BYTES", 50_000_000, int)),
        "query_workers": int(_number("JLLM_KG_QUERY_WORKERS", 2, int)),
        "worker_memory_mb": int(_number("JLLM_KG_WORKER_MEMORY_MB", 4096, int)),
        "update_token": os.environ.get("JLLM_KG_UPDATE_TOKEN") or None,
        "allow_network": os.environ.get("JLLM_KG_ALLOW_NETWORK", "") in ("1", "true", "yes"),
    }
    config.update({k: v for k, v in (overrides or {}).items() if v is not None})
    config["store_path"] = Path(config["store_path"])
    if float(config["timeout"]) <= 0:
        raise UserError("the query timeout must be positive")
    return config
