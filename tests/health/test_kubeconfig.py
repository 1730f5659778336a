"""Finding cluster access the way kubectl does: kubeconfig files, contexts, credentials, in-cluster service accounts."""

from __future__ import annotations

import base64
import tempfile
from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from pipelines.core.errors import InputError
from pipelines.health.cluster import load_access

NO_ENV: dict[str, str] = {}


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


def simple(path: Path, server: str = "https://k8s.example.invalid:6443", **user: object) -> Path:
    return kubeconfig(
        path, current="main", contexts={"main": ("c", "u")}, clusters={"c": {"server": server}}, users={"u": user}
    )


def test_the_current_context_gives_server_and_token(tmp_path):
    access = load_access(simple(tmp_path / "config", token="s3cret"), environ=NO_ENV, home=tmp_path)
    assert access.server == "https://k8s.example.invalid:6443"
    assert access.token == "s3cret"
    assert access.context == "main" and "context main of" in access.origin
    assert "s3cret" not in repr(access)


def test_context_option_overrides_current_context(tmp_path):
    path = kubeconfig(
        tmp_path / "config",
        current="staging",
        contexts={"staging": ("c1", "u"), "prod": ("c2", "u")},
        clusters={"c1": {"server": "https://staging.invalid"}, "c2": {"server": "https://prod.invalid/"}},
        users={"u": {"token": "t"}},
    )
    assert load_access(path, environ=NO_ENV, home=tmp_path).server == "https://staging.invalid"
    assert load_access(path, "prod", environ=NO_ENV, home=tmp_path).server == "https://prod.invalid"


def test_file_paths_resolve_against_the_kubeconfigs_folder_and_data_fields_decode(tmp_path):
    pem = b"-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"
    path = kubeconfig(
        tmp_path / "kube" / "config",
        current="main",
        contexts={"main": ("c", "u")},
        clusters={"c": {"server": "https://k.invalid", "certificate-authority": "certs/ca.crt"}},
        users={
            "u": {
                "client-certificate-data": base64.b64encode(pem).decode(),
                "client-key": "/abs/client.key",
                "tokenFile": "token",
            }
        },
    )
    access = load_access(path, environ=NO_ENV, home=tmp_path)
    assert access.ca_file == tmp_path / "kube" / "certs" / "ca.crt"
    assert access.client_cert_data == pem
    assert access.client_key_file == Path("/abs/client.key")
    assert access.token_file == tmp_path / "kube" / "token"


def test_kubeconfig_env_lists_files_merged_first_definition_wins(tmp_path):
    first = kubeconfig(
        tmp_path / "a",
        current="one",
        contexts={"one": ("c", "u")},
        clusters={"c": {"server": "https://first.invalid"}},
        users={"u": {"token": "first"}},
    )
    second = kubeconfig(
        tmp_path / "b",
        current="two",
        contexts={"two": ("c", "u2"), "one": ("x", "x")},
        clusters={"c": {"server": "https://second.invalid"}},
        users={"u2": {"token": "second"}},
    )
    env = {"KUBECONFIG": f"{tmp_path / 'missing'}:{first}:{second}"}
    one = load_access(environ=env, home=tmp_path)
    assert (one.server, one.token, one.context) == ("https://first.invalid", "first", "one")
    two = load_access(context="two", environ=env, home=tmp_path)
    assert (two.server, two.token) == ("https://first.invalid", "second")


def test_home_kube_config_is_the_default(tmp_path):
    simple(tmp_path / ".kube" / "config", token="from-home")
    assert load_access(environ=NO_ENV, home=tmp_path).token == "from-home"


@pytest.mark.parametrize("server", ["http://127.0.0.1:8080", "http://localhost:1", "http://[::1]:6443"])
def test_plain_http_is_accepted_for_loopback_servers(tmp_path, server):
    assert load_access(simple(tmp_path / "config", server, token="t"), environ=NO_ENV, home=tmp_path).server == server


