"""What table cells mean: sizes, context lengths, token counts, licence and training clauses.

Every parser here is total: it returns what it understood and never raises on odd text,
because the caller keeps the raw cell beside the parsed value.
"""
from __future__ import annotations

import re
import unicodedata
from decimal import Decimal, InvalidOperation

from graph.importer.markdown_doc import normalise_space, strip_markup

_UNIT = {"k": 10**3, "m": 10**6, "b": 10**9, "t": 10**12}
_VERSION = re.compile(r"^v\d+(?:\.\d+)*$")


def nfkc(text: str) -> str:
    return unicodedata.normalize("NFKC", text)


def number(text: str) -> float | int | None:
    """``'4,096'`` → 4096, ``'3.8'`` → 3.8; None when not a number."""
    text = nfkc(text).replace(",", "").strip()
    try:
        value = Decimal(text)
    except InvalidOperation:
        return None
    return int(value) if value == value.to_integral_value() and "." not in text else float(value)


def parse_size(label: str) -> dict | None:
    """Parameter count from a variant label, in billions.

    >>> parse_size("**4b(3.8b)**-8k")
    {'raw': '4b(3.8b)', 'params_b': 4, 'actual_params_b': 3.8}
    >>> parse_size("**xl(1.5b)**")
    {'raw': 'xl(1.5b)', 'params_b': 1.5, 'nominal': 'xl'}
    >>> parse_size("70b-instruct-hf")
    {'raw': '70b', 'params_b': 70}
    >>> parse_size("small") is None
    True
    >>> parse_size("**8x7b**-instruct")
    {'raw': '8x7b', 'experts': 8, 'expert_params_b': 7}
    """
    bold = re.search(r"\*\*([^*]+)\*\*", label)
    text = nfkc(bold.group(1) if bold else label)
    moe = re.search(r"(?<![\w.])(\d+)\s*[x×]\s*(\d+(?:\.\d+)?)\s*[bB](?![a-zA-Z])", text)
    if moe:  # mixture of experts: "8x7b"
        return {"raw": moe.group(0), "experts": int(moe.group(1)), "expert_params_b": number(moe.group(2))}
    m = re.search(r"(?<![\w.])([\w.]+?)\s*\(\s*(\d+(?:\.\d+)?)\s*([bBmM])\s*\)", text)
    if m:
        nominal, actual, unit = m.group(1), number(m.group(2)), m.group(3).lower()
        scale = 1 if unit == "b" else 0.001
        nm = re.fullmatch(r"(\d+(?:\.\d+)?)([bB])", nominal)
        out: dict = {"raw": m.group(0).replace(" ", "")}
        if nm:
            out["params_b"] = number(nm.group(1))
            out["actual_params_b"] = actual * scale if scale != 1 else actual
        else:
            out["params_b"] = actual * scale if scale != 1 else actual
            out["nominal"] = nominal
        return out
    m = re.search(r"(?<![\w.])(\d+(?:\.\d+)?)\s*([bBmM])(?![a-zA-Z])", text)
    if m:
        value = number(m.group(1))
        if value is None:
            return None
        if m.group(2).lower() == "m":
            return {"raw": m.group(0), "params_b": float(Decimal(str(value)) / 1000)}
        return {"raw": m.group(0), "params_b": value}
    return None


def parse_quantity(text: str) -> int | None:
    """``'1.5T'`` → 1_500_000_000_000; ``'300B'`` → 300_000_000_000; ``'650GB'`` → None (bytes)."""
    m = re.fullmatch(r"\s*(\d+(?:[.,]\d+)*)\s*([kKmMbBtT])\s*", nfkc(strip_markup(text)))
    if not m:
        return None
    value = Decimal(m.group(1).replace(",", ""))
    return int(value * _UNIT[m.group(2).lower()])


_TOKENS_TOTAL = re.compile(r"[(（]?\s*(?:計|total|au total|soit)?\s*:?\s*\*{0,2}(\d+(?:[.,]\d+)?\s*[KMBTkmbt])\*{0,2}\s*(?:トークン|tokens?|de tokens)\s*[)）]?", re.I)
_BYTES_TOTAL = re.compile(r"[(（]\s*(?:計|total)\s*\*{0,2}(\d+(?:[.,]\d+)?\s*[KMGT]B)\*{0,2}\s*[)）]", re.I)


