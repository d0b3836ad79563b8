#!/usr/bin/env bash
# Throughput across nodes (docs/benchmarks.md, "Several nodes"): a PostgreSQL of its own
# (initdb into a temporary directory, pg_stat_statements loaded), three `grantlog serve`
# nodes on it, then the load driver (crates/server/examples/load.rs) signing
# `GET /api/photos` against 1, 2 and 3 of them in turn, with what PostgreSQL did per
# request: commits (pg_stat_database) and statements (pg_stat_statements).
#
# Usage: bash benches/cluster/run.sh [SECONDS] [CONCURRENCY]   (default 10 s, 8 threads)
set -euo pipefail
cd "$(dirname "$0")/../.."
seconds=${1:-10}
concurrency=${2:-8}

cargo build --release --quiet -p grantlog-server --bin grantlog --example load
grantlog=target/release/grantlog
load=target/release/examples/load

pg_bin=$(pg_config --bindir 2>/dev/null || ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
work=$(mktemp -d)
as_postgres() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
[ "$(id -u)" = 0 ] && chown postgres "$work"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
nodes=()
cleanup() {
  for pid in "${nodes[@]}"; do kill "$pid" 2>/dev/null || true; done
  as_postgres "$pg_bin/pg_ctl" -D "$work/data" -m fast stop >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

as_postgres "$pg_bin/initdb" --auth=trust --username=postgres -D "$work/data" >/dev/null
as_postgres "$pg_bin/pg_ctl" -D "$work/data" -l "$work/postgres.log" -w \
  -o "-p $port -c listen_addresses=127.0.0.1 -k $work -c shared_preload_libraries=pg_stat_statements -c max_connections=100" \
  start >/dev/null
psql() { command psql -X -q -At -h 127.0.0.1 -p "$port" -U postgres "$@"; }
psql -d postgres -c "CREATE DATABASE grantlog"
psql -d grantlog -c "CREATE EXTENSION pg_stat_statements"
url="postgres://postgres@127.0.0.1:$port/grantlog"

bases=()
for n in 1 2 3; do
  demo=(); [ "$n" = 1 ] && demo=(--demo)
  GRANTLOG_LOG=warn "$grantlog" --database-url "$url" --secrets-key-file "$work/grantlog.key" \
    serve --bind 127.0.0.1:0 "${demo[@]}" >"$work/node$n.out" 2>"$work/node$n.err" &
  nodes+=($!)
  until grep -q "listening on" "$work/node$n.out" 2>/dev/null; do sleep 0.2; done
  bases+=("$(sed -n 's/^grantlog listening on //p' "$work/node$n.out")")
done
credentials=$("$load" --base-url "${bases[0]}" --print-credentials)

commits() { psql -d postgres -c "SELECT xact_commit FROM pg_stat_database WHERE datname = 'grantlog'"; }
echo "| nodes | signed requests/s | p50 | p99 | commits per request | statements per request |"
echo "|---|---|---|---|---|---|"
for n in 1 2 3; do
  args=()
  for base in "${bases[@]:0:$n}"; do args+=(--base-url "$base"); done
  psql -d grantlog -c "SELECT pg_stat_statements_reset()" >/dev/null
  before=$(commits)
  out=$("$load" "${args[@]}" --signed-with "$credentials" --seconds "$seconds" --concurrency "$concurrency")
  sleep 1 # the stats collector's last report
  after=$(commits)
  row=$(grep 'signed (HMAC-SHA1)' <<<"$out")
  requests=$(awk -F'|' '{gsub(/ /,"",$3); print $3}' <<<"$row")
  statements=$(psql -d grantlog -c "SELECT sum(calls) FROM pg_stat_statements WHERE query NOT LIKE '%pg_stat%'")
  awk -F'|' -v n="$n" -v r="$requests" -v c="$((after - before))" -v s="$statements" \
    '{gsub(/ /,"",$4); gsub(/ /,"",$5); gsub(/ /,"",$6); printf "| %d | %s | %s | %s | %.2f | %.2f |\n", n, $4, $5, $6, c / r, s / r}' <<<"$row"
done
echo
echo "Statements of the last run (3 nodes), by calls:"
psql -d grantlog -c "SELECT calls, rows, round(total_exec_time::numeric, 1) AS ms, left(regexp_replace(query, '\s+', ' ', 'g'), 90)
  FROM pg_stat_statements WHERE query NOT LIKE '%pg_stat%' ORDER BY calls DESC LIMIT 12" | sed 's/^/  /'
