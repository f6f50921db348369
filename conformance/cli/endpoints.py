"""`soma-conformance endpoints init|validate|schema`: the endpoints file as a product.

    soma-conformance endpoints init > env.yaml                      commented template
    soma-conformance endpoints init --from-compose PROJECT > env.yaml   a running project's published ports
    soma-conformance endpoints validate env.yaml                    exit 0, or one line and exit 4
    soma-conformance endpoints schema                               the JSON Schema (v1)
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from conformance import catalog as catalog_mod
from conformance import endpoints as endpoints_mod
from conformance.errors import USAGE_EXIT, TargetError, UsageError
from conformance.targets import docker_project

VAULT_TOKEN_VAR = "SOMA_VAULT_TOKEN"

TEMPLATE = """\
# soma-conformance endpoints file (schema: `soma-conformance endpoints schema`, guide: SUITE.md)
#   pytest --pyargs conformance --target=external --endpoints THIS_FILE
# Read-only unless --allow-disruptive. Strings may use ${ENV_VAR} (an unset one is an error):
# keep secrets in the environment, not in this file.
name: staging                         # the environment's name: reports and history are keyed on it

services:
  postgres:
    host: postgres.staging.internal
    port: 5432
    sslmode: verify-full              # disable | allow | prefer | require | verify-ca | verify-full
    ca_file: /etc/ssl/certs/staging-ca.pem
  kafka:
    host: kafka.staging.internal      # one bootstrap broker
    port: 9093
    security_protocol: SASL_SSL       # PLAINTEXT | SSL | SASL_PLAINTEXT | SASL_SSL
    sasl_mechanism: SCRAM-SHA-512     # PLAIN | SCRAM-SHA-256 | SCRAM-SHA-512
    ca_file: /etc/ssl/certs/staging-ca.pem
  redis:
    host: redis.staging.internal
    port: 6380
    tls: true
    ca_file: /etc/ssl/certs/staging-ca.pem
  opa: {host: opa.staging.internal, port: 8181, scheme: https, ca_file: /etc/ssl/certs/staging-ca.pem}
  vault: {host: vault.staging.internal, port: 8200, scheme: https, ca_file: /etc/ssl/certs/staging-ca.pem}
  prometheus: {host: prometheus.staging.internal, port: 9090, scheme: https}
  etcd: {host: etcd.staging.internal, port: 2379, tls: true, ca_file: /etc/ssl/certs/staging-ca.pem}
  grafana: {deployed: false}          # optional services may be absent
  openfga: {deployed: false}

credentials:
  postgres: {user: soma_conformance, password: "${PG_PASSWORD}", database: soma}
  redis: {username: soma-conformance, password: "${REDIS_PASSWORD}"}   # ACL user
  kafka: {username: soma-conformance, password: "${KAFKA_PASSWORD}"}   # SASL
  # a token with the soma-conformance policy (never the root token), or AppRole:
  #   vault: {role_id: "${SOMA_ROLE_ID}", secret_id: "${SOMA_SECRET_ID}"}
  vault: {token: "${SOMA_VAULT_TOKEN}"}
"""


def _host(host_ip: str) -> str:
    return "127.0.0.1" if host_ip in ("", "0.0.0.0", "::") else host_ip


def from_compose(project: str, name: str | None = None) -> tuple[str, str]:
    """(endpoints YAML, hint for stderr) for a running Compose project, read from Docker labels."""
    docker_project.require_project(project)
    try:
        config = docker_project.project_config(project)
    except TargetError as exc:
        raise UsageError(str(exc)) from None
    cat = catalog_mod.load()
    services: dict[str, Any] = config["services"]
    lines = [f"# endpoints of compose project {project!r}, read from Docker by",
             f"#   soma-conformance endpoints init --from-compose {project}",
             "# dev values from the project's containers; for a real environment use ${ENV_VAR} for secrets",
             f"name: {name or project}", "", "services:"]
    for svc in cat.services.values():
        spec = services.get(svc.name)
        ports = [p for p in (spec or {}).get("ports", []) if int(p["target"]) == svc.port] or \
            list((spec or {}).get("ports", []))
        if spec is None or not ports:
            lines.append(f"  {svc.name}: {{deployed: false}}")
            continue
        lines.append(f"  {svc.name}: {{host: {_host(str(ports[0].get('host_ip', '')))}, "
                     f"port: {int(ports[0]['published'])}}}")
    pg = services.get("postgres", {}).get("environment", {})
    redis = services.get("redis", {}).get("environment", {})
    lines += ["", "credentials:",
              f"  postgres: {{user: {json.dumps(pg.get('POSTGRES_USER', 'postgres'))}, "
              f"password: {json.dumps(pg.get('POSTGRES_PASSWORD', ''))}, "
              f"database: {json.dumps(pg.get('POSTGRES_DB', 'postgres'))}}}",
              f"  redis: {{password: {json.dumps(redis.get('REDIS_PASSWORD', ''))}}}",
              "  # a token with the soma-conformance policy (least privilege, never the root token):",
              f"  vault: {{token: \"${{{VAULT_TOKEN_VAR}}}\"}}", ""]
    boot = docker_project.container_ids(project, "vault-bootstrap", running_only=True)
    mint = (f"docker exec {boot[0][:12]} bao token create -policy=soma-conformance -ttl=1h -field=token"
            if boot else "bao token create -policy=soma-conformance -ttl=1h -field=token")
    hint = f"endpoints init: set {VAULT_TOKEN_VAR} before the run, e.g. export {VAULT_TOKEN_VAR}=$({mint})"
    return "\n".join(lines), hint


def add_args(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="endpoints_command", required=True)
    init = sub.add_parser("init", help="print an endpoints file: a commented template, or a running compose project's")
    init.add_argument("--from-compose", metavar="PROJECT", default=None,
                      help="read the published ports of this running compose project from Docker")
    init.add_argument("--name", default=None, help="environment name to write (default: the project name)")
    val = sub.add_parser("validate", help="check an endpoints file against the schema (exit 0, or 4 and one line)")
    val.add_argument("file")
    sub.add_parser("schema", help="print the endpoints file's JSON Schema")


def main(ns: argparse.Namespace) -> int:
    try:
        if ns.endpoints_command == "init":
            if ns.from_compose:
                text, hint = from_compose(ns.from_compose, ns.name)
                print(text, end="")
                print(hint, file=sys.stderr)
            else:
                print(TEMPLATE, end="")
        elif ns.endpoints_command == "validate":
            doc = endpoints_mod.load(ns.file, set(catalog_mod.load().services))
            services = doc["services"]
            live = sorted(s for s, spec in services.items() if spec.get("deployed", True) is not False)
            print(f"{ns.file}: valid endpoints file for {doc.get('name', 'external')!r}: "
                  f"{len(live)} services ({', '.join(live)})")
        else:
            print(json.dumps(endpoints_mod.schema(), indent=2))
    except UsageError as exc:
        print(f"soma-conformance: error: {exc}", file=sys.stderr)
        return USAGE_EXIT
    return 0
