#!/usr/bin/env bash
# Roll a rebuilt OPA bundle out to the running compose stack: compose mounts the bundle
# file, and opa-bundle.sh replaces that file (a new inode) only when the policy changed, so
# a container created before the bundle's last build still serves the old policy (the
# contract policy.bundle_revision would then fail). Such a container is recreated; one
# created after it is left alone. The Helm chart does the same with a checksum annotation.
# Usage: opa-rollout.sh <compose command...>   (e.g. docker compose --env-file F -f F)
. "$(dirname "$0")/lib.sh"
[ -f "$opa_bundle" ] || exit 0
cid=$(timeout 30 "$@" ps -q opa 2>/dev/null || true)
[ -n "$cid" ] || exit 0
created=$(timeout 30 docker inspect -f '{{.Created}}' "$cid")
if [ "$(date -r "$opa_bundle" +%s)" -gt "$(date -d "$created" +%s)" ]; then
  echo "opa-rollout: the bundle was rebuilt after OPA started: recreating opa"
  timeout 300 "$@" up -d --wait --force-recreate --no-deps opa
fi
