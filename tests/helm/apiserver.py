"""A real Kubernetes control plane's API half, the way controller-runtime's envtest runs
it: etcd + kube-apiserver on loopback (no scheduler, no kubelet), with the PodSecurity
admission plugin. Binaries come from infra/scripts/go-tools.sh (etcd) and
infra/scripts/kube-tools.sh (kube-apiserver). Everything is bounded and always stopped."""

from __future__ import annotations

import atexit
import secrets
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from types import TracebackType

from conformance.waiting import WaitTimeout, wait_until
from tests.helm import chart

START_TIMEOUT_S = 180.0
STOP_TIMEOUT_S = 15.0
KUBECTL_TIMEOUT_S = 120.0
ADMISSION = ("NamespaceLifecycle,ServiceAccount,LimitRanger,DefaultStorageClass,ResourceQuota,"
             "PodSecurity,MutatingAdmissionWebhook,ValidatingAdmissionPolicy,ValidatingAdmissionWebhook")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def apiserver_args(*, etcd_url: str, port: int, cert_dir: Path, sa_key: Path, tokens: Path) -> list[str]:
    """kube-apiserver flags: loopback only, token auth, RBAC, PodSecurity admission.
    --allow-privileged=true so that a refused privileged pod is PodSecurity's doing."""
    return [
        f"--etcd-servers={etcd_url}", f"--etcd-prefix=/registry-{secrets.token_hex(4)}",
        "--bind-address=127.0.0.1", "--advertise-address=127.0.0.1", f"--secure-port={port}",
        f"--cert-dir={cert_dir}", "--service-cluster-ip-range=10.96.0.0/16",
        "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
        f"--service-account-key-file={sa_key}", f"--service-account-signing-key-file={sa_key}",
        f"--token-auth-file={tokens}", "--authorization-mode=RBAC",
        "--allow-privileged=true", f"--enable-admission-plugins={ADMISSION}",
        "--enable-priority-and-fairness=false", "--endpoint-reconciler-type=none",
        "--v=0",
    ]


def kubeconfig_text(server: str, token: str) -> str:
    return (
        "apiVersion: v1\nkind: Config\n"
        f"clusters:\n- name: soma-check\n  cluster:\n    server: {server}\n"
        "    insecure-skip-tls-verify: true\n"
        f"users:\n- name: admin\n  user:\n    token: {token}\n"
        "contexts:\n- name: soma-check\n  context: {cluster: soma-check, user: admin}\n"
        "current-context: soma-check\n"
    )


class ControlPlane:
    """etcd + kube-apiserver in a temporary directory; use as a context manager."""

    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="soma-apiserver-"))
        self.kubeconfig = self.dir / "kubeconfig"
        self._procs: list[subprocess.Popen[bytes]] = []
        self.started_in_s = 0.0

    def __enter__(self) -> ControlPlane:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    def _spawn(self, name: str, cmd: list[str]) -> subprocess.Popen[bytes]:
        log = (self.dir / f"{name}.log").open("wb")
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        self._procs.append(proc)
        return proc

    def log_tail(self, name: str, lines: int = 30) -> str:
        path = self.dir / f"{name}.log"
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) if path.exists() else ""

    def start(self) -> None:
        atexit.register(self.stop)  # also on an interpreter exit that skips the fixture teardown
        began = time.monotonic()
        deadline = began + START_TIMEOUT_S
        client, peer = free_port(), free_port()
        etcd_url = f"http://127.0.0.1:{client}"
        etcd = self._spawn("etcd", [
            str(chart.tool("etcd")), f"--data-dir={self.dir / 'etcd'}", "--name=soma-check",
            f"--listen-client-urls={etcd_url}", f"--advertise-client-urls={etcd_url}",
            f"--listen-peer-urls=http://127.0.0.1:{peer}",
            f"--initial-advertise-peer-urls=http://127.0.0.1:{peer}",
            f"--initial-cluster=soma-check=http://127.0.0.1:{peer}",
            "--unsafe-no-fsync", "--log-level=warn"])
        self._wait(lambda: _http_ok(f"{etcd_url}/health"), etcd, "etcd", deadline)

        sa_key = self.dir / "sa.key"
        subprocess.run(["openssl", "genrsa", "-out", str(sa_key), "2048"], check=True,
                       capture_output=True, timeout=60)
        token = secrets.token_hex(16)
        tokens = self.dir / "tokens.csv"
        tokens.write_text(f'{token},soma-admin,soma-admin,"system:masters"\n', encoding="utf-8")
        port = free_port()
        cert_dir = self.dir / "certs"
        cert_dir.mkdir()
        api = self._spawn("kube-apiserver", [str(chart.tool("kube-apiserver")), *apiserver_args(
            etcd_url=etcd_url, port=port, cert_dir=cert_dir, sa_key=sa_key, tokens=tokens)])
        self.kubeconfig.write_text(kubeconfig_text(f"https://127.0.0.1:{port}", token), encoding="utf-8")
        self._wait(lambda: self.kubectl("get", "--raw", "/readyz", check=False, timeout=10).returncode == 0,
                   api, "kube-apiserver", deadline)
        self.started_in_s = time.monotonic() - began

    def _wait(self, ready: Callable[[], bool], proc: subprocess.Popen[bytes], name: str, deadline: float) -> None:
        def up() -> bool:
            if proc.poll() is not None:
                raise RuntimeError(f"{name} exited {proc.returncode}:\n{self.log_tail(name)}")
            return ready()

        try:
            wait_until(up, timeout=max(0.0, deadline - time.monotonic()), what=f"{name} ready")
        except WaitTimeout:
            raise TimeoutError(f"{name} not ready within {START_TIMEOUT_S:.0f}s:\n{self.log_tail(name)}") from None

    def stop(self) -> None:
        for proc in reversed(self._procs):
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(timeout=STOP_TIMEOUT_S)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(timeout=STOP_TIMEOUT_S)
        self._procs.clear()
        shutil.rmtree(self.dir, ignore_errors=True)

    def kubectl(self, *args: str, check: bool = True, timeout: float = KUBECTL_TIMEOUT_S,
                input_text: str | None = None) -> subprocess.CompletedProcess[str]:
        return chart.run(["kubectl", "--kubeconfig", str(self.kubeconfig), "--request-timeout=60s", *args],
                         timeout=timeout, check=check, input_text=input_text)


def _http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as resp:  # loopback etcd only
            return int(resp.status) == 200
    except OSError:
        return False
