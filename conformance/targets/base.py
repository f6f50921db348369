"""The one narrow interface every target implements (pytest-testinfra style backends).

A target brings a stack up or attaches to one, says where each catalog service is
reachable from the test process, runs probes from *inside* the service network, and
tears down what it created. Contract tests only ever talk to this interface.
"""

from __future__ import annotations

import abc
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol
from urllib.parse import urlsplit, urlunsplit

from conformance.access import Credentials, Endpoint
from conformance.catalog import Catalog
from conformance.errors import TargetError
from conformance.inside.checks import InsideCheck, InsideResult
from conformance.kube.disruptions import LoadRun, Member


@dataclass(frozen=True)
class Tracing:
    """Where a target's components send OTLP traces ("" = tracing off) and where the
    target's own Jaeger answers queries (None: no Jaeger of its own), with the reason."""

    otlp_endpoint: str = ""
    jaeger_query: Endpoint | None = None
    reason: str = ""


@dataclass
class TargetOptions:
    """Everything a target may be configured with (from pytest options or a CLI)."""

    compose_file: str | None = None
    env_files: list[str] = field(default_factory=list)
    project_name: str | None = None
    compose_up: bool = False
    keep: bool = False
    endpoints_file: str | None = None
    kube_context: str = "kind-soma"
    namespace: str = "soma-infra"
    probe_image: str = "soma-infra/probe:local"
    # the Prometheus scrape interval this target was asked to run at: None = the catalog's
    # contract interval; the catalog's on-demand interval when deployed that way
    scrape_interval: str | None = None
    probe_image_given: bool = False  # --probe-image named explicitly
    # state handed from the xdist controller to workers so they attach, never re-create
    attach_state: dict[str, Any] | None = None


@dataclass(frozen=True)
class AppReach:
    """What the NetworkPolicy probes of an app namespace saw: each service from a pod with
    no client label, the canary, each service's labelled pod's view of every service, and
    the namespace's NetworkPolicies that no release rendered."""

    namespace: str
    unlabelled: dict[str, InsideResult]
    canary: InsideResult
    labelled: dict[str, list[InsideResult] | TargetError]
    foreign_policies: list[str]


class KubernetesAccess(Protocol):
    """What contracts read and try through a Kubernetes API: the namespace's objects,
    admission (PodSecurity) verdicts and probe pods (NetworkPolicy)."""

    @property
    def namespace(self) -> str: ...

    def objects(self, kind: str) -> list[dict[str, Any]]: ...

    def workload_state(self) -> tuple[list[str], list[str]]: ...

    def podsecurity_dry_run(self, pod: dict[str, Any]) -> tuple[bool, str]: ...

    def reach_from_app_namespace(self, services: list[str]) -> AppReach: ...


class Restarts(Protocol):
    """How a target restarts one service the way its platform does (durability and
    resilience contracts): each way keeps the service's storage. When `restart` returns,
    the service's processes run again (not necessarily ready) and the target's endpoints
    for it are valid again (a port-forward is re-opened on next use)."""

    @property
    def ways(self) -> tuple[str, ...]: ...

    def restart(self, service: str, way: str) -> str: ...

    def reconnect(self, service: str) -> None:
        """Drop a path to the service pinned to one member (a port-forward resolves a Service
        to one pod when it opens, and a primary may move while it comes back)."""


class Disruptions(Protocol):
    """How a Kubernetes target removes members of its replicated services while load runs
    (resilience contracts; conformance/kube/disruptions.py)."""

    def overlay(self) -> str: ...

    def replicas(self, service: str) -> int: ...

    def budgets(self) -> list[dict[str, Any]]: ...

    def workload(self, service: str) -> dict[str, Any] | None: ...

    def members(self, service: str) -> list[Member]: ...

    def remove(self, member: str) -> str: ...

    def serving(self, service: str) -> list[str]: ...

    def reconnect(self, service: str) -> None: ...

    def drain(self, node: str) -> str: ...

    def uncordon(self, node: str) -> None: ...

    def await_ready(self, seconds: float) -> None: ...

    def load_during(self, spec: dict[str, Any], clients: list[str], disrupt: Callable[[], str], *,
                    warmup_s: float = 3.0) -> LoadRun: ...


