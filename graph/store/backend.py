"""One store interface, two backends: the embedded on-disk Oxigraph store, or any SPARQL 1.1 store over HTTP.

A backend answers three calls (:class:`Backend`): the id of the generation readers see now, the
store of that generation — read with pyoxigraph's ``Store`` reading API (``query``,
``quads_for_pattern``, ``named_graphs``, ``len``) whichever backend holds it — and when it was
built. ``--store PATH`` selects :class:`~graph.store.embedded.EmbeddedBackend`, ``--store
http://host:7878/`` :class:`~graph.store.remote.RemoteBackend`; loading is the build's
(:mod:`graph.build` into a generation directory, then :mod:`graph.store.publish` for a remote store).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol

from graph.errors import UserError
from graph.store.client import Endpoints, HttpTransport, StoreUnavailable, Transport, is_remote


class Backend(Protocol):
    """What readers (the server, ``query``, ``export``, ``validate``) need from a store."""

    def generation(self) -> str: ...
    def target(self) -> str: ...
    def built(self) -> str: ...
    def store(self) -> Any: ...


def open_backend(location: str | Path, *, writable: bool = False, transport: Transport | None = None,
                 timeout: float = 30.0) -> Backend:
    """The backend a ``--store`` value names (a path, or an ``http(s)://`` URL of a SPARQL store)."""
    if is_remote(location):
        from graph.store.remote import RemoteBackend

        if writable:
            raise UserError("SPARQL Update through jllm-kg is not available on a remote store: "
                            "update the store directly, or rebuild with `jllm-kg build --store URL`")
        return RemoteBackend(transport or HttpTransport(Endpoints.of(str(location)), timeout=timeout), str(location))
    from graph.store.embedded import EmbeddedBackend

    return EmbeddedBackend(location, writable=writable)


def open_reader(location: str | Path) -> Any:
    """The current generation of the store at ``location``, for the CLI (errors as :class:`UserError`)."""
    if not is_remote(location):
        from graph.store.generations import open_store

        return open_store(Path(location))
    try:
        return open_backend(location).store()
    except StoreUnavailable as err:
        raise UserError(str(err)) from None