def find_token_total(text: str) -> tuple[int | None, str | None, str]:
    """A ``計 **1.5T** トークン`` total in ``text``: (tokens, raw match, text without it)."""
    m = _TOKENS_TOTAL.search(text)
    if m and re.search(r"計|total|soit", m.group(0), re.I):
        return parse_quantity(m.group(1)), normalise_space(m.group(0)), (text[: m.start()] + " " + text[m.end():])
    m = _BYTES_TOTAL.search(text)
    if m:
        return None, normalise_space(m.group(0)), (text[: m.start()] + " " + text[m.end():])
    return None, None, text


def parse_context(lines: list[str]) -> list[dict]:
    """Context lengths from a cell's lines: ``base: 4,096`` / ``≤ 2,048`` / ``2,048``.

    >>> parse_context(["base: 4,096", "instruct, instruct-nc: 8,192"])
    [{'value': 4096, 'applies_to': 'base'}, {'value': 8192, 'applies_to': 'instruct, instruct-nc'}]
    >>> parse_context(["≤ 2,048"])
    [{'value': 2048, 'upper_bound': True}]
    """
    out: list[dict] = []
    for line in lines:
        line = nfkc(strip_markup(line))
        m = re.search(r"(≤|<=|up to|jusqu'à)?\s*(\d{1,3}(?:,\d{3})+|\d+)\s*(k)?\s*(?:tokens?|トークン)?\s*$", line, re.I)
        if not m:
            continue
        value = number(m.group(2))
        if value is None:
            continue
        if m.group(3):
            value = int(value) * 1024
        item: dict = {"value": int(value)}
        prefix = line[: m.start()].strip().rstrip(":：").strip()
        if prefix:
            item["applies_to"] = prefix
        if m.group(1):
            item["upper_bound"] = True
        out.append(item)
    return out


def label_words(label: str) -> tuple[set[str], str | None]:
    """Words and version of a variant label or an applies-to phrase.

    >>> sorted(label_words("base (v1, 文字レベル)")[0]), label_words("base (v1, 文字レベル)")[1]
    (['base', '文字レベル'], 'v1')
    """
    text = nfkc(strip_markup(label)).casefold()
    words: set[str] = set()
    version: str | None = None
    for w in re.split(r"[\s\-_,()/&:]+|\.(?!\d)", text):
        w = w.strip()
        if not w:
            continue
        if _VERSION.match(w):
            version = w.split(".")[0]
        else:
            words.add(w)
    return words, version


_APPLIES_NOISE = re.compile(
    r"モデル|のみ|では|は|他|\b(?:models?|modèles?|only|seulement|pour|les|le|la|others?|autres?|for)\b", re.I
)


def applies_groups(phrase: str) -> list[tuple[set[str], set[str]]]:
    """An applies-to phrase as alternatives of (words, versions).

    >>> [(sorted(w), sorted(v)) for w, v in applies_groups("base (v1, v2) & large")]
    [(['base'], ['v1', 'v2']), (['large'], [])]
    """
    out = []
    for alt in re.split(r"\s*(?:&|、|;|\bet\b|\band\b)\s*", phrase):
        alt = _APPLIES_NOISE.sub(" ", nfkc(strip_markup(alt)).casefold())
        words: set[str] = set()
        versions: set[str] = set()
        for w in re.split(r"[\s\-_,()/:]+", alt):
            w = w.strip()
            if not w:
                continue
            if re.fullmatch(r"v\d+(?:\.\d+)*", w):
                versions.add(w.split(".")[0])
            else:
                words.add(w)
        if words or versions:
            out.append((words, versions))
    return out


def match_score(phrase: str | None, label: str) -> int:
    """How well an applies-to phrase fits a variant label (higher is better, <0 never, 0 no match)."""
    if not phrase:
        return 0
    words, version = label_words(label)
    best = 0
    for alt_words, alt_versions in applies_groups(phrase):
        if alt_words and not alt_words <= words:
            # allow a phrase word to match as a prefix of a label word ("instruct" ~ "instruction")
            if not all(any(lw == aw or lw.startswith(aw) for lw in words) for aw in alt_words):
                continue
        score = 2 * len(alt_words)
        if alt_versions:
            if (version or "v1") not in alt_versions:
                continue
            score += 2
        elif version is None or version == "v1":
            score += 1
        best = max(best, score)
    return best


