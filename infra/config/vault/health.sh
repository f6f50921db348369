#!/bin/sh
# Is this OpenBao a working identity issuer? The health of the vault container (compose
# healthcheck, Kubernetes readinessProbe) and the keeper's trigger (keeper.sh). Healthy
# only when a token can be minted and verified right now through this server: sys/health
# is 200 (initialised, unsealed; active, or a standby of a Raft cluster), the JWKS lists a
# key, a token minted for the suite's own identity (<conformance service>.<tenant>, AppRole
# login, role soma-<service>) comes back, and its kid is one the JWKS publishes. A standby
# of a cluster forwards these requests to the active server (the chart's cluster.hcl), so
# the same checks tell whether a client reaching it is served.
# One line on stdout says why not.
#
# Exit status:
#   0  healthy
#   1  not serving (down, uninitialised or sealed), or the admin token is refused:
#      nothing the identity bootstrap could fix
#   2  a piece of the identity bootstrap is missing (JWKS empty; signing key, role, AppRole
#      role or entity gone): keeper.sh re-applies the bootstrap
#   3  everything is there but minting or verifying fails (e.g. a role reconfigured by hand):
#      unhealthy, and left for the next start's bootstrap or a human, never fought in a loop
# `health.sh --complete` (the keeper) also lists what the bootstrap makes for every dev
# identity (roles, AppRole roles, entities, policies) and exits 2 naming any that is gone.
#
# Cheap: wget only (a `bao` process start costs ~0.15 s of CPU, a wget ~0.01 s). The login
# token is cached in $TMPDIR (single-use secret_id, then a 5 min token), so a check is three
# reads: sys/health, the JWKS and one mint. POSIX sh; GNU or busybox wget, base64, sed.
set -u
here=$(dirname "$0")
# shellcheck source-path=SCRIPTDIR source=identity.env
. "$here/identity.env"
addr=${BAO_ADDR:-http://127.0.0.1:8200}
admin=${BAO_TOKEN:-${BAO_DEV_ROOT_TOKEN_ID:-}}
cache=${SOMA_HEALTH_TOKEN_FILE:-${TMPDIR:-/tmp}/soma-health-token}
me="$SOMA_ID_CONFORMANCE_SERVICE.$SOMA_ID_CONFORMANCE_TENANT"
role="soma-$SOMA_ID_CONFORMANCE_SERVICE"
approle="auth/$SOMA_ID_APPROLE_PATH/role/$me"

say() { echo "vault health: $*"; }
# get <path> [token] / post <path> <json> [token]: the answer's body; fails unless 2xx
get() {
  if [ -n "${2:-}" ]; then
    wget -q -T 3 -O - --header "X-Vault-Token: $2" "$addr/v1/$1" 2>/dev/null
  else
    wget -q -T 3 -O - "$addr/v1/$1" 2>/dev/null
  fi
}
post() {
  if [ -n "${3:-}" ]; then
    wget -q -T 3 -O - --header "X-Vault-Token: $3" --header "Content-Type: application/json" \
      --post-data "$2" "$addr/v1/$1" 2>/dev/null
  else
    wget -q -T 3 -O - --header "Content-Type: application/json" --post-data "$2" "$addr/v1/$1" 2>/dev/null
  fi
}
field() { sed -n "s/.*\"$1\":\"\([^\"]*\)\".*/\1/p"; }  # a string field of one-line JSON

# exit 2 naming what is gone, 1 if the admin token is refused, else 3 with the reason given
diagnose() {
  get auth/token/lookup-self "$admin" >/dev/null || {
    say "the admin token is refused: BAO_DEV_ROOT_TOKEN_ID is not a token of this storage"; exit 1; }
  gone=""
  get "identity/oidc/key/$SOMA_ID_KEY" "$admin" >/dev/null || gone="$gone signing key $SOMA_ID_KEY;"
  get "identity/oidc/role/$role" "$admin" >/dev/null || gone="$gone role $role;"
  get "$approle/role-id" "$admin" >/dev/null || gone="$gone AppRole role $me;"
  get "identity/entity/name/$me" "$admin" >/dev/null || gone="$gone entity $me;"
  if [ -n "$gone" ] || [ "$1" = "the JWKS lists no key" ]; then
    say "identity bootstrap missing:${gone%;}${gone:+; }$1"; exit 2
  fi
  say "$1"; exit 3
}

get "sys/health?standbyok=true" >/dev/null || {
  say "not serving: sys/health is not 200 (down, uninitialised or sealed)"; exit 1; }
jwks=$(get identity/oidc/.well-known/keys) || { say "not serving: the JWKS cannot be read"; exit 1; }
case $jwks in *'"kid"'*) ;; *) diagnose "the JWKS lists no key" ;; esac

