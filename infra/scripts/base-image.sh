#!/usr/bin/env bash
# Create the Debian 12 base image `debian:bookworm-slim` locally when no registry can
# serve it: debootstrap (minbase) from the mirror this machine's apt already uses, then
# `docker import`. The rootfs tarball is cached, so a wiped Docker store re-imports in
# seconds. Skips everything when the image already exists.
set -euo pipefail
image=${SOMA_BASE_IMAGE:-debian:bookworm-slim}
cache=${SOMA_CACHE:-$HOME/.cache/soma-infra}
tarball="$cache/bookworm-minbase.tar"

if docker image inspect "$image" >/dev/null 2>&1; then
  echo "base-image: $image present"; exit 0
fi

mirror() {
  # deb822 sources first (URIs: line of a stanza that lists bookworm), then one-line.
  local f uri
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] || continue
    uri=$(awk '/^URIs:/{u=$2} /^Suites:/ && / bookworm( |$)/{print u; exit}' "$f")
    [ -n "$uri" ] && { echo "$uri"; return; }
  done
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [ -f "$f" ] || continue
    uri=$(awk '$1=="deb" && $3=="bookworm" {print $2; exit}' "$f")
    [ -n "$uri" ] && { echo "$uri"; return; }
  done
  return 1
}

if [ ! -s "$tarball" ]; then
  command -v debootstrap >/dev/null || { DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null; }
  m=$(mirror) || { echo "base-image: no bookworm mirror in this machine's apt configuration" >&2; exit 1; }
  root=$(mktemp -d)
  echo "base-image: debootstrap bookworm (minbase) from the configured apt mirror"
  debootstrap --variant=minbase bookworm "$root" "$m" >"$cache/debootstrap.log" 2>&1 \
    || { echo "base-image: debootstrap failed; see $cache/debootstrap.log" >&2; exit 1; }
  # keep images small: no recommends, no docs, no apt lists left behind
  printf 'APT::Install-Recommends "false";\nAPT::Install-Suggests "false";\n' > "$root/etc/apt/apt.conf.d/90soma-slim"
  rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin "$root"/usr/share/doc/* "$root"/usr/share/man/*
  tar -C "$root" -cf "$tarball.tmp" . && mv "$tarball.tmp" "$tarball"
  rm -rf "$root"
fi
docker import --change 'CMD ["bash"]' \
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  "$tarball" "$image" >/dev/null
echo "base-image: imported $image"
