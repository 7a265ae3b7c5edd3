#!/usr/bin/env bash
# City scale: every figure of the city-scale issue, on a real `hutong serve`
# (release build, --cache-mb 0, --threads 1) for each database given, in
# one run so their ratios hold: time to ready (without and with the
# index's snapshot), RSS, the first request of each kind (cold: nothing of
# it built yet) and then median, p95 and max of RUNS more. Run by hand:
#   bench/city.sh [RUNS] DB...
# e.g. a 1 M demo and its 10-fold copy (build-rel/bench/bench_city).
# Heat and classed tiles are built lazily per filter: "first" is the cost of
# a filter nobody asked for yet. Each "first" follows the others of the
# run, so a server's first request after its start is only the first
# line's.
set -euo pipefail
cd "$(dirname "$0")/.."
runs=9
if [[ "${1:-}" =~ ^[0-9]+$ ]]; then runs=$1; shift; fi
[ $# -ge 1 ] || { echo "usage: bench/city.sh [RUNS] DB..."; exit 2; }
bin=${HUTONG_BIN:-build-rel/src/hutong}
[ -x "$bin" ] || { echo "build the release first: .ci/build build-rel --buildtype=release"; exit 1; }
tmp=$(mktemp -d)
pid=""
trap '[ -n "$pid" ] && kill $pid 2>/dev/null; rm -rf "$tmp"' EXIT

ms() { # ms URL: milliseconds of one GET (the body read whole)
  curl -s -o /dev/null -w '%{time_total}\n' "$1" | awk '{printf "%.1f\n", $1 * 1000}'
}
stats() { # stats: median p95 max of the numbers on stdin
  sort -n | awk '{v[NR] = $1} END {
    if (NR == 0) { print "-"; exit }
    m = v[int((NR + 1) / 2)]; p = v[int(NR * 0.95 + 0.999)]; if (p == "") p = v[NR]
    printf "median %7.1f  p95 %7.1f  max %7.1f", m, p, v[NR] }'
}
measure() { # measure NAME URL...: first of the first URL, then all in turn
  local name=$1; shift
  local first; first=$(ms "$1")
  local i=0 out=()
  while [ $i -lt "$runs" ]; do
    for u in "$@"; do out+=("$(ms "$u")"); done
    i=$((i + 1))
  done
  printf "  %-40s first %8.1f  %s\n" "$name" "$first" "$(printf '%s\n' "${out[@]}" | stats)"
}
ready() { # ready DB: starts the server (pid, port), sets t: seconds to ready
  local t0; t0=$(date +%s.%N)
  "$bin" serve --db "$1" --port 0 --cache-mb 0 --threads 1 >"$tmp/out" 2>"$tmp/err" &
  pid=$!
  port=""
  local i
  for i in $(seq 1 1200); do
    port=$(grep -o '127.0.0.1:[0-9]*' "$tmp/out" 2>/dev/null | cut -d: -f2 || true)
    [ -n "$port" ] && curl -sf -o /dev/null "http://127.0.0.1:$port/healthz" && break
    sleep 0.05
  done
  t=$(echo "$(date +%s.%N) - $t0" | bc)
}

