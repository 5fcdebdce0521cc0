"""Benchmark: wall time of import + build + validate of the seed catalog (target < 3 s on 2 cores).

Run: ``.venv/bin/python bench/build.py [--runs 3]``. Each run imports the seed READMEs
(/work/shared/seed or $JLLM_KG_SEED) into a fresh catalog directory, builds a store from it
(the build includes the SHACL check) and runs ``validate`` against the store. Prints one line per
run and a summary line.
"""
from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import catalog  # noqa: E402
from graph.build import build_store  # noqa: E402
from graph.importer import run_import  # noqa: E402
from graph.rdf.validate import validate_command  # noqa: E402

SEED = Path(os.environ.get("JLLM_KG_SEED", "/work/shared/seed"))


def one_run(work: Path) -> dict[str, float]:
    """Import, build and validate once in ``work``; seconds per phase."""
    out = work / "catalog"
    shutil.copytree(catalog.PATH / "registries", out / "registries")
    quiet = lambda *a, **k: None  # noqa: E731
    t0 = time.perf_counter()
    run_import(SEED / "README.ja.md", en=SEED / "README.en.md", fr=SEED / "README.fr.md", out=out)
    t1 = time.perf_counter()
    quads = build_store(catalog_dir=out, store_path=work / "store", echo=quiet)
    t2 = time.perf_counter()
    assert validate_command(None, work / "store", quiet)
    t3 = time.perf_counter()
    return {"import": t1 - t0, "build": t2 - t1, "validate": t3 - t2, "total": t3 - t0, "quads": quads}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    totals: list[float] = []
    with_validate: list[float] = []
    for n in range(args.runs):
        with tempfile.TemporaryDirectory() as tmp:
            r = one_run(Path(tmp))
        totals.append(r["import"] + r["build"])
        with_validate.append(r["total"])
        print(f"run {n + 1}: import {r['import']:.2f}s  build (incl. SHACL) {r['build']:.2f}s"
              f"  standalone validate {r['validate']:.2f}s  ({r['quads']:,} quads)", file=sys.stderr)
    print(f"import+build(+SHACL) of the seed: median {statistics.median(totals):.2f}s, min {min(totals):.2f}s; "
          f"plus a standalone `validate`: median {statistics.median(with_validate):.2f}s "
          f"({len(totals)} runs, {os.cpu_count()} CPUs)")


if __name__ == "__main__":
    main()
