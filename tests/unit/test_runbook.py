"""Every catalog contract links to a runbook section that exists, so the report's "what to
do" link never lands on nothing."""

from __future__ import annotations

import pytest

from conformance import catalog, runbook
from conformance.errors import UsageError
from conformance.resources import REPO_ROOT


def test_every_contract_links_to_a_real_runbook_heading() -> None:
    cat = catalog.load()
    headings = runbook.parse((REPO_ROOT / cat.runbook_doc).read_text(encoding="utf-8"))
    missing = [c.id for c in cat.contracts if not c.runbook]
    assert not missing, f"contracts without a runbook: anchor in catalog.yaml: {missing}"
    broken = {c.id: c.runbook for c in cat.contracts if c.runbook not in headings}
    assert not broken, f"runbook anchors with no heading in {cat.runbook_doc}: {broken}"
    for c in cat.contracts:
        section = runbook.section_for(c.id)
        assert section is not None and section.body, f"{c.id}: empty runbook section {c.runbook}"


def test_slugs_follow_github_headings() -> None:
    doc = ("# Top\n## OPA and the policy bundle\ntext\n```\n# not a heading\n```\n"
           "### Prometheus, alerts & `dashboards`\nmore\n")
    sections = runbook.parse(doc)
    assert list(sections) == ["top", "opa-and-the-policy-bundle", "prometheus-alerts--dashboards"]
    assert "# not a heading" in sections["opa-and-the-policy-bundle"].body
    assert sections["prometheus-alerts--dashboards"].body == "more"


def test_a_broken_anchor_is_caught() -> None:
    """The check above would fail on a renamed heading: prove it on a copy of the catalog."""
    raw = dict(catalog.load().raw)
    raw["contracts"] = [{**raw["contracts"][0], "runbook": "no-such-heading"}, *raw["contracts"][1:]]
    cat = catalog.parse(raw)
    headings = runbook.parse((REPO_ROOT / cat.runbook_doc).read_text(encoding="utf-8"))
    assert cat.contracts[0].runbook not in headings


@pytest.mark.parametrize("bad", ["Has Capitals", "two words", ""])
def test_invalid_anchor_is_a_usage_error(bad: str) -> None:
    raw = dict(catalog.load().raw)
    raw["contracts"] = [{**raw["contracts"][0], "runbook": bad}]
    with pytest.raises(UsageError, match="invalid runbook anchor"):
        catalog.parse(raw)
