#!/bin/sh
# Patroni's post_bootstrap: run once, on the member that initialises the cluster, with a
# superuser connection string as $1. Creates the application database POSTGRES_DB, as the
# postgres image's entrypoint does for a single server.
set -eu
db=${POSTGRES_DB:-postgres}
[ "$db" = postgres ] && exit 0
printf 'CREATE DATABASE :"db";\n' | psql "$1" -X -q -v ON_ERROR_STOP=1 -v db="$db"
echo "soma-post-bootstrap: created database $db"
