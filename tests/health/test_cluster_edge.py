"""The gate's edge to the Kubernetes API as deploy.yml runs it: key material never outlives the run, exec plugins
never outlive --timeout, our retries are the only ones, redirects are not followed, every request's timeout is
cut to the deadline, credentials are refreshed before they expire, and only `wait-healthy` imports the client."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]


def tls_kubeconfig(write_kubeconfig, api, pki, b64, **user):
    """A kubeconfig whose key material is all inline (`-data`), so the client has to write it to files."""
    return write_kubeconfig(
        api.url,
        name="inline",
        cluster={"certificate-authority-data": b64(pki.ca_cert)},
        user={
            "token": api.token,
            "client-certificate-data": b64(pki.client_cert),
            "client-key-data": b64(pki.client_key),
            **user,
        },
    )


def gate_args(names, kubeconfig):
    args = ["wait-healthy", names.app, "--digest", names.new, "--kubeconfig", str(kubeconfig), "--interval", "0.02"]
    return [*args, "--timeout", "20"]  # a later --timeout wins


def test_no_key_material_is_left_in_the_temp_folder(
    tls_kube_api, pki, write_kubeconfig, cli, application, names, b64, tmp_path
):
    temp = tmp_path / "temp"
    temp.mkdir()
    env = {"TMPDIR": str(temp)}
    kubeconfig = tls_kubeconfig(write_kubeconfig, tls_kube_api, pki, b64)

    tls_kube_api.script(application(compared=names.new, running=(names.new,)))
    healthy = cli(*gate_args(names, kubeconfig), env=env)
    assert healthy.code == 0, healthy.stderr
    assert list(temp.iterdir()) == []

    tls_kube_api.forbidden_namespaces.add("argocd")
    forbidden = cli(*gate_args(names, kubeconfig), env=env)
    assert forbidden.code == 1 and "forbidden to read" in forbidden.stderr
    assert list(temp.iterdir()) == []

    # The client has written the CA from -data by the time it finds the client key missing.
    broken = write_kubeconfig(
        tls_kube_api.url,
        name="broken",
        cluster={"certificate-authority-data": b64(pki.ca_cert)},
        user={"client-certificate-data": b64(pki.client_cert), "client-key": str(tmp_path / "no-such.key")},
    )
    unusable = cli(*gate_args(names, broken), env=env)
    assert unusable.code == 2 and "File does not exist" in unusable.stderr
    assert list(temp.iterdir()) == []


def test_an_exec_plugins_client_certificate_is_removed_too(
    tls_kube_api, pki, write_kubeconfig, cli, application, names, b64, tmp_path
):
    temp = tmp_path / "temp"
    temp.mkdir()
    plugin = tmp_path / "cert-plugin"
    plugin.write_text(
        f"#!{sys.executable}\n"
        "import json, os\n"
        "info = json.loads(os.environ['KUBERNETES_EXEC_INFO'])\n"
        "status = {'clientCertificateData': open(os.environ['CERT']).read(),\n"
        "          'clientKeyData': open(os.environ['KEY']).read()}\n"
        "print(json.dumps({'apiVersion': info['apiVersion'], 'kind': 'ExecCredential', 'status': status}))\n"
    )
    plugin.chmod(0o755)
    kubeconfig = write_kubeconfig(
        tls_kube_api.url,
        name="exec-cert",
        cluster={"certificate-authority-data": b64(pki.ca_cert)},
        user={
            "exec": {
                "apiVersion": "client.authentication.k8s.io/v1",
                "command": str(plugin),
                "env": [{"name": "CERT", "value": str(pki.client_cert)}, {"name": "KEY", "value": str(pki.client_key)}],
            }
        },
    )
    # The fake API wants a token as well as the client certificate; this identity has only the certificate.
    tls_kube_api.script(application(compared=names.new, running=(names.new,)))
    result = cli(*gate_args(names, kubeconfig), env={"TMPDIR": str(temp)})
    assert result.code == 1 and "unauthorized to read" in result.stderr, result.stderr  # the TLS handshake passed
    assert list(temp.iterdir()) == []


def test_a_terminated_gate_removes_its_key_material(
    tls_kube_api, pki, write_kubeconfig, application, names, b64, tmp_path
):
    temp = tmp_path / "temp"
    temp.mkdir()
    kubeconfig = tls_kubeconfig(write_kubeconfig, tls_kube_api, pki, b64)
    tls_kube_api.script(application(health="Progressing", compared=names.new))
    env = {**os.environ, "TMPDIR": str(temp), "PYTHONPATH": str(REPO_ROOT)}
    gate = subprocess.Popen(
        [sys.executable, "-m", "pipelines", *gate_args(names, kubeconfig), "--timeout", "60"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        # Wait until the gate is polling: by then the client has written the CA, certificate and key under TMPDIR.
        for _ in range(300):
            if len(tls_kube_api.application_requests) >= 2:
                break
            time.sleep(0.05)
        written = [path for path in temp.rglob("*") if path.is_file()]
        assert len(written) == 3, written
        assert all(path.stat().st_mode & 0o077 == 0 for path in written)  # readable by us alone
        gate.send_signal(signal.SIGTERM)
        assert gate.wait(timeout=10) == 128 + signal.SIGTERM
    finally:
        gate.kill()
        gate.communicate()
    assert list(temp.iterdir()) == []


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return False
    return state != "Z"  # a zombie has ended; only its exit status waits to be collected


def test_an_exec_plugin_does_not_outlive_the_timeout(gate, write_kubeconfig, cli, names, tmp_path):
    pids = tmp_path / "pids"
    plugin = tmp_path / "stuck-plugin"
    plugin.write_text(
        f"#!{sys.executable}\n"
        "import os, subprocess, sys, time\n"
        "helper = subprocess.Popen(['sleep', '60'])\n"
        f"open({str(pids)!r}, 'w').write(f'{{os.getpid()}} {{helper.pid}}')\n"
        "print('waiting for a login that never comes', file=sys.stderr, flush=True)\n"
        "time.sleep(60)\n"
    )
    plugin.chmod(0o755)
    kubeconfig = write_kubeconfig(
        gate.api.url,
        name="stuck",
        user={"exec": {"apiVersion": "client.authentication.k8s.io/v1", "command": str(plugin)}},
    )
    started = time.monotonic()
    result = cli(*gate_args(names, kubeconfig), "--timeout", "2")
    took = time.monotonic() - started
    assert result.code == 1, result.stderr
    assert "did not finish within" in result.stderr and "exec credential plugin" in result.stderr
    assert took < 10, took
    plugin_pid, helper_pid = map(int, pids.read_text().split())
    assert not _alive(plugin_pid) and not _alive(helper_pid)
    assert gate.api.application_requests == []


class CountingServer:
    """A TCP server on loopback that accepts connections and closes them at once, counting them."""

    def __init__(self) -> None:
        self.socket = socket.create_server(("127.0.0.1", 0))
        self.port = self.socket.getsockname()[1]
        self.connections = 0
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while True:
            try:
                connection, _ = self.socket.accept()
            except OSError:
                return
            self.connections += 1
            connection.close()

    def close(self) -> None:
        self.socket.close()


def test_ours_are_the_only_retries(write_kubeconfig, cli, names):
    server = CountingServer()
    try:
        kubeconfig = write_kubeconfig(f"http://127.0.0.1:{server.port}")
        result = cli(*gate_args(names, kubeconfig), "--timeout", "2")
    finally:
        server.close()
    assert result.code == 1
    retries = result.stderr.count("retrying in")
    assert retries >= 2, result.stderr
    # urllib3 would otherwise retry each attempt 3 more times on its own.
    assert server.connections == retries + 1, (server.connections, result.stderr)


def test_redirects_are_not_followed(gate, names, reply):
    elsewhere = "/apis/argoproj.io/v1alpha1/namespaces/elsewhere/applications/percolate-api"
    gate.api.script(reply(302, b"", {"Location": elsewhere}))
    result = gate.run("--json")
    assert result.code == 1
    assert "answered HTTP 302" in result.json()["error"] and result.json()["cause"] == "corrupt"
    assert [request["path"] for request in gate.api.requests if request["path"] == elsewhere] == []


def test_every_request_ends_by_the_deadline(gate, application, names, reply):
    gate.api.script(reply(200, application(compared=names.new, running=(names.new,)), delay=8))
    started = time.monotonic()
    result = gate.run("--json", timeout="1")
    took = time.monotonic() - started
    assert result.code == 1
    assert "no answer in time (ReadTimeoutError" in result.json()["error"]
    assert took < 6, took  # not the 15 s read timeout, nor the reply's 8 s (a real wait: a sleep is not skipped)


def test_an_expiring_exec_credential_is_renewed_and_a_failed_renewal_is_an_error(
    gate, write_kubeconfig, cli, application, names, tmp_path
):
    runs = tmp_path / "runs"
    plugin = tmp_path / "short-lived"
    # Tokens expire within the client's five minutes of skew, so every request runs the plugin again;
    # the third run fails like an expired login.
    plugin.write_text(
        f"#!{sys.executable}\n"
        "import datetime, json, os, sys\n"
        f"runs = open({str(runs)!r}, 'a+')\n"
        "runs.write('x'); runs.seek(0); count = len(runs.read())\n"
        "if count >= 3: sys.exit('login expired')\n"
        "info = json.loads(os.environ['KUBERNETES_EXEC_INFO'])\n"
        "expiry = datetime.datetime.now(datetime.UTC) + datetime.timedelta(minutes=1)\n"
        f"status = {{'token': {names.token!r}, 'expirationTimestamp': expiry.strftime('%Y-%m-%dT%H:%M:%SZ')}}\n"
        "print(json.dumps({'apiVersion': info['apiVersion'], 'kind': 'ExecCredential', 'status': status}))\n"
    )
    plugin.chmod(0o755)
    kubeconfig = write_kubeconfig(
        gate.api.url,
        name="short",
        user={"exec": {"apiVersion": "client.authentication.k8s.io/v1", "command": str(plugin)}},
    )
    gate.api.script(application(health="Progressing", compared=names.new))
    result = cli(*gate_args(names, kubeconfig), "--json")
    assert result.code == 1
    assert "refreshing the credentials of context test" in result.json()["error"]
    assert "login expired" in result.json()["error"] and result.json()["cause"] == "unauthorized"
    assert len(runs.read_text()) == 3
    assert len(gate.api.application_requests) == 1  # the second read never went out with a stale token


def test_only_wait_healthy_imports_the_kubernetes_client(cli, names, tmp_path):
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}

    def imported(*args: str) -> set[str]:
        run = subprocess.run(
            [sys.executable, "-X", "importtime", "-m", "pipelines", *args],
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        return {line.rsplit("|", 1)[-1].strip() for line in run.stderr.splitlines() if line.startswith("import time:")}

    assert "kubernetes" not in imported("tag", "parse", "percolate-v0.1.0")
    # The control: the gate itself does import it.
    gate = imported("wait-healthy", names.app, "--digest", names.new, "--kubeconfig", str(tmp_path / "none"))
    assert "kubernetes" in gate
