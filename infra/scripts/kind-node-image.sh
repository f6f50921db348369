#!/usr/bin/env bash
# Assemble the Kind node image fully offline (no registry pull anywhere): `kind build
# node-image` cannot, since it fetches pause/etcd/CoreDNS/CNI/storage images from
# registries. Inputs, all from package registries:
#   - debian:bookworm-slim (base-image.sh) + Debian's systemd, containerd 1.6, runc, CNI
#     plugins, iptables/ipset (apt inside `docker build`)
#   - kind's base files (entrypoint, systemd units, containerd config) from the
#     sigs.k8s.io/kind Go module, and its default storage manifest (const_storage.go)
#   - Kubernetes binaries (kube-tools.sh), etcd (go-tools.sh), pause, crictl, CoreDNS,
#     kube-router, local-path-provisioner (kind-tools.sh), each put into a small image
#     tagged as kubeadm / our manifests expect, all saved into the node and imported
#     into its containerd at boot (before kubelet).
# The node image is tagged soma-kind/node:<kube version>-<hash of every pinned input>
# and skipped when present; it is also `docker save`d into the cache
# ($SOMA_CACHE/kind/node-<hash>.tar, SOMA_KIND_SAVE=0 to skip), so a pruned Docker store
# reloads it in seconds instead of rebuilding.
# Usage: kind-node-image.sh          build if needed, print the tag on the last line
#        kind-node-image.sh --tag    print the tag only (no build)
. "$(dirname "$0")/lib.sh"
kinddir="$root/infra/kind"
export GOTOOLCHAIN=local GOFLAGS=-buildvcs=false

# images kubeadm v1.33 deploys (names from `kubeadm config images list`); etcd and CoreDNS
# are the versions we build, set as imageTag in infra/kind/soma-kind.yaml
K8S=registry.k8s.io
ETCD_TAG="${ETCD_VERSION#v}-0"
PAUSE_TAG=3.10
KUBE_ROUTER_IMAGE="soma-kind/kube-router:$KUBE_ROUTER_VERSION"
LOCAL_PATH_IMAGE="soma-kind/local-path-provisioner:$LOCAL_PATH_VERSION"
LOCAL_PATH_HELPER_IMAGE="soma-kind/local-path-helper:bookworm"

inputs_hash() {
  {
    cat "$here/versions.env" "$0" "$here/lib.sh" "$here/kube-tools.sh" "$here/kind-tools.sh" "$here/go-tools.sh"
    (cd "$kinddir" && find node images -type f -print0 | sort -z | xargs -0 sha256sum)
  } | sha256sum | cut -c1-12
}
# one source of truth: the Kind config's imageTag lines must name the versions built here
for want in "imageTag: $ETCD_TAG" "imageTag: $COREDNS_VERSION"; do
  grep -q "$want" "$kinddir/soma-kind.yaml" \
    || { echo "kind-node-image: infra/kind/soma-kind.yaml lacks '$want' (versions.env)" >&2; exit 1; }
done
hash=$(inputs_hash)
tag="soma-kind/node:$KUBE_VERSION-$hash"
if [ "${1:-}" = --tag ]; then echo "$tag"; exit 0; fi

saved="$cache/kind/node-$hash.tar"
if docker image inspect "$tag" >/dev/null 2>&1; then
  echo "kind-node-image: $tag present"; echo "$tag"; exit 0
fi
if [ -s "$saved" ]; then
  echo "kind-node-image: loading $tag from $saved"
  docker load -q -i "$saved" >/dev/null; echo "$tag"; exit 0
fi

# one assembly at a time; re-check after waiting
lock "$cache/kind/.node-image.lock" 5400
if docker image inspect "$tag" >/dev/null 2>&1; then echo "$tag"; exit 0; fi

t0=$SECONDS
bash "$here/base-image.sh"

kindmod=$(go mod download -json "sigs.k8s.io/kind@$KIND_VERSION" | sed -n 's/.*"Dir": "\(.*\)",*/\1/p')
[ -d "$kindmod/images/base/files" ] || { echo "kind-node-image: no base files in sigs.k8s.io/kind@$KIND_VERSION" >&2; exit 1; }

work=""; tmpdir work "$cache/kind"

