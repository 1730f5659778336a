"""Issue 12, the registry side: credentials checked where they enter, hostile answers, deadlines, races.

Every case runs `promote` as a workflow step does (a subprocess) and asserts a clean exit (1 or 2,
never a traceback), nothing written, and no credential in the output.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler
from typing import Any

import pytest

from kit.loopback import RecordingServer, reply

PROJECT = "percolate"
TAG = "percolate-v0.1.0"
SECRET = "s3cret-Pa55word"


@pytest.fixture
def released(monorepo: Any) -> Any:
    monorepo.tag(TAG)
    return monorepo


def promote(cli: Any, registry: str, repo: Any, env: dict[str, str], *args: str) -> Any:
    return cli("promote", TAG, "--registry", registry, "--root", str(repo.root), "--json", *args, env=env)


def send(handler: BaseHTTPRequestHandler, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
    """The kit's reply, JSON unless `headers` say otherwise."""
    reply(handler, status, body, {"Content-Type": "application/json", **(headers or {})})


@pytest.fixture
def scripted() -> Iterator[Callable[[Callable[[BaseHTTPRequestHandler], None]], RecordingServer]]:
    """scripted(answer) starts a loopback server standing in for a registry: `answer(handler)` replies to every
    request; all are stopped after the test."""
    servers: list[RecordingServer] = []

    def start(answer: Callable[[BaseHTTPRequestHandler], None]) -> RecordingServer:
        servers.append(RecordingServer(answer).start())
        return servers[-1]

    yield start
    for server in servers:
        server.stop()


def tags_answer(body: bytes) -> Callable[[BaseHTTPRequestHandler], None]:
    return lambda handler: send(handler, 200, body)


@pytest.mark.parametrize(
    "body",
    [b'{"tags": 5}', b'{"tags": [1, {"a": 2}]}', b"[" * 100_000 + b"]" * 100_000, b'{"tags": "abc"}', b"\xff\xfe"],
    ids=["tags-number", "tags-not-strings", "nested", "tags-string", "not-utf8"],
)
def test_a_tag_list_of_the_wrong_shape_is_a_clean_exit_1(cli, scripted, released, clean_env, body):
    server = scripted(tags_answer(body))

    result = promote(cli, f"{server.host}/ns", released, clean_env, "--max-time", "10")

    result.assert_clean(1)
    assert "tag list" in result.json()["error"]


def test_a_400_digit_retry_after_is_a_clean_exit_1(cli, scripted, released, clean_env):
    server = scripted(lambda handler: send(handler, 503, b"{}", {"Retry-After": "9" * 400}))

    result = promote(cli, f"{server.host}/ns", released, clean_env, "--max-time", "10")

    result.assert_clean(1)
    assert result.json()["cause"] == "unavailable"


