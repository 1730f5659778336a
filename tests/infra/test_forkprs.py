"""The fork pull request dynamic provider against a local server answering like GitHub's REST API."""

from __future__ import annotations

import json
from http.server import BaseHTTPRequestHandler
from typing import Any

import pytest

from infra.forkprs import APPROVAL_POLICY, ForkPullRequestProvider, GitHubApiError
from kit.loopback import reply, serving
from pipelines.edges.retry import RetryPolicy

TOKEN = "test-token-not-a-secret"
APPROVAL = "fork-pr-contributor-approval"
PRIVATE = "fork-pr-workflows-private-repos"
POLICIES = {"first_time_contributors_new_to_github", "first_time_contributors", "all_external_contributors"}
PRIVATE_FIELDS = (
    "run_workflows_from_fork_pull_requests",
    "send_write_tokens_to_workflows",
    "send_secrets_and_variables",
    "require_approval_for_fork_pr_workflows",
)


class FakeGitHub:
    """The two endpoints' documented behaviour: 200 JSON on GET, 204 on PUT, 401/404/422 with a message."""

    def __init__(self) -> None:
        self.repositories: dict[str, dict[str, Any]] = {
            "percolation-labs/percolate": {"private": False, APPROVAL: {"approval_policy": "first_time_contributors"}},
            "percolation-labs/internal": {
                "private": True,
                PRIVATE: dict.fromkeys(PRIVATE_FIELDS, False) | {"run_workflows_from_fork_pull_requests": True},
            },
        }
        self.requests: list[dict[str, Any]] = []

    def handle(self, method: str, path: str, headers: dict[str, str], body: Any) -> tuple[int, Any]:
        self.requests.append({"method": method, "path": path, "headers": headers, "body": body})
        if headers.get("authorization") != f"Bearer {TOKEN}":
            return 401, {"message": "Requires authentication", "documentation_url": "https://docs.github.com/rest"}
        parts = path.strip("/").split("/")
        if len(parts) != 6 or parts[0] != "repos" or parts[3:5] != ["actions", "permissions"]:
            return 404, {"message": "Not Found"}
        repository = self.repositories.get(f"{parts[1]}/{parts[2]}")
        endpoint = parts[5]
        if repository is None or endpoint not in (APPROVAL, PRIVATE):
            return 404, {"message": "Not Found"}
        if endpoint == APPROVAL and repository["private"]:
            return 422, {"message": "Fork PR approval is not allowed for private repositories."}
        if endpoint == PRIVATE and not repository["private"]:
            return 422, {"message": "This setting only applies to internal and private repositories."}
        if method == "GET":
            return 200, repository[endpoint]
        if endpoint == APPROVAL:
            if not isinstance(body, dict) or body.get("approval_policy") not in POLICIES:
                return 422, {"message": "Invalid request.\n\nInvalid property /approval_policy"}
        elif not isinstance(body, dict) or not isinstance(body.get("run_workflows_from_fork_pull_requests"), bool):
            return 422, {"message": "Invalid request.\n\nNo subschema matched"}
        repository[endpoint] = {**repository[endpoint], **body}
        return 204, None


@pytest.fixture
def github(monkeypatch):
    fake = FakeGitHub()

    class Handler(BaseHTTPRequestHandler):
        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            body = json.loads(raw) if raw else None
            status, answer = fake.handle(self.command, self.path, {k.lower(): v for k, v in self.headers.items()}, body)
            payload = json.dumps(answer).encode() if answer is not None else b""
            reply(self, status, payload, {"Content-Type": "application/json; charset=utf-8"} if payload else {})

        do_GET = do_PUT = _serve

    monkeypatch.setenv("GITHUB_TOKEN", TOKEN)
    with serving(Handler) as fake.url:
        yield fake


def public_props(github) -> dict[str, Any]:
    return {
        "api_url": github.url,
        "owner": "percolation-labs",
        "repository": "percolate",
        "private": False,
        "approval_policy": APPROVAL_POLICY,
    }


def private_props(github) -> dict[str, Any]:
    return {
        "api_url": github.url,
        "owner": "percolation-labs",
        "repository": "internal",
        "private": True,
        "run_workflows_from_fork_pull_requests": False,
        "send_write_tokens_to_workflows": False,
        "send_secrets_and_variables": False,
        "require_approval_for_fork_pr_workflows": True,
    }


