"""The bench's helpers: the spare OPA, a copy of the live container (docker faked here),
optionally with another bundle or CFS period, measured at its address on the stack
network; the floor bundle; the JWKS size its header names; --cfs-periods."""

from __future__ import annotations

import json
import tarfile
from pathlib import Path
from typing import Any

import httpx
import pytest

from harness.bench import policy_latency, spare_opa

LIVE: dict[str, Any] = {
    "Config": {"Image": "soma-infra/opa:local", "Env": ["A=1"],
               "Cmd": ["run", "--server", "--addr=0.0.0.0:8181", "--config-file=/config/opa.yaml",
                       "--bundle", "/bundle/soma.tar.gz"]},
    "HostConfig": {"Memory": 536870912, "NanoCpus": 200000000},
    "NetworkSettings": {"Networks": {"soma-infra": {"IPAddress": "172.18.0.9"}}},
    "Mounts": [{"Type": "bind", "Source": "/repo/build/opa/soma.tar.gz", "Destination": "/bundle/soma.tar.gz"},
               {"Type": "bind", "Source": "/repo/infra/config/opa/opa.yaml", "Destination": "/config/opa.yaml"}],
}


@pytest.fixture()
def docker(monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    calls: list[list[str]] = []

    def fake(*args: str) -> str:
        calls.append(list(args))
        if args[:2] == ("inspect", "--format"):
            return "172.18.0.23"
        if args[0] == "inspect":
            return json.dumps([LIVE])
        return "container-id"

    monkeypatch.setattr(spare_opa, "_docker", fake)
    monkeypatch.setattr(spare_opa, "wait_until", lambda *a, **k: None)
    monkeypatch.setattr("subprocess.run", lambda *a, **k: None)
    return calls


def run_args(calls: list[list[str]]) -> list[str]:
    return next(c for c in calls if c[0] == "run")


def test_copy_keeps_mounts_and_yields_its_network_address(docker: list[list[str]]) -> None:
    with spare_opa.spare_opa("live", "spare", 0.2) as (host, port):
        assert (host, port) == ("172.18.0.23", 8181)
    args = run_args(docker)
    assert "/repo/build/opa/soma.tar.gz:/bundle/soma.tar.gz:ro" in args
    assert args[args.index("--cpus") + 1] == "0.2" and args[args.index("--network") + 1] == "soma-infra"
    assert "-p" not in args  # measured on the stack network, not through a host port proxy


def test_another_bundle_replaces_only_the_served_one(docker: list[list[str]], tmp_path: Path) -> None:
    floor = tmp_path / "floor.tar.gz"
    with spare_opa.spare_opa("live", "spare", None, floor):
        pass
    args = run_args(docker)
    assert f"{floor}:/bundle/soma.tar.gz:ro" in args
    assert "/repo/build/opa/soma.tar.gz:/bundle/soma.tar.gz:ro" not in args
    assert "/repo/infra/config/opa/opa.yaml:/config/opa.yaml:ro" in args and "--cpus" not in args


def test_another_cfs_period_keeps_the_cpu_share(docker: list[list[str]]) -> None:
    with spare_opa.spare_opa("live", "spare", 0.2, cfs_period_us=10_000):
        pass
    args = run_args(docker)
    assert args[args.index("--cpu-period") + 1] == "10000" and args[args.index("--cpu-quota") + 1] == "2000"
    assert "--cpus" not in args


def test_cfs_periods_are_milliseconds_within_the_kernels_bounds() -> None:
    parser = policy_latency.build_parser()
    assert parser.parse_args(["--cfs-periods", "10,5"]).cfs_periods == [10.0, 5.0]
    assert parser.parse_args([]).cfs_periods == []
    for bad in ("0.5", "ten", "2000", ","):
        with pytest.raises(SystemExit):
            parser.parse_args(["--cfs-periods", bad])


def test_a_bundle_that_is_not_a_mounted_file_cannot_be_swapped(monkeypatch: pytest.MonkeyPatch,
                                                                docker: list[list[str]], tmp_path: Path) -> None:
    baked: dict[str, Any] = {**LIVE, "Mounts": LIVE["Mounts"][1:]}
    monkeypatch.setattr(spare_opa, "_docker", lambda *a: json.dumps([baked]))
    with pytest.raises(spare_opa.SpareError, match="not a bind-mounted file"), \
            spare_opa.spare_opa("live", "spare", None, tmp_path / "floor.tar.gz"):
        pass


def test_floor_bundle_holds_the_one_rule_policy(tmp_path: Path) -> None:
    out = policy_latency.floor_bundle(tmp_path)
    with tarfile.open(out) as tar:
        names = sorted(tar.getnames())
        policy = tar.extractfile("/soma/floor.rego")
        assert policy is not None and b"allow if input.identity.token" in policy.read()
    assert names == ["/.manifest", "/soma/floor.rego"]
    assert out.stat().st_mode & 0o777 == 0o644


def test_bench_names_the_jwks_size_or_why_it_is_unknown(monkeypatch: pytest.MonkeyPatch) -> None:
    def get(url: str, **_: Any) -> httpx.Response:
        if "down" in url:
            raise httpx.ConnectError("refused")
        return httpx.Response(200, json={"keys": [{"kid": "a"}, {"kid": "b"}, {"kid": "c"}]})

    monkeypatch.setattr(httpx, "get", get)
    assert policy_latency.jwks_size("http://vault:8200/keys") == "the issuer's JWKS holds 3 keys"
    assert policy_latency.jwks_size("http://down:8200/keys") == "the issuer's JWKS could not be read (ConnectError)"
