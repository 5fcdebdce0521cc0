"""Loading a catalog directory (entry files + curated registries) into Python objects.

Every mapping read from YAML is a :class:`Record`: a ``dict`` that also knows the catalog file
and line it came from, so the graph can say where each fact was written.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from collections.abc import Iterator
from typing import Any

import yaml

from graph.errors import SourceError

#: Registry kinds and their files in ``catalog/registries``.
REGISTRY_FILES: dict[str, str] = {
    "dataset": "datasets.yaml",
    "organisation": "organisations.yaml",
    "licence": "licences.yaml",
    "foundation_model": "foundation-models.yaml",
    "architecture": "architectures.yaml",
    "training_method": "training-methods.yaml",
}


class Record(dict):
    """A YAML mapping with the catalog file and 1-based line it starts on."""

    file: str = ""
    line: int = 0


_BaseLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when available: ~10× faster


class _LineLoader(_BaseLoader):  # type: ignore[misc,valid-type]
    """A safe loader whose mappings are :class:`Record` objects carrying their line."""


_STR = "tag:yaml.org,2002:str"
_MAP = yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG
_SEQ = yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG


def _construct_record(loader: _LineLoader, node: yaml.MappingNode) -> Record:
    """A mapping as a :class:`Record`. Plain strings, lists and mappings (most of a catalog) are built
    here directly; anything else — other tags, merge keys, anchors used twice — by the safe
    constructor, so the result is the same as ``yaml.safe_load``'s."""
    record = Record(_fast(loader, node, deep=True))
    record.file = loader.display_name  # type: ignore[attr-defined]
    record.line = node.start_mark.line + 1
    return record


def _fast(loader: _LineLoader, node: yaml.MappingNode, deep: bool) -> dict:
    if not all(type(key) is yaml.ScalarNode and key.tag == _STR for key, _ in node.value):
        return loader.construct_mapping(node, deep=deep)  # merge keys, non-string keys (and their errors)
    return {key.value: _value(loader, value) for key, value in node.value}


def _value(loader: _LineLoader, node: yaml.Node) -> Any:
    kind = type(node)
    if kind is yaml.ScalarNode and node.tag == _STR:
        return node.value
    if kind is yaml.SequenceNode and node.tag == _SEQ and node not in loader.constructed_objects:
        return [_value(loader, item) for item in node.value]
    return loader.construct_object(node, deep=True)


_LineLoader.add_constructor(_MAP, _construct_record)


