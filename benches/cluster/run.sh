#!/usr/bin/env bash
# Throughput across nodes (docs/benchmarks.md, "Several nodes"): three nodes on a
# PostgreSQL of their own (nodes.sh), then the load driver (crates/server/examples/load.rs) signing
# `GET /api/photos` against 1, 2 and 3 of them in turn, with what PostgreSQL did per
# request: commits (pg_stat_database) and statements (pg_stat_statements).
#
# Usage: bash benches/cluster/run.sh [SECONDS] [CONCURRENCY]   (default 10 s, 8 threads)
set -euo pipefail
cd "$(dirname "$0")/../.."
seconds=${1:-10}
concurrency=${2:-8}

source benches/cluster/nodes.sh

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
