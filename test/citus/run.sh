#!/usr/bin/env bash
# The Citus leg: runs test/citus/*.test.ts against a real Citus 13.2.2 twice — a single-node
# cluster (the coordinator holds the shards) and a coordinator plus one worker — each server
# in a temp dir on a free port. Citus is not on npm or in Debian: it is built from source
# into Debian's PostgreSQL 15 by ../shared/vendor/build-citus.sh (beside the project checkout
# in CI; idempotent, several minutes the first time, needs root).
#
# When Citus is absent and cannot be built here (no script, not root, no PostgreSQL 15), the
# leg says so and exits 0: the Citus tests are SKIPPED, never silently passed.
#
#   bash test/citus/run.sh                     # build if needed, start both clusters, run the tests
#   BLOB2PG_CITUS_PG=/usr/lib/postgresql/15 bash test/citus/run.sh
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
leg_started=$(date +%s)
pg=${BLOB2PG_CITUS_PG:-/usr/lib/postgresql/15}
build=${BLOB2PG_CITUS_BUILD:-$root/../shared/vendor/build-citus.sh}

skip() {
  echo "citus leg: Citus tests SKIPPED — $*" >&2
  exit 0
}
elapsed() { echo $(($(date +%s) - $1)); }

if [ ! -f "$pg/lib/citus.so" ]; then
  [ -x "$pg/bin/postgres" ] || skip "no PostgreSQL 15 server at $pg (Citus 13.2.2 builds into Debian's postgresql-15: apt-get install postgresql-15)"
  [ -f "$build" ] || skip "Citus is not installed ($pg/lib/citus.so) and $build is absent (CI keeps it in ../shared/vendor beside the checkout)"
  [ "$(id -u)" = 0 ] || skip "Citus is not installed and building it needs root: sudo bash $build"
  echo "citus leg: building Citus with $build (several minutes the first time)"
  build_started=$(date +%s)
  bash "$build" || { echo "citus leg: FAILED — $build did not build Citus" >&2; exit 1; }
  echo "citus leg: Citus built in $(elapsed "$build_started") s"
fi

# PostgreSQL refuses to run as root: as root the servers run as the `postgres` OS user.
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
free_port() { node -e "const s=require('net').createServer().listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})"; }

tmp=$(mktemp -d /tmp/blob2pg-citus-XXXXXX)
chmod 755 "$tmp"
[ "$(id -u)" = 0 ] && chown postgres "$tmp"
nodes=()
cleanup() {
  for dir in "${nodes[@]}"; do as_pg "$pg/bin/pg_ctl" -D "$dir" -m immediate stop >/dev/null 2>&1 || true; done
  rm -rf "$tmp"
}
trap cleanup EXIT

# start_node NAME PORT: initdb + start with Citus preloaded (durability off: throwaway data).
start_node() {
  local dir=$tmp/$1 port=$2
  as_pg "$pg/bin/initdb" -D "$dir" -U postgres -A trust -E UTF8 --locale=C.UTF-8 --no-sync >/dev/null
  nodes+=("$dir")
  as_pg "$pg/bin/pg_ctl" -D "$dir" -l "$dir/server.log" -w -t 60 start -o \
    "-p $port -k $tmp -c listen_addresses=127.0.0.1 -c shared_preload_libraries=citus -c max_connections=200 -c fsync=off -c synchronous_commit=off -c full_page_writes=off" >/dev/null \
    || { cat "$dir/server.log" >&2; exit 1; }
  sql "$port" "CREATE EXTENSION citus"
}
sql() { "$pg/bin/psql" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$1" -U postgres -d postgres -c "$2" >/dev/null; }

servers_started=$(date +%s)
single=$(free_port); start_node single "$single"
# Single node: the coordinator must be in the metadata and hold shards, or create_distributed_table fails.
sql "$single" "SELECT citus_set_coordinator_host('127.0.0.1', $single); SELECT citus_set_node_property('127.0.0.1', $single, 'shouldhaveshards', true)"
coordinator=$(free_port); start_node coordinator "$coordinator"
worker=$(free_port); start_node worker "$worker"
# Coordinator + worker: the shards live on the worker; the coordinator is in the metadata
# (reference tables get a replica there, so they join the load's temp tables).
sql "$coordinator" "SELECT citus_set_coordinator_host('127.0.0.1', $coordinator); SELECT citus_add_node('127.0.0.1', $worker)"
version=$("$pg/bin/psql" -X -At -h 127.0.0.1 -p "$single" -U postgres -d postgres -c "SELECT extversion FROM pg_extension WHERE extname = 'citus'")
echo "citus leg: Citus $version on $("$pg/bin/postgres" --version | awk '{print $3}') — single node :$single, coordinator :$coordinator + worker :$worker (started in $(elapsed "$servers_started") s)"

status=0
for cluster in single-node coordinator+worker; do
  port=$single
  [ "$cluster" = coordinator+worker ] && port=$coordinator
  run_started=$(date +%s)
  echo "citus leg: $cluster"
  TARGET_POSTGRES="postgres://postgres@127.0.0.1:$port/postgres" BLOB2PG_CITUS=$cluster \
    npx vitest run --config test/citus/vitest.config.ts "$@" || status=1
  echo "citus leg: $cluster tests took $(elapsed "$run_started") s"
done
echo "citus leg: $([ $status = 0 ] && echo passed || echo FAILED) in $(elapsed "$leg_started") s"
exit $status