for db in "$@"; do
  n=$(sqlite3 "$db" "SELECT count(*) FROM incidents")
  echo "== $db: $n incidents"
  rm -f "$db.index"
  ready "$db"; echo "  ready (index loaded from the database):  ${t} s"
  kill "$pid"; wait "$pid" 2>/dev/null || true
  ready "$db"; echo "  ready (index read from its snapshot):     ${t} s"
  echo "  RSS $(awk '/VmRSS/ {printf "%.0f MB", $2 / 1024}' "/proc/$pid/status"); $(grep -h 'index:' "$tmp/err" || true)"
  base="http://127.0.0.1:$port"
  # A month of the data with its month before (20 days before the newest).
  month=$(sqlite3 "$db" "SELECT strftime('%Y-%m', max(reported_at) - 20 * 86400, 'unixepoch') FROM incidents")
  z=14 x=13489 y=6206 # over Dongcheng
  measure "heat tile z$z (no filter)" "$base/tiles/heat/$z/$x/$y.png" \
    "$base/tiles/heat/$z/$((x + 1))/$y.png" "$base/tiles/heat/$z/$x/$((y + 1)).png"
  measure "heat tile z$z category=03" "$base/tiles/heat/$z/$x/$y.png?category=03"
  measure "heat tile z$z severity=3" "$base/tiles/heat/$z/$x/$y.png?severity=3"
  measure "heat tile z$z month=$month" "$base/tiles/heat/$z/$x/$y.png?from=$month-01&to=$month-28"
  measure "heat tile z$z window=7d" "$base/tiles/heat/$z/$x/$y.png?window=7d"
  # The wall's rate: its scale from a 365-day reference, the window's own.
  measure "heatrate tile z$z window=30d" "$base/tiles/heatrate/$z/$x/$y.png?window=30d"
  # Any other filter: the classes around it less the rest, or a build.
  dept=$(sqlite3 "$db" "SELECT department FROM incidents WHERE department IS NOT NULL GROUP BY 1 ORDER BY count(*) DESC LIMIT 1 OFFSET 1" | python3 -c 'import sys, urllib.parse; print(urllib.parse.quote(sys.stdin.read().strip()))')
  office=$(sqlite3 "$db" "SELECT code FROM grids WHERE level = 'street' ORDER BY code LIMIT 1 OFFSET 1")
  minor=$(sqlite3 "$db" "SELECT category FROM incidents GROUP BY 1 ORDER BY count(*) DESC LIMIT 1 OFFSET 1")
  measure "heat tile z$z status=closed" "$base/tiles/heat/$z/$x/$y.png?status=closed"
  measure "heat tile z$z status=open" "$base/tiles/heat/$z/$x/$y.png?status=open"
  measure "heat tile z$z overdue=1" "$base/tiles/heat/$z/$x/$y.png?overdue=1"
  measure "heat tile z$z category=$minor" "$base/tiles/heat/$z/$x/$y.png?category=$minor"
  measure "heat tile z$z grid=$office" "$base/tiles/heat/$z/$x/$y.png?grid=$office"
  measure "heat tile z$z grid=$office&status=closed" "$base/tiles/heat/$z/$x/$y.png?grid=$office&status=closed"
  measure "heat tile z$z department (2nd)" "$base/tiles/heat/$z/$x/$y.png?department=$dept"
  measure "heat tile z$z source=patrol" "$base/tiles/heat/$z/$x/$y.png?source=patrol"
  measure "heat tile z$z window=30d&category=01" "$base/tiles/heat/$z/$x/$y.png?window=30d&category=01"
  measure "choropleth tile z$z" "$base/tiles/choropleth/$z/$x/$y.png"
  measure "street heat tile z15" "$base/tiles/streetheat/15/$((2 * x))/$((2 * y)).png"
  measure "stats by=street window=30d" "$base/api/stats?by=street&window=30d"
  measure "stats by=grid" "$base/api/stats?by=grid"
  measure "stats by=community" "$base/api/stats?by=community"
  measure "stats by=month" "$base/api/stats?by=month"
  measure "stats by=department" "$base/api/stats?by=department"
  measure "stats by=grid category=01" "$base/api/stats?by=grid&category=01"
  measure "stats by=department window=month" "$base/api/stats?by=department&window=month"
  measure "topics month=$month" "$base/api/topics?month=$month"
  measure "topics month=$month by=community" "$base/api/topics?month=$month&by=community"
  measure "incidents limit=30" "$base/api/incidents?limit=30"
  measure "incidents limit=1000 status=closed" "$base/api/incidents?limit=1000&status=closed"
  measure "grid $office with its figures" "$base/api/grids/$office"
  measure "overdue tile z$z (every late dot)" "$base/tiles/overdue/$z/$x/$y.png"
  measure "overdue tile z$((z - 1)) (every late dot)" \
    "$base/tiles/overdue/$((z - 1))/$((x / 2))/$((y / 2)).png"
  echo "  RSS after the run: $(awk '/VmRSS/ {printf "%.0f MB", $2 / 1024}' "/proc/$pid/status")"
  kill "$pid"; wait "$pid" 2>/dev/null || true
  pid=""
done
