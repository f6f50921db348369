"""Provisioned Grafana dashboards as data: panels, their PromQL, their variables.

The dashboards contract evaluates every panel expression against the live Prometheus,
so it proves "the dashboards show data" even where Grafana itself is not deployed. This
module holds the pure parts: reading the JSON, walking panels (rows included), resolving
template variables the way Grafana does for Prometheus, and expanding them.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# label_values(label) or label_values(<series selector>, label)
_LABEL_VALUES = re.compile(r"^\s*label_values\(\s*(?:(?P<match>.+?)\s*,\s*)?(?P<label>[A-Za-z_]\w*)\s*\)\s*$",
                           re.DOTALL)
# $var, ${var}, ${var:format}, [[var]]
_VAR_REF = re.compile(r"\$\{(?P<b>\w+)(?::\w+)?\}|\$(?P<p>\w+)|\[\[(?P<s>\w+)\]\]")

LabelValues = Callable[[str | None, str], list[str]]


@dataclass(frozen=True)
class Dashboard:
    uid: str
    title: str
    path: Path
    raw: dict[str, Any]

    def __str__(self) -> str:
        return f"dashboard {self.title!r} ({self.path.name})"


@dataclass(frozen=True)
class PanelQuery:
    """One PromQL expression of one panel."""

    dashboard: Dashboard
    panel_id: int
    panel_title: str
    ref_id: str
    expr: str
    datasource_uid: str

    @property
    def where(self) -> str:
        return f"{self.dashboard} panel {self.panel_title!r} (id {self.panel_id}, query {self.ref_id})"


def load(folder: Path) -> list[Dashboard]:
    """Every *.json dashboard in a provisioning folder, sorted by file name."""
    boards = []
    for path in sorted(folder.glob("*.json")):
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ValueError(f"{path}: not a readable dashboard JSON: {exc}") from None
        if not isinstance(raw, dict):
            raise ValueError(f"{path}: a dashboard must be a JSON object")
        boards.append(Dashboard(str(raw.get("uid", "")), str(raw.get("title", path.stem)), path, raw))
    return boards


def iter_panels(panels: list[Any]) -> Iterator[dict[str, Any]]:
    """Panels in order, descending into rows (collapsed rows keep theirs in `panels`)."""
    for panel in panels:
        if not isinstance(panel, dict):
            continue
        if panel.get("type") == "row":
            yield from iter_panels(list(panel.get("panels") or []))
        else:
            yield panel


def _uid(datasource: Any) -> str:
    if isinstance(datasource, dict):
        return str(datasource.get("uid", ""))
    return str(datasource or "")


def queries(board: Dashboard) -> list[PanelQuery]:
    """Every visible PromQL target of every panel (panels without PromQL are not listed)."""
    out = []
    for panel in iter_panels(list(board.raw.get("panels") or [])):
        for target in panel.get("targets") or []:
            expr = str(target.get("expr") or "").strip()
            if not expr or target.get("hide"):
                continue
            uid = _uid(target.get("datasource")) or _uid(panel.get("datasource"))
            out.append(PanelQuery(board, int(panel.get("id", 0)), str(panel.get("title", "")),
                                  str(target.get("refId", "?")), expr, uid))
    return out


def panel_count(board: Dashboard) -> int:
    """Panels that carry at least one PromQL expression."""
    return len({q.panel_id for q in queries(board)})


def parse_label_values(query: str) -> tuple[str | None, str] | None:
    """(selector, label) of a label_values() variable query, None if it is something else."""
    m = _LABEL_VALUES.match(query)
    if m is None:
        return None
    return (m.group("match") or None), m.group("label")


def _variable_query(var: dict[str, Any]) -> str:
    query = var.get("query")
    if isinstance(query, dict):
        query = query.get("query", "")
    return str(query or var.get("definition") or "")


_REGEX_SPECIAL = re.compile(r"([$^*{}\[\]'+?.()|])")


def regex_escape(value: str) -> str:
    """Grafana's prometheusSpecialRegexEscape: a regex escape, itself escaped for the
    double-quoted PromQL string it lands in (so `a.b` becomes `a\\.b`)."""
    return _REGEX_SPECIAL.sub(r"\\\\\1", value.replace("\\", "\\\\\\\\"))


def format_values(values: list[str], multi: bool) -> str:
    """Grafana's Prometheus formatting: one value as is, several as an escaped regex group."""
    if len(values) == 1 and not multi:
        return values[0]
    return "(" + "|".join(regex_escape(v) for v in values) + ")"


def expand(text: str, values: Mapping[str, str]) -> str:
    """Replace every known variable reference; unknown ones are left for the caller to see."""

    def sub(m: re.Match[str]) -> str:
        name = m.group("b") or m.group("p") or m.group("s")
        return values.get(name, m.group(0))

    return _VAR_REF.sub(sub, text)


def unresolved(text: str) -> list[str]:
    """Variable names still referenced in an expanded expression."""
    return [m.group("b") or m.group("p") or m.group("s") for m in _VAR_REF.finditer(text)]


def builtins(scrape_interval_s: int) -> dict[str, str]:
    """Grafana's built-in variables for a 1 h dashboard range, for this scrape interval.

    $__rate_interval is max(4 x scrape interval, interval + scrape interval), as in Grafana.
    """
    rate = max(4 * scrape_interval_s, 2 * scrape_interval_s)
    return {
        "__interval": f"{scrape_interval_s}s", "__interval_ms": str(scrape_interval_s * 1000),
        "__rate_interval": f"{rate}s", "__range": "1h", "__range_s": "3600", "__range_ms": "3600000",
    }


def resolve_variables(board: Dashboard, label_values: LabelValues,
                      scrape_interval_s: int) -> tuple[dict[str, str], list[str]]:
    """Values of the dashboard's template variables, plus one problem line per variable
    that cannot be resolved (unsupported query, or no values on the live Prometheus)."""
    values = builtins(scrape_interval_s)
    problems = []
    for var in (board.raw.get("templating") or {}).get("list") or []:
        name = str(var.get("name", ""))
        kind = var.get("type")
        multi = bool(var.get("multi") or var.get("includeAll"))
        if kind == "datasource":
            values[name] = "prometheus"
            continue
        if kind in ("custom", "interval"):
            opts = [o.strip() for o in str(var.get("query", "")).split(",") if o.strip()]
        elif kind in ("constant", "textbox"):
            opts = [str(var.get("query", ""))]
        elif kind == "query":
            parsed = parse_label_values(expand(_variable_query(var), values))
            if parsed is None:
                problems.append(f"{board} variable ${name}: unsupported query {_variable_query(var)!r}")
                continue
            opts = label_values(*parsed)
        else:
            problems.append(f"{board} variable ${name}: unsupported type {kind!r}")
            continue
        if not opts:
            problems.append(f"{board} variable ${name}: {_variable_query(var)!r} has no values")
            continue
        values[name] = format_values(opts, multi and kind != "interval")
    return values, problems
