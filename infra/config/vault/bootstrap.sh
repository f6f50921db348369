#!/bin/sh
# Idempotent bootstrap of the OpenBao dev server, run after every start (compose one-shot
# service; a Job in the Helm chart). Identity issuer set-up lives in identity.sh.
set -eu
: "${BAO_ADDR:?}" "${BAO_TOKEN:?}"
here=$(dirname "$0")
if [ -f "$here/identity.sh" ]; then
  . "$here/identity.sh"
fi
echo "bootstrap: done"
