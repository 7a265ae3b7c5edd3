# Sourced by the bench scripts: serve DB LOG [SERVE OPTIONS ...] starts
# `$bin serve` on a free loopback port, its stdout in LOG, and sets pid and
# port once the server has announced the port (10 s at most).
serve_db() {
  local db=$1 log=$2
  shift 2
  "$bin" serve --db "$db" --port 0 "$@" >"$log" 2>/dev/null &
  pid=$!
  port=""
  for _ in $(seq 1 100); do
    port=$(grep -o '127.0.0.1:[0-9]*' "$log" 2>/dev/null | cut -d: -f2 || true)
    [ -n "$port" ] && break
    sleep 0.1
  done
}
