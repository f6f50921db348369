#!/usr/bin/env bash
# Build the OPA bundle that every target serves, from policies/bundle/ (tests excluded),
# with a revision equal to the sha256 of the bundle's source files, so the suite can
# prove that the live OPA runs exactly the repo's policy (policy drift is a failure).
# Output: build/opa/soma.tar.gz (compose mounts it; the Helm chart packs it in a ConfigMap).
. "$(dirname "$0")/lib.sh"
need_opa
src="$root/policies/bundle"
out="$root/build/opa/soma.tar.gz"
mkdir -p "$(dirname "$out")"
rev=$(bash "$here/policy-revision.sh" "$src")
# built from inside the folder, so file names in the bundle do not depend on the checkout path
(cd "$src" && "$opa" build --bundle . --ignore '*_test.rego' --revision "$rev" -o "$out.tmp")
mv "$out.tmp" "$out"
echo "opa-bundle: $out (revision $rev)"
