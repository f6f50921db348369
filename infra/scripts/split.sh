#!/usr/bin/env bash
# Export the shared infra as a repo of its own, with its history (make split DEST=dir):
# every commit of HEAD's history is rewritten to hold only infra/, docs/infra/ and
# policies/ (the OPA bundle and posture policies the stack and the chart need), like a
# subtree split of several folders at once, and commits that touched none of them are
# dropped. One commit on top moves infra/standalone/{Makefile,README.md,gitignore} to the
# root. The result needs nothing from the suite's repo: `make up` there brings the stack up.
# Usage: split.sh <dest>  (dest absent or empty). Exports HEAD: uncommitted changes stay out.
. "$(dirname "$0")/lib.sh"
keep=(infra docs/infra policies)
dest=${1:?usage: split.sh <dest dir>}
log() { echo "split: $*" >&2; }

if [ -e "$dest" ] && [ -n "$(ls -A "$dest")" ]; then log "$dest exists and is not empty"; exit 2; fi
head=$(git -C "$root" rev-parse --verify -q HEAD) || { log "$root has no commit to split"; exit 2; }
if [ -n "$(git -C "$root" status --porcelain -- "${keep[@]}")" ]; then
  log "note: uncommitted changes under ${keep[*]} are not exported (the split is of HEAD)"
fi
# the committer of the top commit: this checkout's identity, else a neutral one
name=$(git -C "$root" config user.name || echo "soma-infra split")
email=$(git -C "$root" config user.email || echo "split@localhost")

work=""
tmpdir work
git init -q "$work/repo"
git -C "$work/repo" fetch -q --no-tags "$root" "+$head:refs/heads/main" 2>/dev/null ||
  git -C "$work/repo" fetch -q --no-tags "$root" "+HEAD:refs/heads/main"
[ "$(git -C "$work/repo" rev-parse main)" = "$head" ] || { log "could not copy $head"; exit 1; }
git -C "$work/repo" checkout -q main  # filter-branch wants a clean checkout

log "rewriting $(git -C "$work/repo" rev-list --count main) commits to ${keep[*]}"
# index-filter: each commit's tree becomes just the kept folders (absent ones are ignored)
(cd "$work/repo" && FILTER_BRANCH_SQUELCH_WARNING=1 git filter-branch -f --prune-empty \
  --index-filter "git read-tree --empty && git reset -q \"\$GIT_COMMIT\" -- ${keep[*]}" \
  -- main >/dev/null 2>"$work/filter.log") || { cat "$work/filter.log" >&2; exit 1; }

git -C "$work/repo" reset -q --hard main  # the work tree of the rewritten main
for f in Makefile README.md gitignore; do
  [ -f "$work/repo/infra/standalone/$f" ] || { log "infra/standalone/$f is missing"; exit 1; }
done
git -C "$work/repo" mv infra/standalone/Makefile Makefile
git -C "$work/repo" mv infra/standalone/README.md README.md
git -C "$work/repo" mv infra/standalone/gitignore .gitignore
git -C "$work/repo" -c user.name="$name" -c user.email="$email" commit -q \
  -m "Standalone repo root: Makefile (targets from infra/mk), README, .gitignore" \
  -m "Split from ${head:0:12} of the soma-infra repo."

mkdir -p "$dest"
git clone -q --no-local "$work/repo" "$dest"
git -C "$dest" remote remove origin
log "$dest: $(git -C "$dest" rev-list --count HEAD) commits, $(git -C "$dest" ls-files | wc -l) files (from ${head:0:12})"
