"""Issue 12, the Kubernetes side: credentials checked where they enter, hostile answers, a deadline that holds.

Each case runs `wait-healthy` as deploy.yml does (a subprocess) and asserts a clean exit 1 or 2, never a
traceback, and no credential in the output.
"""

from __future__ import annotations

import sys
import time
from typing import Any

import pytest

from tests.conftest import run_cli


@pytest.fixture
def cli():
    """A subprocess, as deploy.yml runs the gate: these cases are about the process (exec plugins it starts and
    must not leak when its deadline cuts them, signals, the exit code), not only the output."""
    return run_cli


def plugin(tmp_path: Any, name: str, body: str) -> str:
    path = tmp_path / name
    path.write_text(f"#!{sys.executable}\nimport datetime, json, os, sys\n{body}")
    path.chmod(0o755)
    return str(path)


def exec_user(command: str) -> dict[str, Any]:
    return {"exec": {"apiVersion": "client.authentication.k8s.io/v1", "command": command}}


@pytest.mark.parametrize(
    "body",
    [b"[" * 100_000 + b"]" * 100_000, b'{"kind": "Application", "status": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"],
    ids=["nested", "nested-inside"],
)
def test_a_deeply_nested_answer_is_a_clean_exit_1(gate, reply, body):
    gate.api.script(reply(200, body))

    result = gate.run("--json", timeout="10")

    result.assert_clean(1)
    assert result.json()["cause"] == "corrupt"


def test_an_answer_over_the_cap_is_refused(gate, reply):
    gate.api.script(reply(200, b'{"kind": "Application", "x": "' + b"a" * (5 << 20) + b'"}'))

    result = gate.run("--json", timeout="20")

    result.assert_clean(1)
    assert result.json()["cause"] == "corrupt"


def test_a_deeply_nested_error_answer_is_a_clean_exit_1(gate, reply):
    gate.api.script(reply(500, b"[" * 100_000 + b"]" * 100_000))

    result = gate.run("--json", timeout="3")

    result.assert_clean(1)


def test_a_trickling_api_cannot_stretch_the_timeout(gate, reply, application, names):
    import json

    body = json.dumps(application(compared=names.new)).encode()
    gate.api.script(reply(200, body, trickle=0.2))  # minutes for the whole answer, no read ever waits long

    started = time.monotonic()
    result = gate.run("--json", timeout="1")

    assert time.monotonic() - started < 15  # the limit is 1 s; a per-read timeout alone would take minutes
    assert len(body) * 0.2 > 60
    result.assert_clean(1)
    assert gate.api.application_requests  # the answer was being trickled when the limit cut it


@pytest.mark.parametrize(
    "token",
    ["secret-token-123\r\nX-Evil: 1", "secret-token-123\x1b[2J", "secret-token-123\x00"],
    ids=["crlf", "escape", "nul"],
)
def test_a_kubeconfig_token_with_control_characters_is_refused_without_echoing_it(
    gate, write_kubeconfig, cli, names, token
):
    kubeconfig = write_kubeconfig(gate.api.url, name="bad-token", user={"token": token})

    result = cli("wait-healthy", names.app, "--digest", names.new, "--kubeconfig", str(kubeconfig), "--json")

    result.assert_clean(2, "secret-token-123", "X-Evil")
    assert "token" in result.json()["error"]
    assert gate.api.application_requests == []


def test_a_kubeconfig_token_block_with_a_trailing_newline_works(gate, write_kubeconfig, cli, names, application):
    gate.api.script(application(compared=names.new, running=(names.new,)))
    kubeconfig = write_kubeconfig(gate.api.url, name="block", user={"token": names.token + "\n"})

    result = cli("wait-healthy", names.app, "--digest", names.new, "--kubeconfig", str(kubeconfig))

    result.assert_clean(0)


@pytest.mark.parametrize(
    ("output", "why"),
    [
        ("sys.stdout.buffer.write(b'\\xff\\xfe not utf-8')", "not-utf8"),
        (
            "print(json.dumps({'apiVersion': 'client.authentication.k8s.io/v1', 'kind': 'ExecCredential',"
            " 'status': {'token': 'secret-token-123\\r\\nX-Evil: 1'}}))",
            "crlf",
        ),
        ("print('[' * 100000 + ']' * 100000)", "nested"),
        (
            "print(json.dumps({'apiVersion': 'client.authentication.k8s.io/v1', 'kind': 'ExecCredential',"
            " 'status': 5}))",
            "status",
        ),
    ],
    ids=["not-utf8", "crlf", "nested", "status-number"],
)
def test_exec_plugin_output_that_is_unusable_is_a_clean_error(
    gate, write_kubeconfig, cli, names, tmp_path, output, why
):
    command = plugin(tmp_path, f"plugin-{why}", output + "\n")
    kubeconfig = write_kubeconfig(gate.api.url, name=f"exec-{why}", user=exec_user(command))

    result = cli("wait-healthy", names.app, "--digest", names.new, "--kubeconfig", str(kubeconfig), "--json")

    assert result.code in (1, 2), result.stderr
    result.assert_clean(result.code, "secret-token-123", "X-Evil")
    assert "exec" in result.json()["error"] or "credential" in result.json()["error"]
    assert gate.api.application_requests == []


def test_an_expiration_timestamp_without_a_zone_is_read_as_utc_on_every_renewal(
    gate, write_kubeconfig, cli, names, tmp_path, application
):
    """kubectl reads a zoneless expirationTimestamp as UTC; so does the gate, on the first run of the plugin and on
    each renewal (within the client's five minutes of skew every poll runs the plugin again and compares the
    times). The Application turns healthy on the third poll, so the gate ends by itself, not by its timeout."""
    runs = tmp_path / "runs"
    command = plugin(
        tmp_path,
        "naive-expiry",
        f"open({str(runs)!r}, 'a').write('x')\n"
        "expiry = (datetime.datetime.now(datetime.UTC) + datetime.timedelta(minutes=1)).strftime('%Y-%m-%dT%H:%M:%S')\n"
        f"status = {{'token': {names.token!r}, 'expirationTimestamp': expiry}}\n"
        "print(json.dumps({'apiVersion': 'client.authentication.k8s.io/v1', 'kind': 'ExecCredential',"
        " 'status': status}))\n",
    )
    progressing = application(health="Progressing", compared=names.new)
    gate.api.script(progressing, progressing, application(compared=names.new, running=(names.new,)))
    kubeconfig = write_kubeconfig(gate.api.url, name="naive", user=exec_user(command))

    result = cli(
        "wait-healthy",
        names.app,
        "--digest",
        names.new,
        "--kubeconfig",
        str(kubeconfig),
        "--json",
        "--interval",
        "0.02",
        "--timeout",
        "60",
    )

    result.assert_clean(0, names.token)
    assert len(gate.api.application_requests) >= 3
    assert len(runs.read_text()) >= 3  # the plugin ran again for each renewal


@pytest.mark.parametrize("expiry", ["5", "'tomorrow'", "{'at': 1}", "None"], ids=["number", "text", "object", "null"])
def test_an_unusable_expiration_timestamp_on_a_renewal_is_a_clean_exit_1(
    gate, write_kubeconfig, cli, names, tmp_path, application, expiry
):
    runs = tmp_path / "runs"
    # The first run's credential expires within the client's five minutes of skew, so the second poll runs the
    # plugin again; that run answers an expirationTimestamp the client cannot read.
    command = plugin(
        tmp_path,
        "renewal",
        f"runs = open({str(runs)!r}, 'a+'); runs.write('x'); runs.seek(0); count = len(runs.read())\n"
        "good = (datetime.datetime.now(datetime.UTC) + datetime.timedelta(minutes=1)).strftime('%Y-%m-%dT%H:%M:%SZ')\n"
        f"status = {{'token': {names.token!r}, 'expirationTimestamp': good if count == 1 else {expiry}}}\n"
        "print(json.dumps({'apiVersion': 'client.authentication.k8s.io/v1', 'kind': 'ExecCredential',"
        " 'status': status}))\n",
    )
    gate.api.script(application(health="Progressing", compared=names.new))
    kubeconfig = write_kubeconfig(gate.api.url, name="renewal-kubeconfig", user=exec_user(command))

    result = cli(
        "wait-healthy",
        names.app,
        "--digest",
        names.new,
        "--kubeconfig",
        str(kubeconfig),
        "--json",
        "--interval",
        "0.02",
        "--timeout",
        "10",
    )

    result.assert_clean(1, names.token)
    assert len(runs.read_text()) >= 2


@pytest.mark.parametrize("shape", ["status", "text"])
@pytest.mark.parametrize("keep", [9, 14, 20])
def test_an_echoed_token_cut_by_the_message_limit_leaves_nothing_of_it(gate, reply, names, shape, keep):
    """The answer is cut to 200 characters with the token `keep` characters into the cut: redaction comes first."""
    from tests.health.conftest import status_object

    message = "y" * (199 - keep) + f"{names.token}; more words after the token"
    body = status_object(403, "Forbidden", message) if shape == "status" else message.encode()
    gate.api.script(reply(403, body, {"Content-Type": "text/plain"} if shape == "text" else {}))

    result = gate.run("--json", timeout="5")

    output = result.stdout + result.stderr
    assert result.code == 1, output
    runs = [names.token[i : i + 8] for i in range(len(names.token) - 7)]
    assert [run for run in runs if run in output] == []
