"""Apply a seeded fault to a compose stack, run the contracts it must break, restore.

The stack is an isolated compose project (see tests/faults), never a stack someone is
using. Restoring always recreates the touched services from the unmodified compose file
and waits until they are healthy again, so faults never leak into each other.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import yaml

from conformance.catalog import load as load_catalog
from conformance.observability import checks, dashboards
from conformance.observability.promapi import Prometheus
from conformance.policy.bundle import opa_build
from conformance.probes.clients import ContractFailure
from conformance.resources import REPO_ROOT
from conformance.targets.compose import ComposeTarget
from conformance.waiting import WaitTimeout, wait_until
from harness.faults.model import FOLDER_REF, Fault, FaultDumper, OverrideList, edited_folder
from harness.faults.runner import SuiteRun, run_suite

CMD_TIMEOUT_S = 240
# a restored target is scraped within one interval (15 s); two scrapes plus a slow start
RESTORE_SCRAPES_TIMEOUT_S = 90.0
# contracts that judge Prometheus's series (targets, rules, alerts, dashboard panels): only
# their faults need the scrapes back after an earlier fault stopped a scraped service
SCRAPE_READERS = ("observability.prometheus.", "observability.dashboards.")


@dataclass
class Verdict:
    fault: Fault
    killed: bool
    details: list[str] = field(default_factory=list)
    seconds: float = 0.0


def _compose(target: ComposeTarget, *args: str, files: list[Path] | None = None) -> None:
    cmd = target.compose_cmd()
    for extra in files or []:
        cmd += ["-f", str(extra)]
    proc = subprocess.run([*cmd, *args], capture_output=True, text=True, timeout=CMD_TIMEOUT_S, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"compose {' '.join(args)}: {proc.stderr.strip()[-300:]}")


def _overlay(src: Path, fault: Fault, dest: Path) -> Path:
    """A copy of src with the fault's files replaced/added and its text edits made.
    An edit whose text is no longer there is an error: the fault would be a no-op."""
    shutil.copytree(src, dest)
    for rel, replacement in fault.files.items():
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(replacement, target)
    for rel, edits in fault.edits.items():
        target = dest / rel
        text = target.read_text(encoding="utf-8")
        for old, new in edits:
            if old not in text:
                raise RuntimeError(f"fault {fault.name}: {rel} no longer contains {old!r}")
            text = text.replace(old, new)
        target.write_text(text, encoding="utf-8")
    return dest


def _edited_copy(fault: Fault, dest: Path) -> Path:
    src = edited_folder(fault)
    if src is None:
        raise RuntimeError(f"fault {fault.name}: kind {fault.kind} has no folder to copy and edit")
    return _overlay(src, fault, dest)


def suite_env(fault: Fault, scratch: Path) -> dict[str, str]:
    """The suite run's environment under the fault: its env, with repo-relative paths made
    absolute and "{folder}" naming a scratch copy of its folder with the edits made."""
    env = dict(fault.env)
    if fault.folder:
        copy = _edited_copy(fault, scratch / "folder")
        env = {k: v.replace(FOLDER_REF, str(copy)) for k, v in env.items()}
    for key, value in env.items():  # repo-relative paths, as fault.yaml writes them
        if value.startswith(("fixtures/", "infra/", "policies/")):
            env[key] = str(REPO_ROOT / value)
    return env


def _opa_bundle(fault: Fault, work: Path) -> Path:
    src = _edited_copy(fault, work / "bundle")
    out = work / "soma.tar.gz"
    opa_build(src, out)
    return out


class FaultEngine:
    def __init__(self, target: ComposeTarget, work: Path) -> None:
        self.target = target
        self.work = work

    def _override_file(self, fault: Fault, doc: dict[str, object]) -> Path:
        path = self.work / f"{fault.name}.override.yaml"
        path.write_text(yaml.dump(doc, Dumper=FaultDumper, sort_keys=False), encoding="utf-8")
        return path

    def build_image(self, fault: Fault) -> None:
        """Build the fault's derived image (its own soma-fault/ tag) from its folder."""
        if not fault.build or fault.source is None:
            return
        creds = self.target.credentials()
        values = {"image": str(self.target.service_config(fault.services[0]).get("image", "")),
                  "postgres_password": creds.postgres_password, "redis_password": creds.redis_password,
                  "vault_token": creds.vault_token}
        cmd = ["docker", "build", "-q", "-t", str(fault.build["tag"]),
               "-f", str(fault.source.parent / str(fault.build.get("dockerfile", "Dockerfile")))]
        for key, value in dict(fault.build.get("args", {})).items():
            cmd += ["--build-arg", f"{key}={str(value).format(**values)}"]
        proc = subprocess.run([*cmd, str(fault.source.parent)], capture_output=True, text=True,
                              timeout=CMD_TIMEOUT_S, check=False)
        if proc.returncode != 0:
            raise RuntimeError(f"fault {fault.name}: docker build failed: {proc.stderr.strip()[-300:]}")

    def apply(self, fault: Fault, scratch: Path) -> dict[str, str]:
        """Break the stack; returns extra environment for the suite run."""
        services = list(fault.services)
        self.build_image(fault)
        wait = ["--wait"] if fault.wait == "healthy" else []
        if fault.kind == "stop":
            _compose(self.target, "stop", *services)
        elif fault.kind == "compose-override":
            override = self._override_file(fault, dict(fault.override or {}))
            _compose(self.target, "up", "-d", "--no-deps", *wait, *services, files=[override])
        elif fault.kind == "exec":
            # plain `docker exec`: `docker compose exec` (v2.40 on this engine) reports exit
            # 0 for a failed command, which would turn a broken fault into a silent no-op
            cid = next(iter(self.target.container_ids(services[0])), "")
            proc = subprocess.run(["docker", "exec", cid, *fault.command], capture_output=True, text=True,
                                  timeout=CMD_TIMEOUT_S, check=False)
            if not cid or proc.returncode != 0:
                raise RuntimeError(f"fault {fault.name}: exec in {services[0]} failed: {proc.stderr.strip()[-300:]}")
        elif fault.kind == "opa-bundle":
            bundle = _opa_bundle(fault, scratch)
            opa_cfg = REPO_ROOT / "infra/config/opa/opa.yaml"
            override = self._override_file(fault, {"services": {"opa": {"volumes": OverrideList([
                f"{bundle}:/bundle/soma.tar.gz:ro", f"{opa_cfg}:/config/opa.yaml:ro"])}}})
            _compose(self.target, "up", "-d", "--no-deps", "--wait", "opa", files=[override])
        elif fault.kind == "prometheus-config":
            conf = _edited_copy(fault, scratch / "prometheus")
            for path in conf.rglob("*"):
                path.chmod(0o755 if path.is_dir() else 0o644)
            conf.chmod(0o755)
            override = self._override_file(fault, {"services": {"prometheus": {"volumes": OverrideList([
                "prometheus-data:/prometheus", f"{conf}:/etc/prometheus:ro"])}}})
            _compose(self.target, "up", "-d", "--no-deps", "--wait", "prometheus", files=[override])
        elif fault.kind in ("suite-env", "static"):
            pass
        self.settle(fault)
        return suite_env(fault, scratch)

    def settle(self, fault: Fault) -> None:
        """Wait (bounded) until the fault is observable: Prometheus saw a target go down
        (settle.prometheus_target) or an alert reach a state (settle.prometheus_alert)."""
        target_want = fault.settle.get("prometheus_target")
        alert_want = fault.settle.get("prometheus_alert")
        if not target_want and not alert_want:
            return
        ep = self.target.endpoint("prometheus")
        want: dict[str, object] = dict(target_want or alert_want or {})
        path, key = ("/api/v1/targets", "activeTargets") if target_want else ("/api/v1/alerts", "alerts")

        def matches(item: dict[str, object]) -> bool:
            labels = dict(item.get("labels", {}))  # type: ignore[call-overload]
            for k, v in want.items():
                field_value = item.get(k) if k in ("health", "state") else labels.get(k)
                if field_value != v:
                    return False
            return True

        def shown() -> bool:
            items = httpx.get(ep.url(path), timeout=5).json()["data"][key]
            return any(matches(i) for i in items)

        try:
            wait_until(shown, timeout=float(fault.settle.get("timeout_s", 40)), interval=2,
                       retry_on=(httpx.HTTPError, KeyError, ValueError),
                       what=f"fault {fault.name}: Prometheus showing {want}")
        except WaitTimeout:
            raise RuntimeError(f"fault {fault.name}: Prometheus never showed {want} within the settle time") from None

    def restore(self, fault: Fault) -> None:
        implied = {"opa-bundle": ["opa"], "prometheus-config": ["prometheus"]}
        services = list(fault.services) or implied.get(fault.kind, [])
        if not services:
            return
        _compose(self.target, "up", "-d", "--no-deps", "--force-recreate", "--wait", *services)
        if "vault" in services:  # a recreated dev server forgot the identity issuer
            _compose(self.target, "up", "-d", "--no-deps", "--force-recreate", "--wait", "vault-bootstrap")
        if fault.build:  # the derived image is the fault's own: nothing else runs it now
            subprocess.run(["docker", "image", "rm", str(fault.build["tag"])], capture_output=True,
                           timeout=CMD_TIMEOUT_S, check=False)

    def await_scrapes(self, fault: Fault) -> None:
        """Before a fault whose contracts read Prometheus's series, they must not see an
        earlier fault's gap in the scrapes (a restored exporter's series are stale until
        Prometheus scrapes it again, and a rate needs two samples in its window): wait
        (bounded) until every target is up and each was scraped up at least twice within one
        rate window. At once when none went down. Other faults do not wait for it."""
        prom = Prometheus(self.target.endpoint("prometheus"))
        interval = checks.interval_seconds(str(load_catalog().sizing["prometheus"]["scrape_interval"]))
        window = dashboards.builtins(interval)["__rate_interval"]
        queries = {"min(up)": 1.0, f"min(sum_over_time(up[{window}]))": 2.0}

        def back() -> bool:
            for expr, least in queries.items():
                series = prom.query(expr)
                if not series or float(series[0]["value"][1]) < least:
                    return False
            return True

        try:
            wait_until(back, timeout=RESTORE_SCRAPES_TIMEOUT_S, interval=1, retry_on=(ContractFailure,),
                       what=f"fault {fault.name}: Prometheus scraping every target again")
        except WaitTimeout:
            down = [str(t.get("scrapeUrl")) for t in prom.active_targets() if t.get("health") != "up"]
            raise RuntimeError(f"before fault {fault.name}: Prometheus has not scraped every target twice "
                               f"within {RESTORE_SCRAPES_TIMEOUT_S:.0f}s (down: {', '.join(down) or 'none'})") from None

    def suite_args(self, fault: Fault) -> list[str]:
        args = ["--target=compose", f"--project-name={self.target.project}"]
        args += [f"--env-file={f}" for f in self.target.env_files]
        args += [f"--contract={cid}" for cid in fault.breaks]
        return args

    def run(self, fault: Fault) -> Verdict:
        t0 = time.monotonic()
        scratch = Path(tempfile.mkdtemp(prefix=f"fault-{fault.name}-", dir=self.work))
        scratch.chmod(0o755)
        if any(cid.startswith(SCRAPE_READERS) for cid in fault.breaks):
            self.await_scrapes(fault)
        try:
            env = self.apply(fault, scratch)
            result = run_suite(self.suite_args(fault), scratch, env=env)
        finally:
            self.restore(fault)
        verdict = judge(fault, result)
        verdict.seconds = time.monotonic() - t0
        return verdict


def judge(fault: Fault, run: SuiteRun) -> Verdict:
    """Killed when every targeted contract failed for the expected reason: at least one
    of its tests (a contract may be parametrized, e.g. one case per attack) failed with
    the reason in its message."""
    verdict = Verdict(fault, killed=True)
    for cid in fault.breaks:
        tests = [name for name, c in run.contracts.items() if c == cid]
        if not tests:
            verdict.killed = False
            verdict.details.append(f"{cid}: no test ran (rc={run.returncode}: {run.stderr.strip()[-200:]})")
            continue
        failed = [n for n in tests if run.outcomes[n] == "failed"]
        right = [n for n in failed if fault.reason.lower() in run.messages[n].lower()]
        if right:
            verdict.details.append(f"{cid}: {len(right)}/{len(tests)} failed: {run.messages[right[0]][:160]}")
        elif failed:
            verdict.killed = False
            verdict.details.append(f"{cid}: failed for another reason: {run.messages[failed[0]][:200]}")
        else:
            verdict.killed = False
            verdict.details.append(f"{cid}: all {len(tests)} tests {sorted({run.outcomes[n] for n in tests})} "
                                   "under the fault")
    return verdict
