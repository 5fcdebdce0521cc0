"""The watchdog that stops runaway work in a gunicorn sync worker: 503 on the socket, then exit."""
from __future__ import annotations

import json
import socket
import subprocess
import sys
import time

from server.watchdog import EXIT_STOPPED, error_response

CHILD = """
import socket, sys, time
from server.watchdog import Watchdog
client = socket.socket(fileno=int(sys.argv[1]))
dog = Watchdog()
with dog.guard(client, 5.0, "request"):          # the whole request
    with dog.guard(client, float(sys.argv[2])):  # one query inside it: the earlier deadline rules
        time.sleep(float(sys.argv[3]))           # stands for pyoxigraph working with the GIL released
print("finished")
"""


def _run(timeout: float, work: float) -> tuple[int, bytes, str]:
    ours, theirs = socket.socketpair()
    with ours, theirs:
        child = subprocess.Popen([sys.executable, "-c", CHILD, str(theirs.fileno()), str(timeout), str(work)],
                                 pass_fds=[theirs.fileno()], stdout=subprocess.PIPE, text=True)
        theirs.close()
        out, _ = child.communicate(timeout=30)
        ours.settimeout(5)
        data = b""
        try:
            while chunk := ours.recv(65536):
                data += chunk
        except (TimeoutError, OSError):
            pass
    return child.returncode, data, out


def test_overrun_answers_503_and_ends_the_process():
    started = time.monotonic()
    code, data, out = _run(timeout=0.3, work=10)
    assert code == EXIT_STOPPED
    assert out == ""  # the block never finished
    assert time.monotonic() - started < 8
    head, _, body = data.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 503 Service Unavailable")
    error = json.loads(body)
    assert error["ok"] is False and error["status"] == 503
    assert error["error"].startswith("query timed out after 0.3 s")


def test_work_within_the_deadline_is_left_alone():
    code, data, out = _run(timeout=5, work=0.1)
    assert code == 0 and out.strip() == "finished" and data == b""


def test_error_response_is_complete_http():
    raw = error_response(503, "x")
    head, _, body = raw.partition(b"\r\n\r\n")
    length = int(next(line.split(b":")[1] for line in head.split(b"\r\n") if line.lower().startswith(b"content-length")))
    assert length == len(body) and b"Connection: close" in head
