"""What an import saw and wrote: the coverage report printed by every import."""
from __future__ import annotations

from dataclasses import dataclass, field

from graph.errors import UserError


@dataclass
class Report:
    """What an import saw and wrote; printed by every import."""

    rows: dict[str, int] = field(default_factory=dict)
    entries: dict[str, int] = field(default_factory=dict)
    files: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    raw_only: list[str] = field(default_factory=list)
    minted: dict[str, list[dict]] = field(default_factory=dict)
    variants: int = 0

    def render(self) -> str:
        out = ["Coverage report", "", "rows seen per section:"]
        for sec, n in self.rows.items():
            out.append(f"  {sec:45} {n:4d} rows → {self.entries.get(sec, 0):4d} entries")
        out.append(f"entries written: {sum(self.entries.values())} (+ {self.variants} variants) in {len(self.files)} files")
        out.append(f"cells kept raw only (not parsed into structure): {len(self.raw_only)}")
        out.extend(f"  {c}" for c in self.raw_only)
        total = sum(len(v) for v in self.minted.values())
        out.append(f"unresolved names (minted as new entities): {total}")
        for kind, items in self.minted.items():
            out.append(f"  {kind}: {len(items)}")
            for m in items:
                out.append(f"    {m['id']}: {m['name']!r} ({', '.join(m['seen_in'][:3])}{' …' if len(m['seen_in']) > 3 else ''})")
        out.append(f"warnings: {len(self.warnings)}")
        out.extend(f"  {w}" for w in self.warnings)
        out.append(f"problems (rows not turned into entries): {len(self.problems)}")
        out.extend(f"  {p}" for p in self.problems)
        return "\n".join(out)



class ImportProblems(UserError):
    """Rows that could not be turned into entries (kept for callers that want to refuse on them)."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        more = f" (and {len(problems) - 1} more problems: {'; '.join(problems[1:4])})" if len(problems) > 1 else ""
        super().__init__(problems[0] + more + " — nothing written")

