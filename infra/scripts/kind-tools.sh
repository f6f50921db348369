#!/usr/bin/env bash
# Build the programs of the offline Kind node image that are not Kubernetes itself, from
# the Go module proxy (and one C file), into ~/.cache/soma-infra/bin with a stamp each:
#   crictl                    sigs.k8s.io/cri-tools (node tooling kind expects)
#   coredns                   github.com/coredns/coredns, a trimmed main with only the
#                             plugins kubeadm's Corefile uses (smaller, faster build)
#   kube-router               github.com/cloudnativelabs/kube-router/v2: the NetworkPolicy
#                             firewall (iptables + ipset, what this kernel supports)
#   local-path-provisioner    github.com/rancher/local-path-provisioner (kind's storage)
#   pause                     build/pause/linux/pause.c of k8s.io/kubernetes, static gcc
# Each Go program builds in its own throwaway wrapper module (a `replace`/`exclude` in a
# tool's go.mod never blocks it) sharing Go's build cache; binaries land in a temp file
# and are moved into place, so an interrupted build never leaves a half binary. One run
# at a time (flock); a second run skips whatever is stamped.
# Usage: kind-tools.sh [tool ...]   (default: all)
. "$(dirname "$0")/lib.sh"
go_env

declare -A MOD PKG
MOD[crictl]="sigs.k8s.io/cri-tools@$CRI_TOOLS_VERSION";                PKG[crictl]="sigs.k8s.io/cri-tools/cmd/crictl"
MOD[coredns]="github.com/coredns/coredns@$COREDNS_VERSION";            PKG[coredns]="trimmed"
MOD[kube-router]="github.com/cloudnativelabs/kube-router/v2@$KUBE_ROUTER_VERSION"
PKG[kube-router]="github.com/cloudnativelabs/kube-router/v2/cmd/kube-router"
MOD[local-path-provisioner]="github.com/rancher/local-path-provisioner@$LOCAL_PATH_VERSION"
PKG[local-path-provisioner]="github.com/rancher/local-path-provisioner"
MOD[pause]="k8s.io/kubernetes@$KUBE_VERSION";                           PKG[pause]="gcc"

# the plugins kubeadm's default Corefile names (errors health ready kubernetes prometheus
# forward cache loop reload loadbalance) plus log; `prometheus` is the metrics plugin
COREDNS_PLUGINS="errors health ready kubernetes metrics forward cache loop reload loadbalance log"

want_of() { local w="${MOD[$1]} ${PKG[$1]}"; [ "$1" != coredns ] || w="$w $COREDNS_PLUGINS"; echo "$w"; }
cached() { stamped "$bin/.$1.version" "$(want_of "$1")" "$bin/$1"; }

build_one() {
  local name=$1 mod=${MOD[$1]}
  if cached "$name"; then echo "kind-tools: $name ($mod) cached"; return 0; fi
  local work; tmpdir work
  step "build $name ($mod)" kind_build "$name" "$work"
  put "$work/out" "$bin/$name"
  stamp "$bin/.$name.version" "$(want_of "$name")"
  rm -rf "$work"
}

# kind_build NAME DIR: build NAME in DIR, into DIR/out
kind_build() {
  local name=$1 mod=${MOD[$1]} pkg=${PKG[$1]}
  cd "$2"
  case "$pkg" in
    gcc)
      local dir; dir=$(go mod download -json "$mod" | sed -n 's/.*"Dir": "\(.*\)",*/\1/p')
      gcc -Os -Wall -Werror -static -DVERSION="v3.10-soma" -o out "$dir/build/pause/linux/pause.c"
      strip out ;;
    trimmed)
      go mod init soma-tools/coredns >/dev/null 2>&1
      {
        printf 'package main\n\nimport (\n\t"github.com/coredns/coredns/core/dnsserver"\n'
        printf '\t"github.com/coredns/coredns/coremain"\n'
        local p; for p in $COREDNS_PLUGINS; do printf '\t_ "github.com/coredns/coredns/plugin/%s"\n' "$p"; done
        printf ')\n\n// only the directives linked in: the order stays the upstream one\n'
        printf 'func init() { dnsserver.Directives = keep(dnsserver.Directives) }\n\n'
        printf 'func keep(all []string) []string {\n\twant := map[string]bool{'
        for p in $COREDNS_PLUGINS; do [ "$p" = metrics ] && p=prometheus; printf '"%s": true, ' "$p"; done
        printf '}\n\tvar out []string\n\tfor _, d := range all {\n\t\tif want[d] {\n\t\t\tout = append(out, d)\n\t\t}\n\t}\n\treturn out\n}\n\n'
        printf 'func main() { coremain.Run() }\n'
      } > main.go
      go get "${mod}" >/dev/null 2>&1
      go mod tidy >/dev/null
      go build -trimpath -ldflags="-s -w -X github.com/coredns/coredns/coremain.GitCommit=${COREDNS_VERSION}" -o out . ;;
    *)
      go mod init soma-tools/"$name" >/dev/null 2>&1
      # get the package (not only the module) so go.sum covers its import graph
      go get "$pkg@${mod#*@}" >/dev/null 2>&1
      go build -trimpath -ldflags="-s -w" -o out "$pkg" ;;
  esac
}

tools=("$@")
[ ${#tools[@]} -gt 0 ] || tools=(pause crictl coredns local-path-provisioner kube-router)
all_cached=1
for t in "${tools[@]}"; do
  [ -n "${MOD[$t]:-}" ] || { echo "kind-tools: unknown tool $t" >&2; exit 2; }
  cached "$t" || all_cached=0
done
[ $all_cached = 1 ] || lock "$bin/.kind-tools.lock" 3600
for t in "${tools[@]}"; do build_one "$t"; done