def read_yaml(path: Path, display: str) -> Any:
    """Parse one YAML file; a syntax error becomes a one-line :class:`SourceError` with the line.

    ``display`` is the catalog-relative name recorded on each :class:`Record` (``catalog/…``);
    errors name the file as given by ``path``.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as err:
        raise SourceError(str(path), None, f"not UTF-8 text ({err.reason})") from None
    loader = _LineLoader(text)
    loader.display_name = display  # type: ignore[attr-defined]
    try:
        return loader.get_single_data()
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None) or getattr(err, "context_mark", None)
        line = mark.line + 1 if mark is not None else None
        problem = getattr(err, "problem", None) or str(err).splitlines()[0]
        raise SourceError(str(path), line, f"invalid YAML: {problem}") from None
    finally:
        loader.dispose()


def shipped_registries() -> Path:
    """The curated registries shipped with jllm-kg (``catalog/registries``)."""
    import catalog as catalog_pkg  # the data package, not this module

    return catalog_pkg.PATH / "registries"


@dataclass
class Catalog:
    """Everything in a catalog directory."""

    root: Path
    sections: list[Record] = field(default_factory=list)
    families: list[Record] = field(default_factory=list)
    """Model families of every ``models/*.yaml`` file; each has ``section`` set from its file."""
    benchmarks: list[Record] = field(default_factory=list)
    papers: list[Record] = field(default_factory=list)
    registries: dict[str, list[Record]] = field(default_factory=dict)
    minted: dict[str, list[Record]] = field(default_factory=dict)
    kept_aside: list[str] = field(default_factory=list)
    """Rows import kept raw under ``other/`` (no entity): ``other/x.yaml: README.md:12``, reported by the build."""
    commit: str | None = None
    date: str | None = None
    """Date of the upstream commit (``sections.yaml`` ``source.date``), when import knew it."""
    upstream_paths: dict[str, str] = field(default_factory=dict)
    """Seed README file name → path in the upstream repository (from ``sections.yaml`` ``source.files``)."""

    def registry(self, kind: str) -> list[Record]:
        """Curated entries of one registry kind (empty if the file is absent)."""
        return self.registries.get(kind, [])


def _list_of_records(data: Any, display: str, key: str | None = None) -> list[Record]:
    """The list of mappings in ``data`` (or ``data[key]``), each with an ``id``."""
    items = data.get(key) if (key and isinstance(data, dict)) else data
    if items is None:
        return []
    if not isinstance(items, list):
        where = f"'{key}'" if key else "the file"
        raise SourceError(display, getattr(data, "line", None), f"expected a list in {where}")
    for item in items:
        if not isinstance(item, Record):
            raise SourceError(display, None, f"expected mappings in the list, got {item!r}")
        if "id" not in item:
            raise SourceError(display, item.line, "entry has no 'id'")
    return items


def _commit_of(data: Any) -> str | None:
    if isinstance(data, dict):
        for key in ("commit", "upstream_commit"):
            if data.get(key):
                return str(data[key])
        source = data.get("source")
        if isinstance(source, dict) and source.get("commit"):
            return str(source["commit"])
    return None


def load_catalog(root: Path, families: bool = True) -> Catalog:
    """Read a catalog directory: entry files and ``registries/*.yaml``.

    Missing files are treated as empty, so a partial catalog (or a small test fixture) loads.
    With ``families=False`` the model files are not kept (only their upstream commit is looked
    for, when ``sections.yaml`` has none): read them one at a time with :func:`iter_families`.
    """
    root = Path(root)
    if not root.is_dir():
        raise SourceError(str(root), None, "catalog directory not found")
    cat = Catalog(root=root)

    def read(rel: str) -> Any:
        path = root / rel
        return read_yaml(path, f"catalog/{rel}") if path.is_file() else None

    # a catalog written by `jllm-kg import --out DIR` has entry files only: use the shipped registries
    reg_root = root / "registries" if (root / "registries").is_dir() else shipped_registries()
    for kind, name in REGISTRY_FILES.items():
        path = reg_root / name
        data = read_yaml(path, f"catalog/registries/{name}") if path.is_file() else None
        cat.registries[kind] = _list_of_records(data, str(path))

    data = read("sections.yaml")
    cat.commit = cat.commit or _commit_of(data)
    files = ((data.get("source") or {}).get("files") if isinstance(data, dict) else None) or {}
    for lang, info in files.items():
        if isinstance(info, dict) and info.get("file") and info.get("upstream_path"):
            cat.upstream_paths[str(info["file"])] = str(info["upstream_path"])
            cat.upstream_paths.setdefault(f"README.{lang}.md", str(info["upstream_path"]))
    source = (data.get("source") or {}) if isinstance(data, dict) else {}
    cat.date = str(source["date"]) if isinstance(source, dict) and source.get("date") else None
    cat.sections = _list_of_records(data, str(root / "sections.yaml"), "sections" if isinstance(data, dict) else None)

    if families:
        cat.families.extend(iter_families(cat))
    elif cat.commit is None:
        for path in model_files(root):  # the commit of the first model file that names one
            data = read(path.relative_to(root).as_posix())
            cat.commit = _commit_of(data)
            if cat.commit:
                break

    for attr, rel, key in (("benchmarks", "benchmarks.yaml", "benchmarks"), ("papers", "papers.yaml", "papers")):
        data = read(rel)
        cat.commit = cat.commit or _commit_of(data)
        setattr(cat, attr, _list_of_records(data, str(root / rel), key if isinstance(data, dict) else None))

    data = read("minted.yaml")
    cat.commit = cat.commit or _commit_of(data)
    if isinstance(data, dict):
        for kind, items in data.items():
            if isinstance(items, list):
                cat.minted[str(kind)] = _list_of_records(items, str(root / "minted.yaml"))
    return cat


def model_files(root: Path) -> list[Path]:
    """The entry files of model families: ``models/*.yaml`` then ``other/*.yaml``, sorted."""
    return sorted((root / "models").glob("*.yaml")) + sorted((root / "other").glob("*.yaml"))


def iter_families(cat: Catalog, part: int = 0, parts: int = 1) -> Iterator[Record]:
    """The model families of ``cat.root``, one model file in memory at a time.

    Each family gets ``section`` from its file; rows import kept aside are appended to
    ``cat.kept_aside``, and ``cat.commit`` is set from the first file naming one if still unset.
    With ``parts`` > 1, only the model files whose position modulo ``parts`` is ``part``.
    """
    root = cat.root
    for index, path in enumerate(model_files(root)):
        if index % parts != part:
            continue
        rel = path.relative_to(root).as_posix()
        data = read_yaml(path, f"catalog/{rel}")
        if data is None:
            continue
        if not isinstance(data, dict):
            raise SourceError(str(path), 1, "expected a mapping with 'section' and 'families'")
        cat.commit = cat.commit or _commit_of(data)
        section = data.get("section") or path.stem
        for row in data.get("rows") or []:
            src = row.get("source") if isinstance(row, dict) else None
            where = f"{src.get('file')}:{src.get('line')}" if isinstance(src, dict) else f"line {getattr(row, 'line', '?')}"
            cat.kept_aside.append(f"{rel}: {where} (section {section})")
        records = _list_of_records(data, str(path), "families")
        del data
        for family in records:
            family.setdefault("section", section)
            yield family
