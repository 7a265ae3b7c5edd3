#!/usr/bin/env bash
# Several servers on one PostgreSQL: tiles/s through nginx (the README's
# sample, deploy/nginx-cluster.conf) with one server behind it and with
# two, in alternating rounds so the ratio holds on any machine; then the
# write-to-visible delay, POST to one server and heard on its own and the
# other's event stream (bench_visible). Run by hand, on a throwaway
# cluster, with wrk and nginx installed:
#   tests/pg/with-cluster bench/cluster.sh [INCIDENTS [ROUNDS [SECONDS [COPIES]]]]
# COPIES > 1 adds COPIES - 1 copies of the demo's incidents before the
# ready-time figures (in SQL: a day earlier each, scattered by up to 30 m).
# Each server: --threads 1 --cache-mb 0 (every tile drawn: what a cache
# miss costs) unless HT_SERVE_OPTS says otherwise.
set -euo pipefail
cd "$(dirname "$0")/.."
incidents=${1:-200000}
rounds=${2:-3}
secs=${3:-10}
copies=${4:-1}
bin=${HUTONG_BIN:-build-rel/src/hutong}
visible=${HUTONG_BENCH_VISIBLE:-build-rel/bench/bench_visible}
[ -x "$bin" ] && [ -x "$visible" ] ||
  { echo "build the release first: .ci/build build-rel --buildtype=release"; exit 1; }
[ -n "${HUTONG_TEST_PG:-}" ] || { echo "run it under tests/pg/with-cluster"; exit 2; }
command -v wrk >/dev/null && [ -x /usr/sbin/nginx ] ||
  { echo "needs wrk and nginx (Debian: wrk nginx)"; exit 1; }
read -r -a serve_opts <<<"${HT_SERVE_OPTS:---threads 1 --cache-mb 0}"
tmp=$(mktemp -d)
chmod 755 "$tmp"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT
. bench/serve.sh

db="${HUTONG_TEST_PG%%/postgres\?*}/hutong_bench?${HUTONG_TEST_PG#*\?}"
psql -q "$HUTONG_TEST_PG" -c "CREATE DATABASE hutong_bench TEMPLATE hutong_template"
echo "building a demo of $incidents incidents on PostgreSQL ..."
"$bin" demo --db "$db" --incidents "$incidents" >/dev/null
token=$("$bin" token create --name bench --write --db "$db" 2>/dev/null)

serve_db "$db" "$tmp/a.log" "${serve_opts[@]}"; pa=$port; pids+=("$pid")
serve_db "$db" "$tmp/b.log" "${serve_opts[@]}"; pb=$port; pids+=("$pid")
[ -n "$pa" ] && [ -n "$pb" ] || { echo "a server did not start"; exit 1; }

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
# nginx NAME PORT UPSTREAM...: the sample with its servers replaced.
start_nginx() {
  local name=$1 port=$2
  shift 2
  local d="$tmp/$name" lines=""
  mkdir -p "$d"
  for u in "$@"; do
    lines+="    server 127.0.0.1:$u max_fails=3 fail_timeout=5s;\n"
  done
  awk -v lines="$lines" -v listen="127.0.0.1:$port;" '
    /^    server 127\.0\.0\.1:808[12] / { if (!done) printf "%s", lines; done = 1; next }
    { sub(/127\.0\.0\.1:8080;/, listen); print }' deploy/nginx-cluster.conf >"$d/site.conf"
  cat >"$d/nginx.conf" <<CONF
$([ "$(id -u)" -eq 0 ] && echo "user root;")
daemon off; worker_processes 1; pid $d/nginx.pid;
events { worker_connections 1024; }
http { access_log off; client_body_temp_path $d/body; proxy_temp_path $d/proxy;
  fastcgi_temp_path $d/f; uwsgi_temp_path $d/u; scgi_temp_path $d/s;
  include $d/site.conf; }
CONF
  /usr/sbin/nginx -p "$d" -c "$d/nginx.conf" -e "$d/error.log" &
  pids+=("$!")
  for _ in $(seq 1 50); do
    curl -s -o /dev/null "http://127.0.0.1:$port/healthz" && return 0
    sleep 0.1
  done
  echo "nginx $name did not start"; cat "$d/error.log"; exit 1
}
n1=$(free_port); start_nginx one "$n1" "$pa"
n2=$(free_port); start_nginx two "$n2" "$pa" "$pb"

