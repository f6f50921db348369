"""Publishing the chart (issue 15): `make helm-publish` pushes it to a real OCI registry
(CNCF distribution, built from the Go module proxy, on loopback) and `make helm-pages`
indexes it for a static host (python's http.server on loopback). From each, `helm pull`
gives back the very package and `helm template` renders every overlay byte for byte like
the local chart."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from conformance.waiting import WaitTimeout, wait_until
from tests.helm import chart
from tests.helm.conftest import SUMMARY

START_TIMEOUT_S = 30


def free_port() -> int:
    import socket
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_http(url: str, what: str, proc: subprocess.Popen[bytes]) -> None:
    def answers() -> bool:
        if proc.poll() is not None:
            raise AssertionError(f"{what} exited {proc.returncode} before answering {url}")
        return httpx.get(url, timeout=2).status_code == 200

    try:
        wait_until(answers, timeout=START_TIMEOUT_S, interval=0.3, retry_on=(httpx.HTTPError,),
                   what=f"{what} answering {url}")
    except WaitTimeout:
        raise AssertionError(f"{what} did not answer {url} within {START_TIMEOUT_S}s") from None


@pytest.fixture(scope="module")
def helm_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """helm's config, cache and registry login state in a temp dir (never ~/.config/helm)."""
    home = tmp_path_factory.mktemp("helmhome")
    env = dict(os.environ)
    for var in ("HELM_CACHE_HOME", "HELM_CONFIG_HOME", "HELM_DATA_HOME"):
        env[var] = str(home / var.lower())
    env["HELM_REGISTRY_CONFIG"] = str(home / "registry.json")
    env["HELM_REPOSITORY_CONFIG"] = str(home / "repositories.yaml")
    return env


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A CNCF distribution registry on 127.0.0.1:<free port>, storage in a temp dir."""
    work = tmp_path_factory.mktemp("registry")
    port = free_port()
    cfg = work / "config.yml"
    cfg.write_text(
        "version: 0.1\n"
        "log: {level: error}\n"
        f"storage: {{filesystem: {{rootdirectory: {work / 'data'}}}}}\n"
        f"http: {{addr: '127.0.0.1:{port}'}}\n", encoding="utf-8")
    # no OTLP export attempts: traffic stays on loopback
    env = {**os.environ, "OTEL_TRACES_EXPORTER": "none", "OTEL_SDK_DISABLED": "true"}
    proc = subprocess.Popen([str(chart.tool("registry")), "serve", str(cfg)], env=env,
                            stdout=subprocess.DEVNULL, stderr=(work / "registry.log").open("wb"))
    try:
        wait_http(f"http://127.0.0.1:{port}/v2/", "the OCI registry", proc)
        yield f"127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=20)


@pytest.fixture(scope="module")
def chart_meta() -> tuple[str, str]:
    text = chart.helm("show", "chart", str(chart.CHART)).stdout
    fields = dict(line.split(": ", 1) for line in text.splitlines() if ": " in line and not line.startswith(" "))
    return fields["name"].strip(), fields["version"].strip()


def make(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(["make", "--no-print-directory", "-C", str(chart.ROOT), *args],
                          capture_output=True, text=True, timeout=600, env=env, check=False)
    assert proc.returncode == 0, f"make {' '.join(args)}:\n{proc.stderr}{proc.stdout}"
    return proc


def helm_in(env: dict[str, str], *args: str) -> str:
    """helm with the temp config/cache of `env`; a failure shows helm's own message."""
    proc = subprocess.run([str(chart.tool("helm")), *args], capture_output=True, text=True, timeout=180,
                          env=env, check=False)
    assert proc.returncode == 0, f"helm {' '.join(args)}: {proc.stderr.strip()}"
    return proc.stdout


def local_render(overlay: str) -> str:
    return chart.helm(*chart.template_args(overlay)).stdout


