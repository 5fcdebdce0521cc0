"""Training-data cells → training stages (kind, datasets, token counts, applies-to, bases).

A cell such as ``事前学習: A, B<br>(計 **1.5T** トークン)<br>Instruction Tuning (LoRA): C`` becomes
one stage per clause. Each stage keeps its raw clause text.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Callable

from graph.importer.cells import find_token_total, nfkc, parse_quantity
from graph.importer.markdown_doc import normalise_space, strip_markup
from graph.importer.registry import Registries, normalise

#: Keywords that reveal a stage kind when no registered prefix is found (checked in order).
_KIND_HINTS: list[tuple[str, str]] = [
    (r"蒸留|distill", "distillation"),
    (r"steerlm", "steerlm"),
    (r"upcycling", "upcycling"),
    (r"\bgrpo\b|\bgspo\b|^rl\b|\brl\s*[(:：]|reinforcement learning", "reinforcement-learning"),
    (r"post-?training|事後学習", "post-training"),
    (r"mid-?training|中間学習", "mid-training"),
    (r"\bdpo\b|\borpo\b|preference optimi", "dpo"),
    (r"\bppo\b|強化学習|rlhf で", "ppo"),
    (r"追加事前学習|継続事前学習|continual|追加学習|pré-entraînement continu", "continual-pre-training"),
    (r"lora", "instruction-tuning-lora"),
    (r"full-parameter", "instruction-tuning-full"),
    (r"instruction tuning|指示チューニング|ファインチューニング|fine-?tun|sft", "instruction-tuning"),
    (r"事前学習|pre-?train|pré-?entra", "pre-training"),
]
_BASE_PHRASE = re.compile(
    r"^(?P<base>.+?)\s*(?:に対して|を親モデルとして|をベースに|で重みを初期化した上で、?|に対し)\s*(?P<rest>.*)$"
)
_APPLIES = re.compile(r"^\*?\s*(?P<who>[^*:：]+?)\s*モデル(?:では|は|のみ)\s*(?P<rest>.*)$")
_TAIL_METHOD = re.compile(r"^(?P<data>.+?)\s*(?:を用いて|を使って|で)\s*(?P<tail>[^、,]*?(?:チューニング|学習|Tuning|tuning|DPO|PPO|SteerLM)[^、,]*)$")
_SPLIT_ITEMS = re.compile(r"\s*(?:,|、|，|\+|＋|;|\s+や\s*|\s+and\s+|\s+et\s+|\s+または\s+|\s+or\s+|\s+ou\s+)\s*")
_SIZE_TAIL = re.compile(r"\s*(?:約|about|environ|~)?\s*[\d,.]+\s*(?:億|万)?[\d,.]*\s*(?:万|億)?\s*(?:文|件|記事|ページ|行|文字|sentences|articles|pages|GB|MB|TB)\s*(?:[(（][^()（）]*[)）])?\s*$")
_PAREN_TAIL = re.compile(r"\s*[(（][^()（）]*[)）]\s*$")
_ITEM_SIZE = re.compile(r"[(（]\s*\*{0,2}(\d+(?:[.,]\d+)?\s*[KMBT])\*{0,2}\s*(?:トークン|tokens?)\s*[)）]", re.I)


@dataclass
class Stage:
    kind: str
    method: str
    raw: str
    datasets: list[dict] = field(default_factory=list)
    tokens: int | None = None
    tokens_raw: str | None = None
    size_raw: str | None = None
    applies_to: str | None = None
    notes: list[str] = field(default_factory=list)
    unparsed: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        out: dict = {"kind": self.kind, "method": self.method}
        if self.applies_to:
            out["applies_to"] = self.applies_to
        out["datasets"] = self.datasets
        if self.tokens is not None:
            out["tokens"] = self.tokens
        if self.tokens_raw:
            out["tokens_raw"] = self.tokens_raw
        if self.size_raw:
            out["size_raw"] = self.size_raw
        if self.notes:
            out["notes"] = self.notes
        if self.unparsed:
            out["unparsed"] = self.unparsed
        out["raw"] = self.raw
        return out


def _clauses(lines: list[str]) -> list[str]:
    """Lines of a cell joined into clauses (continuations and totals go with their clause)."""
    out: list[str] = []
    for line in lines:
        line = normalise_space(line)
        if not line:
            continue
        plain = line.lstrip()
        continues = (
            plain.startswith(("+", "＋", "(計", "（計", "(total", "(+", "(soit"))
            or re.match(r"^[(（]\s*\*{0,2}計", plain) is not None
            or (out and (out[-1].endswith((":", "：", "に対して", ",", "、")) or re.search(r"[(（][^)）]*$", out[-1])))
            or (out and re.match(r"^[(（]", plain) and not re.search(r"モデル|model", plain) and re.search(r"計|total|以降|\+", plain))
        )
        if out and continues:
            out[-1] = f"{out[-1]} {plain}"
        else:
            out.append(plain)
    return out


def _kind_from_text(text: str, registries: Registries, default: str) -> tuple[str, str] | None:
    """(kind, method id) named in ``text``: a registered method alias, else a keyword hint, else None."""
    methods = registries["training_method"]
    found = methods.lookup(text)
    kind: str | None = None
    if found:
        kind = str(methods.entries[found].get("kind", found))
    else:
        low = nfkc(text).casefold()
        kind = next((k for pattern, k in _KIND_HINTS if re.search(pattern, low)), None)
        if kind is None:
            return None
        found = methods.lookup(kind) or kind
    if kind == "pre-training" and default == "continual-pre-training":
        # "事前学習:" in the continual-pre-training tables is continued pre-training of the base
        return default, methods.lookup(default) or default
    return kind, found


def _default(registries: Registries, default: str) -> tuple[str, str]:
    return default, registries["training_method"].lookup(default) or default


def _dataset_items(text: str) -> list[str]:
    text = re.sub(r"など$|etc\.?$|等$", "", text.strip()).strip()
    text = re.sub(r"[(（]\s*[+＋]\s*([^()（）]+)[)）]", r", \1", text)  # "A (+ B)" names B too
    depth = 0
    parts: list[str] = []
    buf = ""
    # split at separators outside parentheses
    i = 0
    while i < len(text):
        ch = text[i]
        if ch in "(（":
            depth += 1
        elif ch in ")）":
            depth = max(0, depth - 1)
        digit_comma = ch in ",，" and i > 0 and text[i - 1].isdigit() and re.match(r"\d{3}", text[i + 1:i + 4] or "")
        if depth == 0 and not digit_comma:
            m = _SPLIT_ITEMS.match(text, i)
            if m and m.end() > i:
                parts.append(buf)
                buf = ""
                i = m.end()
                continue
        buf += ch
        i += 1
    parts.append(buf)
    return [p.strip(" .。") for p in parts if p.strip(" .。()（）")]


#: A dataset name as the catalog writes unregistered ones: Latin letters, digits and name punctuation,
#: a few words at most (``Swallow-Magpie-Ultra-v0.1``, ``allenai/Dolci-Think-RL-7B``).
_NAME_LIKE = re.compile(r"[A-Za-z][A-Za-z0-9_.\-/+'&]*(?:\s+[A-Za-z0-9_.\-/+'&]+){0,4}")
#: A version or variant written right after a registered dataset name: " v3", "-v4", " version 2", "-15k-ja".
_VERSION_TAIL = re.compile(r"\s*(?:-?\s*v(?:er(?:sion)?)?\.?\s*\d[\w.]*|-[a-z0-9][\w.-]*)(?=\s|$|[(（の])")
_TOKENS_ONLY = re.compile(r"^[\d.,]+\s*[KMBT]?\s*(?:トークン|tokens?)$", re.I)


def is_dataset_name(text: str, registries: Registries) -> bool:
    """Whether an unregistered fragment reads as a dataset *name* (minted) rather than a phrase (kept raw).

    >>> from graph.importer.registry import Registries, Registry
    >>> regs = Registries({k: Registry(k) for k in ("dataset", "training_method")})
    >>> is_dataset_name("Swallow-Magpie-Ultra-v0.1", regs), is_dataset_name("Sparse Upcycling で学習", regs)
    (True, False)
    >>> is_dataset_name("1.23T トークン", regs), is_dataset_name("SFT", regs), is_dataset_name("magpie-sft-v1.0", regs)
    (False, False, True)
    """
    text = normalise_space(text)
    if not _NAME_LIKE.fullmatch(text) or _TOKENS_ONLY.match(text) or registries["training_method"].lookup(text):
        return False
    if " " not in text and re.search(r"[-_/.]", text):  # an identifier ("magpie-sft-v1.0"), even if a method word is in it
        return True
    return _kind_from_text(text, registries, "") is None


def _resolve_dataset(item: str, registries: Registries, where: str) -> dict:
    """One dataset mention: raw text, id (registered or minted), per-dataset tokens or size.

    A fragment that is not registered and does not read as a name gets no id (``id: null``):
    it stays raw on the stage and the caller warns about it; phrases are never minted.
    """
    datasets = registries["dataset"]
    out: dict = {"raw": item}
    m = _ITEM_SIZE.search(item)
    if m:
        out["tokens"] = parse_quantity(m.group(1))
        out["tokens_raw"] = normalise_space(strip_markup(m.group(0)))
        item = (item[: m.start()] + item[m.end():]).strip()
    candidate = strip_markup(item)
    found = datasets.lookup(candidate)
    stripped: list[str] = []
    while not found:
        head, tail = split_paren_tail(candidate)
        if not tail:
            break
        stripped.insert(0, tail)
        candidate = head
        found = datasets.lookup(candidate)
    if not found:
        size = _SIZE_TAIL.search(candidate)
        if size and size.start() > 0:
            found = datasets.lookup(candidate[: size.start()])
            if found:
                stripped.insert(0, size.group(0).strip())
    if not found:
        spans = datasets.find_in(candidate)
        if spans and spans[0][0] == 0:
            norm = normalise(candidate)
            version = _VERSION_TAIL.match(norm, spans[0][1])
            if version:  # "llm-jp-corpus v3" is not llm-jp-corpus: a version is a dataset of its own
                name = norm[: version.end()].strip()
                found = datasets.lookup(name) or (datasets.resolve(name, where) if is_dataset_name(name, registries) else None)
                rest = norm[version.end():].strip()
            else:
                found, rest = spans[0][2], norm[spans[0][1]:].strip()
            if found and rest:
                out["note"] = rest
    if not found:
        bare = strip_markup(item)
        while True:
            shorter = re.sub(r"[(（][^()（）]*[)）]", " ", bare)
            if shorter == bare:
                break
            bare = shorter
        bare = normalise_space(bare)
        found = datasets.lookup(bare)
        if not found and is_dataset_name(bare, registries):
            found = datasets.resolve(bare, where)
        stripped = []
    out["id"] = found
    if stripped:
        out["size_raw"] = " ".join(stripped)
    return out


def split_paren_tail(text: str) -> tuple[str, str | None]:
    """Split a trailing balanced parenthetical off ``text``.

    >>> split_paren_tail("Japanese CC-100 (約6億 (85GB))")
    ('Japanese CC-100', '(約6億 (85GB))')
    """
    text = text.rstrip()
    if not text or text[-1] not in ")）":
        return text, None
    depth = 0
    for pos in range(len(text) - 1, -1, -1):
        if text[pos] in ")）":
            depth += 1
        elif text[pos] in "(（":
            depth -= 1
            if depth == 0:
                return text[:pos].rstrip(), text[pos:]
    return text, None


@dataclass
class TrainingParse:
    stages: list[dict]
    bases: list[tuple[str, str | None]]  # (name, stage kind) this row says it was trained from ("X (base) に対して")
    unknown: bool
    unparsed: list[str] = field(default_factory=list)  # fragments kept raw: neither a registered dataset nor a name


def parse_training(
    lines: list[str],
    registries: Registries,
    default_kind: str,
    where: str,
    is_model_name: Callable[[str], bool],
) -> TrainingParse:
    """Parse a training-data cell (ja) into stages; see the module docstring."""
    stages: list[Stage] = []
    bases: list[str] = []
    unknown = False
    pending_bases: list[str] = []
    unparsed: list[str] = []
    for clause in _clauses(lines):
        raw = clause
        text = strip_markup(clause)
        if normalise(text) in ("不明", "unknown", "inconnu", "-", "?", "？"):
            unknown = True
            continue
        text = re.sub(r"^[-–]\s*", "", text).strip()
        if re.fullmatch(r"[(（].*[)）]", text) and stages and not _BASE_PHRASE.match(text.strip("()（）")):
            inner = text.strip("()（）").strip()
            tokens, tokens_raw, rest = find_token_total(text)
            if tokens_raw:
                stages[-1].tokens, stages[-1].tokens_raw = (tokens, tokens_raw) if tokens else (stages[-1].tokens, stages[-1].tokens_raw)
                if not tokens:
                    stages[-1].size_raw = tokens_raw
                if not strip_markup(rest).strip(" ()（）"):
                    continue
            stages[-1].notes.append(inner)
            continue
        text = text.strip("()（）") if re.fullmatch(r"[(（].*[)）]", text) else text
        applies = None
        m = _APPLIES.match(text)
        if m:
            applies, text = m.group("who").strip(), m.group("rest").strip()
        m = _BASE_PHRASE.match(text)
        if m and (is_model_name(m.group("base")) or re.search(r"親モデル|重みを初期化", text)):
            pending_bases.append(m.group("base").strip())
            text = m.group("rest").strip()
        if pending_bases and re.fullmatch(r"以下(?:を|の)?(?:実施|手順|学習|のとおり)?[。.]?|the following:?", text, re.I):
            continue  # "X に対して以下を実施": the stages are the next clauses, the base goes with the first of them
        tokens, tokens_raw, text = find_token_total(text)
        text = normalise_space(text)
        kinds: list[tuple[str, str]]
        data = text
        prefix = None
        colon = re.match(r"^(?P<prefix>[^:：]{1,80}?)\s*[:：]\s*(?P<data>.*)$", text)
        if registries["training_method"].lookup(text):  # the whole clause names a method ("Sparse Upcycling で学習")
            prefix, data, colon = text, "", None
        elif colon and not re.match(r"https?$", colon.group("prefix")):
            prefix, data = colon.group("prefix"), colon.group("data")
        else:
            tail = _TAIL_METHOD.match(text)
            if tail:
                prefix, data = tail.group("tail"), tail.group("data")
            elif re.fullmatch(r"(?:独自の?データセットで\s*)?(Instruction Tuning|指示チューニング|ファインチューニング|知識蒸留)", text):
                prefix, data = text, ""
        kinds = [_default(registries, default_kind)]
        if prefix is not None:
            pieces = [p for p in re.split(r"\s*&\s*", prefix) if p.strip()] or [prefix]
            found_kinds = [_kind_from_text(p, registries, default_kind) for p in pieces]
            if all(k is not None for k in found_kinds):
                kinds = [k for k in found_kinds if k is not None]
            elif colon and not applies:
                # "base (v1): …" / "v1: …": the prefix names variants, not a method
                applies = prefix.strip()
            else:
                data = text
        if re.search(r"以下のデータセットで", data):
            data = re.sub(r"^.*以下のデータセットで", "", data)
        items = _dataset_items(data)
        for kind, method in kinds:
            stage = Stage(kind=kind, method=method, raw=raw, applies_to=applies)
            if tokens is not None:
                stage.tokens, stage.tokens_raw = tokens, tokens_raw
            elif tokens_raw:
                stage.size_raw = tokens_raw
            resolved = [_resolve_dataset(item, registries, where) for item in items]
            stage.datasets = [d for d in resolved if d["id"]]
            stage.unparsed = [d["raw"] for d in resolved if not d["id"]]
            unparsed.extend(stage.unparsed)
            stages.append(stage)
        for base in pending_bases:
            bases.append((base, kinds[0][0] if kinds else None))
        pending_bases = []
    bases.extend((base, None) for base in pending_bases)
    return TrainingParse(stages=[s.as_dict() for s in stages], bases=bases, unknown=unknown, unparsed=unparsed)
