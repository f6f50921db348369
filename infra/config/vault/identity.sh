#!/bin/sh
# The dev identity issuer (OpenBao/Vault OIDC identity tokens), sourced by bootstrap.sh.
# Idempotent: every call converges to the same state, so keeper.sh applies it each time a
# server becomes active and whenever a piece is missing. POSIX sh, `bao` and `wget` only.
#
# What it sets up (docs/infra/IDENTITY.md explains the contract):
#   - issuer base URL: tokens carry iss = $SOMA_ID_ISSUER_BASE/v1/identity/oidc, which
#     must equal identity.issuer in infra/contracts/catalog.yaml;
#   - named RS256 signing key $SOMA_ID_KEY with a rotation period and verification TTL;
#     keys are only ever rotated, never deleted (old ones stay published until they expire);
#   - one OIDC role per calling service, soma-<service>, client_id (= token `aud`) fixed to
#     $SOMA_ID_AUDIENCE (catalog identity.audience); claims `service`/`tenant` come from the
#     entity's metadata, never from the caller;
#   - one entity per dev identity <service>.<tenant>, with an AppRole login bound to it.
#     No static secret exists: a holder of a privileged token issues a short-lived,
#     single-use secret_id per login (the suite does this with the dev root token).
set -eu

# issuer base, audience, signing key, AppRole mount, dev identities and the suite's own
# identity: the catalog's `identity` (infra/contracts/catalog.yaml), generated into
# identity.env beside this file (`soma-conformance identity-env`), never restated here
here=${here:-$(dirname "$0")}
# shellcheck source-path=SCRIPTDIR source=identity.env
. "$here/identity.env"
SOMA_ID_ROTATION_PERIOD=${SOMA_ID_ROTATION_PERIOD:-24h}
SOMA_ID_VERIFICATION_TTL=${SOMA_ID_VERIFICATION_TTL:-2h}
SOMA_ID_TOKEN_TTL=${SOMA_ID_TOKEN_TTL:-15m}
# audience of the conformance suite's "token for another app" case (never accepted by soma)
SOMA_ID_OTHER_AUDIENCE=${SOMA_ID_OTHER_AUDIENCE:-soma-conformance-other}

q() { bao "$@" >/dev/null; }

# Writes go to the HTTP API with wget (GNU or busybox: --post-data and --header only), not
# through `bao`: a bao process start costs ~0.15 s of CPU, a wget ~0.01 s, and this script
# runs on the critical path of every start. Reads that need one field of the answer, and the
# rare delete, still use bao.
json_str() {  # json_str <text>: the text as a JSON string literal
  printf '%s' "$1" | sed -e 's/\\/\\\\/g' -e 's/"/\\"/g' | awk 'BEGIN { ORS = "" } { if (NR > 1) print "\\n"; print }' |
    { printf '"'; cat; printf '"'; }
}
w() {  # w <path> <json body>: POST to $BAO_ADDR/v1/<path>; on failure, say which write failed
  if ! out=$(wget -O /dev/null --header "X-Vault-Token: $BAO_TOKEN" \
    --header "Content-Type: application/json" --post-data "$2" "$BAO_ADDR/v1/$1" 2>&1); then
    echo "identity: POST /v1/$1 failed: $(printf '%s\n' "$out" | tail -n 1)" >&2
    return 1
  fi
}

# issuer: the contract DNS name, not whatever address the server happens to listen on
w identity/oidc/config "{\"issuer\": $(json_str "$SOMA_ID_ISSUER_BASE")}"

w "identity/oidc/key/$SOMA_ID_KEY" "{\"algorithm\": \"RS256\",
  \"rotation_period\": $(json_str "$SOMA_ID_ROTATION_PERIOD"),
  \"verification_ttl\": $(json_str "$SOMA_ID_VERIFICATION_TTL"),
  \"allowed_client_ids\": [$(json_str "$SOMA_ID_AUDIENCE"), $(json_str "$SOMA_ID_OTHER_AUDIENCE")]}"

approle_description="soma dev service identities"
if ! bao read "sys/auth/$SOMA_ID_APPROLE_PATH" >/dev/null 2>&1; then
  q auth enable -path="$SOMA_ID_APPROLE_PATH" -description="$approle_description" approle
fi
# The same description again: a tune always writes the auth table, and OpenBao publishes
# its mount-table gauges (vault_core_mount_table_*, the Vault dashboard's Mounts panel)
# only when it writes a table, not when a restarted server loads one. The keeper re-applies
# this bootstrap each time Vault becomes active, so the gauges are there after restarts.
w "sys/auth/$SOMA_ID_APPROLE_PATH/tune" "{\"description\": $(json_str "$approle_description")}"
accessor=$(bao read -field=accessor "sys/auth/$SOMA_ID_APPROLE_PATH")