def published_render(source: list[str], overlay: str, env: dict[str, str]) -> str:
    return helm_in(env, "template", chart.RELEASE, *source, "--kube-version", chart.kube_version(),
                   "-f", str(chart.values_file(overlay)))


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_oci_push_pull_template_byte_identical(registry: str, helm_env: dict[str, str], chart_meta: tuple[str, str],
                                               tmp_path: Path) -> None:
    name, version = chart_meta
    dist = tmp_path / "dist"
    t0 = time.monotonic()
    pushed = make("helm-publish", f"REGISTRY=oci://{registry}/charts", "HELM_PUSH_FLAGS=--plain-http",
                  f"HELM_DIST={dist}", env=helm_env)
    push_s = time.monotonic() - t0
    assert f"Pushed: {registry}/charts/{name}:{version}" in pushed.stdout + pushed.stderr, pushed.stdout + pushed.stderr
    ref = f"oci://{registry}/charts/{name}"
    pulled = tmp_path / "pulled"
    pulled.mkdir()
    helm_in(helm_env, "pull", ref, "--version", version, "--plain-http", "-d", str(pulled))
    tgz = f"{name}-{version}.tgz"
    assert sha256(pulled / tgz) == sha256(dist / tgz), "the pulled package differs from the pushed one"
    for overlay in chart.OVERLAYS:
        remote = published_render([ref, "--version", version, "--plain-http"], overlay, helm_env)
        assert remote == local_render(overlay), f"{overlay}: helm template {ref} differs from the local chart"
    SUMMARY.append(f"helm-publish: pushed {tgz} to oci://{registry}/charts in {push_s:.1f}s (make, incl. package); "
                   f"pull sha256-identical; {len(chart.OVERLAYS)} overlays render byte-identical from OCI")


@pytest.fixture(scope="module")
def static_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, str]]:
    """python -m http.server on 127.0.0.1:<free port>, serving a temp dir (the 'Pages' site)."""
    site = tmp_path_factory.mktemp("pages")
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1",
                             "--directory", str(site)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_http(f"http://127.0.0.1:{port}/", "http.server", proc)
        yield site, f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def test_pages_index_pull_template_byte_identical(static_site: tuple[Path, str], helm_env: dict[str, str],
                                                  chart_meta: tuple[str, str], tmp_path: Path) -> None:
    site, url = static_site
    name, version = chart_meta
    done = make("helm-pages", f"URL={url}", f"HELM_DIST={site}", env=helm_env)
    assert "index.yaml" in done.stdout, done.stdout
    index = (site / "index.yaml").read_text(encoding="utf-8")
    assert f"{url}/{name}-{version}.tgz" in index, index[:400]
    pulled = tmp_path / "pulled"
    pulled.mkdir()
    helm_in(helm_env, "pull", name, "--repo", url, "--version", version, "-d", str(pulled))
    tgz = f"{name}-{version}.tgz"
    assert sha256(pulled / tgz) == sha256(site / tgz), "the downloaded package differs from the indexed one"
    for overlay in chart.OVERLAYS:
        remote = published_render([name, "--repo", url, "--version", version], overlay, helm_env)
        assert remote == local_render(overlay), f"{overlay}: helm template --repo {url} differs from the local chart"
    SUMMARY.append(f"helm-pages: index.yaml + {tgz} served by http.server at {url}; pull sha256-identical; "
                   f"{len(chart.OVERLAYS)} overlays render byte-identical from the index")


def test_publish_refuses_missing_or_non_oci_registry(helm_env: dict[str, str]) -> None:
    for args, error in ((["helm-publish"], "REGISTRY=oci://"), (["helm-publish", "REGISTRY=http://x"], "must start with oci://")):
        proc = subprocess.run(["make", "--no-print-directory", "-C", str(chart.ROOT), *args], capture_output=True,
                              text=True, timeout=600, env=helm_env, check=False)
        assert proc.returncode != 0 and error in proc.stderr, proc.stderr
