"""IRI minting: one readable, stable IRI per catalog entity, derived from catalog ids only.

The same catalog always yields the same IRIs. Licences known to SPDX are identified by their
SPDX IRI itself (``http://spdx.org/licenses/Apache-2.0``); the others (``LicenseRef-…``,
``unknown``) get ``<base>licence/<id>``.
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from urllib.parse import quote

from pyoxigraph import NamedNode

from graph.settings import ONTOLOGY_NS, base_iri

SPDX = "http://spdx.org/licenses/"
UPSTREAM_FILES = {"README.ja.md": "README.md", "README.en.md": "README_en.md", "README.fr.md": "README_fr.md"}
"""Seed README names → file names in the upstream repository."""


def slug(text: str) -> str:
    """A readable IRI path segment for a free-text name (letters of any script are kept).

    >>> slug("JSQuAD (v1.1)")
    'jsquad-v1-1'
    >>> slug("日本語 Wikipedia")
    '日本語-wikipedia'
    """
    text = unicodedata.normalize("NFKC", str(text)).casefold()
    return re.sub(r"[^\w]+", "-", text).strip("-_") or "x"


_ENCODED = re.compile(r"[^A-Za-z0-9\-._~/\x80-\U0010ffff]")


def _path(value: str) -> str:
    # Non-ASCII stays as is (IRIs allow it); ASCII outside the unreserved set is encoded.
    return _ENCODED.sub(lambda m: quote(m.group()), str(value))


@dataclass(frozen=True)
class Iris:
    """The IRI scheme of one build, for a given base."""

    base: str

    @classmethod
    def default(cls, base: str | None = None) -> "Iris":
        """The scheme for ``base`` (default: :func:`graph.settings.base_iri`).

        >>> Iris.default("https://example.org/kg").model("swallow-7b").value
        'https://example.org/kg/model/swallow-7b'
        """
        base = base or base_iri()
        return cls(base if base.endswith("/") else base + "/")

    def node(self, *parts: str) -> NamedNode:
        """``<base>part/part/…``."""
        return NamedNode(self.base + "/".join(_path(p) for p in parts))

    def model(self, model_id: str) -> NamedNode:
        """A model family or foundation model: ``<base>model/swallow-7b``."""
        return self.node("model", model_id)

    def variant(self, repo: str) -> NamedNode:
        """A Hugging Face repository: ``<base>model/hf/tokyotech-llm/Swallow-7b-hf``."""
        return self.node("model", "hf", repo)

    def stage(self, owner: NamedNode, index: int) -> NamedNode:
        """Training stage ``index`` (from 1) of a model: ``<model>/stage/1``."""
        return NamedNode(f"{owner.value}/stage/{index}")

    def derivation(self, owner: NamedNode, source: NamedNode) -> NamedNode:
        """The qualified derivation of ``owner`` from ``source``: ``<model>/derivation/<source path>``."""
        tail = source.value[len(self.base):] if source.value.startswith(self.base) else _path(source.value)
        return NamedNode(f"{owner.value}/derivation/{tail}")

    def organisation(self, org_id: str) -> NamedNode:
        """``<base>org/rinna``."""
        return self.node("org", org_id)

    def dataset(self, dataset_id: str) -> NamedNode:
        """``<base>dataset/cc-100``."""
        return self.node("dataset", dataset_id)

    def licence(self, licence_id: str, spdx: bool) -> NamedNode:
        """The SPDX IRI for SPDX licences, else ``<base>licence/LicenseRef-…``."""
        return NamedNode(SPDX + licence_id) if spdx else self.node("licence", licence_id)

    def paper(self, paper_id: str) -> NamedNode:
        """``<base>paper/arxiv/2307.09288`` for ``arxiv-2307.09288``, else ``<base>paper/<slug>``."""
        if paper_id.startswith("arxiv-"):
            return self.node("paper", "arxiv", paper_id[len("arxiv-"):])
        return self.node("paper", paper_id)

    def benchmark(self, benchmark_id: str) -> NamedNode:
        """``<base>benchmark/jglue``."""
        return self.node("benchmark", benchmark_id)

    def task(self, benchmark: NamedNode, name: str) -> NamedNode:
        """A task of a benchmark: ``<base>benchmark/jglue/task/jsquad``."""
        return NamedNode(f"{benchmark.value}/task/{_path(slug(name))}")

    def architecture(self, arch_id: str) -> NamedNode:
        """``<base>architecture/llama``."""
        return self.node("architecture", arch_id)

    def method(self, method_id: str) -> NamedNode:
        """``<base>method/dpo``."""
        return self.node("method", method_id)

    def section(self, section_id: str) -> NamedNode:
        """``<base>section/generative-scratch-general``."""
        return self.node("section", section_id)

    def sections(self) -> NamedNode:
        """The SKOS concept scheme of the sections: ``<base>section``."""
        return NamedNode(self.base + "section")

    def graph(self, *parts: str) -> NamedNode:
        """A named graph: ``<base>graph/model/swallow-7b``, ``<base>graph/provenance``."""
        return self.node("graph", *parts)

    def void(self) -> NamedNode:
        """The VoID/DCAT description of the whole dataset: ``<base>void``."""
        return NamedNode(self.base + "void")


def ontology(term: str) -> NamedNode:
    """A term of the jllm ontology: ``jllm:ModelFamily``."""
    return NamedNode(ONTOLOGY_NS + term)


def upstream_url(file: str, commit: str | None, line: int | None = None,
                 paths: dict[str, str] | None = None) -> NamedNode:
    """The upstream README a catalog fact was read from, at its commit and line."""
    from graph.settings import UPSTREAM_REPO

    name = (paths or {}).get(file) or UPSTREAM_FILES.get(file, file)
    url = f"{UPSTREAM_REPO}/blob/{commit or 'main'}/{_path(name)}"
    return NamedNode(f"{url}#L{line}" if line else url)
