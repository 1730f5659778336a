"""Finding cluster access the way kubectl does, through the official client: which context, server and credentials
the gate uses (seen by the loopback API server), merged KUBECONFIG files, relative paths, the in-cluster service
account, and kubeconfigs the gate cannot use, which are InputErrors that say why."""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path
from unittest import mock

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from pipelines.core.errors import InputError
from pipelines.edges.retry import Deadline, Retrier, RetryPolicy
from pipelines.health.kube.access import load_access
from pipelines.health.kube.cluster import Cluster, open_cluster

NO_ENV: dict[str, str] = {}
APP = "percolate-api"


def kubeconfig(
    path: Path,
    *,
    current: str | None,
    contexts: dict[str, tuple[str, str]],
    clusters: dict[str, dict],
    users: dict[str, dict],
) -> Path:
    document = {
        "apiVersion": "v1",
        "kind": "Config",
        "current-context": current,
        "clusters": [{"name": name, "cluster": body} for name, body in clusters.items()],
        "users": [{"name": name, "user": body} for name, body in users.items()],
        "contexts": [{"name": name, "context": {"cluster": c, "user": u}} for name, (c, u) in contexts.items()],
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(document))
    return path


def simple(path: Path, server: str = "https://k8s.example.invalid:6443", cluster: dict | None = None, **user) -> Path:
    return kubeconfig(
        path,
        current="main",
        contexts={"main": ("c", "u")},
        clusters={"c": {"server": server, **(cluster or {})}},
        users={"u": user},
    )


def connect(path: Path | None = None, context: str | None = None, **options) -> Cluster:
    """The gate's view of the cluster for these arguments (one attempt per read, ten seconds in all)."""
    options.setdefault("environ", NO_ENV)
    return open_cluster(path, context, Retrier(RetryPolicy(max_attempts=1), Deadline(10)), **options)


def seen_authorization(api) -> str:
    return api.application_requests[-1]["headers"].get("authorization")


def test_the_current_context_gives_server_and_token(kube_api, application, tmp_path):
    kube_api.token = "s3cret"
    kube_api.script(application())
    path = simple(tmp_path / "config", kube_api.url, token="s3cret")
    with connect(path, home=tmp_path) as cluster:
        assert (cluster.server, cluster.origin) == (kube_api.url, f"context main of {path}")
        assert cluster.get_application("argocd", APP)["kind"] == "Application"
        assert "s3cret" not in repr(cluster.access)
    assert seen_authorization(kube_api) == "Bearer s3cret"


def test_context_option_overrides_current_context(kube_api, application, tmp_path):
    kube_api.token = "prod-token"
    kube_api.script(application())
    path = kubeconfig(
        tmp_path / "config",
        current="staging",
        contexts={"staging": ("c1", "u1"), "prod": ("c2", "u2")},
        clusters={"c1": {"server": "https://staging.invalid"}, "c2": {"server": kube_api.url + "/"}},
        users={"u1": {"token": "staging-token"}, "u2": {"token": "prod-token"}},
    )
    with connect(path, home=tmp_path) as cluster:
        assert cluster.server == "https://staging.invalid"
    with connect(path, "prod", home=tmp_path) as cluster:
        assert cluster.server == kube_api.url
        cluster.get_application("argocd", APP)
    assert seen_authorization(kube_api) == "Bearer prod-token"


def test_relative_paths_resolve_against_the_kubeconfigs_folder(tls_kube_api, pki, application, tmp_path, monkeypatch):
    folder = tmp_path / "kube"
    (folder / "certs").mkdir(parents=True)
    for source in (pki.ca_cert, pki.client_cert, pki.client_key):
        shutil.copy(source, folder / "certs" / source.name)
    # A token file as editors save it, ending in a newline, which kubectl trims (the client alone would not).
    (folder / "token").write_text("file-token\n")
    tls_kube_api.token = "file-token"
    tls_kube_api.script(application())
    path = simple(
        folder / "config",
        tls_kube_api.url,
        cluster={"certificate-authority": "certs/ca.crt"},
        **{"client-certificate": "certs/client.crt", "client-key": "certs/client.key", "tokenFile": "token"},
    )
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")
    with connect(path, home=tmp_path) as cluster:
        # Twice: the client re-applies its credentials before every request.
        cluster.get_application("argocd", APP)
        cluster.get_application("argocd", APP)
    assert seen_authorization(tls_kube_api) == "Bearer file-token"
    assert len(tls_kube_api.application_requests) == 2


