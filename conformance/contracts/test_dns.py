"""DNS/ports contracts: from inside the service network, every contract name resolves
and its port speaks that service's own protocol (not just a TCP connect)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from conformance.catalog import load
from conformance.inside.checks import InsideResult
from conformance.probes.clients import ContractFailure
from conformance.targets.base import Target

DNS_CONTRACTS = [c for c in load().contracts if c.area == "dns"]


@pytest.mark.parametrize(
    "contract_id",
    [pytest.param(c.id, marks=pytest.mark.contract(c.id), id=c.service) for c in DNS_CONTRACTS],
)
def test_contract_name_answers_its_protocol(
    contract_id: str, soma_target: Target, soma_inside: dict[str, InsideResult],
    soma_evidence: Callable[..., None],
) -> None:
    contract = load().contract(contract_id)
    svc = load().service(contract.service)
    if not soma_target.judged(svc.name):
        pytest.skip(soma_target.not_deployed_reason(svc.name))
    result = soma_inside.get(svc.name)
    soma_evidence(probed=f"{svc.address} ({svc.protocol}) from inside", answer=result and result.detail)
    if result is None:
        raise ContractFailure(f"{svc.address}: the inside probe did not check it")
    if not result.ok:
        raise ContractFailure(f"{svc.address} ({svc.protocol}) from inside the network: {result.detail}")
