# shellcheck shell=bash
# shellcheck disable=SC2034  # here, root, cache, bin, opa_bundle, prog: read by the scripts that source this
# The preamble and helpers every script in infra/scripts sources (`. "$(dirname "$0")/lib.sh"`),
# so each keeps one copy of them: strict mode; `here` (this folder), `root` (the repo), the
# pinned versions, `cache` ($SOMA_CACHE) and `bin` (its bin/); temp dirs removed on any exit;
# a bounded lock; build-into-temp-then-move with a version stamp; and `step`, the one-line-per-
# step output of the set-up targets (the whole tool output goes to a log file instead).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
# shellcheck source=versions.env
. "$here/versions.env"
cache=${SOMA_CACHE:-$HOME/.cache/soma-infra}
bin="$cache/bin"
# the OPA bundle every target serves (opa-bundle.sh builds it, compose mounts it, the chart packs it)
opa_bundle="$root/build/opa/soma.tar.gz"
prog=$(basename "$0" .sh)

die() { echo "$prog: $*" >&2; exit 1; }

# go_env: the Go builds of the tool scripts: the local toolchain only (nothing downloaded
# behind our back), no VCS stamping, static binaries, into $bin
go_env() {
  mkdir -p "$bin"
  export GOTOOLCHAIN=local GOFLAGS=-buildvcs=false CGO_ENABLED=0
}

# need_opa: set `opa` to the OPA binary ($OPA, else on PATH, else the cache's, built if missing)
need_opa() {
  opa=${OPA:-$(command -v opa || echo "$bin/opa")}
  [ -x "$opa" ] || bash "$here/go-tools.sh" opa >&2
}

