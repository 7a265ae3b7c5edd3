#!/usr/bin/env bash
# Seeding against serving, in one run: `hutong seed --style heat --zoom
# 12-17` over the district (every core) into a fresh MBTiles file, and
# uncached z15 heat tiles/s from `hutong serve --cache-mb 0` under wrk
# (2 threads, 8 connections, the demo district's 90 z15 tiles in turn);
# tiles/s of each and their ratio. Run by hand:
#   bench/seed_vs_serve.sh [DB] [SECONDS]
set -euo pipefail
cd "$(dirname "$0")/.."
db="${1:-hutong.db}"
secs="${2:-20}"
bin=build/src/hutong
command -v wrk >/dev/null || { echo "needs wrk (apt-get install wrk)"; exit 1; }
tmp=$(mktemp -d)
pid=
trap '[ -n "$pid" ] && kill $pid 2>/dev/null; rm -rf "$tmp"' EXIT

start=$(date +%s.%N)
out=$("$bin" seed --db "$db" --style heat --zoom 12-17 -o "$tmp/heat.mbtiles")
end=$(date +%s.%N)
tiles=$(echo "$out" | awk '{print $1}')
seed_rate=$(echo "$tiles $start $end" | awk '{printf "%.1f", $1 / ($3 - $2)}')
echo "seed: $out -> $seed_rate tiles/s"

# shellcheck source=bench/serve.sh
. bench/serve.sh
serve_db "$db" "$tmp/out" --cache-mb 0
base="http://127.0.0.1:$port"
for _ in 1 2 3 4; do curl -sf -o /dev/null "$base/tiles/heat/15/26978/12413.png"; done
serve_rate=$(wrk -t2 -c8 -d"${secs}s" -s bench/tiles.lua "$base" |
  awk '/Requests\/sec/ {print $2}')
echo "serve: uncached z15 heat tiles: $serve_rate tiles/s"
echo "seed / serve: $(echo "$seed_rate $serve_rate" | awk '{printf "%.2f", $1 / $2}')"
