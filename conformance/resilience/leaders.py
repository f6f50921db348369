"""Which member of a replicated service matters most right now, asked of the service
itself: etcd's leader (its member list names the pods), the active OpenBao node (its
leader address names the pod). Removing that one is the hard case."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from conformance.access import Endpoint
from conformance.probes import clients
from conformance.probes.clients import ContractFailure


def _post(ep: Endpoint, path: str, body: dict[str, Any]) -> dict[str, Any]:
    resp = clients.http_post_json(ep, path, body)
    doc = clients.json_of(ep, resp, f"POST {path}")
    if resp.status_code != 200 or not isinstance(doc, dict):
        raise ContractFailure(f"{ep}: POST {path} answered {resp.status_code}: {str(doc)[:120]}")
    return doc


def etcd_leader(ep: Endpoint) -> str:
    """The name (the pod's: --name=$(POD_NAME)) of the current etcd leader."""
    status = _post(ep, "/v3/maintenance/status", {})
    members = _post(ep, "/v3/cluster/member/list", {}).get("members") or []
    leader = str(status.get("leader", ""))
    name = next((str(m.get("name")) for m in members if str(m.get("ID")) == leader), "")
    if not name:
        raise ContractFailure(f"{ep}: leader {leader!r} is not among the members {members}")
    return name


def vault_active(ep: Endpoint) -> str:
    """The pod name of the active OpenBao node (the first label of its leader address)."""
    resp = clients.http_get(ep, "/v1/sys/leader")
    doc = clients.json_of(ep, resp, "GET /v1/sys/leader")
    host = urlsplit(str(doc.get("leader_address") or "")).hostname or ""
    if not host:
        raise ContractFailure(f"{ep}: /v1/sys/leader names no leader: {doc}")
    return host.split(".", 1)[0]
