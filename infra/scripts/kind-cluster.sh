#!/usr/bin/env bash
# The Kind path end to end, offline and idempotent (make kind-up / kind-down / kind-status):
#   up:   node image (kind-node-image.sh, cached) -> cluster `soma` (context kind-soma)
#         from infra/kind/soma-kind.yaml, created only if missing or on another node
#         image -> the stack's images loaded into the node (kind skips those present)
#         -> chart installed/upgraded with the dev overlay -> every pod Ready.
#         OVERLAY=prod: cluster `soma-prod` (context kind-soma-prod, three schedulable
#         nodes, infra/kind/soma-kind-prod.yaml) with the prod overlay, its credentials
#         Secret made from random values when missing.
#   down: delete the cluster.
#   release CHART_DIR: helm upgrade of the release from that chart folder, every pod Ready.
# kind runs with the project's own binaries ($SOMA_CACHE/bin) and, when this Docker
# engine cannot run `docker run --privileged` (see infra/kind/docker-shim/docker), with
# the shim first on PATH for kind only.
# Env: KIND_UP_TIMEOUT (seconds to wait for pods, default 900).
. "$(dirname "$0")/lib.sh"
chart="$root/infra/helm/soma-infra"
overlay=${OVERLAY:-dev}
case "$overlay" in
  dev) cluster=soma config="$root/infra/kind/soma-kind.yaml"
       values=("$chart/values-dev.yaml" "$root/infra/kind/values-kind.yaml") ;;
  prod) cluster=soma-prod config="$root/infra/kind/soma-kind-prod.yaml"
        values=("$chart/values-prod.yaml" "$root/infra/kind/values-kind-prod.yaml") ;;
  *) echo "kind-cluster.sh: OVERLAY=$overlay: choose dev or prod" >&2; exit 2 ;;
esac
context=kind-$cluster
release=soma-infra
namespace=soma-infra
timeout_s=${KIND_UP_TIMEOUT:-900}
values_args=()
for v in "${values[@]}"; do values_args+=(-f "$v"); done
export PATH="$cache/bin:$PATH"
log() { echo "kind-cluster: $*" >&2; }

# kind's own PATH: the shim only if a plain privileged container fails here
kind_path() {
  if docker run --rm --privileged --entrypoint /bin/true debian:bookworm-slim >/dev/null 2>&1; then
    echo "$PATH"
  else
    echo "$root/infra/kind/docker-shim:$PATH"
  fi
}
kind_() { PATH=$(kind_path) kind "$@"; }

# the chart's images, except those the kind overlay disables (Grafana: no offline image)
chart_images() {
  helm template "$release" "$chart" "${values_args[@]}" \
    | sed -n 's/^ *image: *"\{0,1\}\([^" ]*\)"\{0,1\} *$/\1/p' | sort -u
}

