"""Absolute URLs of this service: from the configured public URL, never from a forged ``Host``."""
from __future__ import annotations

from flask import current_app, request


def public_root() -> str:
    """``$JLLM_KG_PUBLIC_URL`` when the operator set it, else the request's own root (no trailing ``/``)."""
    return current_app.config.get("PUBLIC_URL") or request.host_url.rstrip("/")


def public_url(path: str) -> str:
    """The absolute URL of ``path`` (which starts with ``/``) on this service."""
    return public_root() + path
