#!/usr/bin/env bash
# A cluster to try by hand (docs/deployment.md): a PostgreSQL of its own and N
# `grantlog serve` nodes on it (default 3, the first with the demo's cast), on loopback
# ports, as nodes.sh sets them up for the benchmarks. Prints what to point a client, a
# load or a fault at, then waits; Ctrl-C stops and removes everything.
#
# Usage: bash benches/cluster/up.sh [NODES]   (just cluster [NODES])
set -euo pipefail
cd "$(dirname "$0")/../.."
NODES=${1:-3}
source benches/cluster/nodes.sh

urls=()
for base in "${bases[@]}"; do urls+=(--base-url "$base"); done
cat <<TEXT
database:  $url   (psql -h 127.0.0.1 -p $port -U postgres grantlog)
nodes:     ${bases[*]}
pids:      ${nodes[*]}   (kill -9 one to see the others carry on; start it again with
           GRANTLOG_INITIATE_LIMIT=1000000 $PWD/$grantlog --database-url $url --secrets-key-file $work/grantlog.key serve --bind 127.0.0.1:0
           and stop that one yourself)
logs:      $work/node*.err
Beppa's token credentials (CLIENT_KEY:CLIENT_SECRET:TOKEN:TOKEN_SECRET):
           $credentials
load them: $PWD/$load ${urls[*]} --mixed --seconds 60 --concurrency 6
           $PWD/$load ${urls[*]} --flows --seconds 10
restart PostgreSQL under them (as the postgres user when root):
           $pg_bin/pg_ctl -D $work/data restart -m fast
Ctrl-C stops everything.
TEXT
# Until Ctrl-C or kill, even once every node has been killed by hand; then out through
# nodes.sh's cleanup.
trap 'exit 130' INT TERM
while true; do sleep 1; done