class Target(abc.ABC):
    """A place the shared infra runs. Subclasses live one per module in this package."""

    name: ClassVar[str]

    def __init__(self, catalog: Catalog, options: TargetOptions) -> None:
        self.catalog = catalog
        self.options = options
        # what the preflight found (release, chart version, deployed services, ...): the
        # report's header and JSON show it, so a run says what it judged
        self.found: dict[str, str] = {}

    # --- lifecycle -----------------------------------------------------------------
    @abc.abstractmethod
    def setup(self) -> None:
        """Bring up or attach; raise TargetError naming the cause when impossible."""

    def preflight(self, inside: bool = True) -> None:  # noqa: B027 - optional hook
        """Cheap, bounded checks before anything runs (the stack is there: files, images, the
        project, the cluster and its release); raise one UsageError naming the cause and the
        fix; record what was found in `found`. `inside`: the in-network probe may be needed."""

    def teardown(self) -> None:  # noqa: B027 - optional hook: most targets create nothing
        """Remove whatever setup() created. Must be idempotent and safe to call twice."""

    def attach_state(self) -> dict[str, Any]:
        """JSON-able state that lets another process (an xdist worker) attach."""
        return {}

    # --- where things are ----------------------------------------------------------
    @abc.abstractmethod
    def endpoint(self, service: str) -> Endpoint:
        """Host-reachable endpoint of a catalog service (raise TargetError if unknown)."""

    @abc.abstractmethod
    def deployed(self, service: str) -> bool:
        """Whether this target deploys the service at all (optional services may not)."""

    def not_deployed_reason(self, service: str) -> str:
        return f"{service} is not deployed on target {self.name}"

    @abc.abstractmethod
    def credentials(self) -> Credentials:
        """Dev credentials for the services of this target."""

    @abc.abstractmethod
    def run_inside(self, checks: list[InsideCheck]) -> list[InsideResult]:
        """Run checks from inside the service network; one result per check."""

    def tracing(self) -> Tracing:
        """The tracing setting this target was deployed with (default: not known, off)."""
        return Tracing(reason=f"target {self.name} does not report its tracing setting")

    # --- what this target can show (contracts ask, instead of checking its class) --------
    def kubernetes(self) -> KubernetesAccess | None:
        """The Kubernetes API of the namespace the stack runs in, enforcing NetworkPolicy
        and PodSecurity (None: the stack does not run on Kubernetes)."""
        return None

    def restarts(self) -> Restarts | None:
        """How this target restarts a service (None: it cannot, e.g. endpoints it only reads)."""
        return None

    def disruptions(self) -> Disruptions | None:
        """How this target removes a member of a replicated service under load (None: it
        runs one replica of each, or cannot remove members)."""
        return None

    def docker_project(self) -> str | None:
        """The Compose project whose containers the local Docker Engine runs (None: the
        containers, if any, are out of this machine's Docker Engine's sight)."""
        return None

    def running_images(self) -> dict[str, list[str]] | None:
        """Image IDs of the local Docker Engine that the stack runs, each with the services
        (or pods) running it: what the image-secrets contract scans. None: the images the
        stack runs are out of this machine's Docker Engine's sight."""
        return None

    def judged(self, service: str) -> bool:
        """Whether the service's contracts are judged here: it is deployed, or the catalog
        requires it (a missing required service fails its contracts, never skips them)."""
        return self.deployed(service) or self.catalog.service(service).required

    def inside_unsupported_reason(self) -> str | None:
        """Why this target cannot probe from inside its network (None: it can)."""
        return None

    @property
    def environment(self) -> str:
        """The name of the environment under test: reports, history, flaky detection and
        metrics are keyed by it, so two environments of one target type never mix."""
        return self.name

    def describe(self) -> str:
        """One line for the pytest report header."""
        eps = ", ".join(
            f"{s}={self.endpoint(s).host}:{self.endpoint(s).port}"
            for s in self.catalog.services
            if self.deployed(s)
        )
        return f"target: {self.name} ({eps})"

    # --- helpers shared by every target --------------------------------------------
    def reachable_url(self, url: str) -> str:
        """Rewrite a catalog URL (contract DNS name) to the host-reachable endpoint."""
        parts = urlsplit(url)
        svc, _ = self.catalog.split_url(url)
        ep = self.endpoint(svc.name)
        scheme = ep.scheme if parts.scheme == "http" else parts.scheme
        return urlunsplit((scheme, f"{ep.host}:{ep.port}", parts.path, parts.query, ""))

    def inside_checks(self, services: list[str] | None = None) -> list[InsideCheck]:
        """The DNS/ports checks for the catalog's deployed services."""
        checks = []
        for svc in self.catalog.services.values():
            if services is not None and svc.name not in services:
                continue
            if not self.judged(svc.name):
                continue
            path = str(svc.health.get("path", "")) if svc.protocol == "http" else ""
            checks.append(InsideCheck(svc.name, svc.dns_name, svc.port, svc.protocol, path))
        return checks

