"""The security contracts' judgement, on hand-made inspect/pod documents and image tars:
each posture fault is named with its container and cause, a hardened one passes.
(The live contracts themselves run against real stacks; see fixtures/faults/security-*.)"""

from __future__ import annotations

import copy
import io
import tarfile
from typing import Any

import pytest

from conformance.docker_engine import RunningContainer
from conformance.security import images, runtime

HARDENED: dict[str, Any] = {
    "Image": "sha256:abc",
    "HostConfig": {"ReadonlyRootfs": True, "CapDrop": ["ALL"], "CapAdd": None,
                   "SecurityOpt": ["no-new-privileges:true"], "NanoCpus": 300_000_000,
                   "Memory": 512 << 20, "NetworkMode": "soma-tc-1", "Privileged": False},
    "NetworkSettings": {"Ports": {"6379/tcp": [{"HostIp": "127.0.0.1", "HostPort": "40001"}]}},
}


def container(attrs: dict[str, Any] | None = None, uids: tuple[int, ...] = (999,)) -> RunningContainer:
    return RunningContainer("redis", "soma-tc-1-redis-1", attrs or copy.deepcopy(HARDENED), uids)


def test_hardened_container_passes() -> None:
    assert runtime.hardening_problems(container()) == []
    assert runtime.exposure_problems(container()) == []


@pytest.mark.parametrize(("change", "uids", "cause"), [
    ({}, (0, 999), "runs as root (uid 0)"),
    ({"ReadonlyRootfs": False}, (999,), "writable root filesystem"),
    ({"CapDrop": ["NET_RAW"]}, (999,), "capabilities not all dropped"),
    ({"CapAdd": ["NET_ADMIN"]}, (999,), "capabilities added"),
    ({"SecurityOpt": []}, (999,), "no-new-privileges not set"),
    ({"NanoCpus": 0}, (999,), "no CPU limit"),
    ({"Memory": 0}, (999,), "no memory limit"),
])
def test_each_hardening_fault_is_named(change: dict[str, Any], uids: tuple[int, ...], cause: str) -> None:
    attrs = copy.deepcopy(HARDENED)
    attrs["HostConfig"].update(change)
    problems = runtime.hardening_problems(container(attrs, uids))
    assert problems == [f"redis (soma-tc-1-redis-1): {problems[0].split(': ', 1)[1]}"]
    assert cause in problems[0]


@pytest.mark.parametrize("host_ip", ["0.0.0.0", "", "::", "192.168.1.4"])
def test_non_loopback_port_is_named(host_ip: str) -> None:
    attrs = copy.deepcopy(HARDENED)
    attrs["NetworkSettings"]["Ports"]["6379/tcp"][0]["HostIp"] = host_ip
    (problem,) = runtime.exposure_problems(container(attrs))
    assert problem.startswith("redis (soma-tc-1-redis-1): port 6379/tcp published on")
    assert "not loopback" in problem


def test_ipv6_loopback_is_loopback() -> None:
    attrs = copy.deepcopy(HARDENED)
    attrs["NetworkSettings"]["Ports"]["6379/tcp"].append({"HostIp": "::1", "HostPort": "40001"})
    assert runtime.exposure_problems(container(attrs)) == []


def pod(ctx: dict[str, Any], limits: dict[str, str] | None = None, **spec: Any) -> dict[str, Any]:
    return {"metadata": {"name": "redis-0"}, "status": {"phase": "Running"},
            "spec": {"securityContext": {"runAsNonRoot": True, "runAsUser": 999}, **spec,
                     "containers": [{"name": "redis", "securityContext": ctx,
                                     "resources": {"limits": limits or {"cpu": "300m", "memory": "512Mi"}}}]}}


