#!/usr/bin/env bash
# Print the stack's headline numbers, measured, on an isolated compose project (its own
# name, free host ports, removed afterwards) so a running stack is never disturbed:
#   1. warm start: `make up` with images built and containers absent -> all healthy
#   2. memory: sum of `docker stats --no-stream` over the stack's containers
#   3. cold image build (with `cold`): every image rebuilt with --no-cache under a
#      throwaway tag prefix (Go binaries, jars and the base rootfs stay cached)
# Usage: measure.sh [cold]
. "$(dirname "$0")/lib.sh"
cd "$root"
project="${SOMA_MEASURE_PROJECT:-soma-measure-$$}"
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
export COMPOSE_PROJECT_NAME=$project
# one free host port per catalog service (<SERVICE>_HOST_PORT), the list read from the catalog
port_vars=$(python3 -m conformance.cli services --host-port-vars)
for v in $port_vars; do export "$v=$(free_port)"; done
elapsed() { python3 -c "import sys; print(float(sys.argv[2]) - float(sys.argv[1]))" "$1" "$2"; }
compose=(docker compose --env-file infra/env/.env.shared -f infra/docker/shared-infra.compose.yaml)
watcher=""
cleanup() {
  [ -z "$watcher" ] || kill "$watcher" 2>/dev/null || true
  "${compose[@]}" down -v --remove-orphans >/dev/null 2>&1 || true
}
on_exit cleanup

make --no-print-directory -s env bundle images >/dev/null
# the critical path: when each service was first seen healthy (polled every 0.5 s)
seen=$(mktemp)
watch_health() {
  while :; do
    "${compose[@]}" ps -a --format '{{.Service}} {{.Health}}' 2>/dev/null |
      awk -v t="$EPOCHREALTIME" '$2 == "healthy" {print $1, t}' >>"$seen" || true
    sleep 0.5
  done
}
t0=$EPOCHREALTIME
watch_health & watcher=$!
make --no-print-directory -s up >/dev/null 2>&1
t1=$EPOCHREALTIME
kill "$watcher" 2>/dev/null || true
watcher=""
printf 'warm start (make up, images built, no containers) -> all healthy: %.1f s (load %s)\n' \
  "$(elapsed "$t0" "$t1")" "$(cut -d' ' -f1-3 /proc/loadavg)"
sort -k2 -n "$seen" | awk -v t0="$t0" '!done[$1]++ {printf "  %-18s healthy after %5.1f s\n", $1, $2 - t0}'
rm -f "$seen"
t0=$EPOCHREALTIME
make --no-print-directory -s up >/dev/null 2>&1
t1=$EPOCHREALTIME
printf 'second make up on the running stack (idempotent): %.1f s\n' "$(elapsed "$t0" "$t1")"
sleep 20  # let JVM and caches settle before reading memory
mapfile -t containers < <("${compose[@]}" ps -q)
docker stats --no-stream --format '{{.Name}} {{.MemUsage}}' "${containers[@]}" | python3 -c '
import re, sys
units = {"B": 1, "KiB": 1024, "MiB": 1024**2, "GiB": 1024**3}
total = 0
for line in sys.stdin:
    name, usage = line.split(" ", 1)
    m = re.match(r"([\d.]+)(\w+)", usage.strip())
    total += float(m.group(1)) * units[m.group(2)]
    used = usage.split("/")[0].strip()
    print(f"  {name:<40} {used}")
print(f"stack memory (docker stats --no-stream, sum): {total / 1024**3:.2f} GiB")'

if [ "${1:-}" = cold ]; then
  t0=$EPOCHREALTIME
  # every image as one quiet step: the figure is not buried, a failure shows its log
  SOMA_IMAGE_PREFIX="soma-measure-cold" SOMA_BUILD_NO_CACHE=1 step "cold image build" bash infra/scripts/build-images.sh >/dev/null
  t1=$EPOCHREALTIME
  printf 'cold image build (--no-cache, all images): %.1f s\n' "$(elapsed "$t0" "$t1")"
  docker images --format '{{.Repository}}:{{.Tag}}' | grep '^soma-measure-cold/' | xargs -r docker rmi -f >/dev/null
fi
