#!/bin/sh
# Starts one server of an OpenBao Raft cluster (Helm chart, vault.replicas > 1; compose and
# a single server run server.hcl directly). Every server reads the chart's cluster.hcl
# (Raft storage with a retry_join per member on the headless Service) and telemetry.hcl;
# only one of them may self-initialise, or each would found a cluster of its own:
#   - every server but the first (ordinal != 0) runs server-join.hcl, which is server.hcl
#     without its `initialize` stanza: on empty storage it joins the cluster (retry_join)
#     and unseals itself with the shared static key; with data it just starts;
#   - the first (vault-0) asks its peers first, and runs server.hcl (self-initialisation,
#     a no-op on storage already initialised) unless a peer reports an initialised
#     cluster: then it runs server-join.hcl, so a vault-0 that lost its volume joins the
#     running cluster instead of founding another one with other keys beside it.
# A peer that does not answer is waited for up to SOMA_VAULT_PEER_WAIT seconds (default
# 30): on a fresh install every peer soon answers "not initialised"; peers down for good
# (a cluster started with one node) end the wait, and vault-0 initialises.
# Env: POD_NAME (vault-<ordinal>), SOMA_VAULT_MEMBERS (space-separated API addresses of
# every server, this one included).
set -u
: "${POD_NAME:?}" "${SOMA_VAULT_MEMBERS:?}"
conf=${SOMA_VAULT_CONFIG_DIR:-/openbao/config}
wait_s=${SOMA_VAULT_PEER_WAIT:-30}
log() { echo "vault-start: $*" >&2; }

# 0 if a peer reports an initialised cluster; 1 once every peer reports none, or at the
# deadline (peers unreachable)
peer_initialised() {
  deadline=$(($(date +%s) + wait_s))
  while :; do
    unanswered=""
    for addr in $SOMA_VAULT_MEMBERS; do
      case $addr in "http://$POD_NAME."*) continue ;; esac
      # 200 whatever the state: initialised, sealed or not, active or standby
      health=$(wget -q -T 2 -O - \
        "$addr/v1/sys/health?standbyok=true&sealedcode=200&uninitcode=200" 2>/dev/null) || health=""
      case $health in
        *'"initialized":true'*) log "$addr reports an initialised cluster"; return 0 ;;
        *'"initialized":false'*) ;;
        *) unanswered="$unanswered $addr" ;;
      esac
    done
    [ -n "$unanswered" ] || { log "every peer reports an uninitialised server"; return 1; }
    if [ "$(date +%s)" -ge "$deadline" ]; then
      log "no answer within ${wait_s}s from:$unanswered"
      return 1
    fi
    sleep 2
  done
}

base=server-join.hcl
if [ "${POD_NAME##*-}" = 0 ]; then
  if peer_initialised; then
    log "joining the running cluster (no self-initialisation)"
  else
    log "self-initialising if the storage is empty (server.hcl)"
    base=server.hcl
  fi
fi
exec bao server -config="$conf/$base" -config="$conf/cluster.hcl" -config="$conf/telemetry.hcl"
