"""The GitHub client on the one HTTP layer, against a scripted local pulls API: retries, errors by cause, secrets."""

from __future__ import annotations

import json
from typing import Any

import pytest

from pipelines.core.errors import InputError, Unauthorized
from pipelines.edges.github import GitHub
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