# image <tag> <dockerfile dir> <binary...>: build a component image from its folder plus
# the binaries in bin/, skipped when the tag carries the same input hash
image() {
  local t=$1 dir=$2; shift 2
  local ctx="$work/img" h
  rm -rf "$ctx"; mkdir -p "$ctx/bin"; cp -a "$kinddir/images/$dir/." "$ctx/"
  local b; for b in "$@"; do cp "$bin/$b" "$ctx/bin/"; done
  h=$( (cd "$ctx" && find . -type f -print0 | sort -z | xargs -0 sha256sum) | sha256sum | cut -c1-16)
  if [ "$(docker image inspect -f '{{index .Config.Labels "soma.build-hash"}}' "$t" 2>/dev/null)" = "$h" ]; then
    echo "kind-node-image: $t up to date"; return 0
  fi
  step "image $t" docker_build "$t" "$ctx" --label "soma.build-hash=$h"
}
# each image as soon as its programs exist (the builds are long; images are seconds)
t_tools=$SECONDS
bash "$here/kube-tools.sh"   # waits on its lock if another build runs
bash "$here/go-tools.sh" etcd etcdctl
t_tools=$((SECONDS - t_tools))
image "$K8S/kube-apiserver:$KUBE_VERSION"          static kube-apiserver
image "$K8S/kube-controller-manager:$KUBE_VERSION" static kube-controller-manager
image "$K8S/kube-scheduler:$KUBE_VERSION"          static kube-scheduler
image "$K8S/kube-proxy:$KUBE_VERSION"              net kube-proxy
image "$K8S/etcd:$ETCD_TAG"                        static etcd etcdctl
t1=$SECONDS
bash "$here/kind-tools.sh"
t_tools=$((t_tools + SECONDS - t1))
image "$K8S/coredns/coredns:$COREDNS_VERSION"      coredns coredns
image "$K8S/pause:$PAUSE_TAG"                      pause pause
image "$KUBE_ROUTER_IMAGE"                         net kube-router
image "$LOCAL_PATH_IMAGE"                          static local-path-provisioner
image "$LOCAL_PATH_HELPER_IMAGE"                   helper
preload=("$K8S/kube-apiserver:$KUBE_VERSION" "$K8S/kube-controller-manager:$KUBE_VERSION"
         "$K8S/kube-scheduler:$KUBE_VERSION" "$K8S/kube-proxy:$KUBE_VERSION" "$K8S/etcd:$ETCD_TAG"
         "$K8S/coredns/coredns:$COREDNS_VERSION" "$K8S/pause:$PAUSE_TAG" "$KUBE_ROUTER_IMAGE"
         "$LOCAL_PATH_IMAGE" "$LOCAL_PATH_HELPER_IMAGE")

# the node's build context
ctx="$work/node"
mkdir -p "$ctx/files" "$ctx/bin" "$ctx/kind/manifests" "$ctx/kind/images"
cp -r "$kindmod/images/base/files/." "$ctx/files/"
chmod -R u+w "$ctx/files"
cp -r "$kinddir/node/files/." "$ctx/files/"
# as kind's Dockerfile: directories and scripts 0755, everything else 0644
find "$ctx/files" -type d -exec chmod 0755 {} +
find "$ctx/files" -type f -exec chmod 0644 {} +
chmod 0755 "$ctx"/files/usr/local/bin/* "$ctx"/files/kind/bin/*
cp "$kinddir/node/Dockerfile" "$ctx/"
for b in kubelet kubeadm kubectl crictl; do cp "$bin/$b" "$ctx/bin/"; done
printf '%s' "$KUBE_VERSION" > "$ctx/kind/version"
sed "s#KUBE_ROUTER_IMAGE#$KUBE_ROUTER_IMAGE#g" "$kinddir/node/manifests/default-cni.yaml" \
  > "$ctx/kind/manifests/default-cni.yaml"
# kind's own default storage manifest, with our provisioner and helper images
python3 - "$kindmod/pkg/build/nodeimage/const_storage.go" "$LOCAL_PATH_IMAGE" "$LOCAL_PATH_HELPER_IMAGE" \
  > "$ctx/kind/manifests/default-storage.yaml" <<'PY'
import re, sys
src = open(sys.argv[1], encoding="utf-8").read()
body = re.search(r"const defaultStorageManifest = `(.*?)`\s*$", src, re.S | re.M)
if not body:
    sys.exit("kind-node-image: defaultStorageManifest not found in const_storage.go")
text = src[body.start(1):]
text = text.replace("` + storageProvisionerImage + `", sys.argv[2]).replace("` + storageHelperImage + `", sys.argv[3])
text = text[: text.index("`")]
sys.stdout.write(text)
PY
grep -q "$LOCAL_PATH_IMAGE" "$ctx/kind/manifests/default-storage.yaml" \
  || { echo "kind-node-image: storage manifest has no provisioner image" >&2; exit 1; }
docker save -o "$ctx/kind/images/preload.tar" "${preload[@]}"

step "node image $tag" docker_build "$tag" "$ctx" --label "soma.build-hash=$hash"
echo "kind-node-image: built $tag in $((SECONDS - t0))s (programs ${t_tools}s, images and node $((SECONDS - t0 - t_tools))s)"
# measured figures for `make kind-measure` (one line per assembly)
printf '%s %s total=%s programs=%s assembly=%s\n' "$(date -u +%FT%TZ)" "$tag" "$((SECONDS - t0))" \
  "$t_tools" "$((SECONDS - t0 - t_tools))" >> "$cache/kind/build-times.log"
if [ "${SOMA_KIND_SAVE:-1}" != 0 ]; then
  find "$cache/kind" -maxdepth 1 -name 'node-*.tar' ! -name "node-$hash.tar" -delete
  docker save -o "$work/node.tar" "$tag" && put "$work/node.tar" "$saved"
  echo "kind-node-image: saved to $saved ($(du -h "$saved" | cut -f1))"
fi
echo "$tag"
