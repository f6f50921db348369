"""The run as Prometheus text exposition (node-exporter textfile collector, or a push).

Gauges only: each file is a snapshot of the latest run, and the textfile collector or
the push gateway replaces the whole set at once.
"""

from __future__ import annotations

import httpx

from conformance.report import meta
from conformance.report.model import STATUSES, Run

PREFIX = "soma_conformance"
PUSH_TIMEOUT_S = 10.0


def _esc(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _labels(**labels: str) -> str:
    return "{" + ",".join(f'{k}="{_esc(v)}"' for k, v in labels.items()) + "}"


def render(run: Run) -> str:
    out: list[str] = []

    def family(name: str, help_text: str, samples: list[tuple[dict[str, str], float]]) -> None:
        out.append(f"# HELP {PREFIX}_{name} {help_text}")
        out.append(f"# TYPE {PREFIX}_{name} gauge")
        out.extend(f"{PREFIX}_{name}{_labels(**labels)} {value:g}" for labels, value in samples)

    t = run.target
    env = run.environment or ""
    base = [(c, {"target": t, "environment": env, "contract": c.id, "area": c.area, "service": c.service})
            for c in run.contracts]
    family("contract_passed", "1 if the contract held in the latest run, 0 if it failed (skips omitted)",
           [(lb, 1.0 if c.status == "passed" else 0.0) for c, lb in base if c.status != "skipped"])
    family("contract_status", "Latest status of each contract, one series per status (1 = current)",
           [({**lb, "status": s}, 1.0 if c.status == s else 0.0) for c, lb in base for s in STATUSES])
    family("contract_duration_seconds", "Time the contract's tests took",
           [(lb, round(c.duration_s, 4)) for c, lb in base])
    summary = run.summary()
    family("contracts", "Contracts of the latest run by status",
           [({"target": t, "environment": env, "status": s}, float(summary[s]))
            for s in (*STATUSES, "pending")])
    if summary["pass_rate"] is not None:
        family("pass_ratio", "Passed / (passed + failed + error) in the latest run",
               [({"target": t, "environment": env}, float(summary["pass_rate"]))])
    stamp = meta.parse_iso(run.finished_at or run.updated_at or run.started_at).timestamp()
    family("run_timestamp_seconds", "When the latest run ended (unix time)",
           [({"target": t, "environment": env}, round(stamp, 3))])
    family("run_start_timestamp_seconds", "When the latest run started (unix time)",
           [({"target": t, "environment": env}, round(meta.parse_iso(run.started_at).timestamp(), 3))])
    family("run_duration_seconds", "Wall time of the latest run",
           [({"target": t, "environment": env}, round(run.duration_s or 0.0, 3))])
    family("run_complete", "1 if the latest run finished normally with every contract reported",
           [({"target": t, "environment": env}, 1.0 if run.complete else 0.0)])
    family("run_info", "The latest run's identity (value always 1)",
           [({"target": t, "environment": env, "run_id": run.run_id, "suite_version": str(run.suite.get("version", "")),
              "git_revision": str(run.infra.get("git_revision") or "")}, 1.0)])
    return "\n".join(out) + "\n"


def push(run: Run, gateway: str, job: str = "soma_conformance") -> None:
    """PUT the metrics to a Pushgateway (replaces the group of this job, target and
    environment only: pushing staging never overwrites prod)."""
    url = (f"{gateway.rstrip('/')}/metrics/job/{job}/{_group_label('target', run.target)}"
           f"/{_group_label('environment', run.environment or 'unknown')}")
    resp = httpx.put(url, content=render(run).encode(), timeout=PUSH_TIMEOUT_S,
                     headers={"Content-Type": "text/plain; version=0.0.4"})
    resp.raise_for_status()


def _group_label(name: str, value: str) -> str:
    """One grouping-key segment of a Pushgateway URL; values with '/' (kind-soma/infra) or
    other unsafe characters use the gateway's `name@base64/<url-safe base64>` form."""
    import base64
    import re

    if re.fullmatch(r"[A-Za-z0-9._~:-]+", value):
        return f"{name}/{value}"
    return f"{name}@base64/{base64.urlsafe_b64encode(value.encode()).decode().rstrip('=') or '='}"
