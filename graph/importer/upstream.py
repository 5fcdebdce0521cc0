"""Reading an upstream awesome-japanese-llm revision in its own layout.

A revision is a checkout, a plain directory laid out like one (its commit in a ``COMMIT`` file),
or a git repository read at ``--rev`` through ``git show``. The READMEs are found where that
revision keeps them (``README.md``, ``en/README.md`` / ``README_en.md``, ``fr/…``) and VitePress
``<!--@include: …-->`` directives are expanded, remembering where every line came from.
"""
from __future__ import annotations

import posixpath
import re
import subprocess
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from graph.errors import UserError

#: Where each language's README lives upstream, newest layout first.
README_PATHS: dict[str, tuple[str, ...]] = {
    "ja": ("README.md",),
    "en": ("en/README.md", "README_en.md"),
    "fr": ("fr/README.md", "README_fr.md"),
}

_INCLUDE = re.compile(r"^\s*<!--\s*@include:\s*(?P<path>[^\s{#]+?)(?:#(?P<region>[\w.-]+))?"
                      r"(?:\{(?P<start>\d*),?(?P<end>\d*)\})?\s*-->\s*$")
_REGION = re.compile(r"^\s*(?:<!--|//|#)?\s*#(?P<tag>region|endregion)\s+(?P<name>[\w.-]+)")
_DATED_DIR = re.compile(r"^(\d{4}-\d{2}-\d{2})-[0-9a-f]{7,40}$")


@dataclass
class Expanded:
    """A README with its includes expanded: the text and, per line, the (file, line) it came from."""

    path: str
    text: str
    origins: list[tuple[str, int]]


@dataclass
class Revision:
    """One upstream revision: its READMEs (expanded), commit and date."""

    readmes: dict[str, Expanded] = field(default_factory=dict)
    commit: str | None = None
    date: str | None = None


class _Source:
    """File access to one revision: the working tree, or ``git show REV:path``."""

    def __init__(self, root: Path, rev: str | None) -> None:
        self.root, self.rev = root, rev

    def read(self, path: str) -> str | None:
        """The text of ``path`` (repository-relative), or None when the revision lacks it."""
        if self.rev is None:
            file = self.root / path
            if not file.is_file():
                return None
            try:
                return file.read_text(encoding="utf-8")
            except UnicodeDecodeError as err:
                raise UserError(f"{file}: not UTF-8 text ({err.reason} at byte {err.start})") from None
        res = _git(self.root, "show", f"{self.rev}:{path}", check=False)
        return res.stdout if res.returncode == 0 else None


def _git(root: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    try:
        res = subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True, timeout=60)
    except FileNotFoundError:
        raise UserError("git is not installed: it is needed to read a repository at --rev") from None
    if check and res.returncode != 0:
        raise UserError(f"{root}: git {' '.join(args)} failed: {res.stderr.strip().splitlines()[-1] if res.stderr.strip() else res.returncode}")
    return res


def _is_git(root: Path) -> bool:
    """A checkout (``.git``) or a bare repository at ``root`` itself (not merely inside one)."""
    return (root / ".git").exists() or ((root / "HEAD").is_file() and (root / "objects").is_dir())


def expand_includes(source: _Source, path: str, text: str, seen: tuple[str, ...] = ()) -> tuple[list[str], list[tuple[str, int]]]:
    """Lines of ``text`` with ``<!--@include: …-->`` replaced by the included lines (recursively).

    Supports ``@/`` (repository root) and relative paths, the line-range form ``{3,10}`` / ``{3,}``
    / ``{,10}`` and the region form ``#name`` (``<!-- #region name -->`` … ``<!-- #endregion name -->``).

    >>> class S:
    ...     def read(self, p): return {"parts/t.md": "a\\n<!-- #region r -->\\nb\\nc\\n<!-- #endregion r -->\\n"}.get(p)
    >>> expand_includes(S(), "README.md", "x\\n<!--@include: @/parts/t.md#r-->\\ny")[0]
    ['x', 'b', 'c', 'y']
    >>> expand_includes(S(), "README.md", "<!--@include: @/parts/t.md{1,1}-->")[0]
    ['a']
    """
    lines: list[str] = []
    origins: list[tuple[str, int]] = []
    for n, line in enumerate(text.splitlines(), 1):
        m = _INCLUDE.match(line)
        if not m:
            lines.append(line)
            origins.append((path, n))
            continue
        target = m.group("path")
        if target.startswith("@/"):
            target = target[2:]
        else:
            target = str(PurePosixPath(path).parent / target)
        target = posixpath.normpath(target)
        if target.startswith("../"):
            raise UserError(f"{path}:{n}: include {m.group('path')} points outside the repository")
        if target in seen or target == path:
            raise UserError(f"{path}:{n}: include cycle through {target}")
        body = source.read(target)
        if body is None:
            raise UserError(f"{path}:{n}: included file {target} not found")
        sub_lines, sub_origins = expand_includes(source, target, body, seen + (path,))
        pairs = list(zip(sub_lines, sub_origins))
        if m.group("region"):
            pairs = _region(pairs, m.group("region"), f"{path}:{n}")
        start = int(m.group("start")) if m.group("start") else 1
        end = int(m.group("end")) if m.group("end") else len(pairs)
        if m.group("start") is not None or m.group("end") is not None:
            pairs = pairs[start - 1:end]
        lines.extend(p[0] for p in pairs)
        origins.extend(p[1] for p in pairs)
    return lines, origins


def _region(pairs: list, name: str, where: str) -> list:
    inside, out, found = False, [], False
    for line, origin in pairs:
        m = _REGION.match(line)
        if m and m.group("name") == name:
            inside, found = m.group("tag") == "region", True
            continue
        if inside:
            out.append((line, origin))
    if not found:
        raise UserError(f"{where}: region {name!r} not found in the included file")
    return out


def read_revision(root: Path, rev: str | None = None) -> Revision:
    """The READMEs, commit and date of an upstream revision at ``root`` (``rev`` read through git)."""
    root = Path(root)
    if not root.is_dir():
        raise UserError(f"{root}: not a directory (expected an upstream checkout or a directory in its layout)")
    git = _is_git(root)
    if rev is not None and not git:
        raise UserError(f"{root}: --rev {rev} needs a git repository, and this directory is not one")
    source = _Source(root, rev)
    out = Revision()
    for lang, candidates in README_PATHS.items():
        for path in candidates:
            text = source.read(path)
            if text is not None:
                lines, origins = expand_includes(source, path, text)
                out.readmes[lang] = Expanded(path, "\n".join(lines) + "\n", origins)
                break
    if "ja" not in out.readmes:
        raise UserError(f"{root}{f' at {rev}' if rev else ''}: no README.md — is this an awesome-japanese-llm checkout?")
    if git:
        out.commit = _git(root, "rev-parse", rev or "HEAD").stdout.strip()
        out.date = _git(root, "log", "-1", "--format=%cs", rev or "HEAD").stdout.strip() or None
    else:
        commit_file = root / "COMMIT"
        out.commit = commit_file.read_text(encoding="utf-8").strip() if commit_file.is_file() else None
        date_file = root / "DATE"
        m = _DATED_DIR.match(root.resolve().name)
        out.date = date_file.read_text(encoding="utf-8").strip() if date_file.is_file() else (m.group(1) if m else None)
    return out
