#!/usr/bin/env bash
# Install Debian packages that are missing, from the machine's own apt configuration, and
# wait for a turn instead of failing: two runs on a new machine (CI beside `make up`) both
# install packages, and dpkg allows one at a time. Our own runs queue on one lock; anyone
# else's dpkg (unattended upgrades) is awaited by apt itself. Both waits are bounded.
# Usage: apt-install.sh PACKAGE...   (a package counts as present when dpkg says installed)
. "$(dirname "$0")/lib.sh"
[ $# -gt 0 ] || { echo "usage: apt-install.sh PACKAGE..." >&2; exit 2; }
missing=()
for p in "$@"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -gt 0 ] || exit 0
lock "$cache/.apt.lock" 1200
export DEBIAN_FRONTEND=noninteractive NEEDRESTART_SUSPEND=1   # no prompts, no needrestart banners
apt_() { timeout 900 apt-get -o DPkg::Lock::Timeout=600 -y -qq "$@"; }
# an install from the current lists first (fast); lists refreshed only when that fails
apt_ install "${missing[@]}" >/dev/null 2>&1 \
  || { apt_ update && apt_ install "${missing[@]}" >/dev/null; } \
  || die "apt-get install ${missing[*]} failed (run it by hand to see why)"
