#!/usr/bin/env bash
# Interleaved pairs at one size (issue 12): raw pyoxigraph `bulk_load` (+ flush + optimize) of the same
# quads, then the default `jllm-kg build`, ROUNDS times, each timed by /usr/bin/time (wall, peak RSS of
# the largest process). The host's speed drifts within a scale run; pairs a few minutes apart compare better.
#
#   bash bench/scale_pairs.sh [FAMILIES=128000] [ROUNDS=2] [WORKDIR=/tmp/jllm-scale-pairs]
#
# Writes WORKDIR/times.txt (and the build logs). The raw input is the engine's own N-Quads dump of a first,
# untimed build of the same catalog (bench/synth.py, seed 12).
set -euo pipefail
cd "$(dirname "$0")/.."
FAMILIES=${1:-128000}; ROUNDS=${2:-2}; W=${3:-/tmp/jllm-scale-pairs}
PY=.venv/bin/python
rm -rf "$W"; mkdir -p "$W"
export SOURCE_DATE_EPOCH=1764547200
$PY bench/synth.py --families "$FAMILIES" --out "$W/catalog" --seed 12 > "$W/synth.log" 2>&1
$PY -m jllm_kg.cli build --catalog "$W/catalog" --store "$W/first" > "$W/first.log" 2>&1
$PY -c "import sys; from pyoxigraph import RdfFormat, Store
Store.read_only(sys.argv[1]).dump(sys.argv[2], RdfFormat.N_QUADS)" "$(readlink -f "$W/first")" "$W/raw.nq"
rm -rf "$W"/first "$W"/first.gen-*
for round in $(seq 1 "$ROUNDS"); do
  /usr/bin/time -f "raw $round %e s %M KB" -a -o "$W/times.txt" $PY -c "import sys; from pyoxigraph import RdfFormat, Store
s = Store(sys.argv[2]); s.bulk_load(path=sys.argv[1], format=RdfFormat.N_QUADS); s.flush(); s.optimize(); print(len(s))" \
    "$W/raw.nq" "$W/raw-store" > "$W/raw-$round.log" 2>&1
  rm -rf "$W/raw-store"
  echo "load average $(cut -d' ' -f1-3 /proc/loadavg)" >> "$W/times.txt"
  /usr/bin/time -f "build $round %e s %M KB" -a -o "$W/times.txt" $PY -m jllm_kg.cli build --catalog "$W/catalog" \
    --store "$W/store" > "$W/build-$round.log" 2>&1
  rm -rf "$W"/store "$W"/store.gen-*
  echo "load average $(cut -d' ' -f1-3 /proc/loadavg)" >> "$W/times.txt"
done
cat "$W/times.txt"
