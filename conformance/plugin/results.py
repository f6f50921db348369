"""How a contract test's call becomes its result: the endpoints it asks for are evidence
in the report, and a broken contract is its one-line cause, not a client-library traceback."""

from __future__ import annotations

from typing import Any

import pytest

from conformance.report.hooks import record_endpoints
from conformance.session import is_active


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Any:
    if not is_active(item.config):
        return (yield)
    record_endpoints(item)
    if item.get_closest_marker("contract") is None:
        return (yield)
    # imported here, not at the top: the plugin loads into every pytest run of the
    # environment, and the client module pulls in httpx (not a cycle: tests/unit/test_imports.py)
    from conformance.probes.clients import ContractFailure

    try:
        return (yield)
    except ContractFailure as exc:
        cause = str(exc)
    pytest.fail(cause, pytrace=False)  # outside the except: no "during handling" chain in the report
