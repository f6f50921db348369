#!/usr/bin/env bash
# Build the OPA bundle that every target serves, from policies/bundle/ (tests excluded),
# with a revision equal to the sha256 of the bundle's source files, so the suite can
# prove that the live OPA runs exactly the repo's policy (policy drift is a failure).
# Output: build/opa/soma.tar.gz (compose mounts it; the Helm chart packs it in a ConfigMap).
. "$(dirname "$0")/lib.sh"
need_opa
src="$root/policies/bundle"
out=$opa_bundle
mkdir -p "$(dirname "$out")"
# a container started while the bundle was missing gets a directory made at the mount's
# source by Docker; a move would then land inside it and the stack would serve nothing
if [ -d "$out" ]; then
  echo "opa-bundle: $out is a directory (Docker made it for a container started before the bundle existed): replacing it" >&2
  rm -rf "$out"
fi
rev=$(bash "$here/policy-revision.sh" "$src")
# an unchanged policy keeps its file (and mtime): `make up` recreates OPA only when the
# bundle is newer than the container (opa-rollout.sh)
if [ -f "$out" ] && [ "$(cat "$out.revision" 2>/dev/null)" = "$rev" ]; then
  echo "opa-bundle: $out (revision $rev, unchanged)"
  exit 0
fi
# built from inside the folder, so file names in the bundle do not depend on the checkout path
# -O=1: the decision and debug rules (the catalog's policy paths) are partially evaluated
# against the bundle's own data at build time, so each decision reads constants instead of
# walking data.soma.config and the schema: 1,486 -> 1,281 allocations per allowed decision
# (opa bench --e2e). The source rules stay in the bundle for every other path.
(cd "$src" && "$opa" build --bundle . --ignore '*_test.rego' --revision "$rev" \
  -O=1 -e soma/allow -e soma/decision -o "$out.tmp")
mv -T "$out.tmp" "$out"
echo "$rev" >"$out.revision"
echo "opa-bundle: $out (revision $rev)"
