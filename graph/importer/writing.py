"""Writing entry files: deterministic YAML, atomic replacement, stale files, the per-file form's defaults."""
from __future__ import annotations

from pathlib import Path

import yaml

from graph.catalog import read_yaml
from graph.errors import UserError


class _Dumper(yaml.SafeDumper):
    """Block style, UTF-8, multi-line strings as literal blocks."""


def _str_rep(dumper: yaml.SafeDumper, data: str):
    style = "|" if "\n" in data else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", data, style=style)



_Dumper.add_representer(str, _str_rep)


def dump_yaml(data: object) -> str:
    """Deterministic, human-readable YAML (keys in insertion order, UTF-8, wide lines)."""
    return yaml.dump(data, Dumper=_Dumper, allow_unicode=True, sort_keys=False, width=4096, default_flow_style=False)


def write_yaml(path: Path, data: object) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    text = dump_yaml(data)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)


def snapshot_defaults(reg_dir: Path) -> dict:
    """The curated description of the upstream snapshot (``registries/source.yaml``), if any."""
    path = reg_dir / "source.yaml"
    if not path.exists():
        return {}
    data = read_yaml(path, f"{reg_dir.name}/source.yaml") or {}
    if not isinstance(data, dict):
        raise UserError(f"{path}: expected a mapping (upstream, commit, date, licence)")
    paths = data.pop("paths", None) or {}
    if not isinstance(paths, dict):
        raise UserError(f"{path}: 'paths' must map a language (ja, en, fr) to the README's path upstream")
    out = {k: str(v) for k, v in data.items() if v is not None}
    out.update({f"path_{lang}": str(p) for lang, p in paths.items()})
    return out


def remove_stale(out: Path, keep: set[str]) -> None:
    """Entry files an earlier import wrote that this one did not (a section renamed or gone upstream)."""
    for sub in ("models", "other"):
        for path in sorted((out / sub).glob("*.yaml")):
            if f"{sub}/{path.name}" not in keep:
                path.unlink()

