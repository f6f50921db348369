#!/usr/bin/env bash
# The consumer trial (issue 17): what an app team does, from the wheel alone.
# Builds the wheel, installs it into a fresh venv, and from an empty directory outside the
# repo checks that
#   (a) an unrelated pytest project with the plugin installed passes, unaffected;
#   (b) --target=compose --project-name=P passes against a running stack, no repo file;
#   (c) `endpoints init --from-compose P` then --target=external passes read-only, with a
#       least-privilege Vault token, and the JWKS key count, Kafka topics and etcd keys
#       are unchanged afterwards;
#   (d) a missing compose project, a missing probe image and an endpoints file with an
#       unknown key each give one error line and exit 4.
# The stack: TRIAL_PROJECT=<running project> attaches to one; otherwise the trial brings
# up its own isolated copy (project consumer-trial-*, free ports) and removes it after.
# Prints the time of every step.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
work=$(mktemp -d /tmp/consumer-trial.XXXXXX)
t_start=$SECONDS
step() { printf 'trial: [%4ds] %s\n' $((SECONDS - t_start)) "$*"; }
keep=""
fail() { keep=1; printf 'trial: FAIL: %s\n' "$*" >&2; printf 'trial: evidence kept in %s\n' "$work" >&2; exit 1; }

project=${TRIAL_PROJECT:-}
own_stack=""
up_pid=""
cleanup() {
  if [ -n "$up_pid" ]; then kill "$up_pid" 2>/dev/null || true; wait "$up_pid" 2>/dev/null || true; fi
  if [ -n "$own_stack" ]; then
    timeout 300 docker compose --env-file "$root/infra/env/.env.shared.example" --env-file "$work/ports.env" \
      -f "$root/infra/docker/shared-infra.compose.yaml" down -v --remove-orphans >/dev/null 2>&1 || true
  fi
  [ -n "$keep" ] || rm -rf "$work"
}
trap cleanup EXIT

# --- the stack, started first: it comes up, and its Prometheus scrapes, while the wheel
# builds and installs ------------------------------------------------------------------
if [ -z "$project" ]; then
  project="consumer-trial-$(head -c4 /dev/urandom | od -An -tx1 | tr -d ' \n')"
  # free host ports for every service of the catalog (the operator's side: the repo's copy)
  PYTHONPATH="$root" python3 - "$project" >"$work/ports.env" <<'PY'
import socket, sys
from conformance.catalog import load
print(f"COMPOSE_PROJECT_NAME={sys.argv[1]}")
for name in load().services:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        print(f"{name.upper()}_HOST_PORT={s.getsockname()[1]}")
PY
  own_stack=1
  step "bringing up an isolated stack $project in the background (repo compose file; the consumer side never sees it)"
  (timeout 600 docker compose --env-file "$root/infra/env/.env.shared.example" --env-file "$work/ports.env" \
     -f "$root/infra/docker/shared-infra.compose.yaml" up -d --wait >"$work/up.txt" 2>&1 &&
     echo "$SECONDS" >"$work/up.done") &
  up_pid=$!
fi

# --- the wheel, a fresh venv -----------------------------------------------------------
step "building the wheel"
timeout 300 python3 -m pip wheel -q --no-deps --disable-pip-version-check -w "$work/dist" "$root" >/dev/null
wheel=$(ls "$work"/dist/soma_conformance-*.whl)
step "fresh venv, installing $(basename "$wheel") and its dependencies"
timeout 600 python3 -m venv "$work/venv" || fail "python3 -m venv: exit $?"
venv="$work/venv/bin"
timeout 1200 "$venv/python" -m pip install -q --no-compile --disable-pip-version-check "$wheel" >"$work/pip.txt" 2>&1 ||
  fail "pip install of the wheel: $(tail -3 "$work/pip.txt")"
