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
. "$(dirname "$0")/lib.sh"
go_env

ver=${KUBE_VERSION:?KUBE_VERSION missing from versions.env}
mod="k8s.io/kubernetes@$ver"
cmds=(kube-apiserver kube-controller-manager kube-scheduler kube-proxy kubelet kubeadm kubectl)
want="$mod ${cmds[*]}"
stamp="$bin/.kube-tools.version"
# one build at a time (make test and a developer may both ask)
if ! needs_build "$stamp" "$want" "$bin/.kube-tools.lock" 5400 "${cmds[@]/#/$bin/}"; then
  echo "kube-tools: ${cmds[*]} ($mod) cached"; exit 0
fi

# kube_build DIR: the wrapper module in DIR, every binary built into DIR/out/
kube_build() {
  local staging_ver="v0.${ver#v1.}" gomod m c kv ld="-s -w" staging=() pkgs=()
  cd "$1"
  echo "kube-tools: building ${cmds[*]} from $mod (staging modules at $staging_ver)"
  go mod init soma-tools/kube >/dev/null 2>&1
  gomod=$(go mod download -json "$mod" | sed -n 's/.*"GoMod": "\(.*\)",*/\1/p')
  [ -f "$gomod" ] || die "cannot read go.mod of $mod"
  # every `k8s.io/<name> => ./staging/src/k8s.io/<name>` becomes `=> k8s.io/<name> v0.X.Y`
  mapfile -t staging < <(sed -n 's#^[[:space:]]*\(k8s.io/[a-z0-9-]*\) => ./staging/src/.*#\1#p' "$gomod")
  [ ${#staging[@]} -gt 10 ] || die "found only ${#staging[@]} staging modules"
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
  for kv in "gitVersion=$ver" "gitMajor=1" "gitMinor=$(echo "$ver" | cut -d. -f2)" "gitTreeState=clean"; do
    ld="$ld -X k8s.io/component-base/version.$kv -X k8s.io/client-go/pkg/version.$kv"
  done
  mkdir out
  for c in "${cmds[@]}"; do pkgs+=("k8s.io/kubernetes/cmd/$c"); done
  go build -trimpath -ldflags="$ld" -o out/ "${pkgs[@]}"
}

work=""; tmpdir work
start=$SECONDS
step "go build Kubernetes $ver (${#cmds[@]} programs)" kube_build "$work"
for c in "${cmds[@]}"; do put "$work/out/$c" "$bin/$c"; done
stamp "$stamp" "$want"
echo "kube-tools: built ${cmds[*]} $ver in $((SECONDS - start))s -> $bin"
