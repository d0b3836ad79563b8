#!/usr/bin/env bash
# The soak (docs/benchmarks.md, "Soak"): three nodes on a PostgreSQL of their own
# (nodes.sh) under the load driver's mixed scenario (signed requests, Jane's grants page,
# new grants through the pages) for SECONDS (default 600), sampling every 10 s each
# node's resident memory, the database's connections and the sizes of the tables that
# grow. Writes docs/soak/latency.csv (the driver's windows), docs/soak/resources.csv,
# and plots both to docs/soak/soak.png with gnuplot.
#
# Usage: bash benches/cluster/soak.sh [SECONDS] [CONCURRENCY]   (not in CI: it takes minutes)
set -euo pipefail
cd "$(dirname "$0")/../.."
seconds=${1:-600}
concurrency=${2:-6}
command -v gnuplot >/dev/null || { echo "needs gnuplot (apt-get install gnuplot-nox)" >&2; exit 1; }

# The demo's one client makes every new grant: lift its per-minute limit on temporary
# credentials, which a real provider's many clients would each stay under.
export GRANTLOG_INITIATE_LIMIT=1000000
source benches/cluster/nodes.sh

mkdir -p docs/soak
args=()
for base in "${bases[@]}"; do args+=(--base-url "$base"); done
"$load" "${args[@]}" --mixed --windows docs/soak/latency.csv --seconds "$seconds" --concurrency "$concurrency" \
  >"$work/load.out" &
driver=$!

size_kb() { psql -d grantlog -c "SELECT coalesce(pg_total_relation_size('$1'), 0) / 1024"; }
rss_kb() { awk '/^VmRSS/ { print $2 }' "/proc/$1/status"; }
echo "seconds,rss_node1_kb,rss_node2_kb,rss_node3_kb,connections,events_kb,nonces_kb,sessions_kb,database_kb" \
  >docs/soak/resources.csv
started=$(date +%s)
while kill -0 "$driver" 2>/dev/null; do
  sleep 10
  kill -0 "$driver" 2>/dev/null || break
  connections=$(psql -d grantlog -c "SELECT count(*) FROM pg_stat_activity WHERE datname = 'grantlog'")
  database=$(psql -d grantlog -c "SELECT pg_database_size('grantlog') / 1024")
  echo "$(($(date +%s) - started)),$(rss_kb "${nodes[0]}"),$(rss_kb "${nodes[1]}"),$(rss_kb "${nodes[2]}"),$connections,$(size_kb events),$(size_kb nonces),$(size_kb sessions),$database" \
    >>docs/soak/resources.csv
done
wait "$driver" || { cat "$work/load.out"; echo "the load driver failed" >&2; exit 1; }
cat "$work/load.out"

gnuplot benches/cluster/soak.gnuplot
echo "wrote docs/soak/latency.csv, docs/soak/resources.csv, docs/soak/soak.png"
