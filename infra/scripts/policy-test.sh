#!/usr/bin/env bash
# The policy gate of `make test`: opa check --strict, opa fmt clean, opa test passing
# with exactly 100% line coverage. Regal (OPA's linter) is not installable here (the
# module proxy refuses it), so strict compile checks + opa fmt are the lint gate.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
opa=${OPA:-$(command -v opa || echo "${SOMA_CACHE:-$HOME/.cache/soma-infra}/bin/opa")}
[ -x "$opa" ] || bash "$here/go-tools.sh" opa >&2
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