def test_in_cluster_service_account_when_there_is_no_kubeconfig(tmp_path):
    account = tmp_path / "sa"
    account.mkdir()
    (account / "token").write_text("pod-token")
    (account / "ca.crt").write_text("ca")
    env = {"KUBERNETES_SERVICE_HOST": "fd00::1", "KUBERNETES_SERVICE_PORT": "6443"}
    access = load_access(environ=env, home=tmp_path, service_account_dir=account)
    assert access.server == "https://[fd00::1]:6443"
    assert (access.token_file, access.ca_file, access.token) == (account / "token", account / "ca.crt", None)
    assert access.origin == "the pod's service account"


def test_an_exec_plugin_is_read_with_its_environment(tmp_path):
    path = simple(
        tmp_path / "config",
        exec={
            "apiVersion": "client.authentication.k8s.io/v1beta1",
            "command": "./bin/get-token",
            "args": ["--cluster", "prod"],
            "env": [{"name": "REGION", "value": "eu"}],
            "installHint": "install get-token",
        },
    )
    plugin = load_access(path, environ=NO_ENV, home=tmp_path).exec_plugin
    assert plugin is not None
    assert (plugin.command, plugin.args, plugin.env) == (
        str(tmp_path / "bin/get-token"),
        ("--cluster", "prod"),
        (("REGION", "eu"),),
    )


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda d: d / "nope", "does not exist"),
        (lambda d: (d / "k").write_text("clusters: [\n  - name: a\n    bad: [") and d / "k", "kubeconfig"),
        (lambda d: (d / "k").write_text("- just\n- a list\n") and d / "k", "is not a YAML mapping"),
        (
            lambda d: simple(d / "k", "http://k8s.example.invalid", token="t"),
            "plain http is accepted only for loopback",
        ),
        (lambda d: simple(d / "k", "ftp://127.0.0.1", token="t"), "is not an https URL"),
        (
            lambda d: kubeconfig(
                d / "k",
                current="main",
                contexts={"main": ("c", "u")},
                clusters={"c": {"server": "https://k.invalid", "insecure-skip-tls-verify": True}},
                users={"u": {"token": "t"}},
            ),
            "insecure-skip-tls-verify",
        ),
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
        (lambda d: simple(d / "k", **{"client-certificate": "c.crt"}), "without its key"),
        (lambda d: simple(d / "k", **{"client-key-data": "!!!"}), "not valid base64"),
        (lambda d: simple(d / "k", **{"auth-provider": {"name": "gcp"}}), "does not support"),
        (
            lambda d: simple(d / "k", exec={"apiVersion": "client.authentication.k8s.io/v1alpha1", "command": "x"}),
            "speaks",
        ),
    ],
)
def test_unusable_kubeconfigs_are_input_errors_that_say_why(tmp_path, make, message):
    with pytest.raises(InputError, match=message) as raised:
        load_access(make(tmp_path), environ=NO_ENV, home=tmp_path)
    assert raised.value.hint


def test_malformed_yaml_names_the_line(tmp_path):
    path = tmp_path / "k"
    path.write_text("apiVersion: v1\nclusters:\n  - name: a\n    cluster: {server: [\n")
    with pytest.raises(InputError, match=r"line \d+"):
        load_access(path, environ=NO_ENV, home=tmp_path)


def test_nothing_to_go_on_is_an_input_error(tmp_path):
    with pytest.raises(InputError, match="no kubeconfig found"):
        load_access(environ=NO_ENV, home=tmp_path)
    with pytest.raises(InputError, match="names no existing file"):
        load_access(environ={"KUBECONFIG": str(tmp_path / "gone")}, home=tmp_path)
    with pytest.raises(InputError, match="token"):
        load_access(
            environ={"KUBERNETES_SERVICE_HOST": "10.0.0.1"}, home=tmp_path, service_account_dir=tmp_path / "none"
        )


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
    "apiVersion",
    "auth-provider",
    "namespace",
]
yaml_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.text(max_size=10)
    | st.sampled_from(
        ["main", "https://k.invalid", "http://127.0.0.1:1", "client.authentication.k8s.io/v1", "dG9rZW4="]
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
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "config"
        path.write_text(yaml.safe_dump(document))
        try:
            access = load_access(path, context, environ=NO_ENV, home=Path(folder))
        except InputError as error:
            assert error.message and error.hint
        else:
            assert access.server.startswith(("https://", "http://127.0.0.1"))
