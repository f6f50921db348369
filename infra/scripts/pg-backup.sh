#!/usr/bin/env bash
# shellcheck disable=SC2016  # single-quoted scripts expand $1, $POSTGRES_USER in the container
# Day-2 backups of the compose stack's Postgres: every database as a pg_dump custom-format
# archive plus the cluster's roles (pg_dumpall --globals-only), into one folder; and the
# restore of such a folder into a running (possibly brand-new, empty) Postgres.
# Everything runs inside the postgres container (its own pg_dump, same major version, over
# the local socket), so the host needs no Postgres client. PG_EXEC is the command prefix
# that runs a command in that container with stdin attached:
#   compose: PG_EXEC="docker compose --env-file ... -f ... exec -T postgres"   (make backup)
#   Kind:    PG_EXEC="kubectl -n soma-infra exec -i postgres-0 -c postgres --" (make backup-kind)
#   pg-backup.sh backup DIR  |  pg-backup.sh restore DIR
. "$(dirname "$0")/lib.sh"
[ -n "${PG_EXEC:-}" ] || die "PG_EXEC (the command that runs a command in the postgres container) is not set"
read -r -a pgexec <<< "$PG_EXEC"
mode=${1:-}
dir=${2:-}
[ -n "$dir" ] || die "usage: pg-backup.sh backup|restore DIR"
T=${PG_BACKUP_TIMEOUT:-600}   # bound on each dump/restore command (seconds)

# run a command in the postgres container as its postgres user, with the superuser and the
# socket directory the image's entrypoint set up; "$@" arrives as positional parameters
# (pgx: no stdin, so it never eats a loop's input; pgx_in: stdin is the caller's)
pgx_in() {
  local script=$1; shift
  timeout "$T" "${pgexec[@]}" sh -c "export PGHOST=/tmp PGUSER=\"\$POSTGRES_USER\"; $script" sh "$@"
}
pgx() { pgx_in "$@" </dev/null; }

safe_name() { [[ $1 =~ ^[A-Za-z0-9_][A-Za-z0-9_.-]*$ ]] || die "database name '$1' has characters this script does not put in a file name"; }

backup() {
  [ ! -e "$dir" ] || [ -z "$(ls -A "$dir")" ] || die "$dir exists and is not empty: refusing to mix two backups"
  pgx 'pg_isready -q' || die "postgres is not running or not ready through: $PG_EXEC"
  mkdir -p "$dir"
  local dbs db start=$SECONDS
  dbs=$(pgx 'psql -XAtq -d postgres -c "SELECT datname FROM pg_database WHERE datallowconn AND NOT datistemplate ORDER BY 1"')
  [ -n "$dbs" ] || die "no database found"
  pgx 'pg_dumpall --globals-only' > "$dir/globals.sql.tmp" && mv "$dir/globals.sql.tmp" "$dir/globals.sql"
  for db in $dbs; do
    safe_name "$db"
    pgx 'pg_dump -Fc -d "$1"' "$db" > "$dir/$db.dump.tmp" || die "pg_dump of $db failed (above)"
    mv "$dir/$db.dump.tmp" "$dir/$db.dump"
  done
  {
    echo "# pg-backup manifest (make backup): time, server version, one database per line"
    echo "created_utc=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo "server=$(pgx 'psql -XAtq -d postgres -c "SHOW server_version"')"
    for db in $dbs; do echo "database=$db"; done
  } > "$dir/MANIFEST"
  echo "pg-backup: $(wc -w <<< "$dbs") databases ($(tr '\n' ' ' <<< "$dbs"| sed 's/ $//')) + roles into $dir in $((SECONDS - start))s ($(du -sh "$dir" | cut -f1))"
}

restore() {
  [ -f "$dir/MANIFEST" ] || die "$dir is not a backup folder (no MANIFEST; expected backups/<UTC>/ from make backup)"
  pgx 'pg_isready -q' || die "postgres is not running or not ready through: $PG_EXEC"
  local db start=$SECONDS n=0 err su existing
  # roles first (objects reference their owners); the superuser already exists and keeps
  # the password of this stack's env file, so its own lines are left out
  su=$(pgx 'printf %s "$POSTGRES_USER"')
  err=$(grep -vE "^(CREATE|ALTER) ROLE \"?$su\"?[ ;]" "$dir/globals.sql" | \
        pgx_in 'psql -X -q -d postgres' 2>&1 >/dev/null | grep 'ERROR' | grep -v 'already exists' || true)
  [ -z "$err" ] || die "restoring roles: $err"
  existing=$(pgx 'psql -XAtq -d postgres -c "SELECT datname FROM pg_database"')
  while read -r db; do
    safe_name "$db"
    [ -f "$dir/$db.dump" ] || die "$dir/$db.dump is missing (listed in MANIFEST)"
    grep -qFx "$db" <<< "$existing" || pgx 'createdb "$1"' "$db"
    # --clean --if-exists: restoring over live data replaces it instead of duplicating it
    pgx_in 'pg_restore --clean --if-exists --exit-on-error --single-transaction -d "$1"' "$db" < "$dir/$db.dump" \
      || die "pg_restore of $db failed (above)"
    n=$((n + 1))
  done < <(sed -n 's/^database=//p' "$dir/MANIFEST")
  echo "pg-backup: restored $n databases + roles from $dir in $((SECONDS - start))s"
}

case $mode in
  backup) backup ;;
  restore) restore ;;
  *) die "usage: pg-backup.sh backup|restore DIR (got '$mode')" ;;
esac