def assign(groups: list[str | None], label: str) -> int | None:
    """Index of the group (applies-to phrase, None = everything else) a variant label belongs to."""
    scores = [match_score(g, label) for g in groups]
    best = max(scores, default=0)
    if best > 0:
        return scores.index(best)
    for pos, g in enumerate(groups):
        if g is None:
            return pos
    for pos, g in enumerate(groups):
        if g and applies_groups(g) and any({"base"} <= w for w, _ in applies_groups(g)):
            return pos
    for pos, g in enumerate(groups):
        if g and re.search(r"他|other|autre", g, re.I):
            return pos
    return None


_DERIVATION_TOKENS: list[tuple[str, str]] = [
    ("gguf", "quantisation"), ("gptq", "quantisation"), ("awq", "quantisation"), ("4bit", "quantisation"),
    ("neuron", "quantisation"),
    ("dpo", "dpo"), ("ppo", "ppo"),
    ("instruct", "instruction-tuning"), ("instruction", "instruction-tuning"), ("sft", "instruction-tuning"),
    ("chat", "instruction-tuning"),
]


def infer_variant_parents(repos: list[str]) -> dict[str, tuple[str, str]]:
    """Guess, from repo names alone, which variant each variant was derived from.

    Returns ``{repo: (parent_repo, kind)}``; every edge is an inference from names.

    >>> infer_variant_parents(["rinna/youri-7b", "rinna/youri-7b-chat", "rinna/youri-7b-chat-gptq"])
    {'rinna/youri-7b-chat': ('rinna/youri-7b', 'instruction-tuning'), 'rinna/youri-7b-chat-gptq': ('rinna/youri-7b-chat', 'quantisation')}
    """
    names = {r: r.split("/")[-1].casefold() for r in repos}
    by_name = {n: r for r, n in names.items()}
    out: dict[str, tuple[str, str]] = {}
    for repo, name in names.items():
        parts = re.split(r"([-_])", name)
        words = parts[0::2]
        found = None
        # remove derivation words from the end backwards, one at a time
        for idx in range(len(words) - 1, -1, -1):
            kind = next((k for t, k in _DERIVATION_TOKENS if words[idx] == t), None)
            if not kind:
                continue
            cands = []
            rest = words[:idx] + words[idx + 1:]
            cands.append("-".join(rest))
            cands.append("-".join(words[:idx]))
            if _VERSION.match(words[-1]) and idx < len(words) - 1:
                cands.append("-".join(words[:idx] + [words[-1]]))
            if words[idx] in ("instruct", "instruction", "chat"):
                swapped = words[:idx] + ["base"] + words[idx + 1:]
                cands.append("-".join(swapped))
                if _VERSION.match(swapped[-1]):
                    cands.append("-".join(swapped[:-1]))
            for cand in cands:
                target = next((r for n, r in by_name.items() if n.replace("_", "-") == cand), None)
                if target and target != repo:
                    found = (target, kind)
                    break
            if found:
                break
        if found:
            out[repo] = found
    return out


def hf_repo(href: str) -> str | None:
    """The model repo id of a huggingface.co link (None for datasets, spaces, collections, other hosts).

    >>> hf_repo("https://huggingface.co/collections/EQUES/pharmatron-680a330b4dfce3ac43009984") is None
    True
    >>> hf_repo("https://huggingface.co/EQUES/JPharmatron-7B-base")
    'EQUES/JPharmatron-7B-base'
    """
    m = re.match(r"https?://(?:www\.)?huggingface\.co/([^/?#]+)/([^/?#]+)", href)
    if not m or m.group(1) in ("datasets", "spaces", "docs", "blog", "papers", "collections", "organizations", "models"):
        return None
    return f"{m.group(1)}/{m.group(2)}"


def arxiv_id(href: str) -> str | None:
    """``https://arxiv.org/abs/2307.09288`` → ``2307.09288`` (pdf links too)."""
    m = re.search(r"arxiv\.org/(?:abs|pdf)/(\d{4}\.\d{4,5})(?:v\d+)?", href)
    return m.group(1) if m else None


def parse_date(text: str) -> str | None:
    """``2017.06.12`` → ``2017-06-12``."""
    m = re.search(r"(\d{4})[./-](\d{1,2})[./-](\d{1,2})", nfkc(text))
    if not m:
        return None
    return f"{int(m.group(1)):04d}-{int(m.group(2)):02d}-{int(m.group(3)):02d}"
