"""What the export's processes share (:mod:`graph.store.export`, :mod:`graph.store.graph_export`): the pipe
into them as a file, where their output goes, GNU ``sort``'s command, their last stage's copy into a
buffer, and their exit statuses."""
from __future__ import annotations

import errno
import io
import os
import signal
import subprocess
from pathlib import Path
from typing import BinaryIO

from graph.errors import UserError
from graph.store.zstd import sort_options

#: The start of a Python child's command that writes the output: closed output (``jllm-kg export | head``)
#: ends it by SIGPIPE, as it does awk, instead of a BrokenPipeError's traceback.
QUIET_ON_CLOSED_OUTPUT = "import signal, sys; signal.signal(signal.SIGPIPE, signal.SIG_DFL);"

#: Byte order for GNU ``sort`` (and awk): records compare as bytes of UTF-8, as Python compares strings.
C_LOCALE = {**os.environ, "LC_ALL": "C"}


class Sink(io.RawIOBase):
    """The pipe into a pipeline as a file for ``Store.dump`` (each of its 8 KB writes takes the GIL, so the
    caller's other threads should not be busy in Python meanwhile: the pipeline's stages are processes)."""

    def __init__(self, fd: int) -> None:
        self.fd = fd

    def writable(self) -> bool:
        return True

    def write(self, data) -> int:
        return os.write(self.fd, data)


def file_of(output: BinaryIO | str | os.PathLike) -> tuple[str, int | None] | None:
    """A path, or ("", fd) for an open OS-level file (stdout): what a child process can write; None for a buffer."""
    if isinstance(output, (str, os.PathLike)):
        return os.fspath(output), None
    try:
        fd = output.fileno()
    except (AttributeError, OSError, ValueError):
        return None
    output.flush()
    return "", fd


def sort_command(buffer: str, scratch: str, unique: bool = False) -> list[str]:
    """GNU ``sort`` with ``buffer`` of memory, then sorted runs in ``scratch`` (compressed where ``zstd`` is
    installed, :func:`graph.store.zstd.sort_options`), on up to 4 threads."""
    return ["sort", *(["-u"] if unique else []), "-S", buffer, f"--parallel={min(os.cpu_count() or 1, 4)}",
            *sort_options(), "-T", scratch]


def write_ranks(path: Path, top: dict) -> str:
    """``top`` (term → rank) as ``TERM<tab>RANK`` lines at ``path``, for a sort stage to read; the path."""
    path.write_text("".join(f"{term}\t{rank}\n" for term, rank in top.items()), encoding="utf-8")
    return str(path)


def check_exit(codes: list[int], failure: str) -> None:
    """Raise for the exit statuses of a pipeline's stages: a stage ended by SIGPIPE means the reader closed
    the output (``| head``): :class:`BrokenPipeError`, which the command line ends on quietly (click);
    another failure: :class:`UserError` (``failure`` and the statuses)."""
    if -signal.SIGPIPE in codes:
        raise BrokenPipeError(errno.EPIPE, "the export's output was closed")
    if any(codes):
        raise UserError(f"{failure} (exit status{'es' if len(codes) > 1 else ''} {', '.join(map(str, codes))})")


def copy_out(last: subprocess.Popen, output, failed: list[BaseException], failure: str) -> None:
    """A thread's work: the last stage's output (if it goes to a pipe, for a buffer) into ``output`` in large
    chunks, then its exit status (:func:`check_exit`); what goes wrong lands in ``failed`` for the caller."""
    try:
        if last.stdout is not None:
            while chunk := last.stdout.read(1 << 20):
                output.write(chunk)
        check_exit([last.wait()], failure)
    except BaseException as err:  # raised by the writer's close()
        failed.append(err)
    finally:
        if last.stdout is not None:
            last.stdout.close()  # upstream stages stop on a broken pipe