def test_create_puts_the_strictest_policy_of_a_public_repository_and_reads_it_back(github):
    result = ForkPullRequestProvider().create(public_props(github))
    assert result.id == "percolation-labs/percolate"
    assert result.outs["approval_policy"] == "all_external_contributors"
    assert github.repositories["percolation-labs/percolate"][APPROVAL] == {
        "approval_policy": "all_external_contributors"
    }
    put, get = github.requests
    assert (put["method"], put["path"]) == ("PUT", f"/repos/percolation-labs/percolate/actions/permissions/{APPROVAL}")
    assert put["body"] == {"approval_policy": "all_external_contributors"}
    assert (get["method"], get["path"]) == ("GET", put["path"])
    assert put["headers"]["accept"] == "application/vnd.github+json"
    assert put["headers"]["x-github-api-version"] == "2022-11-28"
    assert TOKEN not in json.dumps(result.outs)


def test_create_turns_fork_workflows_off_in_a_private_repository(github):
    result = ForkPullRequestProvider().create(private_props(github))
    stored = github.repositories["percolation-labs/internal"][PRIVATE]
    assert stored == {
        "run_workflows_from_fork_pull_requests": False,
        "send_write_tokens_to_workflows": False,
        "send_secrets_and_variables": False,
        "require_approval_for_fork_pr_workflows": True,
    }
    assert result.outs["run_workflows_from_fork_pull_requests"] is False
    assert github.requests[0]["path"].endswith(PRIVATE)


def test_read_reports_drift_and_diff_and_update_repair_it(github):
    provider = ForkPullRequestProvider()
    props = public_props(github)
    created = provider.create(props)
    github.repositories["percolation-labs/percolate"][APPROVAL] = {"approval_policy": "first_time_contributors"}
    read = provider.read(created.id, created.outs)
    assert read.outs["approval_policy"] == "first_time_contributors"
    diff = provider.diff(created.id, read.outs, props)
    assert diff.changes is True and diff.replaces == []
    updated = provider.update(created.id, read.outs, props)
    assert updated.outs["approval_policy"] == "all_external_contributors"
    assert provider.diff(created.id, updated.outs, props).changes is False


def test_moving_to_another_repository_replaces_the_resource(github):
    provider = ForkPullRequestProvider()
    olds = public_props(github)
    diff = provider.diff("x", olds, olds | {"repository": "other", "private": True})
    assert diff.changes is True
    assert diff.replaces == ["repository", "private"]


def test_delete_restores_githubs_defaults(github):
    provider = ForkPullRequestProvider()
    provider.delete("percolation-labs/percolate", public_props(github))
    assert github.repositories["percolation-labs/percolate"][APPROVAL] == {"approval_policy": "first_time_contributors"}
    provider.delete("percolation-labs/internal", private_props(github))
    assert github.repositories["percolation-labs/internal"][PRIVATE]["run_workflows_from_fork_pull_requests"] is False
    assert github.repositories["percolation-labs/internal"][PRIVATE]["send_secrets_and_variables"] is False


def test_a_missing_token_is_a_clear_error_before_any_request(github, monkeypatch):
    monkeypatch.delenv("GITHUB_TOKEN")
    with pytest.raises(GitHubApiError, match="GITHUB_TOKEN is not set"):
        ForkPullRequestProvider().create(public_props(github))
    assert github.requests == []


def test_githubs_error_messages_reach_the_user(github, monkeypatch):
    wrong_visibility = public_props(github) | {"repository": "internal"}
    with pytest.raises(GitHubApiError, match="HTTP 422: Fork PR approval is not allowed for private repositories"):
        ForkPullRequestProvider().create(wrong_visibility)
    monkeypatch.setenv("GITHUB_TOKEN", "wrong")
    with pytest.raises(GitHubApiError, match="HTTP 401: Requires authentication"):
        ForkPullRequestProvider().read("percolation-labs/percolate", public_props(github))
    with pytest.raises(GitHubApiError, match="HTTP 404"):
        monkeypatch.setenv("GITHUB_TOKEN", TOKEN)
        ForkPullRequestProvider().create(public_props(github) | {"repository": "gone"})


def test_an_unreachable_api_is_a_clear_error(github, monkeypatch):
    monkeypatch.setattr("infra.forkprs.RETRY_POLICY", RetryPolicy(max_time=5, base_delay=0.01, max_delay=0.02))
    props = public_props(github) | {"api_url": "http://127.0.0.1:9"}
    with pytest.raises(GitHubApiError, match="PUT /repos/percolation-labs/percolate"):
        ForkPullRequestProvider().create(props)


def test_the_provider_survives_pulumis_serialization_and_captures_no_token(github):
    import base64

    import dill
    from pulumi.dynamic.dynamic import serialize_provider

    serialized = serialize_provider(ForkPullRequestProvider())
    assert TOKEN.encode() not in base64.b64decode(serialized)
    provider = dill.loads(base64.b64decode(serialized))
    assert provider.create(public_props(github)).outs["approval_policy"] == APPROVAL_POLICY
