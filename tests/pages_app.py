"""The app under test for the page and resource tests."""
from __future__ import annotations

from pathlib import Path

from flask import Flask

from server.app import create_app


def make_app(store_path: Path) -> Flask:
    """The project's app factory on ``store_path``."""
    return create_app({"STORE_PATH": str(store_path), "TESTING": True})
