#!/usr/bin/env bash
# One large size, build first, then the raw comparison (issue 12), for sizes where bench/scale.py's
# several steps do not fit on the disk: synth → `jllm-kg build` (timed; disk polled) → HTTP latencies
# of the served store → the engine's own N-Quads dump of it (the raw input; not timed) → the build's
# store deleted → raw pyoxigraph `bulk_load` + `flush` + `optimize` of that N-Quads (timed; disk polled).
#
#   bash bench/scale_once.sh [FAMILIES=256000] [WORKDIR=/tmp/jllm-scale-once] [PORT=8391]
#
# Writes WORKDIR/times.txt (wall time, peak RSS of the largest process and CPU time from /usr/bin/time;
# peak disk use of the file system, polled every second) and WORKDIR/disk.log (every 10 s during the
# build: disk used, the generation's files, the build's scratch directory, the partial Turtle dump).
# Run nothing else during the two timed steps: the ratio is only as good as the host's quiet.
set -u
cd "$(dirname "$0")/.."
FAMILIES=${1:-256000}; W=${2:-/tmp/jllm-scale-once}; PORT=${3:-8391}
PY=${PYTHON:-.venv/bin/python}
export SOURCE_DATE_EPOCH=1764547200
rm -rf "$W"; mkdir -p "$W"
T=$W/times.txt; : > "$T"
used() { df -B1M --output=used "$W" | tail -1 | tr -d ' '; }
poll() { local peak=0 u; while [ -e "$W/polling" ]; do u=$(used); [ "$u" -gt "$peak" ] && peak=$u && echo "$peak" > "$W/peak-$1"; sleep 1; done; }
sizes() {
  while [ -e "$W/polling" ]; do
    local g s
    g=$(ls -d "$W"/store.gen-* 2>/dev/null | grep -v '\.dump\.ttl' | head -1)
    s=$(ls -d "$W"/jllm-kg-build-* 2>/dev/null | head -1)
    echo "$(date -u +%T) used $(used) MB; generation $([ -n "$g" ] && du -sm "$g" 2>/dev/null | cut -f1) MB;" \
      "scratch $([ -n "$s" ] && du -sm "$s" 2>/dev/null | cut -f1) MB; dump $(du -cm "$W"/*.dump.ttl.tmp 2>/dev/null | tail -1 | cut -f1) MB"
    sleep 10
  done
}
echo "start $(date -u +%T) commit $(git rev-parse --short HEAD) load $(cut -d' ' -f1-3 /proc/loadavg)" >> "$T"
/usr/bin/time -f "synth %e s %M KB" -a -o "$T" $PY bench/synth.py --families "$FAMILIES" --out "$W/catalog" --seed 12 > "$W/synth.log" 2>&1
echo "catalog $(du -sm "$W/catalog" | cut -f1) MB; disk used before build $(used) MB" >> "$T"
touch "$W/polling"; poll build & sizes > "$W/disk.log" &
/usr/bin/time -f "build %e s %M KB %U user %S sys" -a -o "$T" $PY -m jllm_kg.cli build --catalog "$W/catalog" --store "$W/store" > "$W/build.log" 2>&1
rm -f "$W/polling"; sleep 2
echo "after build $(date -u +%T) load $(cut -d' ' -f1-3 /proc/loadavg); peak used $(cat "$W/peak-build") MB; store $(du -sm "$(readlink -f "$W/store")" | cut -f1) MB; dump.ttl $(du -sm "$(readlink -f "$W/store").dump.ttl" | cut -f1) MB" >> "$T"
$PY -m jllm_kg.cli serve --store "$W/store" --port "$PORT" > "$W/serve.log" 2>&1 &
SP=$!
for _ in $(seq 1 120); do curl -s -o /dev/null "http://127.0.0.1:$PORT/" && break; sleep 1; done
for u in "/queries/descendants.json?model=llama-2" "/model/llama-2" "/"; do
  for i in 1 2 3 4 5 6 7; do  # each request distinct, so the front's response cache does not answer it
    sep='?'; case "$u" in *\?*) sep='&';; esac
    q="$u${sep}nocache=$i"; [ "$u" = "/queries/descendants.json?model=llama-2" ] && q="$u&offset=0&lang=en$(printf '&lang=en%.0s' $(seq 1 $i))"
    curl -s -o /dev/null -w "http $u $i %{http_code} %{time_total} %{size_download}\n" "http://127.0.0.1:$PORT$q" >> "$T"
  done
done
curl -s -o /dev/null -w "http /dump.ttl %{http_code} first-byte %{time_starttransfer} total %{time_total} %{size_download}\n" "http://127.0.0.1:$PORT/dump.ttl" >> "$T"
kill $SP; wait $SP 2>/dev/null
$PY -c "import sys; from pyoxigraph import RdfFormat, Store
Store.read_only(sys.argv[1]).dump(sys.argv[2], RdfFormat.N_QUADS)" "$(readlink -f "$W/store")" "$W/raw.nq"
rm -rf "$W"/store "$W"/store.gen-*
echo "dumped $(date -u +%T) $(du -sm "$W/raw.nq" | cut -f1) MB; disk used before raw $(used) MB" >> "$T"
touch "$W/polling"; poll raw &
/usr/bin/time -f "raw %e s %M KB %U user %S sys" -a -o "$T" $PY -c "import sys; from pyoxigraph import RdfFormat, Store
s = Store(sys.argv[2]); s.bulk_load(path=sys.argv[1], format=RdfFormat.N_QUADS); s.flush(); s.optimize(); print(len(s))" "$W/raw.nq" "$W/raw-store" > "$W/raw.log" 2>&1
rm -f "$W/polling"; sleep 2
echo "after raw $(date -u +%T) peak used $(cat "$W/peak-raw") MB; raw store $(du -sm "$W/raw-store" | cut -f1) MB" >> "$T"
rm -rf "$W/raw-store" "$W/raw.nq"
echo "end $(date -u +%T) load $(cut -d' ' -f1-3 /proc/loadavg)" >> "$T"
cat "$T"
