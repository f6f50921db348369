#!/usr/bin/env bash
# Create the Debian 12 base image `debian:bookworm-slim` locally when no registry can
# serve it: debootstrap (minbase) from the mirror this machine's apt already uses, then
# `docker import`. The rootfs tarball is cached, so a wiped Docker store re-imports in
# seconds. Skips everything when the image already exists.
. "$(dirname "$0")/lib.sh"
image=${SOMA_BASE_IMAGE:-debian:bookworm-slim}
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

# debootstrap into a temp dir (removed on any exit), tar into a temp file, move into place
rootfs_tarball() {
  command -v debootstrap >/dev/null || bash "$here/apt-install.sh" debootstrap
  local m work="" rootfs
  m=$(mirror) || die "no bookworm mirror in this machine's apt configuration"
  tmpdir work
  rootfs="$work/rootfs"
  echo "base-image: debootstrap bookworm (minbase) from the configured apt mirror"
  debootstrap --variant=minbase bookworm "$rootfs" "$m" >"$cache/debootstrap.log" 2>&1 \
    || die "debootstrap failed; see $cache/debootstrap.log"
  # keep images small: no recommends, no docs, no apt lists left behind
  printf 'APT::Install-Recommends "false";\nAPT::Install-Suggests "false";\n' > "$rootfs/etc/apt/apt.conf.d/90soma-slim"
  rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/*.bin "$rootfs"/usr/share/doc/* "$rootfs"/usr/share/man/*
  tar -C "$rootfs" -cf "$work/rootfs.tar" .
  put "$work/rootfs.tar" "$tarball"
}

mkdir -p "$cache"
if [ ! -s "$tarball" ]; then step "debootstrap Debian 12 (minbase)" rootfs_tarball; fi
docker import --change 'CMD ["bash"]' \
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  "$tarball" "$image" >/dev/null
echo "base-image: imported $image"
