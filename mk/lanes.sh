#!/usr/bin/env bash
# Run two lists of make targets at once: OFFLINE (checks that start no container: CPU for
# a few minutes) beside STACKS (checks that bring up stacks and mostly wait on them).
# The stack lane streams to the terminal; the offline lane goes to a log that is printed
# whole once both are done (and kept in $REPORT_DIR). Each lane stops at its first failing
# target; the exit status is non-zero if either lane failed. An interrupt stops both.
# Usage: lanes.sh "MAKE [ARGS]" "OFFLINE TARGETS" "STACK TARGETS"
set -uo pipefail
make_cmd=$1 offline=$2 stacks=$3
log="${REPORT_DIR:-reports}/offline-lane.log"
mkdir -p "$(dirname "$log")"
t0=$SECONDS
# shellcheck disable=SC2086  # word-split on purpose: command and target lists
( $make_cmd $offline; rc=$?; echo "lanes: offline lane exit $rc after $((SECONDS - t0))s"; exit $rc ) >"$log" 2>&1 &
off=$!
# $off is the subshell around the offline make: stop that make (GNU make passes SIGTERM on
# to its recipes), then the subshell
trap 'pkill -TERM -P "$off" 2>/dev/null; kill "$off" 2>/dev/null; wait "$off" 2>/dev/null; exit 130' INT TERM
echo "lanes: offline checks ($offline) running beside the stack checks; their output: $log"
# shellcheck disable=SC2086
$make_cmd $stacks
st=$?
t1=$SECONDS
wait "$off"
so=$?
echo "=== offline lane ($offline): exit $so; its output follows ==="
cat "$log"
echo "lanes: stack lane exit $st ($((t1 - t0))s), offline lane exit $so; both done in $((SECONDS - t0))s"
[ "$st" -eq 0 ] && [ "$so" -eq 0 ]