def test_merged_files_resolve_paths_against_the_file_that_names_them(tls_kube_api, pki, application, tmp_path):
    # The cluster (and its CA) in one folder, the user (and its client certificate) in another, as kubectl
    # reads them; the client alone would look for the user's files in the cluster's folder.
    shutil.copy(pki.ca_cert, tmp_path / "ca.crt")
    (tmp_path / "user").mkdir()
    shutil.copy(pki.client_cert, tmp_path / "user" / "client.crt")
    shutil.copy(pki.client_key, tmp_path / "user" / "client.key")
    clusters = kubeconfig(
        tmp_path / "clusters.yaml",
        current="main",
        contexts={"main": ("c", "u")},
        clusters={"c": {"server": tls_kube_api.url, "certificate-authority": "ca.crt"}},
        users={},
    )
    users = kubeconfig(
        tmp_path / "user" / "users.yaml",
        current=None,
        contexts={},
        clusters={},
        users={"u": {"token": tls_kube_api.token, "client-certificate": "client.crt", "client-key": "client.key"}},
    )
    tls_kube_api.script(application())
    with connect(environ={"KUBECONFIG": f"{clusters}{os.pathsep}{users}"}, home=tmp_path) as cluster:
        assert cluster.get_application("argocd", APP)["kind"] == "Application"


def test_kubeconfig_env_lists_files_merged_first_definition_wins(kube_api, application, tmp_path):
    first = kubeconfig(
        tmp_path / "a",
        current="one",
        contexts={"one": ("c", "u")},
        clusters={"c": {"server": kube_api.url}},
        users={"u": {"token": "first"}},
    )
    second = kubeconfig(
        tmp_path / "b",
        current="two",
        contexts={"two": ("c", "u2"), "one": ("x", "x")},
        clusters={"c": {"server": "https://second.invalid"}},
        users={"u2": {"token": "second"}},
    )
    kube_api.script(application())
    env = {"KUBECONFIG": os.pathsep.join(map(str, (tmp_path / "missing", first, second)))}
    # kubectl: the first file's current-context (the client alone would take the last file's).
    kube_api.token = "first"
    with connect(environ=env, home=tmp_path) as one:
        assert one.origin == f"context one of {first}"
        one.get_application("argocd", APP)
    assert seen_authorization(kube_api) == "Bearer first"
    # Context two from the second file, its cluster `c` as the first file defines it, its user from the second.
    kube_api.token = "second"
    with connect(context="two", environ=env, home=tmp_path) as two:
        assert (two.server, two.origin) == (kube_api.url, f"context two of {second}")
        two.get_application("argocd", APP)
    assert seen_authorization(kube_api) == "Bearer second"


def test_home_kube_config_is_the_default(tmp_path):
    path = simple(tmp_path / ".kube" / "config", token="from-home")
    with connect(home=tmp_path) as cluster:
        assert cluster.origin == f"context main of {path}"


@pytest.mark.parametrize("server", ["http://127.0.0.1:8080", "http://localhost:1", "http://[::1]:6443"])
def test_plain_http_is_accepted_for_loopback_servers(tmp_path, server):
    with connect(simple(tmp_path / "config", server, token="t"), home=tmp_path) as cluster:
        assert cluster.server == server


def test_in_cluster_service_account_when_there_is_no_kubeconfig(tls_token_kube_api, pki, application, tmp_path):
    account = tmp_path / "sa"
    account.mkdir()
    (account / "token").write_text("pod-token")
    shutil.copy(pki.ca_cert, account / "ca.crt")
    tls_token_kube_api.token = "pod-token"
    tls_token_kube_api.script(application())
    port = tls_token_kube_api.url.rsplit(":", 1)[1]
    env = {"KUBERNETES_SERVICE_HOST": "127.0.0.1", "KUBERNETES_SERVICE_PORT": port}
    with connect(environ=env, home=tmp_path, service_account_dir=account) as cluster:
        assert (cluster.server, cluster.origin) == (tls_token_kube_api.url, "the pod's service account")
        cluster.get_application("argocd", APP)
    assert seen_authorization(tls_token_kube_api).lower() == "bearer pod-token"

    ipv6 = {"KUBERNETES_SERVICE_HOST": "fd00::1", "KUBERNETES_SERVICE_PORT": "6443"}
    with connect(environ=ipv6, home=tmp_path, service_account_dir=account) as cluster:
        assert cluster.server == "https://[fd00::1]:6443"


