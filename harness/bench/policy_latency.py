"""Decision cost of the live OPA, as a load measurement, for the golden readiness cases
(allowed: JWT verified in OPA; denied: a pair outside the allowlist):

1. sequential: p50/p90/p99 over n decisions, one keep-alive connection, on the target's OPA;
2. in-process: OPA's own evaluation time per allowed decision (`?metrics=true`,
   `timer_rego_query_eval_ns`), median and p99;
3. concurrent: a closed loop of --clients connections for --seconds, decisions/s and
   p50/p99, on spare copies of the stack's OPA (compose and testcontainers targets): one
   at the stack's own CPU limit, one unlimited, each also measured sequentially;
4. the floor: the same spare at the CPU limit serving a one-rule policy, so the figures
   above can be read against what OPA's HTTP server and input parsing cost on their own;
5. optional: the closed loops at the same CPU share over shorter CFS periods
   (--cfs-periods), and the unlimited spare again with the stack's other containers paused
   (--quiet-stack), which show what sets the tail latencies.

    python3 -m harness.bench.policy_latency [--target compose] [--project-name P
        --env-file F] [-n 2000] [--clients 8] [--seconds 5] [--no-spares]
        [--no-floor] [--cfs-periods 10,5] [--quiet-stack]

A measurement to print and track, not a timed assertion: a shared 2-core machine makes
absolute numbers noisy (the load average is printed with each figure), so the contracts
never fail on them.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

import httpx

from conformance import catalog as catalog_mod
from conformance import docker_engine, tls
from conformance.errors import TargetError, UsageError
from conformance.identity.tokens import DevIssuer, IssuerError
from conformance.policy.bundle import build as build_bundle
from conformance.policy.cases import golden, golden_case
from conformance.probes import clients
from conformance.probes.clients import ContractFailure
from conformance.targets import TARGET_NAMES, docker_project, make_target
from conformance.targets.base import TargetOptions
from harness.bench.load import Conn, LoadError, Run, closed_loop, post_bytes, sequential
from harness.bench.quiet_stack import paused
from harness.bench.spare_opa import SpareError, live_cpu_limit, spare_opa

# issue 14's targets, printed beside the figures (never asserted)
TARGETS = {"eval_median_us": 150, "seq_p99_unlimited_ms": 1.0, "limited_rate": 1000, "limited_p99_ms": 20}
# the floor: the smallest policy that still reads the request (true for the allow case)
FLOOR_POLICY = """package soma

default allow := false

allow if input.identity.token
"""


def floor_bundle(work: Path) -> Path:
    """A bundle with FLOOR_POLICY only, readable by the spare OPA's non-root user."""
    (work / "src" / "soma").mkdir(parents=True)
    (work / "src" / "soma" / "floor.rego").write_text(FLOOR_POLICY, encoding="utf-8")
    out = work / "floor.tar.gz"
    build_bundle(work / "src", out)
    out.chmod(0o644)
    return out


# what a quiet-stack measurement keeps running: the issuer the spare OPA fetches the JWKS from
QUIET_KEEP = ("vault",)


