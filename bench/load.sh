#!/usr/bin/env bash
# Load test of `hutong serve` on loopback with wrk (Debian package wrk):
# cached tiles/s, and uncached heat tiles/s at z15 (the tile cache off, so
# that every tile is rendered), p99 latency, and the
# server's memory before and after. Run by hand:
#   bench/load.sh [DB] [SECONDS]
set -euo pipefail
cd "$(dirname "$0")/.."
db="${1:-hutong.db}"
secs="${2:-30}"
bin=build/src/hutong
command -v wrk >/dev/null || { echo "needs wrk (apt-get install wrk)"; exit 1; }

# shellcheck source=bench/serve.sh
. bench/serve.sh
serve() { # serve CACHE_MB [ARGS]: starts the server, sets pid and port
  serve_db "$db" "$tmp/out" --cache-mb "$@"
}
rss() { awk '/VmRSS/ {print $2 / 1024 " MB"}' "/proc/$pid/status"; }
tmp=$(mktemp -d)
trap 'kill $pid 2>/dev/null || true; rm -rf "$tmp"' EXIT

echo "== cached tiles (one z15 default tile, 2 threads, 32 connections, ${secs}s)"
serve 256
url="http://127.0.0.1:$port/tiles/default/15/26978/12413.png"
curl -sf -o /dev/null "$url"
echo "server memory before: $(rss)"
wrk -t2 -c32 -d"${secs}s" --latency "$url" | grep -E "Requests/sec|99%|Non-2xx|Socket errors|requests in"
echo "server memory after:  $(rss)"
kill "$pid"; wait "$pid" 2>/dev/null || true

echo
echo "== uncached heat tiles (z15, the 90 district tiles in turn, no tile cache, 2 threads, 8 connections, ${secs}s)"
serve 0
base="http://127.0.0.1:$port"
for q in "" "window=30d"; do
  # The first tile builds the filter's density grid in each worker.
  for _ in 1 2 3 4; do curl -sf -o /dev/null "$base/tiles/heat/15/26978/12413.png${q:+?$q}"; done
  echo "-- filter: ${q:-none}; memory before: $(rss)"
  HT_QUERY="$q" wrk -t2 -c8 -d"${secs}s" --latency -s bench/tiles.lua "$base" |
    grep -E "Requests/sec|99%|Non-2xx|Socket errors|requests in"
  echo "   memory after: $(rss)"
done
curl -s "$base/metrics" | grep -E "^hutong_tile_cache_(hits|misses)_total|^hutong_tile_render_seconds_(sum|count)"
kill "$pid"; wait "$pid" 2>/dev/null || true

echo
echo "== with ingest of 100 incidents/s (build/bench/bench_ingest: 10 every 0.1 s, by the clock), on a copy of $db"
cp "$db" "$tmp/ingest.db"
db="$tmp/ingest.db"
token=$("$bin" token create --name bench --write --tokens "$tmp/tokens" 2>/dev/null)
for phase in cached uncached; do
  if [ "$phase" = cached ]; then serve 256 --tokens "$tmp/tokens"; else serve 0 --tokens "$tmp/tokens"; fi
  base="http://127.0.0.1:$port"
  for _ in 1 2 3 4; do curl -sf -o /dev/null "$base/tiles/heat/15/26978/12413.png?window=30d"; done
  echo "-- $phase; memory before: $(rss); $(curl -s "$base/healthz" | grep -o '"incidents":[0-9]*')"
  build/bench/bench_ingest --port "$port" --token "$token" --rate 100 --batch 10 --seconds "$secs" &
  ingest=$!
  if [ "$phase" = cached ]; then
    echo "   cached default tile, 2 threads, 32 connections"
    wrk -t2 -c32 -d"${secs}s" --latency "$base/tiles/default/15/26978/12413.png" |
      grep -E "Requests/sec|99%|Non-2xx|Socket errors|requests in"
  else
    echo "   heat tiles (window=30d), the 90 district tiles in turn, no tile cache, 2 threads, 8 connections"
    HT_QUERY="window=30d" wrk -t2 -c8 -d"${secs}s" --latency -s bench/tiles.lua "$base" |
      grep -E "Requests/sec|99%|Non-2xx|Socket errors|requests in"
  fi
  wait "$ingest" || echo "ingest: some POSTs failed"
  echo "   memory after: $(rss); $(curl -s "$base/healthz" | grep -o '"incidents":[0-9]*')"
  kill "$pid"; wait "$pid" 2>/dev/null || true
done
