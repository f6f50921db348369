"""The runbook's sections by heading anchor: the catalog links each contract to one, and the
HTML report shows that section beside the failure (so the report says what to do, offline).

Anchors follow GitHub's heading slugs, so the same `runbook:` value is a working link on a
code host and a key here.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

from conformance import catalog as catalog_mod
from conformance.resources import data_path


@dataclass(frozen=True)
class Section:
    anchor: str
    title: str
    body: str  # the section's Markdown, up to the next heading


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to '-'."""
    text = re.sub(r"[`*_]", "", heading.strip().lower())
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def parse(markdown: str) -> dict[str, Section]:
    """Every heading (any level) and the text under it, by anchor (first one wins)."""
    out: dict[str, Section] = {}
    title: str | None = None
    body: list[str] = []
    in_code = False

    def close() -> None:
        if title is not None:
            out.setdefault(slug(title), Section(slug(title), title, "\n".join(body).strip()))

    for line in markdown.splitlines():
        if line.startswith("```"):
            in_code = not in_code
        match = None if in_code else re.match(r"#{1,6}\s+(.+?)\s*#*\s*$", line)
        if match:
            close()
            title, body = match.group(1), []
        elif title is not None:
            body.append(line)
    close()
    return out


@functools.cache
def sections(doc: str = catalog_mod.DEFAULT_RUNBOOK_DOC) -> dict[str, Section]:
    """The runbook shipped with the suite (repo checkout or wheel); empty when absent."""
    try:
        return parse(data_path(doc).read_text(encoding="utf-8"))
    except OSError:
        return {}


def section_for(contract_id: str) -> Section | None:
    """The runbook section of a catalog contract (None: no link, or not a catalog id)."""
    cat = catalog_mod.load()
    try:
        anchor = cat.contract(contract_id).runbook
    except KeyError:
        return None
    return sections(cat.runbook_doc).get(anchor) if anchor else None


def link(contract_id: str) -> str | None:
    """`docs/infra/runbook_shared_infra.md#anchor` for a catalog contract."""
    cat = catalog_mod.load()
    try:
        anchor = cat.contract(contract_id).runbook
    except KeyError:
        return None
    return f"{cat.runbook_doc}#{anchor}" if anchor else None