# Clean-up on every exit, error or signal (bash runs the EXIT trap on SIGTERM/SIGINT too):
# the temp dirs of `tmpdir` and the commands given to `on_exit`, in that order reversed.
_tmpdirs=()
_exit_cmds=()
_on_exit_run() {
  local i
  for ((i = ${#_exit_cmds[@]} - 1; i >= 0; i--)); do eval "${_exit_cmds[i]}" || true; done
  [ ${#_tmpdirs[@]} -eq 0 ] || rm -rf "${_tmpdirs[@]}"
}
trap _on_exit_run EXIT
on_exit() { _exit_cmds+=("$1"); }

# tmpdir VAR [PARENT]: make a temp dir (in PARENT, default $TMPDIR or /tmp) and put its path
# in VAR; it is removed when the script exits, however it exits. Call it in the script's own
# shell (not inside $(...) or ( )), or the removal is not registered.
tmpdir() {
  local _parent=${2:-${TMPDIR:-/tmp}} _dir
  mkdir -p "$_parent"
  _dir=$(mktemp -d "$_parent/.$prog.XXXXXX")
  _tmpdirs+=("$_dir")
  printf -v "$1" '%s' "$_dir"
}

# lock FILE SECONDS: hold an exclusive flock on FILE until `unlock FILE` or the script exits.
# One build of a thing at a time (make test and a developer may both ask); after a wait the
# caller re-checks its stamp. Waits at most SECONDS, says that it waits, and fails naming FILE.
declare -A _lock_fds=()
lock() {
  local file=$1 wait=$2 fd
  [ -z "${_lock_fds[$file]:-}" ] || return 0   # held already (a new fd would wait on itself)
  mkdir -p "$(dirname "$file")"
  exec {fd}>>"$file"
  _lock_fds[$file]=$fd
  flock -n "$fd" && return 0
  echo "$prog: waiting up to ${wait}s for $file: another build holds it" >&2
  flock -w "$wait" "$fd" \
    || die "gave up after ${wait}s waiting for $file (another build still holds it; retry when it ends)"
}
unlock() {
  local fd=${_lock_fds[$1]:-}
  [ -z "$fd" ] || exec {fd}>&-
  unset '_lock_fds[$1]'
}

# stamped STAMP WANT [FILE...]: true when STAMP holds WANT and every FILE is executable.
# A stamp is written last (`stamp`), so it never vouches for a half-built artefact.
stamped() {
  local s=$1 want=$2; shift 2
  [ "$(cat "$s" 2>/dev/null)" = "$want" ] || return 1
  local f; for f in "$@"; do [ -x "$f" ] || return 1; done
}
stamp() { echo "$2" > "$1.tmp.$$" && mv -f "$1.tmp.$$" "$1"; }

# needs_build STAMP WANT LOCKFILE SECONDS [FILE...]: false when `stamped` (nothing to do);
# else take the lock, waiting out a concurrent build of the same thing, and check again:
# true means "build now", with the lock held (`unlock LOCKFILE` or exit releases it).
needs_build() {
  local s=$1 want=$2 l=$3 wait=$4; shift 4
  ! stamped "$s" "$want" "$@" || return 1
  lock "$l" "$wait"
  stamped "$s" "$want" "$@" || return 0
  unlock "$l"
  return 1
}

# put SRC DEST: move a finished file or folder into place by one rename beside DEST (SRC may
# be on another filesystem), so nobody ever sees, or caches, half of it.
put() {
  rm -rf "$2.tmp.$$"
  mv -f "$1" "$2.tmp.$$"
  [ ! -d "$2" ] || rm -rf "$2"
  mv -f "$2.tmp.$$" "$2"
}

# docker_build TAG CONTEXT [ARG...]: the classic builder (Debian's engine has no buildx),
# quiet; its stderr (the deprecation banner on every build) is shown only when it fails.
docker_build() {
  local tag=$1 ctx=$2 err; shift 2
  err=$(mktemp)
  if ! DOCKER_BUILDKIT=0 docker build -q "$@" -t "$tag" "$ctx" >/dev/null 2>"$err"; then
    cat "$err" >&2; rm -f "$err"
    echo "$prog: building $tag failed" >&2; return 1
  fi
  rm -f "$err"
}

# step NAME CMD...: run CMD as one named step of a set-up.
#   quiet (default): one line `==> NAME ... ok (12s)`; all CMD prints goes to a log file
#     ($SOMA_LOG_DIR, default $SOMA_CACHE/logs); on failure the line says FAILED, the log's
#     path and last lines follow on stderr, and CMD's exit code is returned.
#   nested (a step inside CMD, e.g. each image of `build images`): its line is indented
#     under the outer one, its output joins the outer log.
#   SOMA_VERBOSE=1: CMD's output as it comes, between `==> NAME` and `==> NAME ok (12s)`.
# CMD may be a shell function; it runs in a subshell with `set -e` in force and its own
# temp-dir clean-up. Call step as a plain command: after `if`, `||`, `&&` or `!` bash ignores
# set -e in everything the step runs, so a failing command would not stop it; step refuses.
step() {
  local name=$1; shift
  local depth=${SOMA_STEP_DEPTH:-0} t0=$SECONDS rc=0
  set +e
  (set -e; false; true)
  rc=$?
  set -e
  if [ "$rc" -eq 0 ]; then
    echo "$prog: step '$name' is called after if, ||, && or !, where bash ignores set -e: call it as a plain command" >&2
    return 2
  fi
  rc=0
  local lead="==>"
  [ "$depth" -eq 0 ] || lead="$(printf '%*s' $((depth * 2)) '')->"
  if [ "${SOMA_VERBOSE:-0}" != 0 ]; then
    echo "$lead $name"
    set +e
    (_step_run "$depth" "" "${SOMA_STEP_FD:-}" "$@")
    rc=$?
    set -e
    echo "$lead $name $(_step_result "$rc" "$t0")"
    return "$rc"
  fi
  local out log mark
  mark=$(mktemp -u "${TMPDIR:-/tmp}/soma-step.XXXXXX")   # made by the first inner step
  _tmpdirs+=("$mark")
  if [ "$depth" -eq 0 ]; then
    local dir=${SOMA_LOG_DIR:-$cache/logs} slug
    slug=$(printf '%s' "$name" | tr -cs 'A-Za-z0-9._' '-' | tr '[:upper:]' '[:lower:]' | sed 's/^-*//; s/-*$//' | cut -c1-60)
    mkdir -p "$dir"
    find "$dir" -maxdepth 1 -name '*.log' -mtime +14 -delete 2>/dev/null || true
    log="$dir/$(date -u +%Y%m%dT%H%M%SZ)-${slug:-step}-$$.log"
    printf '# %s: %s\n' "$name" "$*" > "$log"
    exec {out}>&1
  else
    out=${SOMA_STEP_FD:?nested step without SOMA_STEP_FD}
    # the outer step's line is still open: the first inner step ends it
    if [ -n "${SOMA_STEP_MARK:-}" ] && [ ! -e "$SOMA_STEP_MARK" ]; then : > "$SOMA_STEP_MARK"; echo >&"$out"; fi
  fi
  printf '%s %s ... ' "$lead" "$name" >&"$out"
  set +e
  if [ "$depth" -eq 0 ]; then
    (_step_run "$depth" "$mark" "$out" "$@") </dev/null >>"$log" 2>&1
  else
    (_step_run "$depth" "$mark" "$out" "$@")
  fi
  rc=$?
  set -e
  # inner steps printed lines under this one: say the result on a line of its own
  [ ! -e "$mark" ] || { rm -f "$mark"; printf '%s %s ' "$lead" "$name" >&"$out"; }
  _step_result "$rc" "$t0" >&"$out"
  if [ "$depth" -eq 0 ]; then
    exec {out}>&-
    if [ "$rc" -ne 0 ]; then
      {
        echo "    log: $log"
        echo "    last lines:"
        tail -n 25 "$log" | sed 's/\x1b\[[0-9;?]*[A-Za-z]//g; s/.*\r//; s/^/      /'
      } >&2
    fi
  fi
  return "$rc"
}
# _step_run DEPTH MARK FD CMD...: CMD as the body of a step, in the step's subshell
_step_run() {
  export SOMA_STEP_DEPTH=$(($1 + 1)) SOMA_STEP_MARK=$2 SOMA_STEP_FD=$3
  # quiet: the log is for reading, so no colours, no progress animations, no CLI hints
  [ "${SOMA_VERBOSE:-0}" != 0 ] || export NO_COLOR=1 COMPOSE_ANSI=never DOCKER_CLI_HINTS=false
  shift 3
  _tmpdirs=(); _exit_cmds=()
  trap _on_exit_run EXIT
  set -e
  "$@"
}
_step_result() {
  local rc=$1 s=$((SECONDS - $2)) took
  if [ "$s" -ge 60 ]; then took="$((s / 60))m$((s % 60))s"; else took="${s}s"; fi
  if [ "$rc" -eq 0 ]; then echo "ok ($took)"; else echo "FAILED (exit $rc, $took)"; fi
}
