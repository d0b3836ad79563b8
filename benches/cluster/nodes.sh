# Sourced by run.sh and soak.sh: builds the release binaries, starts a PostgreSQL of its
# own (initdb into a temporary directory, pg_stat_statements loaded) and $NODES (3 by
# default) `grantlog serve` nodes on it, the first with --demo. Leaves: $grantlog, $load, $url,
# $port, the node pids in ${nodes[@]}, their base URLs in ${bases[@]}, Beppa's token
# credentials in $credentials, and psql (no password, the database grantlog). All is
# stopped and removed on exit. POSTGRES_SETTINGS adds server options, for experiments
# (e.g. "-c synchronous_commit=off").
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
  -o "-p $port -c listen_addresses=127.0.0.1 -k $work -c shared_preload_libraries=pg_stat_statements -c max_connections=100 ${POSTGRES_SETTINGS:-}" \
  start >/dev/null
psql() { command psql -X -q -At -h 127.0.0.1 -p "$port" -U postgres "$@"; }
psql -d postgres -c "CREATE DATABASE grantlog"
psql -d grantlog -c "CREATE EXTENSION pg_stat_statements"
url="postgres://postgres@127.0.0.1:$port/grantlog"

bases=()
for n in $(seq 1 "${NODES:-3}"); do
  demo=(); [ "$n" = 1 ] && demo=(--demo)
  # Every flow here is the demo client's: lift its limit on temporary credentials (60 a
  # minute), which would otherwise be what the flows measure.
  GRANTLOG_LOG=warn GRANTLOG_INITIATE_LIMIT=1000000 "$grantlog" --database-url "$url" --secrets-key-file "$work/grantlog.key" \
    serve --bind 127.0.0.1:0 "${demo[@]}" >"$work/node$n.out" 2>"$work/node$n.err" &
  nodes+=($!)
  until grep -q "listening on" "$work/node$n.out" 2>/dev/null; do sleep 0.2; done
  bases+=("$(sed -n 's/^grantlog listening on //p' "$work/node$n.out")")
done
credentials=$("$load" --base-url "${bases[0]}" --print-credentials)

