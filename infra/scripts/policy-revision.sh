#!/usr/bin/env bash
# Print the OPA bundle revision of a policy folder: the sha256 over (relative path, NUL,
# content, NUL) of every file except *_test.rego and dot-files, in path order compared
# component by component. opa-bundle.sh stamps it into the bundle; the conformance suite
# recomputes it in Python from the same sources to prove the live OPA serves exactly this
# policy, so the two must agree byte for byte (the suite's unit tests check that they do).
# Usage: policy-revision.sh <bundle dir>
. "$(dirname "$0")/lib.sh"
src=${1:?usage: policy-revision.sh <bundle dir>}
cd "$src"
# '/' becomes \001 for sorting: below every other byte, so "a/b" sorts before "a-c" as it
# does when paths are compared as lists of components
find . \( -type f -o \( -type l -xtype f \) \) ! -name '*_test.rego' ! -name '.*' -printf '%P\0' |
  tr '/' '\001' | LC_ALL=C sort -z | tr '\001' '/' |
  while IFS= read -r -d '' f; do printf '%s\0' "$f"; cat -- "$f"; printf '\0'; done |
  sha256sum | cut -d' ' -f1
