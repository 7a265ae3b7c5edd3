#!/usr/bin/env bash
# Concurrent ingest for bench/load.sh: POSTs ROWS incidents every 0.1 s
# (100 a second with the default 10) to a running server until killed.
#   bench/ingest.sh PORT TOKEN [ROWS]
set -euo pipefail
port="$1"
token="$2"
rows="${3:-10}"
n=0
while :; do
  now=$(date -u +%Y-%m-%dT%H:%M:%SZ)
  # Spread over the demo district: 116.385..116.432 E, 39.86..39.97 N.
  body=$(awk -v n="$n" -v rows="$rows" -v now="$now" -v tag="$$" 'BEGIN {
    srand(n + tag);
    print "id,lon,lat,category,severity,source,status,reported_at";
    for (k = 1; k <= rows; k++)
      printf "bench-%s-%d,%.6f,%.6f,0101,1,app,reported,%s\n", tag, n + k,
             116.385 + rand() * 0.047, 39.86 + rand() * 0.11, now;
  }')
  n=$((n + rows))
  curl -sf -o /dev/null -X POST -H "Authorization: Bearer $token" \
    -H "Content-Type: text/csv" --data-binary "$body" \
    "http://127.0.0.1:$port/api/incidents" || echo "ingest: a POST failed" >&2
  sleep 0.1
done