GOOD_CTX = {"readOnlyRootFilesystem": True, "allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}}


def test_pod_judgement() -> None:
    assert runtime.pod_hardening_problems(pod(GOOD_CTX)) == []
    assert "may run as root" in runtime.pod_hardening_problems(pod({**GOOD_CTX, "runAsUser": 0}))[0]
    assert "writable root filesystem" in runtime.pod_hardening_problems(
        pod({**GOOD_CTX, "readOnlyRootFilesystem": False}))[0]
    assert "no memory limit" in runtime.pod_hardening_problems(pod(GOOD_CTX, {"cpu": "1"}))[0]
    assert runtime.pod_exposure_problems(pod(GOOD_CTX, hostNetwork=True)) == ["pod redis-0: hostNetwork"]
    svc = {"metadata": {"name": "redis"}, "spec": {"type": "NodePort"}}
    assert runtime.service_exposure_problems([svc], {"redis"}) == [
        "service redis: type NodePort (contract: ClusterIP only)"]


# --- image scanning -----------------------------------------------------------------------

SECRET = images.Needle("redis password", b"soma-dev-password")
PEM = (b"-----BEGIN RSA PRIVATE KEY-----\nMIIEpAIBAAKCAQEAu1SU1LfVLPHCozMxH2Mo4lgOEePzNm0tRge\n"
       b"-----END RSA PRIVATE KEY-----\n")


def tar_of(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def saved_image(layer_files: dict[str, bytes]) -> list[bytes]:
    """A `docker save`-shaped tar (one layer), delivered in small chunks like the SDK."""
    whole = tar_of({"manifest.json": b"[]", "abcdef123456/layer.tar": tar_of(layer_files)})
    return [whole[i:i + 1000] for i in range(0, len(whole), 1000)]


def test_secret_in_a_layer_file_is_found_with_its_path() -> None:
    big = b"x" * (images.CHUNK - 5) + b"soma-dev-password" + b"y" * 100  # straddles a chunk border
    findings = images.scan_saved(iter(saved_image({"etc/app.env": big, "ok": b"nothing"})), [SECRET])
    assert findings == ["layer abcdef123456: /etc/app.env: redis password"]


def test_pem_private_key_is_found_but_a_public_one_is_not() -> None:
    layer = {"etc/ssl/private/key.pem": PEM, "etc/ssl/certs/ca.pem": b"-----BEGIN CERTIFICATE-----\n"}
    assert images.scan_saved(iter(saved_image(layer)), []) == [
        "layer abcdef123456: /etc/ssl/private/key.pem: PEM private key"]


def test_metadata_env_labels_history() -> None:
    attrs = {"Config": {"Env": ["PATH=/bin", "REDIS_PASSWORD=soma-dev-password"], "Labels": {"k": "v"}}}
    history = [{"CreatedBy": "/bin/sh -c #(nop) ARG LEAK=soma-dev-password"}]
    findings = images.scan_metadata(attrs, history, [SECRET])
    assert findings[0] == "config env REDIS_PASSWORD: redis password"
    assert findings[1].startswith("history step") and findings[1].endswith("redis password")


def test_a_bare_pem_header_string_in_a_binary_is_not_a_key() -> None:
    binary = b"\x00-----BEGIN RSA PRIVATE KEY-----\x00-----BEGIN PRIVATE KEY-----\x00\x7fELF"
    assert images.find_in_text(binary, []) == []
    assert images.find_in_text(b"-----BEGIN ENCRYPTED PRIVATE KEY-----\nMIIFHDBOBgkqhkiG9w0BBQ0w\n", []) == [
        "PEM private key"]


def test_allow_list_only_covers_pem_keys_at_matching_paths() -> None:
    allowed = [{"path": "/usr/lib/*/libgnutls.so.*", "finding": "PEM private key"}]
    findings = ["layer a: /usr/lib/x86_64-linux-gnu/libgnutls.so.30.34.3: PEM private key",
                "layer a: /usr/lib/x86_64-linux-gnu/libgnutls.so.30.34.3: redis password",
                "layer b: /etc/ssl/private/key.pem: PEM private key"]
    problems, ok = images.split_allowed(findings, allowed)
    assert ok == findings[:1]
    assert problems == findings[1:]
