#!/usr/bin/env bash
# The policy gate of `make test`: opa check --strict, opa fmt clean, opa test passing
# with exactly 100% line coverage. Regal (OPA's linter) is not installable here (the
# module proxy refuses it), so strict compile checks + opa fmt are the lint gate.
. "$(dirname "$0")/lib.sh"
need_opa
bundle="$root/policies/bundle"
cd "$bundle"
"$opa" check --strict .
unformatted=$("$opa" fmt --list .)
if [ -n "$unformatted" ]; then
  echo "policy: not opa-fmt formatted (run: opa fmt -w policies/bundle):" >&2
  echo "$unformatted" >&2
  "$opa" fmt --diff . >&2 || true
  exit 1
fi
"$opa" test . --timeout 60s
mkdir -p "$root/build/opa"
"$opa" test . --coverage --timeout 60s >"$root/build/opa/coverage.json"
python3 "$here/opa_coverage_gate.py" . <"$root/build/opa/coverage.json"
