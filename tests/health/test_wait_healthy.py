"""`wait-healthy` as deploy.yml runs it: a subprocess reading Applications from a loopback Kubernetes API."""

from __future__ import annotations

import json
import sys

from pipelines.core.catalog import image_projects

GATE_ERROR = "did not become healthy"


def test_waits_through_out_of_sync_and_progressing_until_synced_and_healthy(gate, application, names):
    gate.api.script(
        application(sync="OutOfSync", health="Healthy", pinned=names.old, compared=names.old, running=(names.old,)),
        application(sync="OutOfSync", health="Healthy", pinned=names.new, compared=names.old, running=(names.old,)),
        application(
            sync="OutOfSync", health="Progressing", compared=names.new, running=(names.old, names.new), phase="Running"
        ),
        application(sync="Synced", health="Progressing", compared=names.new, running=(names.old, names.new)),
        application(sync="Synced", health="Healthy", compared=names.new, running=(names.new,)),
    )
    result = gate.run("--json")
    assert result.code == 0, result.stderr
    data = result.json()
    assert (data["app"], data["namespace"], data["project"], data["digest"]) == (
        names.app,
        "argocd",
        "percolate",
        names.new,
    )
    assert (data["outcome"], data["sync"], data["health"], data["failure"]) == ("healthy", "Synced", "Healthy", None)
    assert data["running_images"] == [f"{names.repository}@{names.new}"]
    assert data["elapsed_seconds"] >= 0
    progress = [line for line in result.stderr.splitlines() if line.startswith("[")]
    assert len(progress) == 5, result.stderr  # one line per state change, none repeated
    assert "does not pin" in progress[0] and "has not yet compared" in progress[1]
    assert "operation Running" in progress[2] and "health is Progressing" in progress[3]
    assert "sync Synced, health Healthy" in progress[4]
    assert len(gate.api.application_requests) == 5
    assert {r["headers"]["authorization"] for r in gate.api.application_requests} == {f"Bearer {names.token}"}


def test_text_output_for_people(gate, application, names):
    gate.api.script(application(compared=names.new, running=(names.new,)))
    result = gate.run()
    assert result.code == 0, result.stderr
    assert result.stdout.startswith(f"{names.app} is Synced and Healthy with {names.new} (after ")
    assert f"waiting up to 20s for {names.app} (percolate) in namespace argocd" in result.stderr


def test_a_previous_revision_that_is_degraded_does_not_fail_the_gate(gate, application, names):
    gate.api.script(
        application(health="Degraded", pinned=names.new, compared=names.old, running=(names.old,)),
        application(compared=names.new, running=(names.new,)),
    )
    result = gate.run("--json")
    assert result.code == 0, result.stderr
    assert "previous revision" in result.stderr


def test_degraded_with_the_new_image_fails_with_conditions_and_health_messages(gate, application, names):
    gate.api.script(
        application(sync="Synced", health="Progressing", compared=names.new, running=(names.new,)),
        application(
            health="Degraded",
            compared=names.new,
            running=(names.new,),
            health_message="Deployment is degraded",
            conditions=(("SyncError", "Failed sync attempt to 1a1a: one or more objects failed to apply"),),
            resources=(
                (
                    "Deployment",
                    "percolate-api",
                    "Degraded",
                    'Deployment "percolate-api" exceeded its progress deadline',
                ),
            ),
        ),
    )
    result = gate.run()
    assert result.code == 1
    lines = result.stdout.splitlines()
    assert lines[0].startswith(f"{names.app} FAILED after ")
    assert "health Degraded: Deployment is degraded" in lines[0]
    assert "  health     Degraded  (Deployment is degraded)" in lines
    assert "    SyncError: Failed sync attempt to 1a1a: one or more objects failed to apply" in lines
    assert (
        '    Deployment percolate/percolate-api: Degraded - Deployment "percolate-api" exceeded its progress deadline'
        in lines
    )
    assert GATE_ERROR in result.stderr and "rollback percolate" in result.stderr
    assert "Traceback" not in result.stderr

    gate.api.script(application(health="Degraded", compared=names.new, conditions=(("ComparisonError", "rpc error"),)))
    data = gate.run("--json").json()
    assert (data["outcome"], data["failure"], data["health"]) == ("failed", "degraded", "Degraded")
    assert data["conditions"] == [
        {"type": "ComparisonError", "message": "rpc error", "lastTransitionTime": "2025-10-25T14:31:00Z"}
    ]


