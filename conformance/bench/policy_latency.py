"""Decision latency of the live OPA: p50/p99 over sequential decisions on one keep-alive
connection, for the allowed golden readiness case (JWT verified in OPA) and the denied one.

    python3 -m conformance.bench.policy_latency [--target compose] [-n 2000]

A measurement to print and track, not a timed assertion: a shared 2-core machine makes
absolute numbers noisy, so the contracts never fail on them.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

from conformance import catalog as catalog_mod
from conformance.errors import TargetError, UsageError
from conformance.identity.tokens import DevIssuer, IssuerError
from conformance.policy_cases import golden, golden_case
from conformance.policy_probe import DecisionClient
from conformance.probes.clients import ContractFailure
from conformance.targets import TARGET_NAMES, make_target
from conformance.targets.base import TargetOptions

TARGET_P99_MS = 2.0


def percentile(sorted_ms: list[float], q: float) -> float:
    """Nearest-rank percentile of an ascending list."""
    rank = max(1, round(q / 100 * len(sorted_ms)))
    return sorted_ms[min(rank, len(sorted_ms)) - 1]


def measure(client: DecisionClient, body: dict[str, object], n: int, warmup: int) -> list[float]:
    """Milliseconds per decision on the contract path, sorted."""
    for _ in range(warmup):
        client.allow(body)
    out = []
    for _ in range(n):
        t0 = time.perf_counter()
        client.allow(body)
        out.append((time.perf_counter() - t0) * 1000)
    return sorted(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="policy_latency", description=__doc__.split("\n\n")[0])
    parser.add_argument("--target", default="compose", choices=TARGET_NAMES)
    parser.add_argument("--endpoints", default=None, help="endpoints file for --target=external")
    parser.add_argument("-n", type=int, default=2000, help="decisions per case (default 2000)")
    parser.add_argument("--warmup", type=int, default=100)
    args = parser.parse_args(argv)
    cat = catalog_mod.load()
    try:
        target = make_target(args.target, cat, TargetOptions(endpoints_file=args.endpoints))
        target.setup()
        issuer = DevIssuer(target.endpoint("vault").url(), target.credentials().vault_token)
        client = DecisionClient(target.endpoint("opa"), cat)
    except (UsageError, TargetError, ContractFailure) as exc:
        print(f"policy_latency: {exc}", file=sys.stderr)
        return 2
    _, picks = golden()
    tokens: dict[tuple[str, str], str] = {}

    def mint(service: str, tenant: str) -> str:
        if (service, tenant) not in tokens:
            tokens[(service, tenant)] = issuer.mint(service, tenant)
        return tokens[(service, tenant)]

    try:
        print(f"policy decision latency: {client.ep}, POST {client.allow_path}, "
              f"{args.n} sequential decisions per case after {args.warmup} warm-up, one connection")
        for label in ("allow", "deny"):
            case = golden_case(picks[label])
            got = client.allow(case.body(mint))
            ms = measure(client, case.body(mint), args.n, args.warmup)
            print(f"  {label:5} ({case.name}; answer {got}): p50 {percentile(ms, 50):.3f} ms  "
                  f"p90 {percentile(ms, 90):.3f} ms  p99 {percentile(ms, 99):.3f} ms  "
                  f"max {ms[-1]:.3f} ms  mean {statistics.fmean(ms):.3f} ms")
        print(f"  (target p99 <= {TARGET_P99_MS} ms; includes the client's HTTP round trip)")
    except (ContractFailure, IssuerError) as exc:
        print(f"policy_latency: {exc}", file=sys.stderr)
        return 1
    finally:
        client.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
