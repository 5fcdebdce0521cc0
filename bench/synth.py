"""A deterministic synthetic catalog in the shipped YAML schema, for scale runs (issue 12).

``python bench/synth.py --families 10000 --out /tmp/syn-10k [--seed 12]`` writes a catalog
directory that ``jllm-kg build --catalog DIR`` builds: the shipped ``sections.yaml``, the
shipped registries plus long-tailed synthetic datasets, organisations and licences, and
``models/*.yaml`` files of at most ``--per-file`` families each.

Shape (all from one seeded RNG, so the same arguments give the same bytes):

- a few huge roots: a family with no synthetic parent derives from a foundation model drawn
  with heavy weights (Llama 2 first), so at 1 k families Llama 2 already has hundreds of
  descendants and thousands beyond;
- chains: every ``--chain-every``-th family starts a chain of ``--chain-depth`` (default 12)
  families each derived from the previous one; other families derive from a recent family
  with probability 0.35 (deep, bushy lineage);
- 1–4 variants per family (Hugging Face repos), the later ones derived from the first;
- 1–3 training stages with datasets, developers and licences drawn from Zipf-like
  (long-tailed) distributions over the registries;
- ja/en names on every family (fr on a third of them).
"""
from __future__ import annotations

import argparse
import json
import random
import shutil
import sys
from itertools import accumulate
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = ROOT / "catalog"

#: Foundation models (ids of catalog/registries/foundation-models.yaml) and their weights as roots.
ROOTS: list[tuple[str, float]] = [("llama-2", 40), ("llama-3", 12), ("mistral-7b-v0-1", 8), ("qwen2", 6),
                                  ("gemma-2", 4), ("llama", 2), ("code-llama", 1)]
#: Sections the synthetic families are listed in (ids of catalog/sections.yaml).
SECTIONS = ["generative-continual-general", "generative-continual-domain-specific",
            "generative-instruction-only-general", "merged-models", "generative-scratch-general"]
STAGE_KINDS = ["continual-pre-training", "instruction-tuning", "dpo", "reinforcement-learning"]
BASE_KINDS = ["continual-pre-training", "instruction-tuning"]
SIZES = [0.5, 1.8, 3, 7, 8, 13, 14, 32, 70]


def _q(value: object) -> str:
    """A YAML scalar or flow collection: JSON is valid YAML, and quoting keeps types exact."""
    return json.dumps(value, ensure_ascii=False)


def _zipf_weights(n: int, s: float = 1.1) -> list[float]:
    return [1.0 / (rank ** s) for rank in range(1, n + 1)]