def test_a_failed_sync_operation_fails_the_gate(gate, application, names):
    gate.api.script(
        application(
            sync="OutOfSync",
            health="Healthy",
            compared=names.old,
            running=(names.old,),
            phase="Failed",
            synced_digest=names.new,
            operation_message="one or more objects failed to apply, reason: admission webhook denied",
        ),
    )
    result = gate.run("--json")
    assert result.code == 1
    data = result.json()
    assert (data["outcome"], data["failure"], data["operation_phase"]) == ("failed", "sync-failed", "Failed")
    assert (
        data["reason"] == "sync operation Failed: one or more objects failed to apply, reason: admission webhook denied"
    )


def test_never_healthy_times_out_with_the_last_state(gate, application, names):
    gate.api.script(
        application(
            sync="Synced",
            health="Progressing",
            compared=names.new,
            running=(names.old, names.new),
            conditions=(("OrphanedResourceWarning", "1 orphaned resource"),),
        )
    )
    result = gate.run("--json", timeout="60", interval="1")
    assert result.code == 1
    data = result.json()
    assert (data["outcome"], data["health"], data["failure"]) == ("timeout", "Progressing", None)
    assert data["reason"].startswith(f"not Synced and Healthy with {names.new} within 60s; last: health is Progressing")
    assert data["conditions"][0]["type"] == "OrphanedResourceWarning"
    assert len(gate.api.application_requests) >= 2
    assert f"{GATE_ERROR} with {names.new} (timeout)" in result.stderr


def test_healthy_with_a_different_digest_keeps_waiting(gate, application, names):
    stale = application(pinned=names.old, compared=names.old, running=(names.old,))
    gate.api.script(stale, stale, stale, application(compared=names.new, running=(names.new,)))
    assert gate.run("--json").json()["outcome"] == "healthy"
    assert len(gate.api.application_requests) == 4

    gate.api.script(stale)
    timed_out = gate.run("--json", timeout="60", interval="1")
    assert timed_out.code == 1
    assert timed_out.json()["outcome"] == "timeout"
    assert f"does not pin {names.new}" in timed_out.json()["reason"]


def test_unavailable_answers_are_retried_within_the_timeout(gate, application, names, reply):
    gate.api.script(
        reply(503, {"kind": "Status", "message": "etcdserver: leader changed", "code": 503}),
        reply(429, {"kind": "Status", "message": "Too many requests", "code": 429}, {"Retry-After": "1"}),
        reply(502, b"<html>bad gateway</html>", {"Content-Type": "text/html"}),
        application(compared=names.new, running=(names.new,)),
    )
    result = gate.run("--json")
    assert result.code == 0, result.stderr
    assert "answered HTTP 503: etcdserver: leader changed; retrying" in result.stderr
    # The policy's own first waits are shorter than the Retry-After the server asked for.
    assert "answered HTTP 429: Too many requests; retrying in 1.0s" in result.stderr
    assert "answered HTTP 502: <html>bad gateway</html>; retrying" in result.stderr
    assert len(gate.api.application_requests) == 4


def test_an_api_down_for_the_whole_wait_is_an_error_without_an_outcome(cli, write_kubeconfig, free_port, names):
    kubeconfig = write_kubeconfig(f"http://127.0.0.1:{free_port}")
    result = cli(
        "wait-healthy",
        names.app,
        "--digest",
        names.new,
        "--kubeconfig",
        str(kubeconfig),
        "--interval",
        "0.05",
        "--timeout",
        "0.5",
        "--json",
    )
    assert result.code == 1
    assert "unreachable (ConnectionRefusedError" in result.stderr and "gave up after" in result.stderr
    assert "retrying in" in result.stderr  # retried until the deadline, not given up at the first refusal
    assert "outcome" not in result.json() and result.json()["exit_code"] == 1
    assert result.json()["cause"] == "unavailable"
    assert "Traceback" not in result.stderr


def test_an_api_lost_after_the_first_read_ends_as_a_timeout_with_the_last_state(gate, application, names, reply):
    gate.api.script(application(health="Progressing", compared=names.new), reply(503, {"message": "down"}))
    result = gate.run("--json", timeout="60", interval="1")
    assert result.code == 1
    data = result.json()
    assert (data["outcome"], data["health"]) == ("timeout", "Progressing")
    assert "stayed unavailable" in data["reason"]


