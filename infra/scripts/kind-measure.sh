#!/usr/bin/env bash
# Print the Kind path's headline numbers, measured:
#   1. cold node-image build: the figures the last assembly recorded itself
#      ($SOMA_CACHE/kind/build-times.log; programs = Go/C builds incl. waiting for
#      Kubernetes, assembly = component images + node image); `cold` re-runs the
#      assembly with the image removed (programs stay cached: a new machine also pays
#      for them, see kube-tools' own time in the log it prints)
#   2. warm kind-up: cluster deleted, node image and stack images present ->
#      `kind-cluster.sh up` until every pod is Ready
#   3. second kind-up on the running cluster (idempotent)
#   4. cluster memory: the node container's usage (docker stats), i.e. every pod + k8s
# Usage: kind-measure.sh [cold]      (deletes and recreates the cluster `soma`)
. "$(dirname "$0")/lib.sh"
elapsed() { python3 -c "import sys; print(float(sys.argv[2]) - float(sys.argv[1]))" "$1" "$2"; }

if [ "${1:-}" = cold ]; then
  tag=$(bash "$here/kind-node-image.sh" --tag)
  hash=${tag##*-}
  docker rmi "$tag" >/dev/null 2>&1 || true
  rm -f "$cache/kind/node-$hash.tar"
  bash "$here/kind-node-image.sh" >/dev/null
fi
if [ -s "$cache/kind/build-times.log" ]; then
  tail -n1 "$cache/kind/build-times.log" | awk '{
    for (i = 3; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
    printf "node image build (last recorded, %s, %s): %d s (programs %d s, images + node %d s)\n", $1, $2, v["total"], v["programs"], v["assembly"] }'
else
  echo "node image build: never recorded on this machine (run make kind-image)"
fi

bash "$here/kind-cluster.sh" down >/dev/null 2>&1 || true
t0=$EPOCHREALTIME
bash "$here/kind-cluster.sh" up >/dev/null
t1=$EPOCHREALTIME
printf 'warm kind-up (node image + stack images present, no cluster) -> every pod Ready: %.1f s\n' "$(elapsed "$t0" "$t1")"
t0=$EPOCHREALTIME
bash "$here/kind-cluster.sh" up >/dev/null
t1=$EPOCHREALTIME
printf 'second kind-up on the running cluster (idempotent): %.1f s\n' "$(elapsed "$t0" "$t1")"
sleep 20  # let the JVM and caches settle before reading memory
docker stats --no-stream --format '{{.Name}} {{.MemUsage}}' soma-control-plane \
  | awk '{print "cluster memory (docker stats, node container soma-control-plane): " $2 " " $3 " " $4}'
