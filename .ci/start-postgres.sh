#!/usr/bin/env bash
# Starts a throw-away PostgreSQL cluster for the registry's PostgreSQL test tier and prints
# exactly one line on stdout:
#     export CERTBENCH_TEST_PG_URL=postgresql+psycopg://certbench:<password>@127.0.0.1:<port>/certbench
# Everything else goes to stderr. The cluster listens on 127.0.0.1 only, on a free port, with
# password (SCRAM) authentication, and lives in a temporary directory.
#
#   CERTBENCH_PG_DURABLE=1  keep fsync on (benchmarks); by default the throw-away test cluster
#                      trades crash safety for speed.
#   CERTBENCH_PG_DIR   use this (empty or missing) directory instead of a new temporary one;
#                      stop the cluster later with:  .ci/start-postgres.sh --stop DIR
#
# initdb refuses to run as root: as root, the cluster runs as the `postgres` system user
# (created by the Debian package); otherwise as the current user.
set -euo pipefail

log() { echo "start-postgres: $*" >&2; }

find_bindir() {
  local dir
  # pg_ctl may be a symlink on PATH (e.g. /usr/local/bin) to the real server bindir.
  if command -v pg_ctl >/dev/null 2>&1; then
    dir="$(dirname "$(readlink -f "$(command -v pg_ctl)")")"
    if [ -x "$dir/initdb" ] && [ -x "$dir/psql" ]; then echo "$dir"; return; fi
  fi
  for dir in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
    if [ -x "$dir/initdb" ] && [ -x "$dir/pg_ctl" ] && [ -x "$dir/psql" ]; then echo "$dir"; return; fi
  done
  return 1
}

BINDIR="$(find_bindir)" || { log "no PostgreSQL server binaries found (install the 'postgresql' package)"; exit 1; }

as_owner() {
  # Runs a command as the user that owns the cluster.
  if [ "$(id -u)" = "0" ]; then
    if command -v runuser >/dev/null 2>&1; then runuser -u postgres -- "$@"; else su postgres -s /bin/sh -c "$(printf '%q ' "$@")"; fi
  else
    "$@"
  fi
}

if [ "${1:-}" = "--stop" ]; then
  [ -n "${2:-}" ] || { log "usage: $0 --stop DIR"; exit 2; }
  as_owner "$BINDIR/pg_ctl" -D "$2/data" -m fast -w -t 30 stop >&2 || true
  exit 0
fi

if [ "$(id -u)" = "0" ] && ! id postgres >/dev/null 2>&1; then
  log "running as root and there is no 'postgres' user to run the cluster as"; exit 1
fi

BASE="${CERTBENCH_PG_DIR:-$(mktemp -d /tmp/certbench-pg.XXXXXX)}"
mkdir -p "$BASE"
chmod 0755 "$BASE"
if [ "$(id -u)" = "0" ]; then chown postgres: "$BASE"; fi

DURABILITY="-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
if [ "${CERTBENCH_PG_DURABLE:-0}" = "1" ]; then DURABILITY=""; fi

PASSWORD="$(head -c 18 /dev/urandom | od -An -tx1 | tr -d ' \n')"
PORT="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()')"

as_owner sh -c "umask 077; printf '%s\n' '$PASSWORD' > '$BASE/pwfile'"
as_owner "$BINDIR/initdb" -D "$BASE/data" -U certbench --pwfile="$BASE/pwfile" \
  --auth=scram-sha-256 --encoding=UTF8 --locale=C.UTF-8 >&2 \
  || as_owner "$BINDIR/initdb" -D "$BASE/data" -U certbench --pwfile="$BASE/pwfile" \
       --auth=scram-sha-256 --encoding=UTF8 --no-locale >&2
as_owner rm -f "$BASE/pwfile"

# Unix sockets go into the cluster's own directory, not /var/run/postgresql (may not exist).
as_owner "$BINDIR/pg_ctl" -D "$BASE/data" -l "$BASE/server.log" -w -t 60 \
  -o "-c listen_addresses=127.0.0.1 -p $PORT -k $BASE -c max_connections=100 $DURABILITY" \
  start >&2 || { cat "$BASE/server.log" >&2; exit 1; }

PGPASSWORD="$PASSWORD" "$BINDIR/psql" -h 127.0.0.1 -p "$PORT" -U certbench -d postgres -v ON_ERROR_STOP=1 -q \
  -c "CREATE DATABASE certbench" >&2

log "cluster in $BASE (port $PORT); stop it with: $0 --stop $BASE"
echo "export CERTBENCH_TEST_PG_URL=postgresql+psycopg://certbench:${PASSWORD}@127.0.0.1:${PORT}/certbench"
