#!/usr/bin/env bash
# Build the Go programs the stack and its checks need, from the Go module proxy only,
# into a cache outside the repo so a second run (and CI on the same machine) skips them.
# Each tool builds in a throwaway dir into a temp file that is moved into place, then
# stamped; one build of a tool at a time (a lock per tool), so an interrupted or concurrent
# run never leaves or caches a half binary.
# Usage: go-tools.sh [tool ...]   (default: every tool below)
. "$(dirname "$0")/lib.sh"
go_env

# name  module@version  package-to-build   (wrapper modules are used for every tool so
# that a `replace` or `exclude` in the tool's own go.mod never blocks the build)
declare -A MOD PKG
MOD[opa]="github.com/open-policy-agent/opa@$OPA_VERSION";      PKG[opa]="github.com/open-policy-agent/opa"
MOD[helm]="helm.sh/helm/v3@$HELM_VERSION";                     PKG[helm]="helm.sh/helm/v3/cmd/helm"
MOD[kind]="sigs.k8s.io/kind@$KIND_VERSION";                    PKG[kind]="sigs.k8s.io/kind"
MOD[etcd]="go.etcd.io/etcd/server/v3@$ETCD_VERSION";            PKG[etcd]="etcdmain"
MOD[etcdctl]="go.etcd.io/etcd/etcdctl/v3@$ETCD_VERSION";         PKG[etcdctl]="go.etcd.io/etcd/etcdctl/v3"
MOD[openfga]="github.com/openfga/openfga@$OPENFGA_VERSION";    PKG[openfga]="github.com/openfga/openfga/cmd/openfga"
MOD[registry]="github.com/distribution/distribution/v3@$DISTRIBUTION_VERSION"; PKG[registry]="github.com/distribution/distribution/v3/cmd/registry"
MOD[jaeger]="github.com/jaegertracing/jaeger@$JAEGER_VERSION";  PKG[jaeger]="github.com/jaegertracing/jaeger/cmd/jaeger"
# replace directives of a tool's own go.mod that its build needs, copied into the wrapper
declare -A REPL
REPL[jaeger]="github.com/Shopify/sarama=github.com/Shopify/sarama@v1.33.0"

build_one() {
  local name=$1 mod=${MOD[$1]:-}
  [ -n "$mod" ] || { echo "go-tools: unknown tool $name (known: ${!MOD[*]})" >&2; exit 2; }
  local stamp="$bin/.$name.version" want=$mod
  [ "$name" != helm ] || want="$mod+k8sver"   # helm carries the k8s version (ldflags below)
  if ! needs_build "$stamp" "$want" "$bin/.$name.lock" 5400 "$bin/$name"; then
    echo "go-tools: $name ($mod) cached"; return 0
  fi
  local work; tmpdir work
  step "go build $name ($mod)" go_build "$name" "$work"
  put "$work/out" "$bin/$name"
  stamp "$stamp" "$want"
  rm -rf "$work"
  unlock "$bin/.$name.lock"
}

# go_build NAME DIR: build NAME in a wrapper module in DIR, into DIR/out
go_build() {
  local name=$1 mod=${MOD[$1]} pkg=${PKG[$1]}
  cd "$2"
  go mod init soma-tools/"$name" >/dev/null 2>&1
  if [ "$pkg" = etcdmain ]; then
    # etcd's root module carries replace directives; its server module exposes the
    # real entry point, so a three-line main builds the same etcd binary.
    printf 'package main\n\nimport (\n\t"os"\n\n\t"go.etcd.io/etcd/server/v3/etcdmain"\n)\n\nfunc main() { etcdmain.Main(os.Args) }\n' > main.go
    go get "$mod" >/dev/null
    go mod tidy >/dev/null
    go build -trimpath -ldflags="-s -w" -o out .
  else
    local r
    for r in ${REPL[$name]:-}; do go mod edit -replace="$r"; done
    # get the package (not only the module) so go.sum covers its whole import graph
    go get "$pkg@${mod#*@}" >/dev/null
    local ld="-s -w"
    if [ "$name" = helm ]; then
      # as helm's own Makefile: the Kubernetes version helm template/lint assume by
      # default is the client-go minor it was built with (else v1.20)
      local minor; minor=$(go list -m -f '{{.Version}}' k8s.io/client-go | cut -d. -f2)
      ld="$ld -X helm.sh/helm/v3/pkg/chartutil.k8sVersionMajor=1 -X helm.sh/helm/v3/pkg/chartutil.k8sVersionMinor=$minor"
      ld="$ld -X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMajor=1 -X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMinor=$minor"
    fi
    go build -trimpath -ldflags="$ld" -o out "$pkg"
  fi
}

tools=("$@")
[ ${#tools[@]} -gt 0 ] || tools=(opa etcd etcdctl helm kind)
for t in "${tools[@]}"; do build_one "$t"; done
