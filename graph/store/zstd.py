"""The ``zstd`` command, where the machine has it: the build's scratch text (:mod:`graph.store.mapped_text`)
and the runs GNU ``sort`` spills to disk (the Turtle dump's sort, :class:`graph.store.export.SortedWriter`,
and the build's count of typed subjects) are compressed with it. N-Quads compress about 20 times at zstd's
default level, at about 550 MB/s per core (642 MB in 1.1 s; 0.6 s back); at 512,000 families the mapped text
took 1,374 MB for 20,290 MB, and the build's whole scratch (text, runs, lists) 3.3 GB at its peak, where the
plain text and runs took about 20 GB at half that size (bench/scale.md). Without it everything works the same on plain files."""
from __future__ import annotations

import os
import shutil

ZSTD_ENV = "JLLM_KG_ZSTD"
"""``0``: plain scratch files even where the ``zstd`` command is installed."""


def zstd_command() -> str | None:
    """The ``zstd`` command to compress scratch files with, or None (not installed, or ``$JLLM_KG_ZSTD=0``)."""
    if os.environ.get(ZSTD_ENV, "").strip() == "0":
        return None
    return shutil.which("zstd")


def sort_options() -> list[str]:
    """GNU ``sort`` options that compress its temporary files with :func:`zstd_command` (none without it)."""
    zstd = zstd_command()
    return [f"--compress-program={zstd}"] if zstd else []