rate() { # rate PORT: tiles/s and p99 latency of one wrk run
  wrk -t2 -c16 -d"${secs}s" --latency -s bench/tiles.lua "http://127.0.0.1:$1" |
    awk '/Requests\/sec/ {r = $2} /^ +99%/ {p = $2} /Non-2xx/ {bad = $5}
         END {printf "%s %s %s\n", r, p, bad ? bad : 0}'
}
echo "tiles/s through nginx, z15 heat over the district (wrk -t2 -c16, ${secs} s a round; servers: ${serve_opts[*]}):"
one=(); two=()
for r in $(seq 1 "$rounds"); do
  read -r a p1 bad1 < <(rate "$n1")
  read -r b p2 bad2 < <(rate "$n2")
  one+=("$a"); two+=("$b")
  printf "  round %d: one server %8.1f/s (p99 %s, non-2xx %s)   two servers %8.1f/s (p99 %s, non-2xx %s)   ratio %.2f\n" \
    "$r" "$a" "$p1" "$bad1" "$b" "$p2" "$bad2" "$(awk -v a="$a" -v b="$b" 'BEGIN {print b / a}')"
done
median() { printf '%s\n' "$@" | sort -n | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}'; }
m1=$(median "${one[@]}"); m2=$(median "${two[@]}")
printf "  median: one %.1f/s, two %.1f/s, ratio %.2f (cores here: %s)\n" \
  "$m1" "$m2" "$(awk -v a="$m1" -v b="$m2" 'BEGIN {print b / a}')" "$(nproc)"

"$visible" --write "$pa" --listen "$pa,$pb" --token "$token" --n 200

# Ready time: the index loaded from the database, against the snapshot
# of --index-file (its first start writes it; the next reads it and the
# change log after it).
ready() { # ready LOG [OPTS...]: seconds until the server announces its port
  local log=$1; shift
  local t0; t0=$(date +%s.%N)
  serve_db "$db" "$log" "${serve_opts[@]}" "$@"
  local t1; t1=$(date +%s.%N)
  kill "$pid"; wait "$pid" 2>/dev/null || true
  awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.2f", b - a}'
}
if [ "$copies" -gt 1 ]; then
  psql -q "$db" -c "INSERT INTO incidents (external_id, category, severity,
    source, status, reported_at, closed_at, grid_code, street_id, geom,
    satisfaction, whistle_kind, dispatched_at, department, response_due,
    resolution_due, handling_at)
    SELECT external_id || '-' || g, category, severity, source, status,
      reported_at - g * 86400, closed_at - g * 86400, grid_code, street_id,
      ST_Translate(geom, (random() - 0.5) * 0.0007, (random() - 0.5) * 0.0005),
      satisfaction, whistle_kind, dispatched_at - g * 86400, department,
      response_due - g * 86400, resolution_due - g * 86400,
      handling_at - g * 86400
    FROM incidents, generate_series(1, $((copies - 1))) g"
fi
incidents_now=$(psql -tA "$db" -c "SELECT count(*) FROM incidents")
echo "ready, $incidents_now incidents (median of 3 each):"
cold=(); snap=()
for r in 1 2 3; do
  rm -f "$tmp/bench.index"
  cold+=("$(ready "$tmp/c.log")")
  ready "$tmp/w.log" --index-file "$tmp/bench.index" >/dev/null
  snap+=("$(ready "$tmp/s.log" --index-file "$tmp/bench.index")")
done
mc=$(median "${cold[@]}"); ms=$(median "${snap[@]}")
printf "  loaded from the database %.2f s, from --index-file %.2f s (%.1f times faster)\n" \
  "$mc" "$ms" "$(awk -v a="$mc" -v b="$ms" 'BEGIN {print a / b}')"