def test_an_application_missing_from_the_namespace_is_a_clear_error(gate, application, names):
    gate.api.script(application(), namespace="argocd")
    result = gate.run("--namespace", "argo-cd", "--json")
    assert result.code == 1
    error = result.json()["error"]
    assert f"not found: Argo CD Application '{names.app}' in namespace 'argo-cd'" in error
    assert 'applications.argoproj.io "percolate-api" not found' in error
    assert "--namespace" in result.json()["hint"]


def test_a_rejected_token_is_a_clear_error(gate, application, write_kubeconfig, cli, names):
    gate.api.script(application())
    wrong = write_kubeconfig(gate.api.url, user={"token": "expired"}, name="wrong")
    result = cli("wait-healthy", names.app, "--digest", names.new, "--kubeconfig", str(wrong), "--timeout", "5")
    assert result.code == 1
    assert (
        f"error: unauthorized to read Argo CD Application '{names.app}' in namespace 'argocd' (Unauthorized)"
        in result.stderr
    )
    assert "credentials of context test" in result.stderr and "were rejected" in result.stderr
    assert len(gate.api.application_requests) == 1  # not retried


def test_a_forbidden_namespace_names_the_permission_to_grant(gate, application, names):
    gate.api.script(application())
    gate.api.forbidden_namespaces.add("argocd")
    result = gate.run()
    assert result.code == 1
    assert "error: forbidden to read Argo CD Application" in result.stderr
    assert 'cannot get resource "applications"' in result.stderr
    assert "kubectl auth can-i get applications.argoproj.io -n argocd" in result.stderr


def test_a_server_that_is_not_the_kubernetes_api_is_reported(gate, names, reply):
    gate.api.script(reply(200, {"kind": "Status", "status": "Success"}))
    result = gate.run()
    assert result.code == 1
    assert "answered with a Status object, not the Argo CD Application" in result.stderr
    gate.api.script(reply(200, b"<html>login</html>", {"Content-Type": "text/html"}))
    assert "something other than a JSON object" in gate.run().stderr


def test_kubeconfig_from_the_environment_and_a_named_context(
    kube_api, write_kubeconfig, cli, application, names, tmp_path
):
    kube_api.script(application(compared=names.new, running=(names.new,)))
    decoy = write_kubeconfig("https://unreachable.invalid", name="first", context="staging")
    real = write_kubeconfig(kube_api.url, name="second", context="prod")
    result = cli(
        "wait-healthy",
        names.app,
        "--digest",
        names.new,
        "--context",
        "prod",
        "--interval",
        "0.02",
        "--json",
        env={"KUBECONFIG": f"{decoy}:{real}", "HOME": str(tmp_path)},
    )
    assert result.code == 0, result.stderr
    assert "as context prod of" in result.stderr


def test_tls_with_the_kubeconfigs_ca_and_client_certificate(
    tls_kube_api, pki, write_kubeconfig, cli, application, names, b64
):
    tls_kube_api.script(application(compared=names.new, running=(names.new,)))
    kubeconfig = write_kubeconfig(
        tls_kube_api.url,
        # -data wins over the file, as in kubectl: the file here names a CA that did not sign the server.
        cluster={"certificate-authority-data": b64(pki.ca_cert), "certificate-authority": str(pki.other_ca_cert)},
        user={
            "token": names.token,
            "client-certificate-data": b64(pki.client_cert),
            "client-key-data": b64(pki.client_key),
        },
    )
    result = cli(
        "wait-healthy",
        names.app,
        "--digest",
        names.new,
        "--kubeconfig",
        str(kubeconfig),
        "--interval",
        "0.02",
        "--json",
    )
    assert result.code == 0, result.stderr
    assert result.json()["outcome"] == "healthy"

    untrusted = write_kubeconfig(
        tls_kube_api.url,
        name="untrusted",
        cluster={"certificate-authority": str(pki.other_ca_cert)},
        user={"token": names.token, "client-certificate": str(pki.client_cert), "client-key": str(pki.client_key)},
    )
    refused = cli("wait-healthy", names.app, "--digest", names.new, "--kubeconfig", str(untrusted), "--timeout", "5")
    assert refused.code == 1
    assert f"TLS with {tls_kube_api.url} failed" in refused.stderr and "CERTIFICATE_VERIFY_FAILED" in refused.stderr
    assert "certificate-authority" in refused.stderr


