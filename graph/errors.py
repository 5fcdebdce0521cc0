"""Errors a user can act on. The CLI prints them on one line, without a traceback."""
from __future__ import annotations


class UserError(Exception):
    """An error caused by input or configuration, with a message naming what to fix."""


class SourceError(UserError):
    """An error located in an input file: ``file:line: message``."""

    def __init__(self, file: str, line: int | None, message: str) -> None:
        self.file = str(file)
        self.line = line
        self.message = message
        where = f"{self.file}:{line}" if line else self.file
        super().__init__(f"{where}: {message}")