mint() { get "identity/oidc/token/$role" "$1" | field token; }
login() {  # a fresh login token of identity $me, cached for the next checks
  rid=$(get "$approle/role-id" "$admin" | field role_id)
  [ -n "$rid" ] || return 1
  sid=$(post "$approle/secret-id" '{}' "$admin" | field secret_id)
  [ -n "$sid" ] || return 1
  tok=$(post "auth/$SOMA_ID_APPROLE_PATH/login" "{\"role_id\": \"$rid\", \"secret_id\": \"$sid\"}" | field client_token)
  [ -n "$tok" ] || return 1
  (umask 077 && printf '%s' "$tok" >"$cache.$$" && mv -f "$cache.$$" "$cache") 2>/dev/null || true
  printf '%s' "$tok"
}
jwt=""
if [ -s "$cache" ]; then jwt=$(mint "$(cat "$cache")"); fi
if [ -z "$jwt" ]; then
  tok=$(login) || diagnose "identity $me cannot log in"
  jwt=$(mint "$tok")
  [ -n "$jwt" ] || diagnose "identity $me cannot mint a token of role $role"
fi

# the token's kid (JWS header: base64url JSON) must be one of the JWKS's
head=$(printf '%s' "${jwt%%.*}" | tr '_-' '/+')
case $((${#head} % 4)) in 2) head="$head==" ;; 3) head="$head=" ;; esac
kid=$(printf '%s' "$head" | base64 -d 2>/dev/null | field kid)
[ -n "$kid" ] || { say "a minted token has no kid"; exit 3; }
case $jwks in
  *"\"kid\":\"$kid\""*) ;;
  *) say "a token minted now carries kid $kid, which the JWKS does not list"; exit 3 ;;
esac

if [ "${1:-}" = --complete ]; then  # four LISTs: everything identity.sh makes, by name
  roles=$(get "identity/oidc/role?list=true" "$admin")
  approles=$(get "auth/$SOMA_ID_APPROLE_PATH/role?list=true" "$admin")
  entities=$(get "identity/entity/name?list=true" "$admin")
  policies=$(get "sys/policies/acl?list=true" "$admin")
  gone=""
  has() { case $1 in *"\"$2\""*) ;; *) gone="$gone $3 $2;" ;; esac; }
  for r in short nbf other-aud no-tenant; do has "$roles" "soma-conformance-$r" role; done
  for p in soma-conformance soma-conformance-disruptive; do has "$policies" "$p" policy; done
  for svc in $SOMA_ID_SERVICES $SOMA_ID_CONFORMANCE_SERVICE; do
    has "$roles" "soma-$svc" role
    has "$policies" "soma-identity-$svc" policy
    tenants=$SOMA_ID_TENANTS
    [ "$svc" != "$SOMA_ID_CONFORMANCE_SERVICE" ] || tenants=$SOMA_ID_CONFORMANCE_TENANT
    for t in $tenants; do has "$approles" "$svc.$t" "AppRole role"; has "$entities" "$svc.$t" entity; done
  done
  [ -z "$gone" ] || { say "identity bootstrap missing:${gone%;}"; exit 2; }
fi
say "ok: issuer serving, token of $me minted with key $kid, published in the JWKS"
