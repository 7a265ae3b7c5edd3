#!/usr/bin/env bash
# Memory under a long steady load: `hutong serve` on a copy of DB takes
# RATE incidents/s (default 100, build/bench/bench_ingest) while wrk asks
# for heat tiles (window=30d, 1 connection), and the server's RSS, incident
# count and tile cache bytes are printed every STEP seconds. Run by hand:
#   bench/soak.sh [DB] [SECONDS] [STEP] [RATE]
set -euo pipefail
cd "$(dirname "$0")/.."
db="${1:-hutong.db}"
secs="${2:-1800}"
step="${3:-60}"
rate="${4:-100}"
bin=build/src/hutong
command -v wrk >/dev/null || { echo "needs wrk (apt-get install wrk)"; exit 1; }
tmp=$(mktemp -d)
pid=""
trap 'kill $pid 2>/dev/null || true; rm -rf "$tmp"' EXIT
cp "$db" "$tmp/soak.db"
token=$("$bin" token create --name soak --write --tokens "$tmp/tokens" 2>/dev/null)
# shellcheck source=bench/serve.sh
. bench/serve.sh
serve_db "$tmp/soak.db" "$tmp/out" --cache-mb 64 --tokens "$tmp/tokens"
base="http://127.0.0.1:$port"
build/bench/bench_ingest --port "$port" --token "$token" --rate "$rate" --batch $((rate / 10 > 0 ? rate / 10 : 1)) --seconds "$secs" &
ingest=$!
HT_QUERY="window=30d" wrk -t1 -c1 -d"${secs}s" -s bench/tiles.lua "$base" >"$tmp/wrk" &
load=$!
echo "seconds rss_mb incidents cache_mb"
for ((t = 0; t <= secs; t += step)); do
  rss=$(awk '/VmRSS/ {printf "%.1f", $2 / 1024}' "/proc/$pid/status")
  inc=$(curl -s "$base/healthz" | grep -o '"incidents":[0-9]*' | cut -d: -f2)
  cache=$(curl -s "$base/metrics" | awk '/^hutong_tile_cache_bytes/ {printf "%.1f", $2 / 1048576}')
  echo "$t $rss $inc $cache"
  [ "$t" -lt "$secs" ] && sleep "$step"
done
wait "$ingest" "$load" || true
grep -E "Requests/sec|requests in|Non-2xx" "$tmp/wrk" || true
