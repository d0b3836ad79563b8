#!/usr/bin/env bash
# Throughput across nodes (docs/benchmarks.md, "Several nodes"): three nodes on a
# PostgreSQL of their own (nodes.sh), then the load driver (crates/server/examples/load.rs)
# against 1, 2 and 3 of them in turn: signed `GET /api/photos`, then whole flows
# (initiate, consent page, approve, token), each with what PostgreSQL did per request or
# flow: commits (pg_stat_database) and statements (pg_stat_statements).
#
# Usage: bash benches/cluster/run.sh [SECONDS] [CONCURRENCY]   (default 10 s, 8 threads)
set -euo pipefail
cd "$(dirname "$0")/../.."
seconds=${1:-10}
concurrency=${2:-8}

source benches/cluster/nodes.sh

commits() { psql -d postgres -c "SELECT xact_commit FROM pg_stat_database WHERE datname = 'grantlog'"; }
statements() { psql -d grantlog -c "SELECT sum(calls) FROM pg_stat_statements WHERE query NOT LIKE '%pg_stat%'"; }
# One run of the load driver against the first $1 nodes from $3 threads, with the rest
# of the arguments, reading the row labelled $2; prints a table row: per second, p50,
# p99, then commits and statements per unit.
measure() {
  local n=$1 label=$2 threads=$3; shift 3
  local args=()
  for base in "${bases[@]:0:$n}"; do args+=(--base-url "$base"); done
  psql -d grantlog -c "SELECT pg_stat_statements_reset()" >/dev/null
  local before; before=$(commits)
  local out; out=$("$load" "${args[@]}" --seconds "$seconds" --concurrency "$threads" "$@")
  sleep 1 # the stats collector's last report
  local after; after=$(commits)
  local row; row=$(grep "$label" <<<"$out")
  local count; count=$(awk -F'|' '{gsub(/ /,"",$3); print $3}' <<<"$row")
  awk -F'|' -v n="$n" -v r="$count" -v c="$((after - before))" -v s="$(statements)" \
    '{gsub(/ /,"",$4); gsub(/ /,"",$5); gsub(/ /,"",$6); printf "| %d | %s | %s | %s | %.2f | %.2f |\n", n, $4, $5, $6, c / r, s / r}' <<<"$row"
}

echo "| nodes | signed requests/s | p50 | p99 | commits per request | statements per request |"
echo "|---|---|---|---|---|---|"
for n in 1 2 3; do measure "$n" 'signed (HMAC-SHA1)' "$concurrency" --signed-with "$credentials"; done
echo
# Flows by a Jane logged in once, at setup: a login is an Argon2 check, of which a node
# runs two at once, shedding more with 503, and the login throttle counts attempts in
# flight, so logins are not what this measures.
echo "| nodes | whole flows/s | p50 | p99 | commits per flow | statements per flow |"
echo "|---|---|---|---|---|---|"
for n in 1 2 3; do measure "$n" 'whole flows' "$concurrency" --flows; done
echo
echo "Statements of the last run (flows, 3 nodes), by calls:"
psql -d grantlog -c "SELECT calls, rows, round(total_exec_time::numeric, 1) AS ms, left(regexp_replace(query, '\s+', ' ', 'g'), 90)
  FROM pg_stat_statements WHERE query NOT LIKE '%pg_stat%' ORDER BY calls DESC LIMIT 12" | sed 's/^/  /'
