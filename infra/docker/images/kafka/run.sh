#!/bin/bash
# KAFKA_FOO_BAR=x becomes foo.bar=x in server.properties (the apache/kafka convention),
# storage is formatted once with CLUSTER_ID, then the broker+controller runs in the
# foreground. The config is written to /tmp so the root filesystem can stay read-only.
set -euo pipefail
: "${CLUSTER_ID:?CLUSTER_ID must be set}"
props=/tmp/server.properties
: > "$props"
# A StatefulSet's pods (<name>-<n>) share one template: in a value, @ORDINAL@ becomes n (the
# node id) and @ORDINAL+<base>@ becomes base + n (a port of the broker's own). Compose uses neither.
per_pod() {
  local v=$1 n=${HOSTNAME##*-} re='@ORDINAL(\+([0-9]+))?@'
  while [[ $v =~ $re ]]; do
    case $n in ''|*[!0-9]*) echo "run.sh: @ORDINAL@ needs a hostname <name>-<n>, not $HOSTNAME" >&2; exit 1 ;; esac
    v=${v/"${BASH_REMATCH[0]}"/$((${BASH_REMATCH[2]:-0} + n))}
  done
  printf '%s' "$v"
}
while IFS='=' read -r name value; do
  case "$name" in
    KAFKA_HEAP_OPTS|KAFKA_OPTS|KAFKA_JVM_PERFORMANCE_OPTS) continue ;;
    KAFKA_*) key=${name#KAFKA_}; key=${key,,}; key=${key//__/-}; key=${key//_/.}
             printf '%s=%s\n' "$key" "$(per_pod "$value")" >> "$props" ;;
  esac
done < <(env)
data_dir=$(sed -n 's/^log\.dirs=//p' "$props"); data_dir=${data_dir:-/var/lib/kafka/data}
grep -q '^log\.dirs=' "$props" || echo "log.dirs=$data_dir" >> "$props"
cp="/opt/kafka/libs/*"
if [ ! -f "$data_dir/meta.properties" ]; then
  java -cp "$cp" -Dlog4j.configuration=file:/opt/kafka/config/log4j.properties \
    kafka.tools.StorageTool format -t "$CLUSTER_ID" -c "$props" --ignore-formatted
fi
# the *_OPTS variables hold several JVM options each: split on spaces on purpose
# shellcheck disable=SC2086
exec java ${KAFKA_HEAP_OPTS:--Xms256m -Xmx768m} ${KAFKA_JVM_PERFORMANCE_OPTS:--XX:+UseG1GC -XX:MaxGCPauseMillis=20 -Djava.awt.headless=true} \
  ${KAFKA_OPTS:-} -Dlog4j.configuration=file:/opt/kafka/config/log4j.properties \
  -cp "$cp" kafka.Kafka "$props"
