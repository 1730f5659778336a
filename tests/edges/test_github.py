"""The GitHub client on the one HTTP layer, against a scripted local pulls API: retries, errors by cause, secrets."""

from __future__ import annotations

import json
from typing import Any

import pytest

from pipelines.core.errors import CheckFailed, Corrupt, InputError, Unauthorized
from pipelines.edges.github import GitHub, token_from_environment
from pipelines.edges.http import HttpClient, RetryPolicy


def client(server: Any, token: str = "test-pat") -> GitHub:
    http = HttpClient(policy=RetryPolicy(max_time=30, base_delay=0.01, max_delay=0.02))
    return GitHub(server.url, "labs/percolate", token, http=http)


def test_a_rate_limited_create_is_retried_after_the_wait_github_asks_for(serve):
    answers = [(503, {"message": "Service unavailable"}), (201, {"number": 7})]

    def handle(h: Any) -> None:
        status, body = answers.pop(0)
        h.reply(status, json.dumps(body).encode(), {"Content-Type": "application/json", "Retry-After": "0"})

    server = serve(handle)
    with client(server) as github:
        pull = github.create_pull(branch="deploy/x", base="main", title="t", body="b")
    assert pull == {"number": 7}
    assert [seen.method for seen in server.seen] == ["POST", "POST"]
    assert json.loads(server.seen[1].body) == {"title": "t", "head": "deploy/x", "base": "main", "body": "b"}
    assert server.seen[1].headers["Authorization"] == "Bearer test-pat"
    assert server.seen[1].headers["X-GitHub-Api-Version"] == "2022-11-28"


def test_a_rejected_token_is_unauthorized_and_never_printed(serve):
    server = serve(lambda h: h.reply(401, b'{"message": "Bad credentials"}', {"Content-Type": "application/json"}))
    with client(server, token="ghp_s3cret") as github, pytest.raises(Unauthorized) as raised:
        github.open_pull("deploy/x", "main")
    assert "GitHub API GET /repos/labs/percolate/pulls answered HTTP 401: Bad credentials" in raised.value.message
    assert "ghp_s3cret" not in str(raised.value) and len(server.seen) == 1


def test_a_token_with_a_line_break_is_refused_before_sending(serve):
    server = serve(lambda h: h.reply(200, b"[]"))
    with client(server, token="ghp_s3cret\n") as github, pytest.raises(InputError) as raised:
        github.open_pull("deploy/x", "main")
    assert "Authorization" in raised.value.message and "ghp_s3cret" not in str(raised.value)
    assert server.seen == []


# -- issue 12: answers of the wrong shape, tokens checked where they enter --------------------


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b"<html><body>Unicorn!</body></html>", "text/html"),  # a proxy's page, served with 200
        (b'{"number": 7}', "application/json"),  # pulls as an object, not a list
        (b'[{"title": "no number"}]', "application/json"),
        (b'[{"number": "7"}]', "application/json"),
        (b"[5]", "application/json"),
        (b"[" * 100_000 + b"]" * 100_000, "application/json"),
        (b"\xff\xfe\x00", "application/json"),
    ],
    ids=["html", "pulls-object", "no-number", "number-string", "not-objects", "nested", "not-utf8"],
)
def test_a_pull_list_of_the_wrong_shape_is_corrupt(serve, body, content_type):
    server = serve(lambda h: h.reply(200, body, {"Content-Type": content_type}))
    with client(server, token="ghp_s3cret") as github, pytest.raises(Corrupt) as raised:
        github.open_pull("deploy/x", "main")
    assert "GitHub API GET /repos/labs/percolate/pulls" in raised.value.message
    assert "ghp_s3cret" not in str(raised.value)


@pytest.mark.parametrize("body", [b"[]", b'{"html_url": "https://x"}', b'{"number": true}', b"null"])
def test_a_created_pull_request_without_a_number_is_corrupt(serve, body):
    server = serve(lambda h: h.reply(201, body, {"Content-Type": "application/json"}))
    with client(server) as github, pytest.raises(Corrupt):
        github.create_pull(branch="deploy/x", base="main", title="t", body="b")


def test_tokens_from_the_environment_lose_one_trailing_newline(monkeypatch):
    monkeypatch.setenv("PERCOLATE_GIT_PAT", "ghp_s3cret\n")
    assert token_from_environment() == "ghp_s3cret"
    monkeypatch.delenv("PERCOLATE_GIT_PAT")
    monkeypatch.setenv("GITHUB_TOKEN", "ghs_s3cret\r\n")
    assert token_from_environment() == "ghs_s3cret"


@pytest.mark.parametrize("variable", ["PERCOLATE_GIT_PAT", "GITHUB_TOKEN"])
@pytest.mark.parametrize("value", ["ghp_s3cret\r\nX-Evil: 1", "ghp_s3cret\x1b", "ghp_s3cret\n\n", "ghp_s3cret\udcff"])
def test_tokens_from_the_environment_with_control_characters_are_refused_naming_the_variable(
    monkeypatch, variable, value
):
    monkeypatch.delenv("PERCOLATE_GIT_PAT", raising=False)
    monkeypatch.setenv(variable, value)
    with pytest.raises(InputError) as raised:
        token_from_environment()
    assert variable in raised.value.message and "s3cret" not in str(raised.value)


def test_an_answer_over_the_cap_is_refused(serve):
    body = b'[{"number": 1, "title": "' + b"a" * (8 << 20) + b'"}]'
    server = serve(lambda h: h.reply(200, body, {"Content-Type": "application/json"}))
    with client(server) as github, pytest.raises(Corrupt) as raised:
        github.open_pull("deploy/x", "main")
    assert "more than 8388608 bytes" in raised.value.message


@pytest.mark.parametrize("status", [401, 403, 422])
def test_a_server_echoing_the_token_never_gets_it_printed(serve, status):
    def handle(h: Any) -> None:
        echo = {"message": f"you sent {h.headers['Authorization']}"}
        h.reply(status, json.dumps(echo).encode(), {"Content-Type": "application/json"})

    server = serve(handle)
    with client(server, token="ghp_s3cretToken0123") as github, pytest.raises(CheckFailed) as raised:
        github.open_pull("deploy/x", "main")
    assert "you sent Bearer ***" in raised.value.message
    assert "ghp_s3cretToken0123" not in str(raised.value)