def test_an_exec_credential_plugin_supplies_the_token(gate, write_kubeconfig, cli, application, names, tmp_path):
    gate.api.script(application(compared=names.new, running=(names.new,)))
    plugin = tmp_path / "get-token"
    plugin.write_text(
        f"#!{sys.executable}\n"
        "import json, os, sys\n"
        "info = json.loads(os.environ['KUBERNETES_EXEC_INFO'])\n"
        "assert info['kind'] == 'ExecCredential' and info['spec']['interactive'] is False, info\n"
        "print(json.dumps({'apiVersion': info['apiVersion'], 'kind': 'ExecCredential',\n"
        "                  'status': {'token': os.environ['TOKEN_PREFIX'] + sys.argv[1]}}))\n"
    )
    plugin.chmod(0o755)
    prefix, rest = names.token[:5], names.token[5:]
    kubeconfig = write_kubeconfig(
        gate.api.url,
        name="exec",
        user={
            "exec": {
                "apiVersion": "client.authentication.k8s.io/v1",
                "command": str(plugin),
                "args": [rest],
                "env": [{"name": "TOKEN_PREFIX", "value": prefix}],
                "interactiveMode": "Never",
            }
        },
    )
    result = cli(
        "wait-healthy",
        names.app,
        "--digest",
        names.new,
        "--kubeconfig",
        str(kubeconfig),
        "--interval",
        "0.02",
        "--json",
    )
    assert result.code == 0, result.stderr

    failing = write_kubeconfig(
        gate.api.url,
        name="failing",
        user={
            "exec": {
                "apiVersion": "client.authentication.k8s.io/v1",
                "command": sys.executable,
                "args": ["-c", "import sys; sys.exit('login expired')"],
            }
        },
    )
    broken = cli("wait-healthy", names.app, "--digest", names.new, "--kubeconfig", str(failing))
    assert broken.code == 1
    assert "exec credential plugin" in broken.stderr
    assert "process returned 1. login expired" in broken.stderr  # its exit status and what it said
    assert len(gate.api.application_requests) == 1  # no request goes out without the credentials


def test_bad_input_exits_2_before_any_request(gate, cli, names, tmp_path):
    known = ", ".join(str(p.argocd_application) for p in image_projects())
    cases = [
        (gate.run(app="percolate"), "unknown Argo CD application 'percolate'"),
        (gate.run(digest="sha256:abc"), "malformed digest 'sha256:abc'"),
        (gate.run(digest=names.new.upper()), "malformed digest"),
        (gate.run("--namespace", "Argo_CD"), "is not a Kubernetes namespace name"),
        (gate.run(timeout="0"), "not a positive number of seconds"),
        (gate.run("--interval", "nan"), "not a positive number of seconds"),
        (
            cli(
                "wait-healthy",
                names.app,
                "--digest",
                names.new,
                env={"HOME": str(tmp_path), "KUBECONFIG": "", "KUBERNETES_SERVICE_HOST": ""},
            ),
            "no kubeconfig found",
        ),
        (cli("wait-healthy", names.app), "required: --digest"),
    ]
    for result, message in cases:
        assert result.code == 2, (message, result.stderr)
        assert message in result.stderr
        assert "Traceback" not in result.stderr
    assert known in cases[0][0].stderr
    assert gate.api.application_requests == []


def test_json_errors_are_one_document(gate, names):
    result = gate.run("--json", digest="sha256:nope")
    assert result.code == 2
    assert json.loads(result.stdout)["exit_code"] == 2


def test_in_actions_the_outcome_is_a_step_output_and_a_summary_line(gate, application, names, tmp_path):
    outputs, summary = tmp_path / "output", tmp_path / "summary"
    env = {"GITHUB_OUTPUT": str(outputs), "GITHUB_STEP_SUMMARY": str(summary)}
    gate.api.script(application(health="Degraded", compared=names.new, running=(names.new,)))
    assert gate.run(env=env).code == 1
    gate.api.script(application(compared=names.new, running=(names.new,)))
    assert gate.run(env=env).code == 0
    assert outputs.read_text().splitlines() == ["outcome=failed", "outcome=healthy"]
    assert f"Health gate `{names.app}` with `{names.new}`: **failed**" in summary.read_text()


def test_an_unreadable_application_writes_no_outcome(gate, names, tmp_path):
    outputs = tmp_path / "output"
    gate.api.script()  # nothing scripted: the API answers 404 for the Application
    result = gate.run(env={"GITHUB_OUTPUT": str(outputs)})
    assert result.code == 1
    assert not outputs.exists()