def test_an_exec_plugin_runs_from_a_relative_path_with_its_args_and_env(kube_api, application, tmp_path, monkeypatch):
    plugin = tmp_path / "kube" / "bin" / "get-token"
    plugin.parent.mkdir(parents=True)
    plugin.write_text(
        f"#!{sys.executable}\n"
        "import json, os, sys\n"
        "info = json.loads(os.environ['KUBERNETES_EXEC_INFO'])\n"
        "token = os.environ['REGION'] + '-' + sys.argv[2]\n"
        "print(json.dumps({'apiVersion': info['apiVersion'], 'kind': 'ExecCredential', 'status': {'token': token}}))\n"
    )
    plugin.chmod(0o755)
    path = simple(
        tmp_path / "kube" / "config",
        kube_api.url,
        exec={
            "apiVersion": "client.authentication.k8s.io/v1beta1",
            "command": "./bin/get-token",
            "args": ["--cluster", "prod"],
            "env": [{"name": "REGION", "value": "eu"}],
        },
    )
    kube_api.token = "eu-prod"
    kube_api.script(application())
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")
    with connect(path, home=tmp_path) as cluster:
        cluster.get_application("argocd", APP)
    assert seen_authorization(kube_api) == "Bearer eu-prod"


def _with(**cluster_fields):
    return lambda d: simple(d / "k", cluster=cluster_fields, token="t")


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda d: d / "nope", "does not exist"),
        (lambda d: (d / "k").write_text("clusters: [\n  - name: a\n    bad: [") and d / "k", "kubeconfig"),
        (lambda d: (d / "k").write_text("- just\n- a list\n") and d / "k", "is not a YAML mapping"),
        (lambda d: (d / "k").write_text("clusters: {a: 1}\n") and d / "k", "clusters is not a list"),
        (lambda d: (d / "k").write_text("users: [{user: {}}]\n") and d / "k", "an entry of users has no name"),
        (
            lambda d: simple(d / "k", "http://k8s.example.invalid", token="t"),
            "plain http is accepted only for loopback",
        ),
        (lambda d: simple(d / "k", "ftp://127.0.0.1", token="t"), "is not an https URL"),
        (lambda d: simple(d / "k", "https://[::1", token="t"), "is not a URL"),
        (_with(**{"insecure-skip-tls-verify": True}), "insecure-skip-tls-verify"),
        (_with(**{"certificate-authority": "missing/ca.crt"}), "File does not exist: .*missing/ca.crt"),
        (_with(**{"certificate-authority-data": "not base64!"}), "not valid base64"),
        (
            lambda d: kubeconfig(
                d / "k",
                current="gone",
                contexts={"main": ("c", "u")},
                clusters={"c": {"server": "https://k.invalid"}},
                users={"u": {}},
            ),
            "known contexts: main",
        ),
        (
            lambda d: kubeconfig(
                d / "k",
                current=None,
                contexts={"main": ("c", "u")},
                clusters={"c": {"server": "https://k.invalid"}},
                users={"u": {}},
            ),
            "no current-context",
        ),
        (
            lambda d: kubeconfig(
                d / "k", current="main", contexts={"main": ("missing", "u")}, clusters={}, users={"u": {}}
            ),
            "names cluster 'missing'",
        ),
        (
            lambda d: kubeconfig(
                d / "k",
                current="main",
                contexts={"main": ("c", "nobody")},
                clusters={"c": {"server": "https://k.invalid"}},
                users={},
            ),
            "names user 'nobody'",
        ),
        (lambda d: simple(d / "k", server=None, token="t"), "has no server URL"),
        (lambda d: simple(d / "k", **{"client-certificate": "c.crt"}), "without its key"),
        (lambda d: simple(d / "k", **{"client-key-data": "!!!"}), "not valid base64"),
        (lambda d: simple(d / "k", **{"tokenFile": "no-such-token"}), "cannot use context main of .*no-such-token"),
        (lambda d: simple(d / "k", **{"auth-provider": {"name": "gcp"}}), "does not support"),
        (lambda d: simple(d / "k", username="admin", password="admin"), "does not support"),
        (
            lambda d: simple(d / "k", exec={"apiVersion": "client.authentication.k8s.io/v1alpha1", "command": "x"}),
            "speaks",
        ),
        (
            lambda d: simple(
                d / "k", exec={"apiVersion": "client.authentication.k8s.io/v1", "command": "x", "args": 1}
            ),
            "malformed args",
        ),
        (
            lambda d: simple(
                d / "k",
                exec={
                    "apiVersion": "client.authentication.k8s.io/v1",
                    "command": "no-such-plugin-anywhere",
                    "installHint": "brew install no-such-plugin",
                },
            ),
            "'no-such-plugin-anywhere', is not installed",
        ),
    ],
)
def test_unusable_kubeconfigs_are_input_errors_that_say_why(tmp_path, make, message):
    with pytest.raises(InputError, match=message) as raised:
        connect(make(tmp_path), home=tmp_path).close()
    assert raised.value.hint
    if "not installed" in message:
        assert raised.value.hint == "brew install no-such-plugin"