def _ids(path: Path) -> list[str]:
    import yaml

    data = yaml.load(path.read_text(encoding="utf-8"), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    return [str(item["id"]) for item in data or []]


class Generator:
    """Writes one synthetic catalog; see the module docstring."""

    def __init__(self, families: int, seed: int = 12, chain_every: int = 50, chain_depth: int = 12) -> None:
        self.n = families
        self.rng = random.Random(seed)
        self.chain_every, self.chain_depth = chain_every, chain_depth
        # long tails grow with the catalog, as new names do
        self.n_datasets = max(50, families // 10)
        self.n_orgs = max(30, families // 20)
        self.n_licences = max(10, families // 500)
        reg = SHIPPED / "registries"
        self.datasets = _ids(reg / "datasets.yaml")[:40] + [f"syn-ds-{i}" for i in range(self.n_datasets)]
        self.orgs = _ids(reg / "organisations.yaml")[:20] + [f"syn-org-{i}" for i in range(self.n_orgs)]
        self.licences = _ids(reg / "licences.yaml")[:10] + [f"LicenseRef-Syn-{i}" for i in range(self.n_licences)]
        known = set(_ids(reg / "foundation-models.yaml"))
        self.roots = [(rid, w) for rid, w in ROOTS if rid in known]
        # cumulative weights, computed once: ``random.choices`` with plain weights sums them on every call,
        # which made the generator quadratic (the tails grow with the catalog); the draws are the same
        self.w_datasets = list(accumulate(_zipf_weights(len(self.datasets))))
        self.w_orgs = list(accumulate(_zipf_weights(len(self.orgs))))
        self.w_licences = list(accumulate(_zipf_weights(len(self.licences))))

    # -- registries
    def registries(self, out: Path) -> None:
        reg = out / "registries"
        reg.mkdir(parents=True, exist_ok=True)
        for name in ("architectures.yaml", "foundation-models.yaml", "training-methods.yaml", "source.yaml"):
            shutil.copyfile(SHIPPED / "registries" / name, reg / name)
        self._extend(reg / "datasets.yaml", (
            f"- id: syn-ds-{i}\n  labels: {_q({'ja': f'合成コーパス {i}', 'en': f'Synthetic corpus {i}'})}\n"
            f"  language: {'ja' if i % 3 else 'multi'}\n" for i in range(self.n_datasets)))
        self._extend(reg / "organisations.yaml", (
            f"- id: syn-org-{i}\n  type: {'person' if i % 7 == 6 else 'organization'}\n"
            f"  labels: {_q({'ja': f'合成研究所 {i}', 'en': f'Synthetic Lab {i}'})}\n"
            + (f"  parent: syn-org-{self._parent_org(i)}\n" if i >= 10 and i % 7 != 6 else "")
            for i in range(self.n_orgs)))
        self._extend(reg / "licences.yaml", (
            f"- id: LicenseRef-Syn-{i}\n  labels: {_q({'ja': f'合成ライセンス {i}', 'en': f'Synthetic Licence {i}'})}\n"
            f"  commercial_use: {'true' if i % 2 else 'false'}\n" for i in range(self.n_licences)))

    @staticmethod
    def _parent_org(i: int) -> int:
        """An organisation (never a person: ids ≡ 6 mod 7) a tenth of the way down the list."""
        parent = i // 10
        return parent - 1 if parent % 7 == 6 else parent

    @staticmethod
    def _extend(path: Path, entries) -> None:
        with open(path, "w", encoding="utf-8") as handle:
            handle.write((SHIPPED / "registries" / path.name).read_text(encoding="utf-8").rstrip("\n") + "\n\n")
            for entry in entries:
                handle.write(entry)

    # -- families
    def family(self, n: int, parent: int | None) -> str:
        r = self.rng
        fid = f"syn-{n:07d}"
        name = f"Synth {n}"
        names = {"ja": f"合成モデル {n}", "en": name}
        if n % 3 == 0:
            names["fr"] = f"Modèle synthétique {n}"
        org = r.choices(self.orgs, cum_weights=self.w_orgs)[0]
        lic = r.choices(self.licences, cum_weights=self.w_licences)[0]
        lines = [f"- id: {fid}", f"  names: {_q(names)}", f"  homepage: {_q(f'https://example.org/synth/{n}')}",
                 "  kind: generative", f"  source: {_q({'file': 'README.md', 'line': 1000 + n})}",
                 f"  developers: {_q({'raw': org, 'ids': [org]})}",
                 f"  release_year: {2019 + n % 8}",
                 f"  licences: {_q({'raw': lic, 'values': [{'id': lic, 'raw': lic}]})}"]
        stages = []
        for k in range(r.randint(1, 3)):
            kind = STAGE_KINDS[k] if k < len(STAGE_KINDS) else "instruction-tuning"
            used = sorted(set(r.choices(self.datasets, cum_weights=self.w_datasets, k=r.randint(1, 4))))
            stages.append({"kind": kind, "method": kind, "datasets": [{"raw": d, "id": d} for d in used],
                           "tokens": r.randint(1, 500) * 1_000_000_000, "raw": f"{kind}: {', '.join(used)}"})
        lines.append(f"  training: {_q({'raw': '; '.join(s['raw'] for s in stages), 'stages': stages})}")
        repo = f"synth-{org}/Synth-{n}"
        size = r.choice(SIZES)
        if parent is None:
            base_id = r.choices([rid for rid, _ in self.roots], [w for _, w in self.roots])[0]
            base = {"raw": base_id, "id": base_id, "in_catalog": False, "kind": r.choice(BASE_KINDS), "from": "base_model"}
        else:
            base = {"raw": f"Synth {parent}", "id": f"syn-{parent:07d}", "in_catalog": True,
                    "kind": r.choice(BASE_KINDS), "from": "base_model", "variant": f"synth-{self._org_of[parent]}/Synth-{parent}"}
        lines.append(f"  base_models: {_q([base])}")
        variants = [{"repo": repo, "url": f"https://huggingface.co/{repo}", "label": f"{size}B",
                     "size": {"raw": f"{size}B", "params_b": size}, "licence": lic}]
        for v in range(1, r.randint(1, 4)):
            vrepo = f"{repo}-{['instruct', 'chat', 'gguf'][v - 1]}"
            variants.append({"repo": vrepo, "url": f"https://huggingface.co/{vrepo}", "label": vrepo.rsplit("/", 1)[1],
                             "size": {"raw": f"{size}B", "params_b": size}, "licence": lic,
                             "derived_from": [{"variant": repo, "kind": "instruction-tuning" if v < 3 else "quantisation",
                                               "inferred": True}]})
        lines.append(f"  variants: {_q(variants)}")
        lines.append(f"  cells: {_q({'name': f'[{name}](https://example.org/synth/{n})', 'developer': org, 'licence': lic})}")
        self._org_of[n] = org
        return "\n".join(lines) + "\n"

    def models(self, out: Path, per_file: int) -> None:
        models = out / "models"
        models.mkdir(parents=True, exist_ok=True)
        self._org_of: dict[int, str] = {}
        handle = None
        chain_left = 0
        for n in range(1, self.n + 1):
            if (n - 1) % per_file == 0:
                if handle:
                    handle.close()
                section = SECTIONS[((n - 1) // per_file) % len(SECTIONS)]
                handle = open(models / f"{section}-{(n - 1) // per_file:05d}.yaml", "w", encoding="utf-8")
                handle.write(f"section: {section}\nfamilies:\n")
            if chain_left > 0:
                parent = n - 1
                chain_left -= 1
            elif n % self.chain_every == 0:
                parent, chain_left = None, self.chain_depth - 1
            elif n > 1 and self.rng.random() < 0.35:
                parent = max(1, n - 1 - min(4000, int(self.rng.expovariate(1 / 200))))
            else:
                parent = None
            handle.write(self.family(n, parent))
            # the org map only needs recent families (parents are at most a few thousand back)
            self._org_of.pop(n - 5000, None)
        if handle:
            handle.close()

    def write(self, out: Path, per_file: int = 1000) -> None:
        out.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(SHIPPED / "sections.yaml", out / "sections.yaml")
        self.registries(out)
        self.models(out, per_file)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--families", type=int, required=True, help="number of model families (1000 … 1000000)")
    parser.add_argument("--out", type=Path, required=True, help="catalog directory to write (must not exist)")
    parser.add_argument("--seed", type=int, default=12)
    parser.add_argument("--per-file", type=int, default=1000, help="families per models/*.yaml file")
    args = parser.parse_args(argv)
    if args.out.exists() and any(args.out.iterdir()):
        print(f"{args.out} exists and is not empty", file=sys.stderr)
        return 2
    Generator(args.families, args.seed).write(args.out, args.per_file)
    print(f"wrote {args.families:,} families to {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
