#!/usr/bin/env bash
# `just load-compare`: grantlog on SQLite, grantlog on PostgreSQL and oauthlib's resource
# endpoint (benches/python) measured side by side in one run by wrk, a load generator
# that is not ours: GET /healthz, then signed GET /api/photos replaying requests
# pre-signed by oauthlib (each nonce once). Prints a Markdown table.
#
# Environment: SECONDS_EACH (10), CONNECTIONS (32), THREADS (2), SIGNED_COUNT (400000),
# GRANTLOG_TEST_POSTGRES_URL (the server to create a database on; PostgreSQL is left out
# without it), PROFILE=1 (also records grantlog's CPU with perf while its signed requests
# run, on each database, and prints where it went per stage: benches/compare/stages.py).
# Installs wrk from Debian and a venv for oauthlib under target/ if missing.
set -euo pipefail
cd "$(dirname "$0")/../.."
seconds=${SECONDS_EACH:-10} connections=${CONNECTIONS:-32} threads=${THREADS:-2}
count=${SIGNED_COUNT:-400000}
work=$(mktemp -d)
pids=()
cleanup() { for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT

command -v wrk >/dev/null || apt-get install -y wrk >/dev/null
venv=target/bench-venv
[ -x "$venv/bin/gunicorn" ] || { python3 -m venv "$venv" && "$venv/bin/pip" install -q -r benches/python/requirements.txt; }
cargo build --release -q -p grantlog-server --bin grantlog --example load

# Starts `grantlog serve --demo` on database $1, port $2; waits until it answers.
start_grantlog() {
  GRANTLOG_SECRETS_KEY_FILE="$work/$2.key" GRANTLOG_LOG=warn \
    target/release/grantlog serve --demo --bind "127.0.0.1:$2" --database-url "$1" >"$work/$2.log" 2>&1 &
  pids+=($!)
  for _ in $(seq 50); do curl -sf "http://127.0.0.1:$2/healthz" >/dev/null && return; sleep 0.2; done
  echo "grantlog on $1 did not start" >&2; cat "$work/$2.log" >&2; exit 1
}

# wrk's figures for one scenario: requests/s, p99 in ms, answers that were not 2xx.
measure() {
  local out
  out=$(THREADS=$threads SIGNED=${2:-} wrk -t"$threads" -c"$connections" -d"${seconds}s" --latency ${2:+-s benches/compare/replay.lua} "$1")
  local rps p99 bad
  rps=$(awk '/^Requests\/sec:/ { printf "%d", $2 }' <<<"$out")
  p99=$(awk '$1 == "99%" { v = $2; if (v ~ /us$/) { sub(/us$/, "", v); v /= 1000 } else if (v ~ /ms$/) { sub(/ms$/, "", v) } else if (v ~ /s$/) { sub(/s$/, "", v); v *= 1000 } printf "%.2f", v }' <<<"$out")
  bad=$(awk '/Non-2xx or 3xx responses:/ { print $NF }' <<<"$out")
  echo "$rps ${p99:-?} ${bad:-0}"
}

rows=()
profiles=()
# One server: $1 label, $2 base URL, $3 credentials, $4 the process to profile (optional).
compare() {
  "$venv/bin/python" benches/compare/presign.py --url "$2/api/photos" --credentials "$3" --count "$count" --out "$work/signed.txt"
  read -r h_rps h_p99 h_bad <<<"$(measure "$2/healthz")"
  local recording=
  if [ "${PROFILE:-}" = 1 ] && [ -n "${4:-}" ]; then
    perf record -q -F 999 -p "$4" -o "$work/perf-$4.data" -- sleep "$seconds" >/dev/null 2>&1 &
    recording=$!
  fi
  read -r s_rps s_p99 s_bad <<<"$(measure "$2/api/photos" "$work/signed.txt")"
  if [ -n "$recording" ]; then
    wait "$recording" || true
    profiles+=("$1" "$("$venv/bin/python" benches/compare/stages.py "$work/perf-$4.data")")
  fi
  rows+=("| $1 | $h_rps | $h_p99 ms | $s_rps | $s_p99 ms | $s_bad | $(awk -v s="$s_rps" -v h="$h_rps" 'BEGIN { printf "%.3f", s / h }') |")
}

start_grantlog "sqlite://$work/grantlog.db" 18180
compare "grantlog, SQLite" http://127.0.0.1:18180 "$(target/release/examples/load --base-url http://127.0.0.1:18180 --print-credentials)" "${pids[-1]}"

if [ -n "${GRANTLOG_TEST_POSTGRES_URL:-}" ]; then
  database="grantlog_compare_$$"
  psql "$GRANTLOG_TEST_POSTGRES_URL" -qc "CREATE DATABASE $database"
  start_grantlog "${GRANTLOG_TEST_POSTGRES_URL%/*}/$database" 18181
  compare "grantlog, PostgreSQL" http://127.0.0.1:18181 "$(target/release/examples/load --base-url http://127.0.0.1:18181 --print-credentials)" "${pids[-1]}"
  kill "${pids[-1]}"; wait "${pids[-1]}" 2>/dev/null || true
  psql "$GRANTLOG_TEST_POSTGRES_URL" -qc "DROP DATABASE $database"
fi

oauthlib_credentials=beppa-demo-key:beppa-demo-secret:tok-abc123:toksecret-xyz
rm -f "$work/oauthlib.db"
(cd benches/python && GRANTLOG_BENCH_CREDENTIALS=$oauthlib_credentials GRANTLOG_BENCH_DATABASE="$work/oauthlib.db" \
  exec "../../$venv/bin/gunicorn" -w 2 -b 127.0.0.1:18081 --log-level warning oauthlib_server:app) &
pids+=($!)
for _ in $(seq 50); do curl -sf http://127.0.0.1:18081/healthz >/dev/null && break; sleep 0.2; done
compare "oauthlib 4.0.1 + gunicorn -w 2, SQLite" http://127.0.0.1:18081 "$oauthlib_credentials"

echo
echo "wrk -t$threads -c$connections -d${seconds}s; signed requests pre-signed by oauthlib, each nonce once"
echo
echo "| server | /healthz req/s | /healthz p99 | signed req/s | signed p99 | signed not 2xx | signed / healthz |"
echo "|---|---|---|---|---|---|---|"
printf '%s\n' "${rows[@]}"
for ((i = 0; i < ${#profiles[@]}; i += 2)); do
  printf '\nWhere %s spent its CPU under the signed load (perf record -F 999, own time per function):\n\n%s\n' "${profiles[i]}" "${profiles[i + 1]}"
done