def test_a_manifest_over_the_oci_limit_of_4_mib_is_refused(cli, scripted, released, clean_env, area):
    big = json.dumps(
        {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json", "x": "a" * (4 << 20)}
    )
    build = area.build_tag(version="0.1.0", sha=released.head, number=1, at="2025-10-25T14:30:00+00:00", arch="amd64")

    def answer(handler: BaseHTTPRequestHandler) -> None:
        if "/tags/list" in handler.path:
            send(handler, 200, json.dumps({"tags": [build, build.replace("-amd64", "-arm64")]}).encode())
        else:
            send(handler, 200, big.encode(), {"Content-Type": "application/vnd.oci.image.manifest.v1+json"})

    server = scripted(answer)

    result = promote(cli, f"{server.host}/ns", released, clean_env, "--max-time", "10")

    result.assert_clean(1)
    assert "4194304 bytes" in result.json()["error"]


def test_a_redirect_to_plain_http_elsewhere_is_not_followed(cli, scripted, released, clean_env):
    server = scripted(lambda handler: send(handler, 307, b"", {"Location": "http://192.0.2.10/v2/ns/tags/list"}))

    started = time.monotonic()
    result = promote(cli, f"{server.host}/ns", released, clean_env, "--max-time", "60")

    assert time.monotonic() - started < 30  # nothing waited for 192.0.2.10, which never answers
    result.assert_clean(2)
    assert "192.0.2.10" in result.json()["error"] and "https" in result.json()["error"]


def test_a_trickling_registry_cannot_stretch_max_time(cli, scripted, released, clean_env):
    def trickle(handler: BaseHTTPRequestHandler) -> None:
        handler.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n")
        for _ in range(1000):  # 200 s for the whole answer; no read ever waits long
            handler.wfile.write(b" ")
            handler.wfile.flush()
            time.sleep(0.2)

    server = scripted(trickle)

    started = time.monotonic()
    result = promote(cli, f"{server.host}/ns", released, clean_env, "--max-time", "1")

    assert time.monotonic() - started < 15  # the limit is 1 s; a per-read timeout alone would take 200 s
    assert server.seen  # the answer was being trickled when the limit cut it
    result.assert_clean(1)
    assert result.json()["cause"] == "unavailable"


# -- credentials where they enter ----------------------------------------------------------------


def test_a_password_with_a_trailing_newline_is_used_without_it(cli, area, released, clean_env, fault_proxy):
    area.push_build(PROJECT, sha=released.head, number=1)
    proxy = fault_proxy(credentials=("ci-bot", SECRET))
    env = {**clean_env, "REGISTRY_USERNAME": "ci-bot\n", "REGISTRY_PASSWORD": SECRET + "\n"}

    result = promote(cli, area.registry(proxy.host), released, env)

    result.assert_clean(0, SECRET)


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("REGISTRY_PASSWORD", SECRET + "\r\nX-Evil: 1"),
        ("REGISTRY_PASSWORD", SECRET + "\x7f"),
        ("REGISTRY_PASSWORD", SECRET + "\n\n"),
        ("REGISTRY_USERNAME", "ci-bot\x1b[2J"),
        ("REGISTRY_PASSWORD", SECRET + "\udcff"),  # a byte that is not UTF-8 in the environment
    ],
    ids=["crlf", "del", "two-newlines", "escape", "not-utf8"],
)
def test_a_credential_with_control_characters_is_refused_naming_the_variable(
    cli, area, released, clean_env, variable, value
):
    env = {**clean_env, "REGISTRY_USERNAME": "ci-bot", "REGISTRY_PASSWORD": SECRET, variable: value}

    result = promote(cli, area.registry(), released, env)

    result.assert_clean(2, SECRET, "X-Evil")
    assert variable in result.json()["error"]


def test_a_non_latin1_password_is_sent_as_utf8(cli, area, released, clean_env, fault_proxy):
    area.push_build(PROJECT, sha=released.head, number=1)
    password = "pässwörd-€-密码"
    proxy = fault_proxy(credentials=("ci-bot", password))
    env = {**clean_env, "REGISTRY_USERNAME": "ci-bot", "REGISTRY_PASSWORD": password}

    result = promote(cli, area.registry(proxy.host), released, env)

    result.assert_clean(0, password)


def test_a_github_token_with_control_characters_is_refused_naming_it(cli, released, clean_env):
    env = {**clean_env, "GITHUB_TOKEN": "ghp_" + SECRET + "\x07"}

    result = cli("promote", TAG, "--root", str(released.root), "--json", "--dry-run", env=env)

    result.assert_clean(2, SECRET)
    assert "GITHUB_TOKEN" in result.json()["error"]


def test_docker_config_auths_with_control_characters_are_refused_naming_the_file(cli, area, released, clean_env):
    import base64
    from pathlib import Path

    config = Path(clean_env["DOCKER_CONFIG"]) / "config.json"
    auth = base64.b64encode(f"ci-bot:{SECRET}\r\nX-Evil: 1".encode()).decode()
    config.write_text(json.dumps({"auths": {area.host: {"auth": auth}}}))

    result = promote(cli, area.registry(), released, clean_env)

    result.assert_clean(2, SECRET, "X-Evil")
    assert "Docker config" in result.json()["error"]


