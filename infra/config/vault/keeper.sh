#!/bin/sh
# Keeps the identity bootstrap (bootstrap.sh, idempotent) applied to OpenBao, for good:
# compose runs it as the service vault-bootstrap, the Helm chart as the container
# `bootstrap` beside the server in the vault pod. It applies the bootstrap
#   - each time a server becomes active (a new sys/leader active_time: first start,
#     restart, recreate, reschedule, failover), so a changed identity.env or drift left by
#     hand is put right whenever Vault comes back;
#   - whenever `health.sh --complete` finds a piece of it missing (exit 2: storage lost, or
#     a key, role, AppRole role, entity or policy deleted by hand), within one interval.
# It never touches a server that is not serving (sealed, uninitialised: server.hcl's seal
# and self-initialisation handle those), and leaves "present but broken" (health.sh exit 3)
# alone: a fault injected on purpose is not fought in a loop.
# In a Raft cluster (Helm, vault.replicas > 1) every server's pod has a keeper, and only
# the one beside the active server applies anything (sys/leader is_self): the standbys'
# keepers watch, so the keepers never race each other, and a failover makes the new active
# server's keeper re-apply the bootstrap. A single server is always its own active one.
# $SOMA_KEEPER_DONE (/tmp/bootstrap-done) exists only while the issuer works and, beside
# the active server, this keeper has applied the bootstrap to it as it is now active (a
# standby's keeper: while the issuer works through its server): the container's health
# (compose healthcheck, Kubernetes readinessProbe).
set -u
: "${BAO_ADDR:?}" "${BAO_TOKEN:?}"
here=$(dirname "$0")
interval=${SOMA_KEEPER_INTERVAL:-5}
done_file=${SOMA_KEEPER_DONE:-/tmp/bootstrap-done}
alive_file=${SOMA_KEEPER_ALIVE:-/tmp/keeper-alive}  # touched every pass (Kubernetes liveness)
log() { echo "vault-keeper: $*" >&2; }
# SIGTERM ends it at once, also during a sleep or a bootstrap (both run as waited children)
trap 'log "stopping"; exit 0' TERM INT

applied=""   # active_time of the server the bootstrap was last applied to
said=""      # the last state logged (log changes only)
failures=0
rm -f "$done_file"
while :; do
  : >"$alive_file"
  leader=$(wget -q -T 3 -O - "$BAO_ADDR/v1/sys/leader" 2>/dev/null)
  active=$(echo "$leader" | sed -n 's/.*"active_time":"\([^"]*\)".*/\1/p')
  standby=""  # a standby of a cluster: its active server's keeper does the applying
  case $leader in *'"is_self":false'*) standby=1 active="" ;; esac
  state=$(sh "$here/health.sh" --complete); rc=$?
  why=""
  if [ -n "$standby" ]; then
    :
  elif [ "$rc" -eq 2 ]; then
    why=${state#vault health: }
  elif [ "$rc" -ne 1 ] && [ -n "$active" ] && [ "$active" != "$applied" ]; then
    why="server active since $active"
  fi
  if [ -n "$why" ]; then
    log "applying the identity bootstrap ($why)"
    t0=$(date +%s)
    sh "$here/bootstrap.sh" >&2 &
    if wait $!; then
      applied=$active failures=0
      log "bootstrap applied in $(($(date +%s) - t0))s"
      state=$(sh "$here/health.sh" --complete); rc=$?
    else
      failures=$((failures + 1))
      log "bootstrap failed (attempt $failures; output above)"
    fi
  fi
  if [ "$rc" -eq 0 ] && { [ -n "$standby" ] || { [ -n "$applied" ] && [ "$applied" = "$active" ]; }; }; then
    : >"$done_file"
  else
    rm -f "$done_file"
  fi
  state="${standby:+standby: }${state#vault health: }"
  [ "$state" = "$said" ] || { log "$state"; said=$state; }
  # a server not serving yet is polled every second (one cheap request), to apply the
  # bootstrap as soon as it is active; after failed applies, back off (up to 12 intervals)
  pause=$interval
  [ "$rc" -ne 1 ] || pause=1
  [ "$failures" -eq 0 ] || pause=$((interval * (failures < 12 ? failures : 12)))
  sleep "$pause" &
  wait $!
done
