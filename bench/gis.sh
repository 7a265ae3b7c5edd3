#!/usr/bin/env bash
# The GIS clients' paths on a real `hutong serve` (release build): WMTS
# tiles of GoogleMapsCompatible (the XYZ tiles) and of Tianditu's "c"
# (drawn in EPSG:4490) over the same place, OGC API Features pages of 100
# and 10,000, and the dumps: `hutong export` (CSV, GeoJSON, GeoPackage;
# time and peak memory) and GET /api/incidents.csv (time, the server's
# memory before and at most during). One run, so the ratios hold. Run by
# hand:
#   bench/gis.sh [RUNS] DB
set -euo pipefail
cd "$(dirname "$0")/.."
runs=9
if [[ "${1:-}" =~ ^[0-9]+$ ]]; then runs=$1; shift; fi
[ $# -eq 1 ] || { echo "usage: bench/gis.sh [RUNS] DB"; exit 2; }
db=$1
bin=${HUTONG_BIN:-build-rel/src/hutong}
[ -x "$bin" ] || { echo "build the release first: .ci/build build-rel --buildtype=release"; exit 1; }
tmp=$(mktemp -d)
pid=""
trap '[ -n "$pid" ] && kill $pid 2>/dev/null; rm -rf "$tmp"' EXIT
. bench/serve.sh

ms() { curl -s -o /dev/null -w '%{time_total}\n' "$1" | awk '{printf "%.1f\n", $1 * 1000}'; }
stats() {
  sort -n | awk '{v[NR] = $1} END {
    m = v[int((NR + 1) / 2)]; p = v[int(NR * 0.95 + 0.999)]; if (p == "") p = v[NR]
    printf "median %8.1f  p95 %8.1f  max %8.1f", m, p, v[NR] }'
}
measure() { # NAME URL...: the first of the first URL, then all RUNS times
  local name=$1; shift
  local first; first=$(ms "$1")
  local out=() i
  for i in $(seq 1 "$runs"); do for u in "$@"; do out+=("$(ms "$u")"); done; done
  printf "  %-44s first %8.1f  %s\n" "$name" "$first" "$(printf '%s\n' "${out[@]}" | stats)"
}
rss() { awk '/VmRSS/ {printf "%.0f", $2 / 1024}' "/proc/$pid/status"; }

echo "== $db: $(sqlite3 "$db" 'SELECT count(*) FROM incidents') incidents"
serve_db "$db" "$tmp/out" --cache-mb 0 --threads 1
for _ in $(seq 1 600); do curl -sf -o /dev/null "http://127.0.0.1:$port/healthz" && break; sleep 0.1; done
b="http://127.0.0.1:$port"
# Dongcheng's middle (116.41 E, 39.91 N): XYZ 15/26979/12417, "c" 15/4559/26980
k="SERVICE=WMTS&REQUEST=GetTile&VERSION=1.0.0&FORMAT=image/png"
for layer in default heat; do
  measure "WMTS GoogleMapsCompatible 15 $layer" \
    "$b/wmts?$k&LAYER=$layer&TILEMATRIXSET=GoogleMapsCompatible&TILEMATRIX=15&TILEROW=12417&TILECOL=26979" \
    "$b/wmts?$k&LAYER=$layer&TILEMATRIXSET=GoogleMapsCompatible&TILEMATRIX=15&TILEROW=12418&TILECOL=26979"
  measure "WMTS c 15 $layer" \
    "$b/wmts/1.0.0/$layer/default/c/15/4559/26980.png" \
    "$b/wmts/1.0.0/$layer/default/c/15/4560/26980.png"
done
measure "OGC API grids, 100 with figures" "$b/ogcapi/collections/grids/items?level=grid"
measure "OGC API incidents, 100" "$b/ogcapi/collections/incidents/items"
measure "OGC API incidents, 10000" "$b/ogcapi/collections/incidents/items?limit=10000"
measure "OGC API incidents, 10000 in EPSG:4548" \
  "$b/ogcapi/collections/incidents/items?limit=10000&crs=http://www.opengis.net/def/crs/EPSG/0/4548"
before=$(rss)
( peak=0; while kill -0 "$pid" 2>/dev/null; do r=$(rss); [ "$r" -gt "$peak" ] && peak=$r && echo "$peak" >"$tmp/peak"; sleep 0.2; done ) &
mon=$!
t=$(curl -s -o "$tmp/http.csv" -w '%{time_total}' "$b/api/incidents.csv")
kill $mon 2>/dev/null || true
printf "  %-44s %6.1f s, %s MB; server RSS %s MB before, %s MB at most\n" \
  "GET /api/incidents.csv" "$t" "$(( $(stat -c %s "$tmp/http.csv") / 1048576 ))" "$before" "$(cat "$tmp/peak")"
kill "$pid"; wait "$pid" 2>/dev/null || true; pid=""
for f in csv geojson gpkg; do
  /usr/bin/time -f "%e %M" -o "$tmp/time" "$bin" export incidents -o "$tmp/out.$f" --db "$db" >/dev/null
  read -r s kb <"$tmp/time"
  printf "  %-44s %6.1f s, %5.0f MB at most, %s MB written\n" "hutong export incidents .$f" "$s" "$((kb / 1024))" \
    "$(( $(stat -c %s "$tmp/out.$f") / 1048576 ))"
done
cmp -s "$tmp/http.csv" "$tmp/out.csv" && echo "  (the server's CSV is the command's, byte for byte)"
