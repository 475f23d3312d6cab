#!/usr/bin/env bash
# Start a throwaway PostgreSQL/PostGIS cluster on 127.0.0.1 for the tests and print its URL.
# Usage: eval "$(scripts/pg_test_cluster.sh)"   → exports ATLAS_TEST_DATABASE_URL
set -euo pipefail
PORT=${ATLAS_PG_PORT:-5433}
DATA=${ATLAS_PG_DATA:-/tmp/atlas-pg-$PORT}
PGBIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
[ -x "$PGBIN/initdb" ] || { echo "echo 'PostgreSQL is not installed' >&2"; exit 1; }
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
if ! as_pg "$PGBIN/pg_ctl" -D "$DATA" status >/dev/null 2>&1; then
  rm -rf "$DATA"; mkdir -p "$DATA"
  [ "$(id -u)" = 0 ] && chown postgres "$DATA"
  as_pg "$PGBIN/initdb" -D "$DATA" -A trust -U postgres -E UTF8 --no-locale >/dev/null
  as_pg "$PGBIN/pg_ctl" -D "$DATA" -l "$DATA/server.log" -w start \
    -o "-c listen_addresses=127.0.0.1 -p $PORT -c unix_socket_directories=$DATA -c fsync=off -c max_connections=300" >/dev/null
fi
PSQL=(psql -X -q -h 127.0.0.1 -p "$PORT" -U postgres)
"${PSQL[@]}" -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname = 'atlas_test'" | grep -q 1 \
  || "${PSQL[@]}" -d postgres -c "CREATE DATABASE atlas_test" >/dev/null
"${PSQL[@]}" -d atlas_test -c "CREATE EXTENSION IF NOT EXISTS postgis" >/dev/null
echo "export ATLAS_TEST_DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:$PORT/atlas_test"
