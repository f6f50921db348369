"""Security contracts that hold live on every target: strangers are refused, management
APIs are closed, ports are not exposed beyond loopback/the cluster, containers run
hardened, images carry no secret, identity tokens are short-lived.

Everything is read from what runs: the services' own answers to a client without (or
with wrong) credentials; running containers through the Docker SDK (compose,
testcontainers); pod spec/status and Services through kubectl (kind). A contract that
cannot be observed on a target (e.g. container runtime of an external target) skips
with that reason.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable
from typing import Any

import pytest

from conformance import coverage
from conformance.access import Credentials, Endpoint
from conformance.catalog import Catalog
from conformance.docker_engine import SAVE_TIMEOUT_S, RunningContainer, client, running_containers
from conformance.errors import TargetError
from conformance.identity.tokens import CONFORMANCE_IDENTITY, DEV_SERVICES, DevIssuer, IssuerError
from conformance.probes.clients import ContractFailure
from conformance.security import images, probes, runtime
from conformance.targets.base import KubernetesAccess, Target

Get = Callable[[str], Endpoint]
Evidence = Callable[..., None]


def fail(problems: list[str]) -> None:
    if problems:
        raise ContractFailure("; ".join(problems))


def runtime_view(target: Target, what: str) -> KubernetesAccess | str:
    """The target's Kubernetes API, else its Docker Engine compose project; skips where the
    target exposes neither."""
    found = target.kubernetes() or target.docker_project()
    if found is None:
        pytest.skip(f"{what} is read from the container runtime (Docker Engine or Kubernetes API); "
                    f"target {target.name!r} exposes neither")
    return found


def running(project: str) -> list[RunningContainer]:
    try:
        found = running_containers(project)
    except TargetError as exc:
        raise ContractFailure(str(exc)) from None
    if not found:
        raise ContractFailure(f"compose project {project}: no running container to inspect")
    return found


def kube(cluster: KubernetesAccess, kind: str) -> list[dict[str, Any]]:
    try:
        return cluster.objects(kind)
    except TargetError as exc:
        raise ContractFailure(str(exc)) from None


def judged(target: Target) -> list[str]:
    """The catalog services whose absence from a judged set fails a contract."""
    return [s for s in target.catalog.services if target.judged(s)]


def image_users(target: Target, by_image: dict[str, list[str]]) -> set[str]:
    """The catalog services whose images a scan covers: compose names its services; a
    Kubernetes target names pod/container, mapped to services by their selectors."""
    users = {u for names in by_image.values() for u in names}
    view = target.kubernetes()
    if view is None:
        return users
    scanned_pods = {u.split("/", 1)[0] for u in users}
    by_service = coverage.pods_by_service(kube(view, "services"), kube(view, "pods"))
    return {svc for svc, pods in by_service.items() if scanned_pods & set(pods)}


# --- 1. authentication required -----------------------------------------------------------

@pytest.mark.contract("security.auth.postgres")
def test_postgres_refuses_strangers(soma_endpoint: Get, soma_credentials: Credentials, soma_evidence: Evidence) -> None:
    ep = soma_endpoint("postgres")
    problems = probes.postgres_auth_problems(ep, soma_credentials)
    soma_evidence(probed=f"TCP logins to {ep} without a password and with a wrong one",
                  answer="; ".join(problems) or "both refused")
    fail(problems)


@pytest.mark.contract("security.auth.redis")
def test_redis_refuses_strangers(soma_endpoint: Get, soma_credentials: Credentials, soma_evidence: Evidence) -> None:
    ep = soma_endpoint("redis")
    problems = probes.redis_auth_problems(ep, soma_credentials)
    soma_evidence(probed=f"PING to {ep} without AUTH, then AUTH with a wrong password",
                  answer="; ".join(problems) or "NOAUTH, WRONGPASS")
    fail(problems)


@pytest.mark.contract("security.auth.vault")
def test_vault_refuses_strangers(soma_endpoint: Get, soma_catalog: Catalog, soma_evidence: Evidence) -> None:
    ep = soma_endpoint("vault")
    paths = list(soma_catalog.security["vault_protected_paths"])
    problems = probes.vault_auth_problems(ep, paths)
    soma_evidence(probed=f"{len(paths)} secret/identity-admin paths of {ep}, without a token and with a bad one",
                  answer="; ".join(problems) or "all refused (401/403)")
    fail(problems)


# --- 2. management APIs closed ------------------------------------------------------------

@pytest.mark.contract("security.management")
def test_management_apis_closed(soma_endpoint: Get, soma_target: Target, soma_evidence: Evidence) -> None:
    checks = (("opa", probes.opa_write_problems), ("prometheus", probes.prometheus_admin_problems),
              ("etcd", probes.etcd_debug_problems))
    problems: list[str] = []
    for service, check in checks:
        if soma_target.judged(service):
            problems += check(soma_endpoint(service))
    soma_evidence(probed="OPA policy/data writes, Prometheus admin + lifecycle API, etcd /debug/pprof",
                  answer="; ".join(problems) or "all refused")
    fail(problems)


# --- 3. exposure --------------------------------------------------------------------------

@pytest.mark.contract("security.exposure")
def test_ports_not_exposed(soma_target: Target, soma_catalog: Catalog, soma_evidence: Evidence) -> None:
    view = runtime_view(soma_target, "exposure")
    if not isinstance(view, str):
        services = kube(view, "services")
        problems = coverage.missing(judged(soma_target), (str(s["metadata"]["name"]) for s in services),
                                    f"Service in {view.namespace}")
        problems += runtime.service_exposure_problems(services, set(soma_catalog.services))
        for pod in kube(view, "pods"):
            problems += runtime.pod_exposure_problems(pod)
        probed = f"Services and pods in {view.namespace}"
    else:
        containers = running(view)
        problems = coverage.missing(judged(soma_target), (c.service for c in containers), "running container")
        problems += [p for c in containers for p in runtime.exposure_problems(c)]
        probed = f"published ports of {len(containers)} running containers of {view}"
    soma_evidence(probed=probed, answer="; ".join(problems) or "loopback / ClusterIP only")
    fail(problems)


# --- 4. runtime hardening -----------------------------------------------------------------

@pytest.mark.contract("security.hardening")
def test_containers_hardened(soma_target: Target, soma_evidence: Evidence) -> None:
    view = runtime_view(soma_target, "runtime hardening")
    if not isinstance(view, str):
        pods = kube(view, "pods")
        problems = coverage.missing(judged(soma_target), coverage.pods_by_service(kube(view, "services"), pods),
                                    f"pod in {view.namespace}")
        problems += [p for pod in pods for p in runtime.pod_hardening_problems(pod)]
        probed = f"spec/status of {len(pods)} pods in {view.namespace}"
    else:
        containers = running(view)
        problems = coverage.missing(judged(soma_target), (c.service for c in containers), "running container")
        problems += [p for c in containers for p in runtime.hardening_problems(c)]
        probed = f"inspect + process uids of {len(containers)} running containers of {view}"
    soma_evidence(probed=probed, answer="; ".join(problems) or "all hardened")
    fail(problems)


# --- 5. no secrets in images --------------------------------------------------------------

@pytest.mark.contract("security.image_secrets")
@pytest.mark.timeout(900)
def test_images_carry_no_secret(soma_target: Target, soma_credentials: Credentials, soma_catalog: Catalog,
                                soma_evidence: Evidence,
                                record_property: Callable[[str, object], None]) -> None:
    try:
        by_image = soma_target.running_images()
    except TargetError as exc:
        raise ContractFailure(f"listing the images the stack runs: {exc}") from None
    if by_image is None:
        pytest.skip(f"image contents are read through the local Docker Engine; target {soma_target.name!r} "
                    "runs its images out of its sight")
    fail(coverage.missing(judged(soma_target), image_users(soma_target, by_image), "image scanned"))
    named: dict[str, list[str]] = {}  # one needle per value: equal dev passwords are one finding
    for name, value in (("postgres password", soma_credentials.postgres_password),
                        ("redis password", soma_credentials.redis_password),
                        ("vault root token", soma_credentials.vault_token)):
        if len(value) >= images.MIN_SECRET_LEN:
            named.setdefault(value, []).append(name)
    needles = [images.Needle(" = ".join(names), value.encode()) for value, names in named.items()]
    allowed_rules = list(soma_catalog.security.get("image_secrets_allowed", []))
    allowed: list[str] = []
    sdk = client(SAVE_TIMEOUT_S)
    problems: list[str] = []
    cached = 0
    t0 = time.monotonic()
    try:
        for image_id, services in sorted(by_image.items()):
            tags = sdk.images.get(image_id).tags
            tag = str(tags[0]) if tags else image_id[:19]
            findings, hit = images.scan_image(sdk, image_id, needles)
            cached += hit
            found, ok = images.split_allowed(findings, allowed_rules)
            allowed += [f"{tag}: {f}" for f in ok]
            problems += [f"image {tag} (run by {', '.join(sorted(set(services)))}): {f}" for f in found]
    except Exception as exc:  # noqa: BLE001 - an Engine API failure fails the contract, named
        raise ContractFailure(f"scanning the images of {soma_target.environment}: "
                              f"{type(exc).__name__}: {exc}") from None
    finally:
        sdk.close()
    record_property("measurement", f"security.image_secrets: {len(by_image)} images scanned for "
                                   f"{len(needles)} credentials + PEM keys in {time.monotonic() - t0:.1f} s "
                                   f"({cached} verdicts from the cache, keyed by image ID)")
    soma_evidence(probed=f"{len(by_image)} images (layers, env, labels, history)",
                  answer="; ".join(problems[:10]) or f"no secret found ({len(allowed)} allowed by the catalog: "
                                                     f"{'; '.join(allowed[:3])})")
    fail(problems[:10])


# --- 6. tokens ----------------------------------------------------------------------------

def claims_of(token: str) -> dict[str, Any]:
    """The payload of a JWT, unverified: only its lifetime is judged here (the identity
    contracts verify signatures)."""
    try:
        payload = token.split(".")[1]
        return dict(json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))))
    except (IndexError, ValueError) as exc:
        raise ContractFailure(f"vault issued a token that is not a JWT: {exc}") from None


@pytest.mark.contract("security.tokens")
def test_tokens_bounded_and_roles_closed(soma_issuer: DevIssuer, soma_catalog: Catalog,
                                         soma_evidence: Evidence) -> None:
    limit = int(soma_catalog.security["max_token_lifetime_s"])
    unknown = str(soma_catalog.security["unknown_token_role"])
    problems = []
    lifetimes = {}
    refusal = ""
    for service in DEV_SERVICES:
        try:
            claims = claims_of(soma_issuer.mint(service, CONFORMANCE_IDENTITY[1]))
        except IssuerError as exc:
            raise ContractFailure(f"vault: minting a token for {service}: {exc}") from None
        lifetime = int(claims.get("exp", 0)) - int(claims.get("iat", 0))
        lifetimes[service] = lifetime
        if not 0 < lifetime <= limit:
            problems.append(f"vault: token of role soma-{service} lives {lifetime} s (exp - iat), "
                            f"above the maximum token lifetime of {limit} s")
    try:
        soma_issuer.mint(*CONFORMANCE_IDENTITY, role=unknown)
        problems.append(f"vault: minted a token for the unknown role {unknown!r}")
    except IssuerError as exc:
        refusal = str(exc)
    soma_evidence(probed=f"tokens of roles {', '.join(DEV_SERVICES)}; a token for role {unknown}",
                  answer=f"lifetimes {lifetimes}; unknown role: {'; '.join(problems) or refusal[-80:]}")
    fail(problems)
