"""Reference for the endpoint benchmark: the same web stack as `jllm-kg serve` doing no query work.

A Flask app under gunicorn (sync workers, as many as ours) that parses the SPARQL form and answers a
constant, empty SPARQL JSON result. Its throughput is the ceiling of Flask + gunicorn on this
machine with this client: no engine, no worker hand-off.
"""
from __future__ import annotations

from flask import Flask, request

app = Flask(__name__)
_EMPTY = b'{"head":{"vars":["x"]},"results":{"bindings":[]}}'


@app.post("/sparql")
def sparql():
    """Read the query like the real endpoint does, answer nothing."""
    request.form.get("query")
    return _EMPTY, 200, {"Content-Type": "application/sparql-results+json"}
