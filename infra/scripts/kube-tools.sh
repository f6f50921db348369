#!/usr/bin/env bash
# Build the Kubernetes binaries from the Go module proxy in ONE `go build`, so the
# packages they share are compiled once: kube-apiserver (envtest-style chart checks) and,
# for the offline Kind node image, kubelet, kubeadm, kubectl, kube-controller-manager,
# kube-scheduler and kube-proxy. Output goes to ~/.cache/soma-infra/bin with a version
# stamp, so a second run (and CI on the same machine) skips the long build.
#
# k8s.io/kubernetes pins its staging modules (k8s.io/api, k8s.io/apiserver, ...) at
# v0.0.0 with `replace => ./staging/...`, so `go install` refuses it. A throwaway
# wrapper module replaces every staging module with the matching v0.X.Y release
# (v1.33.13 -> v0.33.13), read from the kubernetes go.mod itself.
# Usage: kube-tools.sh            (builds every binary below if not cached)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=versions.env
. "$here/versions.env"
cache=${SOMA_CACHE:-$HOME/.cache/soma-infra}
bin="$cache/bin"
mkdir -p "$bin"
export GOTOOLCHAIN=local GOFLAGS=-buildvcs=false CGO_ENABLED=0

ver=${KUBE_VERSION:?KUBE_VERSION missing from versions.env}
mod="k8s.io/kubernetes@$ver"
cmds=(kube-apiserver kube-controller-manager kube-scheduler kube-proxy kubelet kubeadm kubectl)
want="$mod ${cmds[*]}"
stamp="$bin/.kube-tools.version"
cached() {
  [ "$(cat "$stamp" 2>/dev/null)" = "$want" ] || return 1
  local c; for c in "${cmds[@]}"; do [ -x "$bin/$c" ] || return 1; done
}
if cached; then echo "kube-tools: ${cmds[*]} ($mod) cached"; exit 0; fi

# one build at a time (make test and a developer may both ask); re-check after waiting
exec 9>"$bin/.kube-tools.lock"
flock -w 5400 9 || { echo "kube-tools: another build holds the lock for too long" >&2; exit 1; }
if cached; then echo "kube-tools: ${cmds[*]} ($mod) cached"; exit 0; fi

staging_ver="v0.${ver#v1.}"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
start=$(date +%s)
echo "kube-tools: building ${cmds[*]} from $mod (staging modules at $staging_ver)"
cd "$work"
go mod init soma-tools/kube >/dev/null 2>&1
gomod=$(go mod download -json "$mod" | sed -n 's/.*"GoMod": "\(.*\)",*/\1/p')
[ -f "$gomod" ] || { echo "kube-tools: cannot read go.mod of $mod" >&2; exit 1; }
# every `k8s.io/<name> => ./staging/src/k8s.io/<name>` becomes `=> k8s.io/<name> v0.X.Y`
mapfile -t staging < <(sed -n 's#^[[:space:]]*\(k8s.io/[a-z0-9-]*\) => ./staging/src/.*#\1#p' "$gomod")
[ ${#staging[@]} -gt 10 ] || { echo "kube-tools: found only ${#staging[@]} staging modules" >&2; exit 1; }
for m in "${staging[@]}"; do go mod edit -replace="$m=$m@$staging_ver"; done
go mod edit -require="$mod"
{
  printf 'package main\n\nimport (\n'
  for c in "${cmds[@]}"; do printf '\t_ "k8s.io/kubernetes/cmd/%s"\n' "$c"; done
  printf ')\n'
} > tools.go
# resolve the full graph against the pinned requirements of k8s.io/kubernetes
go get "$mod" >/dev/null 2>&1
go mod tidy >/dev/null 2>&1 || true
ld="-s -w"
for kv in "gitVersion=$ver" "gitMajor=1" "gitMinor=$(echo "$ver" | cut -d. -f2)" "gitTreeState=clean"; do
  ld="$ld -X k8s.io/component-base/version.$kv -X k8s.io/client-go/pkg/version.$kv"
done
mkdir out
pkgs=(); for c in "${cmds[@]}"; do pkgs+=("k8s.io/kubernetes/cmd/$c"); done
go build -trimpath -ldflags="$ld" -o out/ "${pkgs[@]}"
for c in "${cmds[@]}"; do mv "out/$c" "$bin/$c"; done
echo "$want" > "$stamp"
echo "kube-tools: built ${cmds[*]} $ver in $(( $(date +%s) - start ))s -> $bin"