def test_a_token_service_answering_a_header_injection_is_refused_without_echoing_it(cli, scripted, released, clean_env):
    def answer(handler: BaseHTTPRequestHandler) -> None:
        if handler.path.startswith("/token"):
            send(handler, 200, json.dumps({"token": SECRET + "\r\nX-Evil: 1"}).encode())
        else:
            realm = f"http://{handler.headers['Host']}/token"
            send(handler, 401, b"{}", {"WWW-Authenticate": f'Bearer realm="{realm}",service="s",scope="x"'})

    server = scripted(answer)
    env = {**clean_env, "REGISTRY_USERNAME": "ci-bot", "REGISTRY_PASSWORD": "pw"}

    result = promote(cli, f"{server.host}/ns", released, env, "--max-time", "10")

    result.assert_clean(1, SECRET, "X-Evil")
    assert "token service" in result.json()["error"]


# -- item 7: per-arch indexes ------------------------------------------------------------------


def test_a_per_arch_index_whose_image_config_is_another_arch_is_refused(cli, area, released, clean_env):
    area.push_build(PROJECT, sha=released.head, number=1, shape="buildx", config_arch={"amd64": "s390x"})

    result = promote(cli, area.registry(), released, clean_env)

    result.assert_clean(1)
    assert "s390x" in result.json()["error"]
    assert "0.1.0" not in area.tags(PROJECT)


# -- item 4: a release tag moved by a concurrent run -------------------------------------------


def promote_racing(cli, area, released, clean_env, fault_proxy, when: str, method: str, path: str, tag: str, arch: str):
    """Promote our build (the newer) while another run, from its own build, writes `tag` with its `arch`
    manifest when the proxy sees `method path` (`when`: before or after passing it on); (result, theirs,
    ours, proxy)."""
    from kit.fault_proxy import Fault

    theirs = area.push_build(PROJECT, sha=released.head, number=1)  # another run's build
    ours = area.push_build(PROJECT, sha=released.head, number=2, at="2025-10-25T15:30:00+00:00")
    repository = area.repository(PROJECT)
    proxy = fault_proxy()
    proxy.add(Fault(when, method, path, run=lambda: area.pusher.manifest(repository, tag, theirs[arch])))
    return promote(cli, area.registry(proxy.host), released, clean_env), theirs, ours, proxy


def test_a_release_tag_written_by_another_run_before_our_put_is_not_overwritten(
    cli, area, released, clean_env, fault_proxy
):
    # Right before our check of 0.1.0-arm64 (with the build's last read, the round trip before the writes).
    result, theirs, ours, _ = promote_racing(
        cli, area, released, clean_env, fault_proxy, "before", "HEAD", "/manifests/0.1.0-arm64", "0.1.0-arm64", "arm64"
    )

    result.assert_clean(1)
    error = result.json()["error"]
    assert theirs["arm64"].digest in error and ours["arm64"].digest in error
    assert area.digest(PROJECT, "0.1.0-arm64") == theirs["arm64"].digest
    assert "0.1.0" not in area.tags(PROJECT)


def test_a_release_tag_overwritten_right_after_our_put_is_reported(cli, area, released, clean_env, fault_proxy):
    result, theirs, ours, _ = promote_racing(
        cli, area, released, clean_env, fault_proxy, "after", "PUT", "/manifests/0.1.0-amd64", "0.1.0-amd64", "amd64"
    )

    result.assert_clean(1)
    error = result.json()["error"]
    assert theirs["amd64"].digest in error and ours["amd64"].digest in error
    assert "0.1.0" not in area.tags(PROJECT)


