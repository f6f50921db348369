#!/usr/bin/env bash
# Sync the files the Helm chart loads with .Files into infra/helm/soma-infra/files/
# (gitignored): Helm only sees files inside the chart directory, and the chart must use
# the very files compose mounts, never hand-made copies. Run before helm lint, template,
# package or install (the make targets do). Sources:
#   infra/config/{prometheus,grafana,kafka/jmx-exporter.yml,opa/opa.yaml,vault}
#   build/opa/soma.tar.gz           (infra/scripts/opa-bundle.sh; built here if missing)
#   infra/contracts/catalog.yaml    (NOTES.txt lists the published contracts from it)
. "$(dirname "$0")/lib.sh"
chart="$root/infra/helm/soma-infra"
dest="$chart/files"
[ -f "$opa_bundle" ] || bash "$here/opa-bundle.sh" >&2
tmp=""; tmpdir tmp "$chart"   # beside files/, so the final move is one rename
mkdir -p "$tmp/config/kafka" "$tmp/config/opa" "$tmp/opa"
mkdir -p "$tmp/config/prometheus"
cp "$root/infra/config/prometheus/prometheus.yml" "$tmp/config/prometheus/"
cp -R "$root/infra/config/prometheus/rules" "$tmp/config/prometheus/rules"   # not tests/
[ -d "$root/infra/config/grafana" ] && cp -R "$root/infra/config/grafana" "$tmp/config/grafana"
cp -R "$root/infra/config/vault" "$tmp/config/vault"
cp "$root/infra/config/kafka/jmx-exporter.yml" "$tmp/config/kafka/"
cp "$root/infra/config/opa/opa.yaml" "$tmp/config/opa/"
cp "$opa_bundle" "$tmp/opa/soma.tar.gz"
cp "$root/infra/contracts/catalog.yaml" "$tmp/catalog.yaml"
# identical content is left in place: a chart being rendered or packaged at the same time
# (make test runs its checks in two lanes) never sees files/ swapped under it
if [ -d "$dest" ] && diff -rq "$tmp" "$dest" >/dev/null 2>&1; then
  rm -rf "$tmp"
  echo "helm-files: ${dest#"$root"/} up to date ($(find "$dest" -type f | wc -l) files)"
  exit 0
fi
put "$tmp" "$dest"
echo "helm-files: $(find "$dest" -type f | wc -l) files synced into ${dest#"$root"/}"
