"""Jobs and their execution: :func:`run_job` runs one query (evaluation and serialization) on a Store.

pyoxigraph has no cancellation, and its lazy results must be consumed in the thread that made
them, so a job runs whole, in the thread of the request that asked for it. Under ``jllm-kg
serve`` that thread lives in a query process (:mod:`server.http.process`) that the front ends at
the deadline or the memory cap.
"""
from __future__ import annotations

import io
import re
from dataclasses import dataclass, field

from pyoxigraph import NamedNode, QueryBoolean, QuerySolutions, Store

from graph.formats import by_name
from graph.store.client import StoreUnavailable
from graph.store.remote import NoGraph


#: The answer when the kernel refused a connection the engine tried to open (SERVICE, LOAD).
NETWORK_DENIED = ("the query tried to open a network connection (SERVICE or LOAD), which this endpoint "
                  "forbids; the operator can allow it with JLLM_KG_ALLOW_NETWORK=1 ({err})")


@dataclass(frozen=True)
class Job:
    """One unit of work for a worker: a query (or update, or stats) and how to answer it."""

    kind: str  # "query" | "update" | "stats"
    text: str = ""
    base_iri: str | None = None
    union_default_graph: bool = True
    default_graphs: tuple[str, ...] | None = None
    named_graphs: tuple[str, ...] | None = None
    results_format: str | None = None  # format name for SELECT/ASK, None if not acceptable
    graph_format: str | None = None  # format name for CONSTRUCT/DESCRIBE, None if not acceptable
    max_bytes: int = 50_000_000
    substitutions: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Outcome:
    """A worker's answer: status, media type and body, or an error message."""

    status: int
    body: bytes = b""
    format: str | None = None
    error: str | None = None
    data: dict | None = None


def syntax_message(err: Exception) -> str:
    """A readable one-line parser message: ``line L, column C: expected …`` (long lists shortened)."""
    text = " ".join(str(err).split())
    match = re.match(r"error at (\d+):(\d+): (.*)", text)
    if match:
        text = f"line {match.group(1)}, column {match.group(2)}: {match.group(3)}"
    text = re.sub(r"\[\s*'A' \.\.= 'Z'.*?\]", "a letter", text)
    return text if len(text) <= 400 else text[:400] + "…"


class ResultTooLarge(Exception):
    """A streamed result passed the byte cap."""


class CappedSink(io.RawIOBase):
    """A writable buffer that stops a streamed result at ``cap`` bytes (:class:`ResultTooLarge`)."""

    def __init__(self, cap: int) -> None:
        self.cap, self.buffer = cap, io.BytesIO()

    def writable(self) -> bool:
        return True

    def write(self, data) -> int:  # type: ignore[override]
        if self.buffer.tell() + len(data) > self.cap:
            raise ResultTooLarge()
        return self.buffer.write(data)


def _unavailable(err: StoreUnavailable) -> Outcome:
    """A remote store that is down (502), or holds no jllm-kg generation yet (503)."""
    return Outcome(503 if isinstance(err, NoGraph) else 502, error=str(err))


def run_job(store: Store, job: Job) -> Outcome:
    """Execute ``job`` on ``store`` and serialize the result within the size cap."""
    try:
        return _run_job(store, job)
    except StoreUnavailable as err:
        return _unavailable(err)
    finally:
        if not isinstance(store, Store):
            store.release()  # a remote answer left unread (an error, the cap): close its connection


def _run_job(store: Store, job: Job) -> Outcome:
    if job.kind == "stats":
        return _stats(store)
    if job.kind == "update":
        try:
            store.update(job.text, base_iri=job.base_iri)
        except SyntaxError as err:
            return Outcome(400, error=f"SPARQL update syntax error: {syntax_message(err)}")
        except PermissionError as err:
            return Outcome(403, error=NETWORK_DENIED.format(err=err))
        return Outcome(204)
    options: dict = {"base_iri": job.base_iri}
    if job.default_graphs is not None or job.named_graphs is not None:
        options["default_graph"] = [NamedNode(g) for g in job.default_graphs or ()]
        options["named_graphs"] = [NamedNode(g) for g in job.named_graphs or ()]
    elif job.union_default_graph:
        options["use_default_graph_as_union"] = True
    if job.substitutions:
        options["substitutions"] = job.substitutions
    try:
        result = store.query(job.text, **options)
    except SyntaxError as err:
        return Outcome(400, error=f"SPARQL syntax error: {syntax_message(err)}")
    except PermissionError as err:
        return Outcome(403, error=NETWORK_DENIED.format(err=err))
    except ValueError as err:
        return Outcome(400, error=f"bad query: {err}")
    name = job.results_format if isinstance(result, (QuerySolutions, QueryBoolean)) else job.graph_format
    fmt = by_name(name) if name else None
    if fmt is None:
        kind = "SELECT/ASK results" if isinstance(result, (QuerySolutions, QueryBoolean)) else "a graph (CONSTRUCT/DESCRIBE)"
        return Outcome(406, error=f"this query returns {kind}, and the Accept header allows none of its formats")
    # Serialized into memory first (never a truncated 200). The front's memory cap on the query
    # process bounds a runaway result; the byte cap is checked on the whole body (a plain BytesIO
    # is ~40% faster than a checking writer).
    remote = not isinstance(store, Store)  # a remote answer streams in: stop reading it at the cap
    sink = CappedSink(job.max_bytes) if remote else io.BytesIO()
    try:
        result.serialize(sink, fmt.oxigraph)
    except ResultTooLarge:
        return _too_large(job)
    except StoreUnavailable as err:
        return _unavailable(err)
    except PermissionError as err:
        return Outcome(403, error=NETWORK_DENIED.format(err=err))
    except OSError as err:
        return Outcome(500, error=f"query evaluation failed: {err}")
    except (ValueError, TypeError, RuntimeError) as err:
        return Outcome(400, error=f"query evaluation failed: {err}")
    if remote:
        sink = sink.buffer
    if sink.getbuffer().nbytes > job.max_bytes:
        return _too_large(job)
    return Outcome(200, sink.getvalue(), fmt.name)


def _too_large(job: Job) -> Outcome:
    return Outcome(413, error=f"the result is larger than the {job.max_bytes:,}-byte cap of this endpoint; "
                              "add a LIMIT or select fewer rows")


def _stats(store: Store) -> Outcome:
    """Dataset statistics for the service description."""
    row = next(iter(store.query(
        "SELECT (COUNT(*) AS ?t) (COUNT(DISTINCT ?s) AS ?s) (COUNT(DISTINCT ?p) AS ?p) WHERE { ?s ?p ?o }",
        use_default_graph_as_union=True)))
    graphs = sum(1 for _ in store.named_graphs())
    data = {"triples": int(row["t"].value), "subjects": int(row["s"].value),
            "properties": int(row["p"].value), "graphs": graphs}
    return Outcome(200, data=data)
