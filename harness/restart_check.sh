#!/usr/bin/env bash
# The operator's check of issue 31: restart one stateful container of the running compose
# stack at a time (what a crash, an OOM kill or a laptop waking up does), wait until it is
# healthy again by its own healthcheck (Vault's: it can mint and verify a token), then run
# every non-disruptive contract against the stack, with no manual step in between. Prints
# each service's time back and the suite's verdict; exits non-zero if any run failed.
# Usage: harness/restart_check.sh [SERVICE...]   (make restart-check; the stack must be up)
set -uo pipefail
project=${COMPOSE_PROJECT_NAME:-soma-infra}
report=${REPORT_DIR:-reports}/restart-check
[ $# -gt 0 ] || set -- postgres kafka redis etcd vault prometheus
BACK_TIMEOUT_S=240
mkdir -p "$report"
status=0
for svc in "$@"; do
  cid=$(docker ps -q --filter "label=com.docker.compose.project=$project" \
    --filter "label=com.docker.compose.service=$svc")
  if [ -z "$cid" ]; then echo "restart-check: no running $svc in compose project $project (make up)" >&2; exit 2; fi
  t0=$EPOCHREALTIME
  docker restart -t 10 "$cid" >/dev/null
  sleep 1  # the healthcheck's state resets only once the container is running again
  until [ "$(docker inspect -f '{{.State.Health.Status}}' "$cid")" = healthy ]; do
    if (( ${EPOCHREALTIME%.*} - ${t0%.*} > BACK_TIMEOUT_S )); then
      echo "restart-check: $svc not healthy within ${BACK_TIMEOUT_S}s of docker restart"; status=1; continue 2
    fi
    sleep 0.5
  done
  back=$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN {printf "%.1f", b - a}')
  s0=$SECONDS
  if "${PYTHON:-python3}" -m pytest --pyargs conformance --target=compose -q -p no:cacheprovider -n 2 \
      -m "not durability and not resilience" --report-dir="$report/$svc" >"$report-$svc.log" 2>&1; then
    verdict="suite passed"
  else
    verdict="suite FAILED (log: $report-$svc.log)"; status=1
  fi
  echo "restart-check: docker restart $svc: healthy again after ${back}s; $verdict in $((SECONDS - s0))s:" \
    "$(grep -E '^[0-9]+ (passed|failed)' "$report-$svc.log" | tail -1)"
done
exit $status
