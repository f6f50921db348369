#!/usr/bin/env bash
# One named step of a set-up, for the Makefile: `step.sh "build images" bash build-images.sh`
# prints `==> build images ... ok (12s)` and keeps the tool output in a log file, whose path
# and last lines it prints when the step fails (exit code passed on). SOMA_VERBOSE=1 shows
# everything as it comes. See `step` in lib.sh.
. "$(dirname "$0")/lib.sh"
[ $# -ge 2 ] || { echo "usage: step.sh NAME COMMAND [ARG...]" >&2; exit 2; }
step "$@"
