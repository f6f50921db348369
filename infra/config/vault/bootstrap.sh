#!/bin/sh
# Idempotent bootstrap of OpenBao (the identity issuer's set-up lives in identity.sh),
# applied by keeper.sh whenever a server becomes active and whenever a piece of it is
# missing (compose service vault-bootstrap; a container of the vault pod in the Helm chart).
set -eu
: "${BAO_ADDR:?}" "${BAO_TOKEN:?}"
here=$(dirname "$0")
if [ -f "$here/identity.sh" ]; then
  . "$here/identity.sh"
fi
echo "bootstrap: done"
