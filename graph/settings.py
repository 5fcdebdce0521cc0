"""Settings shared by the CLI, the build and the server: paths and the IRI base."""
from __future__ import annotations

import os
from pathlib import Path

#: Base of every resource IRI minted by the build (override with JLLM_KG_BASE or --base).
DEFAULT_BASE = "https://w3id.org/jllm-kg/"
#: Namespace of the jllm-kg ontology.
ONTOLOGY_NS = "https://w3id.org/jllm-kg/ontology#"
#: Upstream commit of the shipped catalog snapshot.
UPSTREAM_REPO = "https://github.com/llm-jp/awesome-japanese-llm"


def base_iri() -> str:
    """The IRI base in force: ``$JLLM_KG_BASE`` or :data:`DEFAULT_BASE`.

    >>> base_iri().endswith("/")
    True
    """
    base = os.environ.get("JLLM_KG_BASE", DEFAULT_BASE)
    return base if base.endswith("/") else base + "/"


def default_store_path() -> Path:
    """Where the on-disk Oxigraph store lives unless ``--store`` says otherwise.

    ``$JLLM_KG_STORE`` if set, else ``$XDG_DATA_HOME/jllm-kg/store`` (``~/.local/share/...``).
    """
    if os.environ.get("JLLM_KG_STORE"):
        return Path(os.environ["JLLM_KG_STORE"])
    data_home = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    return data_home / "jllm-kg" / "store"
