#!/bin/sh
# First start: initdb with the password from the environment (never from the image),
# allow password logins from the network, create POSTGRES_DB. Later starts: just run.
set -eu
if [ "${1:-}" = postgres ]; then
  shift
  : "${POSTGRES_PASSWORD:?POSTGRES_PASSWORD must be set (see infra/env/.env.shared.example)}"
  user=${POSTGRES_USER:-postgres}
  db=${POSTGRES_DB:-$user}
  if [ ! -s "$PGDATA/PG_VERSION" ]; then
    pw=$(mktemp)
    printf '%s' "$POSTGRES_PASSWORD" > "$pw"
    initdb -D "$PGDATA" -U "$user" --pwfile="$pw" --auth-local=trust --auth-host=scram-sha-256 -E UTF8 >/dev/null
    rm -f "$pw"
    echo "host all all all scram-sha-256" >> "$PGDATA/pg_hba.conf"
    # sockets in /tmp: the root filesystem is read-only and /tmp is the writable tmpfs
    echo "unix_socket_directories = '/tmp'" >> "$PGDATA/postgresql.conf"
    if [ "$db" != postgres ]; then
      pg_ctl -D "$PGDATA" -o "-c listen_addresses=''" -w start >/dev/null
      psql -h /tmp -v ON_ERROR_STOP=1 -U "$user" -d postgres -c "CREATE DATABASE \"$db\"" >/dev/null
      pg_ctl -D "$PGDATA" -m fast -w stop >/dev/null
    fi
    echo "postgres: initialised $PGDATA for user $user, database $db"
  fi
  exec postgres -D "$PGDATA" -c listen_addresses='*' "$@"
fi
exec "$@"