claims='"service": {{identity.entity.metadata.service}}, "tenant": {{identity.entity.metadata.tenant}}'
role() {  # role <name> <ttl> <client_id> <template>
  w "identity/oidc/role/$1" "{\"key\": $(json_str "$SOMA_ID_KEY"), \"ttl\": $(json_str "$2"),
    \"client_id\": $(json_str "$3"), \"template\": $(json_str "$4")}"
}

# The conformance suite's own identity mints real but deliberately unacceptable tokens
# (expired, nbf in the future, another audience, no tenant claim) from the real key, so
# the validator contracts reject them for their claims rather than for their signature.
role soma-conformance-short 1s "$SOMA_ID_AUDIENCE" "{$claims}"
role soma-conformance-nbf "$SOMA_ID_TOKEN_TTL" "$SOMA_ID_AUDIENCE" "{\"nbf\": 4102444800, $claims}"
role soma-conformance-other-aud "$SOMA_ID_TOKEN_TTL" "$SOMA_ID_OTHER_AUDIENCE" "{$claims}"
role soma-conformance-no-tenant "$SOMA_ID_TOKEN_TTL" "$SOMA_ID_AUDIENCE" \
  '{"service": {{identity.entity.metadata.service}}}'

# One service's policy, roles, entities and aliases (independent of every other service's):
# the services are set up in parallel, since each `bao` call is a process start that costs
# far more than the request it makes, and this script is on the critical path of `up`.
setup_service() {  # setup_service <svc>
  svc=$1
  # Claims come from the entity; the role only fixes audience, key and lifetime.
  role "soma-$svc" "$SOMA_ID_TOKEN_TTL" "$SOMA_ID_AUDIENCE" "{$claims}"
  # an identity of service X may mint only X's tokens (conformance: also its test roles)
  glob="" tenants=$SOMA_ID_TENANTS
  if [ "$svc" = "$SOMA_ID_CONFORMANCE_SERVICE" ]; then glob="*" tenants=$SOMA_ID_CONFORMANCE_TENANT; fi
  rules=$(printf 'path "identity/oidc/token/soma-%s%s" {\n  capabilities = ["read"]\n}\n' "$svc" "$glob")
  w "sys/policies/acl/soma-identity-$svc" "{\"policy\": $(json_str "$rules")}"
  for tenant in $tenants; do
    name="$svc.$tenant"
    role_id="soma.$name"
    w "auth/$SOMA_ID_APPROLE_PATH/role/$name" "{\"token_policies\": [\"soma-identity-$svc\"],
      \"token_ttl\": \"5m\", \"token_max_ttl\": \"10m\", \"token_num_uses\": 0,
      \"secret_id_ttl\": \"10m\", \"secret_id_num_uses\": 1}"
    w "auth/$SOMA_ID_APPROLE_PATH/role/$name/role-id" "{\"role_id\": $(json_str "$role_id")}"
    w "identity/entity/name/$name" "{\"metadata\": {\"service\": $(json_str "$svc"),
      \"tenant\": $(json_str "$tenant")}}"
    entity=$(bao read -field=id "identity/entity/name/$name")
    # the AppRole alias name is the role_id; bind it to this entity exactly once
    current=$(bao write -field=id identity/lookup/entity alias_name="$role_id" \
      alias_mount_accessor="$accessor" 2>/dev/null || true)
    case "$current" in *" "* | *"
"*) current="" ;; esac  # no match: bao prints a sentence, not an id
    if [ "$current" != "$entity" ]; then
      # an entity auto-created by a login before this ran holds the alias: drop it
      [ -z "$current" ] || q delete "identity/entity/id/$current"
      w identity/entity-alias "{\"name\": $(json_str "$role_id"), \"canonical_id\": $(json_str "$entity"),
        \"mount_accessor\": $(json_str "$accessor")}"
    fi
  done
}

pids=""
for svc in $SOMA_ID_SERVICES $SOMA_ID_CONFORMANCE_SERVICE; do
  ( set -e; setup_service "$svc" ) &
  pids="$pids $!"
done
failed=0
for pid in $pids; do wait "$pid" || failed=1; done
if [ "$failed" -ne 0 ]; then
  echo "identity: setting up a service identity failed (see the errors above)" >&2
  exit 1
fi
# least-privilege policies for the conformance suite (docs/infra/SUITE.md), from the same
# files the docs show; the suite never needs the root token
for p in soma-conformance soma-conformance-disruptive; do
  [ ! -f "$here/$p.hcl" ] || w "sys/policies/acl/$p" "{\"policy\": $(json_str "$(cat "$here/$p.hcl")")}"
done
echo "identity: issuer $SOMA_ID_ISSUER_BASE/v1/identity/oidc, key $SOMA_ID_KEY," \
  "audience $SOMA_ID_AUDIENCE, identities: services [$SOMA_ID_SERVICES] x tenants [$SOMA_ID_TENANTS]"