def test_malformed_yaml_names_the_line(tmp_path):
    path = tmp_path / "k"
    path.write_text("apiVersion: v1\nclusters:\n  - name: a\n    cluster: {server: [\n")
    with pytest.raises(InputError, match=r"line \d+"):
        connect(path, home=tmp_path)


def test_nothing_to_go_on_is_an_input_error(tmp_path):
    with pytest.raises(InputError, match="no kubeconfig found"):
        connect(home=tmp_path)
    with pytest.raises(InputError, match="names no existing file"):
        connect(environ={"KUBECONFIG": str(tmp_path / "gone")}, home=tmp_path)
    in_pod = {"KUBERNETES_SERVICE_HOST": "10.0.0.1", "KUBERNETES_SERVICE_PORT": "443"}
    with pytest.raises(InputError, match="pod's service account: Service token file does not exist") as raised:
        connect(environ=in_pod, home=tmp_path, service_account_dir=tmp_path / "none")
    assert "automountServiceAccountToken" in (raised.value.hint or "")
    with pytest.raises(InputError, match="--context prod given but no kubeconfig"):
        connect(context="prod", environ=in_pod, home=tmp_path, service_account_dir=tmp_path / "none")


KEYS = [
    "apiVersion",
    "kind",
    "current-context",
    "clusters",
    "users",
    "contexts",
    "name",
    "cluster",
    "user",
    "context",
    "server",
    "certificate-authority",
    "certificate-authority-data",
    "insecure-skip-tls-verify",
    "tls-server-name",
    "proxy-url",
    "token",
    "tokenFile",
    "client-certificate",
    "client-certificate-data",
    "client-key",
    "client-key-data",
    "exec",
    "command",
    "args",
    "env",
    "value",
    "installHint",
    "auth-provider",
    "namespace",
]
yaml_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.text(max_size=10)
    | st.sampled_from(
        ["main", "https://k.invalid", "http://127.0.0.1:1", "client.authentication.k8s.io/v1", "dG9rZW4=", "get-token"]
    ),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.sampled_from(KEYS), children, max_size=5),
    max_leaves=25,
)


bodies = st.dictionaries(st.sampled_from(KEYS), yaml_values, max_size=6)
# Well-formed skeletons whose cluster and user bodies are arbitrary, so the deep fields get exercised too.
skeletons = st.builds(
    lambda cluster, user, exec_: {
        "current-context": "main",
        "contexts": [{"name": "main", "context": {"cluster": "c", "user": "u"}}],
        "clusters": [{"name": "c", "cluster": {"server": "https://k.invalid", **cluster}}],
        "users": [{"name": "u", "user": {**user, **({"exec": exec_} if exec_ is not None else {})}}],
    },
    bodies,
    bodies,
    st.none() | yaml_values | st.builds(lambda extra: {"command": "get-token", **extra}, bodies),
)


@settings(max_examples=400, deadline=None)
@given(document=bodies | skeletons, context=st.sampled_from([None, "main"]))
def test_any_kubeconfig_document_gives_access_or_an_input_error(document, context):
    with tempfile.TemporaryDirectory() as folder, mock.patch.dict(os.environ, {"PATH": folder}):
        # PATH is an empty folder, so no exec plugin named by the document can run.
        path = Path(folder) / "config"
        path.write_text(yaml.safe_dump(document))
        try:
            access = load_access(path, context, Deadline(10), environ=NO_ENV, home=Path(folder))
        except InputError as error:
            assert error.message and error.hint
        else:
            access.close()
            assert access.server.startswith(("https://", "http://127.0.0.1"))