mkdir "$work/empty"
cd "$work/empty"
# nothing from the checkout may leak in
unset PYTHONPATH SOMA_REPORT_DIR SOMA_IMAGE_PREFIX || true
"$venv/python" -c 'import conformance, sys; p = conformance.__file__; sys.exit(0 if "/site-packages/" in p else f"conformance imported from {p}")'

# one line on stderr (blank lines aside) and exit 4
expect_usage_error() {  # expect_usage_error <what> <text in the line> <command...>
  local what=$1 want=$2; shift 2
  local rc=0
  "$@" >"$work/out.txt" 2>"$work/err.txt" || rc=$?
  local lines; lines=$(grep -c . "$work/err.txt" || true)
  [ "$rc" = 4 ] || fail "$what: exit $rc, want 4: $(tail -3 "$work/err.txt")"
  [ "$lines" = 1 ] || fail "$what: $lines error lines, want 1: $(cat "$work/err.txt")"
  grep -q -- "$want" "$work/err.txt" || fail "$what: error does not say '$want': $(cat "$work/err.txt")"
  step "(d) $what -> exit 4: $(grep . "$work/err.txt")"
}

# --- (a) an unrelated project ----------------------------------------------------------
mkdir "$work/empty/app" && cat >"$work/empty/app/test_app.py" <<'PY'
import os


def test_app():
    assert "PROTOCOL_BUFFERS_PYTHON_IMPLEMENTATION" not in os.environ
PY
(cd "$work/empty/app" && timeout 120 "$venv/python" -m pytest -q -p no:cacheprovider >"$work/a.txt" 2>&1) ||
  fail "(a) unrelated project: $(tail -5 "$work/a.txt")"
grep -q "1 passed" "$work/a.txt" || fail "(a) $(tail -3 "$work/a.txt")"
! grep -qi "soma\|INTERNALERROR" "$work/a.txt" || fail "(a) the plugin showed up in an unrelated run: $(cat "$work/a.txt")"
[ ! -e "$work/empty/app/reports" ] || fail "(a) an unrelated run wrote a conformance report"
step "(a) unrelated project: $(grep passed "$work/a.txt")"

# --- (d) usage errors need no stack ----------------------------------------------------
expect_usage_error "missing compose project" "compose project 'consumer-absent-project' has no running containers" \
  timeout 120 "$venv/python" -m pytest -q -p no:cacheprovider --pyargs conformance --target=compose \
  --project-name=consumer-absent-project
printf 'services: {redis: {host: 127.0.0.1, port: 6379}}\ncredentails: {redis: {password: x}}\n' >"$work/bad.yaml"
expect_usage_error "endpoints file with an unknown key" "did you mean 'credentials'" \
  timeout 120 "$venv/python" -m pytest -q -p no:cacheprovider --pyargs conformance --target=external \
  --endpoints="$work/bad.yaml"

# --- the stack is up and settled --------------------------------------------------------
if [ -n "$up_pid" ]; then
  rc=0
  wait "$up_pid" || rc=$?
  up_pid=""
  [ "$rc" = 0 ] || fail "stack up: exit $rc: $(tail -5 "$work/up.txt")"
  # a Prometheus started seconds ago has not scraped every job twice: alert rules would
  # read selectors with no series yet (the observability contracts judge a settled stack).
  # 45 s from the moment the stack was up; the wheel and the venv took part of it.
  settle=$((45 - (SECONDS - $(cat "$work/up.done"))))
  step "stack $project is up; settling ${settle}s more"
  [ "$settle" -le 0 ] || sleep "$settle"
fi

expect_usage_error "missing probe image" "probe image 'consumer-absent/probe:none' is not present" \
  timeout 120 "$venv/python" -m pytest -q -p no:cacheprovider --pyargs conformance --target=compose \
  --project-name="$project" --probe-image=consumer-absent/probe:none