def test_an_index_tag_written_by_another_run_while_our_platform_tags_were_written_is_not_overwritten(
    cli, area, released, clean_env, fault_proxy
):
    # Our first check of 0.1.0 found it absent; while our platform tags are written, another run writes it.
    # The index is checked again with the platform tags' read-back, the round trip right before its PUT.
    result, theirs, _, proxy = promote_racing(
        cli, area, released, clean_env, fault_proxy, "after", "PUT", "/manifests/0.1.0-arm64", "0.1.0", "amd64"
    )

    result.assert_clean(1)
    error = result.json()["error"]
    assert theirs["amd64"].digest in error and "since this run checked it" in error
    assert area.digest(PROJECT, "0.1.0") == theirs["amd64"].digest
    assert proxy.count("PUT", "/manifests/0.1.0") == 2  # the platform tags only: the index was never sent


def test_a_platform_tag_moved_by_another_run_after_its_read_back_is_reported_by_the_index_read_back(
    cli, area, released, clean_env, fault_proxy
):
    """Another promote, whose check came before our PUTs, writes its build to 0.1.0-amd64 after our platform
    tags read back right: right after our index PUT. The index's read-back reads the platform tags again, so
    this run fails (exit 1) naming the tag and both digests, instead of reporting a release whose index and
    platform tags disagree."""
    theirs = area.push_build(PROJECT, sha=released.head, number=1, at="2025-10-25T14:30:00+00:00")
    ours = area.push_build(PROJECT, sha=released.head, number=2, at="2025-10-25T15:30:00+00:00")
    repository = area.repository(PROJECT)
    proxy = fault_proxy()
    puts = []
    from kit.fault_proxy import Fault

    def after_our_index_put() -> None:
        puts.append(1)  # the platform PUTs come first, at once; the index's is the third
        if len(puts) == 3:
            area.pusher.manifest(repository, "0.1.0-amd64", theirs["amd64"])

    proxy.add(Fault("after", "PUT", "/manifests/0.1.0", run=after_our_index_put, times=3))

    result = promote(cli, area.registry(proxy.host), released, clean_env)

    result.assert_clean(1)
    error = result.json()["error"]
    assert "0.1.0-amd64" in error and "after this run wrote it" in error
    assert theirs["amd64"].digest in error and ours["amd64"].digest in error


@pytest.mark.parametrize("status", [403, 503, 400])
def test_a_registry_echoing_the_credentials_it_was_sent_never_gets_them_printed(
    cli, scripted, released, clean_env, status
):
    import base64

    def answer(handler: BaseHTTPRequestHandler) -> None:
        sent = handler.headers.get("Authorization")
        if not sent:
            send(handler, 401, b"{}", {"WWW-Authenticate": 'Basic realm="registry"'})
            return
        decoded = base64.b64decode(sent.split(" ", 1)[1]).decode()
        echo = {"errors": [{"code": "DENIED", "message": f"you sent {sent}, that is {decoded}"}]}
        send(handler, status, json.dumps(echo).encode(), {"Retry-After": "0"})

    server = scripted(answer)
    env = {**clean_env, "REGISTRY_USERNAME": "ci-bot", "REGISTRY_PASSWORD": SECRET}
    encoded = base64.b64encode(f"ci-bot:{SECRET}".encode()).decode()

    result = promote(cli, f"{server.host}/ns", released, env, "--max-time", "5")

    result.assert_clean(1, SECRET, encoded)
    assert "DENIED" in result.json()["error"]


def test_a_token_realm_that_does_not_parse_is_corrupt_not_a_crash(capsys):
    from http.server import BaseHTTPRequestHandler

    from kit.loopback import serving
    from pipelines.cli import main

    class Challenging(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            challenge = 'Bearer realm="http://[::1",service="x",scope="repository:y:pull"'
            reply(self, 401, b"", {"WWW-Authenticate": challenge})

        def do_HEAD(self) -> None:
            reply(self, 401, b"", {"Content-Type": "application/json"})

    with serving(Challenging) as url:
        code = main(
            ["staging", "show", "percolate-v0.2.0", "--registry", f"{url.removeprefix('http://')}/ns", "--json"]
        )
    _out, err = capsys.readouterr()

    assert code == 1 and "Traceback" not in err
    assert "token service whose address does not parse" in err
