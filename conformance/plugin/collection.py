"""Collection: each contract test gets its area and service markers from the catalog;
--contract keeps only the named contracts; waived contracts and, on a read-only run,
disruptive ones are skipped naming the reason; the last phase (restarts) goes last."""

from __future__ import annotations

import pytest

from conformance import catalog as catalog_mod
from conformance.plugin import phases
from conformance.plugin.activation import activate
from conformance.plugin.target_setup import preflight_for
from conformance.session import WAIVERS_KEY, is_active, run_mode

DEFAULT_TIMEOUT_S = 60


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Give each contract test its area and service markers, from the catalog; with
    --contract, keep only the named contracts; skip waived contracts and, on a read-only
    run, disruptive ones (naming the reason)."""
    if not is_active(config):
        if not any(i.get_closest_marker("contract") for i in items):
            return
        activate(config)  # contracts collected by a path the arguments did not reveal
    cat = catalog_mod.load()
    waived = config.stash.get(WAIVERS_KEY, {})
    allow = run_mode(config).allow_disruptive
    wanted = set(config.getoption("--contract"))
    for unknown in sorted(wanted - {c.id for c in cat.contracts}):
        raise pytest.UsageError(f"--contract: {unknown!r} is not in the contract catalog")
    deselected: list[pytest.Item] = []
    for item in items:
        marker = item.get_closest_marker("contract")
        if marker is None:
            continue
        contract_id = str(marker.args[0]) if marker.args else ""
        try:
            contract = cat.contract(contract_id)
        except KeyError as exc:
            raise pytest.UsageError(f"{item.nodeid}: {exc.args[0]}") from None
        if wanted and contract.id not in wanted:
            deselected.append(item)
            continue
        item.add_marker(getattr(pytest.mark, contract.area))
        item.add_marker(getattr(pytest.mark, contract.service))
        item.user_properties.append(("contract", contract.id))
        if contract.id in waived:
            item.add_marker(pytest.mark.skip(reason=waived[contract.id].skip_reason()))
        elif contract.disruptive:
            item.add_marker(pytest.mark.disruptive)
            # a test that gates only its state-changing part asks for soma_disruptive
            if not allow and "soma_disruptive" not in getattr(item, "fixturenames", ()):
                item.add_marker(pytest.mark.skip(reason=disruptive_reason(contract)))
        if item.get_closest_marker("timeout") is None:
            item.add_marker(pytest.mark.timeout(DEFAULT_TIMEOUT_S))
    if wanted:
        keep = [i for i in items if i not in deselected and i.get_closest_marker("contract")]
        config.hook.pytest_deselected(items=[i for i in items if i not in keep])
        items[:] = keep
    # contracts that restart services run after every other (under xdist: phases.py)
    items[:] = phases.last_phase_last(items, phases.is_last_phase)
    preflight_for(config, items)


def disruptive_reason(contract: catalog_mod.Contract, part: bool = False) -> str:
    what = f"the read-only part held, then skipped ({contract.disruptive})" if part else contract.disruptive
    return f"disruptive, read-only run: {what}; pass --allow-disruptive to run it"