# --- (b) compose by project name, from Docker labels -----------------------------------
step "(b) every contract (quick example counts, disruptive allowed on this stack): --target=compose --project-name=$project"
rc=0
timeout 1200 "$venv/python" -m pytest -q -p no:cacheprovider --pyargs conformance --target=compose \
  --project-name="$project" --report-dir="$work/reports-b" -n 2 --mode=quick --allow-disruptive -rf >"$work/b.txt" 2>&1 || rc=$?
[ "$rc" = 0 ] || fail "(b) exit $rc: $(grep -E '^(FAILED|ERROR)|passed|failed' "$work/b.txt" | tail -15)"
step "(b) $(tail -1 "$work/b.txt")"

# --- (c) endpoints init --from-compose, then external, read-only -----------------------
"$venv/soma-conformance" endpoints init --from-compose "$project" >"$work/empty/env.yaml" 2>"$work/init.txt"
"$venv/soma-conformance" endpoints validate "$work/empty/env.yaml" >/dev/null 2>&1 && fail "(c) validate passed without SOMA_VAULT_TOKEN set"
boot=$(docker ps -q --filter "label=com.docker.compose.project=$project" --filter label=com.docker.compose.service=vault-bootstrap)
SOMA_VAULT_TOKEN=$(timeout 60 docker exec "$boot" bao token create -policy=soma-conformance -ttl=30m -field=token)
export SOMA_VAULT_TOKEN
"$venv/soma-conformance" endpoints validate "$work/empty/env.yaml" >"$work/validate.txt"
step "(c) $(cat "$work/validate.txt"); vault token: policy soma-conformance only"

snapshot() {  # JWKS key count, Kafka topics, etcd keys
  "$venv/python" - "$work/empty/env.yaml" <<'PY'
import json, sys, httpx, yaml
from kafka import KafkaAdminClient
doc = yaml.safe_load(open(sys.argv[1]))["services"]
v, k = doc["vault"], doc["kafka"]
keys = httpx.get(f"http://{v['host']}:{v['port']}/v1/identity/oidc/.well-known/keys", timeout=5).json()["keys"]
admin = KafkaAdminClient(bootstrap_servers=f"{k['host']}:{k['port']}", request_timeout_ms=5000)
topics = sorted(admin.list_topics())
admin.close()
print(json.dumps({"jwks_keys": len(keys), "kafka_topics": topics}))
PY
  etcd=$(docker ps -q --filter "label=com.docker.compose.project=$project" --filter label=com.docker.compose.service=etcd)
  timeout 30 docker exec "$etcd" etcdctl --endpoints=http://127.0.0.1:2379 get "" --prefix --keys-only | { grep . || true; } | sort | tr '\n' ' '
  echo
}
snapshot >"$work/before.txt" || fail "(c) could not read the JWKS, Kafka topics or etcd keys"
step "(c) --target=external --endpoints=env.yaml (read-only by default)"
rc=0
timeout 1200 "$venv/python" -m pytest -q -p no:cacheprovider --pyargs conformance --target=external \
  --endpoints="$work/empty/env.yaml" --report-dir="$work/reports-c" -n 2 --mode=quick -rf >"$work/c.txt" 2>&1 || rc=$?
[ "$rc" = 0 ] || fail "(c) exit $rc: $(grep -E '^(FAILED|ERROR)|passed|failed' "$work/c.txt" | tail -15)"
grep -q "disruptive (read-only run" "$work/c.txt" || fail "(c) the run does not say which contracts were skipped as disruptive"
snapshot >"$work/after.txt"
diff -u "$work/before.txt" "$work/after.txt" >&2 || fail "(c) the read-only external run changed the environment"
step "(c) $(tail -1 "$work/c.txt"); $(grep 'disruptive (read-only' "$work/c.txt")"
step "(c) unchanged: $(head -1 "$work/after.txt" | cut -c1-160); etcd keys: $(sed -n 2p "$work/after.txt" | wc -w)"
step "consumer trial passed in $((SECONDS - t_start))s"