up() {
  local t0=$SECONDS tag node_image
  tag=$(bash "$here/kind-node-image.sh" | tail -n1)
  if kind get clusters 2>/dev/null | grep -qx "$cluster"; then
    node_image=$(docker inspect -f '{{.Config.Image}}' "$cluster-control-plane" 2>/dev/null || true)
    if [ "$node_image" != "$tag" ]; then
      log "cluster $cluster runs ${node_image:-an unknown image}, not $tag: recreating"
      kind_ delete cluster --name "$cluster"
    elif [ "$(docker inspect -f '{{.State.Running}}' "$cluster-control-plane")" != true ]; then
      log "starting the stopped node"; docker start "$cluster-control-plane" >/dev/null
    fi
  fi
  local created=""
  if ! kind get clusters 2>/dev/null | grep -qx "$cluster"; then
    log "creating cluster $cluster from $tag"
    kind_ create cluster --name "$cluster" --config "$config" --image "$tag" --wait 5m
    created=1
  fi
  kubectl config use-context "$context" >/dev/null
  schedulable_control_plane
  [ -z "$created" ] || restart_kube_router
  local images=() missing=() i
  # the chart's images, plus the suite's in-network probe (pods the kind target starts)
  # the chart renders only with its synced files (catalog, config, bundle): a fresh clone has none
  bash "$here/helm-files.sh" >/dev/null
  local rendered
  rendered=$(chart_images) || { log "helm template of the chart failed (above)"; exit 1; }
  [ -n "$rendered" ] || { log "helm template rendered no image"; exit 1; }
  mapfile -t images < <(echo "$rendered"; echo soma-infra/probe:local)
  for i in "${images[@]}"; do
    docker image inspect "$i" >/dev/null 2>&1 || missing+=("$i")
  done
  [ ${#missing[@]} -eq 0 ] || { log "images missing (run make images): ${missing[*]}"; exit 1; }
  log "loading ${#images[@]} images into the node (present ones are skipped)"
  kind_ load docker-image --name "$cluster" "${images[@]}" >/dev/null
  release_namespace
  credentials_secret
  install "$chart"
  log "cluster $cluster up: every pod Ready in $((SECONDS - t0))s"
}

# The release from chart folder $1 (its files/ synced), with the dev + kind overlays, then
# every pod Ready. `kind-cluster.sh release DIR` rolls out another copy of the chart (a
# changed policy bundle in its files/: the day-2 check in tests/kind) with the same values.
install() {
  log "installing the chart $1 (helm upgrade --install -n $namespace)"
  helm upgrade --install "$release" "$1" --kube-context "$context" --namespace "$namespace" \
    "${values_args[@]}" --wait --timeout "${timeout_s}s" >/dev/null
  wait_ready
}

# The release lives in soma-infra itself (so `helm test soma-infra -n soma-infra` finds it),
# while the chart renders that Namespace with its PodSecurity labels. Helm adopts an existing
# object only if it carries the release's ownership marks: the Namespace is created with
# them first (only when missing: a running namespace is left alone), and the install then
# applies the chart's labels to it.
release_namespace() {
  if helm status "$release" --kube-context "$context" --namespace default >/dev/null 2>&1; then
    log "release $release is recorded in namespace default (older layout): make kind-down && make kind-up"
    exit 1
  fi
  kubectl --context "$context" get namespace "$namespace" >/dev/null 2>&1 && return 0
  kubectl --context "$context" create -f - >/dev/null <<YAML
apiVersion: v1
kind: Namespace
metadata:
  name: $namespace
  labels: {app.kubernetes.io/managed-by: Helm}
  annotations: {meta.helm.sh/release-name: $release, meta.helm.sh/release-namespace: $namespace}
YAML
}

# A multi-node cluster's control plane carries NoSchedule: lift it, so the prod overlay's
# three replicas of each quorum get three nodes (the nodes are all this machine anyway).
schedulable_control_plane() {
  [ "$overlay" = prod ] || return 0
  kubectl --context "$context" taint nodes "$cluster-control-plane" \
    node-role.kubernetes.io/control-plane:NoSchedule- >/dev/null 2>&1 || true
}

# kube-router reads the nodes' pod subnets (the set its masquerade rule exempts) when it
# starts and then only every 5 min (--routes-sync-period): on a new multi-node cluster the
# control plane's router starts before the workers join, so for up to 5 min its pods'
# traffic to pods on other nodes left SNATed to the node's address, and the
# NetworkPolicies there (which admit pods, not nodes) refused it: the Kafka and etcd
# members on the control plane could not reach their peers. Restart the routers once
# every node is Ready (a new cluster only; no pod of the release runs yet).
restart_kube_router() {
  [ "$overlay" = prod ] || return 0
  log "restarting kube-router now that every node is Ready (pod subnets of all nodes)"
  kubectl --context "$context" wait --for=condition=Ready nodes --all --timeout=300s >/dev/null
  kubectl --context "$context" -n kube-system rollout restart daemonset/kube-router >/dev/null
  kubectl --context "$context" -n kube-system rollout status daemonset/kube-router --timeout=300s >/dev/null
}

# Staging and prod read credentials from an existing Secret (never the chart's dev one):
# on this throwaway cluster, made once from random values with the keys the chart reads.
credentials_secret() {
  [ "$overlay" = prod ] || return 0
  local name=soma-infra-credentials
  kubectl --context "$context" -n "$namespace" get secret "$name" >/dev/null 2>&1 && return 0
  local args=() key
  # POSTGRES_REPLICATION_PASSWORD: Patroni's replication user (postgres.ha.enabled)
  for key in POSTGRES_PASSWORD POSTGRES_REPLICATION_PASSWORD REDIS_PASSWORD VAULT_DEV_ROOT_TOKEN; do
    args+=("--from-literal=$key=$(od -An -N18 -tx1 /dev/urandom | tr -d ' \n')")
  done
  # the static seal key: 32 random bytes, base64 (infra/config/vault/server.hcl)
  args+=("--from-literal=VAULT_SEAL_KEY=$(head -c 32 /dev/urandom | base64)")
  kubectl --context "$context" -n "$namespace" create secret generic "$name" \
    --from-literal=POSTGRES_USER=soma --from-literal=POSTGRES_DB=soma "${args[@]}" >/dev/null
  log "created Secret $namespace/$name (random credentials)"
}

# every pod of every namespace Ready (Jobs' finished pods excepted)
wait_ready() {
  local deadline=$((SECONDS + timeout_s)) pending
  while :; do
    pending=$(kubectl --context "$context" get pods -A --field-selector=status.phase!=Succeeded \
      -o jsonpath='{range .items[*]}{.metadata.namespace}/{.metadata.name}{" "}{range .status.conditions[?(@.type=="Ready")]}{.status}{end}{"\n"}{end}' \
      | awk '$2 != "True" {print $1}')
    [ -z "$pending" ] && return 0
    if [ $SECONDS -ge $deadline ]; then
      log "pods not Ready after ${timeout_s}s: $(echo "$pending" | tr '\n' ' ')"
      kubectl --context "$context" get pods -A -o wide >&2 || true
      exit 1
    fi
    sleep 5
  done
}

down() {
  if kind get clusters 2>/dev/null | grep -qx "$cluster"; then
    kind_ delete cluster --name "$cluster"
  else
    log "no cluster $cluster"
  fi
}

status() {
  kind get clusters 2>/dev/null | grep -qx "$cluster" || { log "no cluster $cluster"; return 0; }
  kubectl --context "$context" get pods -A -o wide
}

case "${1:-}" in
  up) up ;; down) down ;; status) status ;; wait) wait_ready ;;
  release) [ -d "${2:-}" ] || { echo "kind-cluster.sh release CHART_DIR: no such folder: ${2:-}" >&2; exit 2; }
           install "$2" ;;
  *) echo "usage: kind-cluster.sh up|down|status|wait|release CHART_DIR" >&2; exit 2 ;;
esac