def cfs_periods(text: str) -> list[float]:
    """--cfs-periods: CFS periods in ms, comma-separated, each 1-1000 (the kernel's bounds)."""
    try:
        periods = [float(item) for item in text.split(",") if item.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a list of milliseconds: {text!r} (e.g. 10,5)") from None
    if not periods or any(not 1 <= p <= 1000 for p in periods):
        raise argparse.ArgumentTypeError(f"each CFS period must be 1-1000 ms, got {text!r}")
    return periods


def load() -> str:
    return "load " + " ".join(f"{x:.1f}" for x in os.getloadavg())


def line(label: str, run: Run) -> str:
    return (f"p50 {run.pct(50):.3f} ms  p90 {run.pct(90):.3f} ms  p99 {run.pct(99):.3f} ms  "
            f"max {run.ms[-1]:.3f} ms  mean {statistics.fmean(run.ms):.3f} ms  ({label}; {load()})")


def eval_times(host: str, port: int, path: str, body: object, n: int) -> list[float]:
    """OPA's evaluation time (µs) of n decisions, from ?metrics=true, sorted."""
    request = post_bytes(host, port, f"{path}?metrics=true", body)
    conn = Conn(host, port)
    try:
        out = []
        for _ in range(n):
            answer = json.loads(conn.send(request))
            out.append(answer["metrics"]["timer_rego_query_eval_ns"] / 1000)
    finally:
        conn.close()
    return sorted(out)


def cpu_seconds(container: str) -> Callable[[], float]:
    """The container's CPU time so far (s), from the engine's one-shot stats: what a
    decision costs OPA, whatever the load, and what bounds its rate at a CPU limit."""
    handle = docker_engine.client().containers.get(container)

    def read() -> float:
        return float(handle.stats(stream=False, one_shot=True)["cpu_stats"]["cpu_usage"]["total_usage"]) / 1e9
    return read


def jwks_size(url: str) -> str:
    """How many keys the issuer publishes: OPA parses the whole JWKS again on every decision
    (its http.send cache keeps the raw body), so each key adds to a decision's cost and
    figures are comparable only at the same count (docs/infra/POLICY.md)."""
    try:
        keys = httpx.get(url, timeout=clients.IO_TIMEOUT_S, verify=tls.verify(url)).json()["keys"]
    except (httpx.HTTPError, ValueError, KeyError, TypeError) as exc:
        return f"the issuer's JWKS could not be read ({type(exc).__name__})"
    return f"the issuer's JWKS holds {len(keys)} keys"


def closed_loop_line(what: str, host: str, port: int, *, request: bytes, want: bytes,
                     args: argparse.Namespace, cpu: Callable[[], float] | None) -> str:
    before = cpu() if cpu else 0.0
    run = closed_loop(host, port, request, expect=want, clients=args.clients, seconds=args.seconds)
    per = f"OPA CPU {(cpu() - before) / len(run.ms) * 1e6:.0f} µs/decision  " if cpu and run.ms else ""
    return (f"  concurrent {what}, {args.clients} clients closed loop, {args.seconds:g} s: "
            f"{run.rate:.0f} decisions/s  p50 {run.pct(50):.2f} ms  p99 {run.pct(99):.2f} ms  "
            f"{per}({len(run.ms)} decisions; {load()})")


def measure_opa(title: str, host: str, port: int, *, path: str, cases: dict[str, object],
                args: argparse.Namespace, concurrent: bool, cpu: Callable[[], float] | None = None,
                debug_path: str | None = None) -> None:
    print(f"{title}: http://{host}:{port}{path}")
    for label, body in cases.items():
        want = b'"result":true' if label == "allow" else b'"result":false'
        run = sequential(host, port, post_bytes(host, port, path, body), expect=want, n=args.n, warmup=args.warmup)
        print(f"  sequential {label:5} {args.n} decisions, one connection: {line('client round trip', run)}")
    ev = eval_times(host, port, path, cases["allow"], max(200, args.n // 4))
    print(f"  in-process eval (allow, OPA metrics, {len(ev)} decisions): median {statistics.median(ev):.0f} µs  "
          f"p90 {ev[int(len(ev) * 0.9)]:.0f} µs  p99 {ev[int(len(ev) * 0.99)]:.0f} µs  ({load()})")
    if concurrent:
        print(closed_loop_line("allow", host, port, request=post_bytes(host, port, path, cases["allow"]),
                               want=b'"result":true', args=args, cpu=cpu))
    if concurrent and debug_path and "deny" in cases:  # what the suite's policy properties ask
        print(closed_loop_line(f"deny on {debug_path} (with reasons)", host, port,
                               request=post_bytes(host, port, debug_path, cases["deny"]),
                               want=b'"allow":false', args=args, cpu=cpu))


def measure_cfs_period(live: str, tag: str, cpus: float, period_ms: float, floor: Path, *, path: str,
                       body: object, args: argparse.Namespace) -> None:
    """The limited closed loop, policy and floor, at the same CPU share over another CFS period."""
    period_us = round(period_ms * 1000)
    print(f"CPU limit {cpus:g} over a {period_ms:g} ms CFS period (quota {cpus * period_ms:g} ms per period):")
    for what, bundle in (("policy", None), ("floor", floor)):
        name = f"{tag}-cfs-{period_us}-{what}"
        with spare_opa(live, name, cpus, bundle, cfs_period_us=period_us) as (host, port):
            print(closed_loop_line(f"allow ({what})", host, port, request=post_bytes(host, port, path, body),
                                   want=b'"result":true', args=args, cpu=cpu_seconds(name)))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="policy_latency", description=__doc__.split("\n\n")[0])
    parser.add_argument("--target", default="compose", choices=TARGET_NAMES)
    parser.add_argument("--endpoints", default=None, help="endpoints file for --target=external")
    parser.add_argument("--project-name", default=None, help="compose project to measure")
    parser.add_argument("--env-file", action="append", default=[], help="compose env file (repeatable)")
    parser.add_argument("-n", type=int, default=2000, help="sequential decisions per case (default 2000)")
    parser.add_argument("--warmup", type=int, default=100)
    parser.add_argument("--clients", type=int, default=8, help="concurrent clients (default 8)")
    parser.add_argument("--seconds", type=float, default=5.0, help="closed-loop duration (default 5)")
    parser.add_argument("--no-spares", action="store_true",
                        help="skip the spare OPAs (limited/unlimited); measure the target's OPA only")
    parser.add_argument("--no-floor", action="store_true",
                        help="skip the one-rule floor measurement at the CPU limit")
    parser.add_argument("--cfs-periods", type=cfs_periods, default=[], metavar="MS[,MS]",
                        help="also run the limited closed loops (policy and floor) at the same CPU share "
                             "over these CFS periods (the kernel's default is 100 ms)")
    parser.add_argument("--quiet-stack", action="store_true",
                        help="also measure the unlimited spare with the stack's other containers paused "
                             "(all but vault; unpaused after, also on Ctrl-C): what the stack's own work "
                             "adds to the tail")
    return parser


def measure_spares(project: str, *, cases: dict[str, object], path: str, debug_path: str,
                   args: argparse.Namespace) -> None:
    """Items 3-5 of the module docstring, on spare copies of the project's OPA."""
    live = docker_project.container_ids(project, "opa")[0]
    limit = live_cpu_limit(live)
    tag = f"{project}-bench-{os.getpid()}"
    for cpus, what in ((limit, f"spare OPA at the stack's CPU limit ({limit or 'none'} CPU)"),
                       (None, "spare OPA without CPU limit")):
        name = f"{tag}-{'limited' if cpus else 'unlimited'}"
        with spare_opa(live, name, cpus) as (host, port):
            measure_opa(what, host, port, path=path, cases=cases, args=args, concurrent=True,
                        cpu=cpu_seconds(name), debug_path=debug_path)
    if args.quiet_stack:
        with spare_opa(live, f"{tag}-quiet", None) as (host, port), paused(project, QUIET_KEEP) as ids:
            measure_opa(f"spare OPA without CPU limit, {len(ids)} other containers of the stack paused "
                        f"(all but {', '.join(QUIET_KEEP)})", host, port, path=path, cases=cases,
                        args=args, concurrent=True, cpu=cpu_seconds(f"{tag}-quiet"), debug_path=debug_path)
    periods = args.cfs_periods if limit else []
    if args.no_floor and not periods:
        return
    with tempfile.TemporaryDirectory(prefix="soma-bench-floor-") as work:
        floor = floor_bundle(Path(work))
        if not args.no_floor:
            with spare_opa(live, f"{tag}-floor", limit, floor) as (host, port):
                measure_opa(f"floor: one-rule policy, same server and CPU limit ({limit or 'none'} CPU)",
                            host, port, path=path, cases={"allow": cases["allow"]}, args=args,
                            concurrent=True, cpu=cpu_seconds(f"{tag}-floor"))
        for period in periods:
            assert limit is not None  # periods is empty without a limit
            measure_cfs_period(live, tag, limit, period, floor, path=path, body=cases["allow"], args=args)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    cat = catalog_mod.load()
    try:
        opts = TargetOptions(endpoints_file=args.endpoints, project_name=args.project_name,
                             env_files=args.env_file)
        target = make_target(args.target, cat, opts)
        target.setup()
        issuer = DevIssuer(target.endpoint("vault").url(), target.credentials().vault_token)
        ep = target.endpoint("opa")
    except (UsageError, TargetError, ContractFailure) as exc:
        print(f"policy_latency: {exc}", file=sys.stderr)
        return 2
    path = str(cat.policy["decision_path"])
    _, picks = golden()
    tokens: dict[tuple[str, str], str] = {}

    def mint(service: str, tenant: str) -> str:
        if (service, tenant) not in tokens:
            tokens[(service, tenant)] = issuer.mint(service, tenant)
        return tokens[(service, tenant)]

    try:
        cases: dict[str, object] = {label: golden_case(picks[label]).body(mint) for label in ("allow", "deny")}
        print(f"policy decision cost: allow = golden {picks['allow']!r}, deny = golden {picks['deny']!r}; "
              f"{args.warmup} warm-up decisions first; "
              f"{jwks_size(target.reachable_url(str(cat.identity['jwks_url'])))}")
        project = target.docker_project()
        spares = project is not None and not args.no_spares
        measure_opa(f"the target's OPA ({args.target})", ep.host, ep.port, path=path, cases=cases, args=args,
                    concurrent=not spares)
        if project is not None and spares:
            measure_spares(project, cases=cases, path=path, debug_path=str(cat.policy["debug_path"]), args=args)
        print(f"  (targets, issue 14: in-process eval median <= {TARGETS['eval_median_us']} µs; sequential p99 "
              f"unlimited <= {TARGETS['seq_p99_unlimited_ms']} ms; at the CPU limit with {args.clients} "
              f"clients >= {TARGETS['limited_rate']}/s and p99 <= {TARGETS['limited_p99_ms']} ms)")
    except (ContractFailure, IssuerError, LoadError, SpareError, TargetError, OSError) as exc:
        print(f"policy_latency: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
